"""FEC at work on the in-memory network (pgm.sim): fewer NAKs, fewer repairs, many receivers.

One source and several receivers on virtual time, random messages (1..4000 bytes: fragments and
payloads of every length, so VAR_PKTLEN and encoded OPT_FRAGMENT are exercised), independent
random loss per receiver.  Each test runs the same seed with and without FEC and compares what
the protocol had to do; every run must deliver every message intact, without loss reports.
"""

from __future__ import annotations

import dataclasses

import pytest

from pgm.engine import SourceConfig
from pgm.engine.receiver.stats import SessionStats
from pgm.sim import Link, drop_sqns
from tests.helpers.world import World, make_world, messages

BASE = SourceConfig(rate_bps=20_000_000, window_secs=30, linger_secs=10)


def _run(n: int, cfg: SourceConfig, *, seed: int = 5, loss: float = 0.05, count: int = 300,
         per_receiver: dict[int, Link] | None = None) -> World:  # fmt: skip
    w = make_world(n, seed=seed, source_config=cfg, link=Link(loss=loss))
    for i, link in (per_receiver or {}).items():
        w.net.set_link(w.src_node, w.rx_nodes[i], link)
    msgs = messages(seed, count)
    w.send_all(msgs)
    w.run_until_ended(300.0)
    for i in range(n):
        assert [e.data for e in w.delivered(i)] == msgs, f"receiver {i} got other data"
        assert not w.losses(i), f"receiver {i} reported loss"
    return w


def _stats(w: World) -> list[SessionStats]:
    out = []
    for r in w.receivers:
        (s,) = r.ended_sessions.values()
        out.append(s.stats)
    return out


def _repairs(w: World) -> int:
    st = w.source.stats
    return st.repair_packets_sent + st.parity_packets_sent - st.proactive_parity_sent


def test_proactive_parity_needs_far_fewer_naks() -> None:
    """Pro-active parity (k = 8, 2 per group) at 5 % independent loss: the same transfer needs
    far fewer NAKs than plain selective repair; most losses are rebuilt from parity."""
    plain = _run(4, BASE)
    fec = _run(4, dataclasses.replace(BASE, fec_group_size=8, fec_proactive=2))
    naks_plain = sum(s.selective_naks_sent + s.parity_naks_sent for s in _stats(plain))
    naks_fec = sum(s.selective_naks_sent + s.parity_naks_sent for s in _stats(fec))
    assert naks_plain > 50
    assert naks_fec * 5 < naks_plain, (naks_fec, naks_plain)
    recovered = sum(s.packets_recovered_by_parity for s in _stats(fec))
    assert recovered > naks_fec
    assert fec.source.stats.proactive_parity_sent == fec.source.stats.parity_packets_sent > 0


def test_one_parity_packet_repairs_different_losses_at_many_receivers() -> None:
    """On-demand parity, 50 receivers, receiver i loses exactly ODATA i (k = 8: seven groups,
    up to eight receivers per group each missing another packet).  One parity packet per group
    repairs them all, where selective repair sends one RDATA per lost packet."""
    n, k = 50, 8

    def drops() -> dict[int, Link]:
        return {i: Link(drop=drop_sqns([i])) for i in range(n)}

    cfg = dataclasses.replace(BASE, fec_group_size=k, fec_ondemand=True)
    fec = _run(n, cfg, loss=0.0, count=120, per_receiver=drops())
    plain = _run(n, BASE, loss=0.0, count=120, per_receiver=drops())
    groups = (n + k - 1) // k
    st = fec.source.stats
    assert st.parity_packets_sent == groups, st
    assert st.repair_packets_sent == 0
    assert plain.source.stats.repair_packets_sent == n
    stats = _stats(fec)
    assert [s.packets_recovered_by_parity for s in stats] == [1] * n
    assert all(s.selective_naks_sent == 0 for s in stats)
    # Parity NAKs were suppressed by the parity NCFs: far fewer than one per receiver.
    assert sum(s.parity_naks_sent for s in stats) < n // 2


@pytest.mark.parametrize(("receivers", "factor"), [(10, 1.2), (30, 2.5)])
def test_on_demand_parity_sends_fewer_repairs_than_selective(receivers: int, factor: float) -> None:
    """5 % independent loss to every receiver, same seed: on-demand parity sends fewer repair
    packets than selective RDATA — each parity packet fills a different hole at each receiver,
    so the more receivers, the larger the saving (here 1.2 times at 10, 2.5 times at 30).
    Summed over two seeds: on-demand parity keeps to the repair share while data waits
    (docs/security.md), and one seed alone can be an unlucky draw."""
    cfg = dataclasses.replace(BASE, fec_group_size=8, fec_ondemand=True)
    plain = [_run(receivers, BASE, count=200, seed=seed) for seed in (5, 6)]
    fec = [_run(receivers, cfg, count=200, seed=seed) for seed in (5, 6)]
    n_plain, n_fec = sum(map(_repairs, plain)), sum(map(_repairs, fec))
    assert n_fec * factor < n_plain, (n_fec, n_plain)
    for w in fec:
        assert sum(s.packets_recovered_by_parity for s in _stats(w)) > _repairs(w)


def test_both_modes_and_a_short_last_group() -> None:
    """Pro-active and on-demand together with k = 16 and a message count that leaves the last
    group short (OPT_CURR_TGSIZE on its parity): everything arrives at 10 % loss."""
    cfg = dataclasses.replace(BASE, fec_group_size=16, fec_proactive=2, fec_ondemand=True)
    w = _run(5, cfg, loss=0.10, count=101, seed=9)
    assert w.source.stats.parity_naks_received > 0
    assert sum(s.packets_recovered_by_parity for s in _stats(w)) > 0


def test_rfc_dialect_interoperates_with_itself() -> None:
    """``fec_openpgm=False``: RFC bit order and pro-active parity as ODATA; the receiver notices
    the RFC form from the parity ODATA and still repairs everything."""
    cfg = dataclasses.replace(
        BASE, fec_group_size=8, fec_proactive=1, fec_ondemand=True, fec_openpgm=False
    )
    w = _run(3, cfg, loss=0.05, count=150)
    assert sum(s.packets_recovered_by_parity for s in _stats(w)) > 0


def test_a_short_last_group_gets_its_proactive_parity_when_closed_later() -> None:
    """The data went out long before close(): the last, short group's pro-active parity (with
    OPT_CURR_TGSIZE) still goes out once the session closes."""
    from pgm import wire

    cfg = dataclasses.replace(BASE, fec_group_size=8, fec_proactive=2)
    w = make_world(1, seed=3, source_config=cfg)
    msgs = messages(3, 11, 1000)  # 11 packets: one full group, then 3

    def send() -> None:
        for m in msgs:
            w.source.send(m, w.net.now)
        w.src_node.poke()

    def close() -> None:
        w.source.close(w.net.now)
        w.src_node.poke()

    w.net.call_at(0.01, send)
    w.net.call_at(1.0, close)
    w.run_until_ended(60.0)
    assert [e.data for e in w.delivered(0)] == msgs
    parity = [p for _, p in w.packets(w.src_node) if getattr(p, "parity", False)]
    assert len(parity) == 4
    short = [p for p in parity if p.option(wire.OptCurrTgsize) is not None]
    assert [p.option(wire.OptCurrTgsize).tgsize for p in short] == [3, 3]
