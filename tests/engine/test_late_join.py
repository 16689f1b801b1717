"""Late join on the in-memory network: OPT_JOIN / OPT_JOIN_MIN (RFC 3208 §9.5), OPT_SYN (§9.6).

Receivers that join a running session recover exactly from the OPT_JOIN_MIN the source
advertised (not less, not more), say where they joined, stay within the receiver's history cap,
and a crowd of them cannot push the source past its rate.  Everything runs on virtual time.
"""

from __future__ import annotations

import random

import pytest

from pgm import wire
from pgm.engine import (
    DataReceived,
    Receiver,
    ReceiverConfig,
    SessionStarted,
    Source,
    SourceConfig,
    UnrecoverableLoss,
)
from pgm.engine.errors import ConfigError
from pgm.sim import Node
from tests.helpers.world import GROUP4, World, make_world

RATE = 1_000_000
WINDOW = 10.0
MSG = 1000
COUNT = 1000
PACE = 40  # messages every half second: 80/s, about 70 % of RATE, so joiners can catch up


def _world(pct: float, *, initial_sqn: int = 0, seed: int = 1, trace: bool = False) -> World:
    """A source with late join ``pct`` sending COUNT messages at PACE (12.5 s), no receiver."""
    # repair_share=1: a joiner here may take the whole rate for repairs, as the source's
    # only NAKer, before the 3 s linger ends (new data's share: docs/security.md).
    cfg = SourceConfig(
        rate_bps=RATE, window_secs=WINDOW, linger_secs=3.0, late_join=pct, repair_share=1.0
    )
    w = make_world(0, seed=seed, source_config=cfg, initial_sqn=initial_sqn, trace=trace)
    rng = random.Random(seed)
    msgs = [rng.randbytes(MSG) for _ in range(COUNT)]
    for i in range(0, COUNT, PACE):  # 12.5 s of data: the trailing edge advances during it
        w.send_all(msgs[i : i + PACE], at=0.01 + i / PACE / 2, close=i + PACE >= COUNT)
    return w


def _join(w: World, at: float, i: int, config: ReceiverConfig | None = None) -> Node[Receiver]:
    """A receiver that joins the group at virtual time ``at``."""
    node: list[Node[Receiver]] = []

    def go() -> None:
        r = Receiver(config or ReceiverConfig(), group=GROUP4, rng=random.Random(100 + i))
        node.append(w.net.add_node(r, f"10.0.1.{i + 1}", groups=[GROUP4], name=f"late{i}"))

    w.net.call_at(at, go)
    w.net.run(until=at)
    return node[0]


def _run(w: World, nodes: list[Node[Receiver]], limit: float = 60.0) -> None:
    def done() -> bool:
        return all(any(type(e).__name__ == "SessionEnded" for e in n.events) for n in nodes)

    w.net.run(until=limit, stop=done)
    assert done(), "every late joiner's session ends"


def _started(node: Node[Receiver]) -> SessionStarted:
    return next(e for e in node.events if isinstance(e, SessionStarted))


def _nak_sqns(w: World, node: Node[Receiver]) -> set[int]:
    """Every sequence number ``node`` NAKed (the world must be traced)."""
    out: set[int] = set()
    for _, p in w.net.sent(by=node, type="NAK"):
        out.add(p.nak_sqn)  # type: ignore[attr-defined]
        lst = p.option(wire.OptNakList)
        if lst is not None:
            out.update(lst.sqns)
    return out


def _check_suffix(w: World, node: Node[Receiver], first: int) -> None:
    """It delivered exactly the messages from wire sequence number ``first`` on, no loss."""
    got = [e for e in node.events if isinstance(e, DataReceived)]
    assert not [e for e in node.events if isinstance(e, UnrecoverableLoss)]
    start = next(i for i, (sqn, _) in enumerate(w.sent) if sqn == first)
    assert [(e.sqn, e.data) for e in got] == w.sent[start:]


