"""The receiver's NCF and peer-NAK list fast path does what the plain walk did (issue 16).

An NCF (or another receiver's NAK) names up to 63 sequence numbers, and in a large group every
receiver hears every one while it has NAK records for only a few; ``on_ncf`` / ``on_peer_nak``
skip the numbers without a record cheaply.  Here the plain walk of every listed number (the
code before the fast path, kept below as the reference) and the engine's functions run on two
receivers brought to the same state by the same packets and seed — near the 32-bit wrap too —
and must leave the same NAK records, leading edge, losses, statistics, NAKs to send and
random draws.
"""

from __future__ import annotations

import random
from ipaddress import ip_address
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pgm import wire
from pgm.engine import Receiver, ReceiverConfig
from pgm.engine.receiver import NakInput, NakState, NakTimer, Session, control
from pgm.engine.receiver.nak import NakRecord

GROUP = ip_address("239.192.0.1")
SRC = ip_address("10.0.0.1")
GSI = b"abcdef"
SPORT = 1000
MASK = 0xFFFFFFFF


def _ref_on_ncf(r: Receiver, s: Session, ncf: wire.NCF, now: float) -> None:
    """The walk before the fast path (ODATA/RDATA NCFs of a started session)."""
    s.stats.ncfs_received += 1
    for s32 in control.listed(ncf):
        sqn = s.unwrap(s32)
        if sqn < s.next or sqn in s.buf:
            continue
        if sqn > s.lead:
            if sqn - s.next >= r._max_window or not r._guard.lead_ok(s, sqn, now):
                continue
            if sqn > s.lead + 1:
                r._naks.open_gap(s, s.lead + 1, sqn, now)
            s.lead = sqn
            s.naks[sqn] = NakRecord(NakState.BACK_OFF, 0.0, NakTimer.NONE)
            s.lost.pop(sqn, None)
        r._naks.apply(s, sqn, NakInput.NCF, now)
    r._settle(s)


def _ref_on_peer_nak(r: Receiver, s: Session, nak: wire.NAK, now: float) -> None:
    s.stats.peer_naks_received += 1
    for s32 in control.listed(nak):
        sqn = s.unwrap(s32)
        if r._guard.peer_nak_ok(s, sqn):
            r._naks.apply(s, sqn, NakInput.PEER_NAK, now)
    r._settle(s)


def _receiver(base: int, received: list[int], ncfs: list[int]) -> tuple[Receiver, Session]:
    """A receiver that saw an SPM at ``base - 1``, the ODATA at offsets ``received`` from
    ``base`` and NCFs for offsets ``ncfs`` (records in every state), with time moving on."""
    r = Receiver(ReceiverConfig(), group=GROUP, rng=random.Random(5))
    spm = wire.SPM(
        source_port=SPORT,
        destination_port=7500,
        gsi=GSI,
        spm_sqn=1,
        spm_trail=base & MASK,
        spm_lead=(base - 1) & MASK,
        path_nla=SRC,
    )
    r.receive(spm.encode(), SRC, 0.0, GROUP)
    now = 0.0
    for off in sorted(received):
        now += 0.001
        data = wire.ODATA(
            source_port=SPORT,
            destination_port=7500,
            gsi=GSI,
            data_sqn=(base + off) & MASK,
            data_trail=base & MASK,
            data=b"x",
        )
        r.receive(data.encode(), SRC, now, GROUP)
    for off in ncfs:
        now += 0.05
        r.handle_timer(now)
        r.receive(_list(wire.NCF, base, [off]).encode(), SRC, now, GROUP)
    r.datagrams_to_send(now)
    return r, next(iter(r.sessions.values()))


def _list(kind: type[wire.NCF] | type[wire.NAK], base: int, offs: list[int]) -> Any:
    sqns = [(base + o) & MASK for o in offs]
    return kind(
        source_port=SPORT if kind is wire.NCF else 7500,
        destination_port=7500 if kind is wire.NCF else SPORT,
        gsi=GSI,
        nak_sqn=sqns[0],
        source_nla=SRC,
        group_nla=GROUP,
        options=[wire.OptNakList(sqns[1:])] if len(sqns) > 1 else [],
    )


def _state(r: Receiver, s: Session) -> tuple[object, ...]:
    recs = {
        q: (n.state, n.deadline, n.timer, n.ncf_retries, n.data_retries, n.peer_naks)
        for q, n in s.naks.items()
    }
    return (
        recs,
        dict(s.lost),
        s.lead,
        s.next,
        sorted(s.buf),
        list(s.nak_queue),
        s.stats,
        r.datagrams_to_send(0.0),
        r.rng.getstate(),
        r.next_timer(),
    )


offsets = st.lists(st.integers(0, 40), max_size=30)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    base=st.sampled_from([0, 1000, (1 << 32) - 20, (1 << 32) - 1]),
    received=offsets,
    ncfs=st.lists(st.integers(0, 45), max_size=4),
    listed=st.lists(st.integers(-10, 90), min_size=1, max_size=63),
    peer=st.booleans(),
)
def test_list_fast_path_is_the_plain_walk(
    base: int, received: list[int], ncfs: list[int], listed: list[int], peer: bool
) -> None:
    received = sorted(set(received))
    ra, sa = _receiver(base, received, ncfs)
    rb, sb = _receiver(base, received, ncfs)
    assert _state(ra, sa) == _state(rb, sb)
    now = 1.0
    if peer:
        nak = _list(wire.NAK, base, listed)
        _ref_on_peer_nak(ra, sa, nak, now)
        control.on_peer_nak(rb, sb, nak, now)
    else:
        ncf = _list(wire.NCF, base, listed)
        _ref_on_ncf(ra, sa, ncf, now)
        control.on_ncf(rb, sb, ncf, now)
    assert _state(ra, sa) == _state(rb, sb)


def test_ncf_without_records_still_extends_the_window() -> None:
    r, s = _receiver(0, list(range(10)), [])
    first = s.lead - 9  # the engine's unbounded number of wire sequence number 0
    assert not s.naks and s.next == first + 10
    control.on_ncf(r, s, _list(wire.NCF, 0, [3, 12, 5]), 1.0)
    assert s.lead == first + 12 and set(s.naks) == {first + 10, first + 11, first + 12}
    assert s.naks[first + 12].state is NakState.WAIT_DATA  # the NCF confirmed it
    assert s.naks[first + 10].state is NakState.BACK_OFF  # the gap before it waits to be NAKed
