"""A flood of parity NAKs against an on-demand FEC source (issue 13, docs/security.md).

Parity NAKs (OPT_PARITY, docs/fec.md) are confirmed by parity NCFs and answered with fresh
parity packets.  Both must stay within the source's budgets like selective ones: the NCFs
within ``ncf_share`` (merged), the on-demand parity within ``repair_share`` while new data
waits, so ODATA keeps its share.  In memory, on virtual time (:mod:`pgm.sim`).
"""

from __future__ import annotations

from pgm import wire
from pgm.engine import ReceiverConfig, SourceConfig
from pgm.wire.parity import parity_nak_sqn
from tests.helpers.hostile import add_attacker, send
from tests.helpers.world import GROUP4, World, make_world

RATE = 10_000_000
COUNT = 2000
SIZE = 1000
K = 8


def _scene() -> tuple[World, list[bytes]]:
    scfg = SourceConfig(
        rate_bps=RATE, window_secs=30, linger_secs=5, fec_group_size=K, fec_ondemand=True
    )
    w = make_world(1, seed=5, source_config=scfg, receiver_config=ReceiverConfig())
    add_attacker(w.net, w.source.tsi, GROUP4)
    msgs = [i.to_bytes(4, "big") * (SIZE // 4) for i in range(COUNT)]
    w.send_all(msgs, at=0.01)
    return w, msgs


def _parity_flood(w: World, start: float, stop: float, per_sec: float) -> None:
    """The attacker sends parity NAK lists for 63 groups of the window (each asking for all
    k parity packets), ``per_sec`` times a second, to the source."""
    node = w.net.node("attacker")
    src = str(w.source.nla)
    n = int((stop - start) * per_sec)
    for i in range(n):

        def go(i: int = i) -> None:
            f = node.engine.forger
            top = f.lead // K
            lo = max(0, top - 60)
            tgs = [(lo + (i + j) % max(1, top - lo + 1)) * K for j in range(63)]
            sqns = [parity_nak_sqn(tg, K, K) for tg in tgs]
            pkt = wire.encode_nak_list(
                wire.NAK,
                source_port=f.dport,
                destination_port=f.tsi.source_port,
                gsi=f.tsi.gsi,
                sqns=sqns,
                source_nla=f.path or f.group,
                group_nla=f.group,
                parity=True,
            )
            send(node, pkt, src)

        w.net.call_at(start + i / per_sec, go)


def _run(w: World, msgs: list[bytes], limit: float = 30.0) -> None:
    w.run_until_ended(limit=limit)
    assert w.net.now < limit, "the session did not end in time"
    got = [e.data for e in w.delivered(0)]
    assert got == msgs and not w.losses(0)


def test_parity_ncfs_stay_within_the_ncf_budget() -> None:
    w, msgs = _scene()
    _parity_flood(w, 0.2, 1.2, 2000)
    _run(w, msgs)
    st = w.source.stats
    assert st.parity_naks_received > 0
    ncfs = w.packets(w.src_node, type="NCF")
    assert any(p.parity for _, p in ncfs), "the parity NAKs were confirmed"
    ncf_bytes = sum(len(p.encode()) + 20 for _, p in ncfs)
    cfg = w.source.config
    budget = cfg.rate_bps / 8 * cfg.ncf_share * w.net.now + cfg.mtu * 2
    assert ncf_bytes <= budget, (ncf_bytes, budget)
    assert st.ncfs_merged > 0


def test_parity_nak_flood_leaves_new_data_its_share() -> None:
    w, msgs = _scene()
    _parity_flood(w, 0.2, 1.2, 2000)
    _run(w, msgs)
    per_sec = RATE / 8 / (SIZE + 44)
    sent = sum(1 for t, _ in w.packets(w.src_node, type="ODATA") if 0.3 <= t < 1.2)
    assert sent >= 0.9 * (1 - w.source.config.repair_share) * per_sec * 0.9, sent
    assert w.source.stats.parity_packets_sent > 0