@pytest.mark.parametrize("at", [2.0, 6.0, 12.0])
@pytest.mark.parametrize("pct", [0, 25, 75])
def test_joiners_recover_exactly_from_join_min(pct: float, at: float) -> None:
    """Joining before the trailing edge moved (2 s, 6 s) and after (12 s): the joiner delivers
    exactly the messages from OPT_JOIN_MIN on — it NAKs nothing below it, and nothing from
    there on is lost — and says what came before."""
    w = _world(pct, trace=True)
    node = _join(w, at, 0)
    _run(w, [node])
    ev = _started(node)
    info = node.engine.session_info(ev.tsi)
    assert info is not None
    naks = _nak_sqns(w, node)
    if pct == 0:
        # No OPT_JOIN: the first packet heard defines the window, nothing older is asked.
        assert ev.join_min is None and info.join_min is None and not naks
    else:
        assert ev.join_min is not None
        assert ev.first_sqn == ev.join_min == info.first_sqn
        assert naks and min(naks) == ev.join_min  # not less ...
        assert info.stats.rdata_packets_received > 0
    _check_suffix(w, node, ev.first_sqn)  # ... and not more: everything from there, no loss
    assert not ev.syn and not info.syn_seen
    # The source's trailing edge says what came before the join point: missed, and said so.
    assert ev.missed is not None and ev.missed[1] == ev.first_sqn - 1
    assert info.missed == ev.missed and not info.from_start
    assert (ev.missed[0] == 0) == (at < WINDOW)  # the trail moved only after WINDOW seconds
    assert w.source.stats.naks_below_join_min == 0


def test_opt_join_on_every_spm_and_data_and_syn_on_the_first() -> None:
    """OPT_JOIN_MIN on every SPM, ODATA and RDATA, between the trailing edge and the lead,
    never moving back; OPT_SYN on the first data only (RFC 3208 §9.5, §9.6)."""
    w = _world(25, trace=True)
    node = _join(w, 6.0, 0)
    _run(w, [node])
    last = 0
    kinds = set()
    for _, p in w.net.sent(by=w.src_node):
        name = type(p).__name__
        if name not in ("SPM", "ODATA", "RDATA"):
            continue
        kinds.add(name)
        join = p.option(wire.OptJoin)
        assert join is not None, p
        trail, lead = (p.spm_trail, p.spm_lead) if name == "SPM" else (p.data_trail, None)
        assert join.join_min >= trail and (lead is None or join.join_min <= (lead + 1) & 0xFFFFFFFF)
        assert join.join_min >= last
        last = join.join_min
        syn = p.option(wire.OptSyn) is not None
        assert syn == (name != "SPM" and p.data_sqn == 0)
    assert kinds == {"SPM", "ODATA", "RDATA"}
    assert last > 0


def test_syn_on_first_data_and_a_receiver_from_the_start() -> None:
    w = _world(25)
    node = _join(w, 0.0, 0)
    _run(w, [node])
    ev = _started(node)
    info = node.engine.session_info(ev.tsi)
    assert info is not None and info.syn_seen and info.from_start and info.missed is None
    assert ev.first_sqn == 0
    _check_suffix(w, node, 0)


def test_syn_by_repair_when_everything_is_offered() -> None:
    """Joining before the first step, OPT_JOIN_MIN is the session's first number: the joiner
    NAKs back to it, gets OPT_SYN by RDATA and knows it has the whole session."""
    w = _world(75)
    node = _join(w, 0.8, 0)
    _run(w, [node])
    ev = _started(node)
    info = node.engine.session_info(ev.tsi)
    assert ev.join_min == 0 and ev.first_sqn == 0 and ev.missed is None
    assert info is not None and info.syn_seen and info.from_start
    assert info.stats.rdata_packets_received > 0
    _check_suffix(w, node, 0)


def test_wraparound_inside_the_join_window() -> None:
    w = _world(75, initial_sqn=(1 << 32) - 300)
    node = _join(w, 4.0, 0)
    _run(w, [node])
    ev = _started(node)
    assert ev.join_min is not None and ev.join_min > (1 << 31)  # before the wrap ...
    got = [e for e in node.events if isinstance(e, DataReceived)]
    assert got[0].sqn == ev.join_min and got[-1].sqn < 1000  # ... and delivered past it
    assert any(e.sqn == 0 for e in got)
    _check_suffix(w, node, ev.join_min)
    info = node.engine.session_info(ev.tsi)
    assert info is not None and info.first_sqn == ev.join_min
    assert info.lead > 1 << 32  # 64-bit numbers count on past the wrap from the join point


@pytest.mark.parametrize("cap", [0, 40])
def test_history_cap(cap: int) -> None:
    """``join_history=N``: at most N packets before the first one heard, however much more the
    source offers (0: none, as without OPT_JOIN)."""
    w = _world(75, trace=True)
    node = _join(w, 6.0, 0, ReceiverConfig(join_history=cap))
    _run(w, [node])
    ev = _started(node)
    assert ev.join_min is not None and ev.join_min < ev.first_sqn  # more was offered
    naks = _nak_sqns(w, node)
    assert naks == set(range(ev.first_sqn, ev.first_sqn + cap))  # exactly the capped history
    _check_suffix(w, node, ev.first_sqn)
    info = node.engine.session_info(ev.tsi)
    assert info is not None and info.missed == (0, ev.first_sqn - 1)


def test_crowd_of_late_joiners_stays_within_the_rate() -> None:
    w = _world(75)
    nodes = [_join(w, 3.0 + 0.02 * i, i) for i in range(50)]
    _run(w, nodes, limit=120.0)
    for node in nodes:
        _check_suffix(w, node, _started(node).first_sqn)
    src = w.source
    st = src.stats
    assert st.repair_packets_sent > 0
    # Everything SPM/ODATA/RDATA went through the token bucket, IP header included: over the
    # session no more than rate x time plus the bucket and the unlimited SPM bursts.
    packets = st.odata_packets_sent + st.repair_packets_sent + st.spm_packets_sent
    sent_bits = (st.total_bytes_sent + packets * 20) * 8
    elapsed = w.net.now - 0.01
    assert sent_bits <= RATE * elapsed + 8 * (1500 + 6 * 100)


def test_naks_below_join_min_are_refused_and_counted() -> None:
    cfg = SourceConfig(rate_bps=RATE, window_secs=WINDOW, late_join=25)
    src = Source(cfg, group=GROUP4, nla="10.0.0.1", sport=40000, gsi=b"\x01" * 6)
    t = 0.0
    while t < 8.0:  # a steady stream; the trailing edge has not moved yet
        for _ in range(5):
            src.send(b"x" * 100, t)
        src.datagrams_to_send(t)
        src.handle_timer(t)
        t += 0.1
    info = src.info(t)
    # OPT_JOIN_MIN moved up at the steps; the oldest value still in force (4 s = 25 % of the
    # window + a step) is above the untouched trailing edge.
    assert info.join_min64 is not None and info.trail64 == 0 < info.join_min64 <= info.lead64

    def nak(sqn: int) -> bytes:
        return wire.NAK(
            source_port=7500,
            destination_port=40000,
            gsi=b"\x01" * 6,
            nak_sqn=sqn,
            source_nla=src.nla,
            group_nla=src.group,
        ).encode()

    src.receive(nak(0), src.nla, t)  # in the window, below every OPT_JOIN_MIN in force
    assert src.stats.naks_below_join_min == 1 and src.outstanding_repairs == 0
    assert src.stats.naks_received_too_late == 0
    assert not [p for p, _, _ in src.datagrams_to_send(t) if p[4] == wire.TYPE_NCF]
    src.receive(nak(info.join_min64), src.nla, t)
    assert src.outstanding_repairs == 1
    assert [p for p, _, _ in src.datagrams_to_send(t) if p[4] == wire.TYPE_NCF]


def test_late_join_config_range() -> None:
    for bad in (-1, 76, 100):
        with pytest.raises(ConfigError):
            SourceConfig(late_join=bad)
    with pytest.raises(ConfigError):
        ReceiverConfig(join_history=-1)
    src = Source(SourceConfig(late_join=10), group=GROUP4, nla="10.0.0.1")
    plain = Source(SourceConfig(), group=GROUP4, nla="10.0.0.1")
    assert src.max_tsdu == plain.max_tsdu - 16  # OPT_LENGTH + OPT_JOIN + OPT_SYN


def test_io_log_warns_of_a_late_start(caplog: pytest.LogCaptureFixture) -> None:
    """The I/O layer's log says a session was joined late (pgm.io.log), like any loss."""
    from pgm.io.log import log_receiver_events
    from pgm.wire import TSI

    tsi = TSI(b"\x01" * 6, 40000)
    ev = SessionStarted(tsi, wire.as_nla("10.0.0.1"), 687, False, False, (0, 686), None)
    with caplog.at_level("INFO", logger="pgm.io"):
        log_receiver_events(GROUP4, 7500, [ev, SessionStarted(tsi, wire.as_nla("10.0.0.1"))])
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert warnings == [f"session {tsi}: joined at sequence 687; 0..686 not received"]
