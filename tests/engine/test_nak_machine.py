"""The NAK state machine is its table (RFC 3208 §6.3), in the style of h2's test_state_machines.

For every (state, input) pair: drive a receiver until one missing sequence number is in the
state, apply the input through real packets and timers, and check that the number's new state,
its timer and the NAKs sent are what the pair's row in ``NAK_TRANSITIONS`` says.  A second test
replaces rows and checks that the receiver follows the replaced row: the table is the truth.

The scenario: SPM, ODATA 0 and 3 -- sequence numbers 1 and 2 are missing.  Number 2 is the one
under test; number 1 is kept waiting for its repair (an NCF put it in WAIT_DATA, refreshed after
the drive) so that delivery stops before 2 and its timers stay out of the way.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from ipaddress import ip_address

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pgm import wire
from pgm.engine import NAK_TRANSITIONS, NakState, Receiver, ReceiverConfig, UnrecoverableLoss
from pgm.engine.receiver import NakAction, NakInput, NakRow, NakTimer, Session

GROUP = ip_address("239.192.0.1")
SRC = ip_address("10.0.0.1")
GSI = b"abcdef"
SPORT = 1000
TSI = wire.TSI(GSI, SPORT)
TARGET = 2  # the sequence number under test (wire and 64-bit: the stream starts at 0)
RDATA_IVL = 5.0

ACTIVE = (NakState.BACK_OFF, NakState.WAIT_NCF, NakState.WAIT_DATA)


def _spm(sqn: int, trail: int, lead: int, rst: bool = False) -> bytes:
    return wire.SPM(
        source_port=SPORT,
        destination_port=7500,
        gsi=GSI,
        spm_sqn=sqn,
        spm_trail=trail,
        spm_lead=lead,
        path_nla=SRC,
        options=[wire.OptRst()] if rst else [],
    ).encode()


def _data(kind: type[wire.DataPacket], sqn: int) -> bytes:
    return kind(
        source_port=SPORT,
        destination_port=7500,
        gsi=GSI,
        data_sqn=sqn,
        data_trail=0,
        data=b"d%d" % sqn,
    ).encode()


def _ncf(sqn: int) -> bytes:
    return wire.NCF(
        source_port=SPORT,
        destination_port=7500,
        gsi=GSI,
        nak_sqn=sqn,
        source_nla=SRC,
        group_nla=GROUP,
    ).encode()


def _peer_nak(sqn: int) -> bytes:
    # Another receiver's NAK, heard on the group (RFC 3208 §6.3 suppression).
    return wire.NAK(
        source_port=7500,
        destination_port=SPORT,
        gsi=GSI,
        nak_sqn=sqn,
        source_nla=SRC,
        group_nla=GROUP,
    ).encode()


@dataclass
class Bench:
    rx: Receiver
    now: float = 0.0
    spm_sqn: int = 0
    naked: bool = False  # a NAK naming TARGET went out during the last step
    reported: bool = False  # an UnrecoverableLoss covered TARGET during the last step

    @property
    def session(self) -> Session:
        s = self.rx.sessions.get(TSI) or self.rx.ended_sessions.get(TSI)
        assert s is not None
        return s

    def state(self) -> NakState:
        return self.session.nak_state(self.session.unwrap(TARGET))

    def feed(self, pkt: bytes) -> None:
        self.rx.receive(pkt, SRC, self.now, GROUP)
        self._collect()

    def timers(self, until: float) -> None:
        self.now = until
        self.rx.handle_timer(until)
        self._collect()

    def _collect(self) -> None:
        for pkt, _dst, _ttl in self.rx.datagrams_to_send(self.now):
            nak = wire.parse(pkt)
            if isinstance(nak, wire.NAK):
                lst = nak.option(wire.OptNakList)
                sqns = [nak.nak_sqn, *(lst.sqns if lst is not None else [])]
                self.naked = self.naked or TARGET in sqns
        for e in self.rx.take_events():
            if isinstance(e, UnrecoverableLoss) and e.first <= TARGET <= e.last:
                self.reported = True

    def keep_one_waiting(self) -> None:
        """Refresh number 1's WAIT_DATA so its timer comes after everything number 2 has."""
        if TSI in self.rx.sessions:
            self.now += 0.001
            self.feed(_ncf(1))

    def next_spm(self, trail: int, lead: int, rst: bool = False) -> bytes:
        self.spm_sqn += 1
        return _spm(self.spm_sqn, trail, lead, rst)


def _bench(ncf_retries: int, data_retries: int) -> Bench:
    cfg = ReceiverConfig(
        nak_ncf_retries=ncf_retries,
        nak_data_retries=data_retries,
        nak_rdata_ivl=RDATA_IVL,
        max_pending_naks=8,
        adaptive_nak_timers=False,  # the table's timers at their configured intervals
    )
    b = Bench(Receiver(cfg, group=GROUP, rng=random.Random(7)))
    b.feed(_spm(0, 0, 0xFFFFFFFF))
    b.feed(_data(wire.ODATA, 0))
    b.feed(_data(wire.ODATA, 3))  # 1 and 2 missing: BACK_OFF
    b.feed(_ncf(1))  # 1: WAIT_DATA, out of the way
    return b


def _drive(b: Bench, state: NakState) -> None:
    """Put TARGET into ``state`` with packets and timers only."""
    s = b.session
    sqn = s.unwrap(TARGET)
    if state is NakState.DONE:
        b.feed(_data(wire.RDATA, TARGET))  # held: 1 is still missing
    elif state is not NakState.BACK_OFF:
        b.timers(s.naks[sqn].deadline)  # the back-off expires: NAK, WAIT_NCF
        if state is NakState.WAIT_DATA:
            b.feed(_ncf(TARGET))
        elif state is NakState.LOST:
            while b.state() is not NakState.LOST:  # NCF retries run out
                b.timers(s.naks[sqn].deadline)
    b.keep_one_waiting()
    assert b.state() is state
    b.naked = b.reported = False


def _apply(b: Bench, inp: NakInput) -> None:
    s = b.session
    sqn = s.unwrap(TARGET)
    if inp is NakInput.TIMER:
        rec = s.naks.get(sqn)
        b.timers(rec.deadline if rec is not None else b.now + 0.01)
    elif inp is NakInput.NCF:
        b.feed(_ncf(TARGET))
    elif inp is NakInput.PEER_NAK:
        b.feed(_peer_nak(TARGET))
    elif inp is NakInput.DATA:
        b.feed(_data(wire.RDATA, TARGET))
    elif inp is NakInput.TRAIL_PASSED:
        b.feed(b.next_spm(trail=TARGET + 1, lead=3))
    elif inp is NakInput.CAPACITY_CUT:
        b.feed(_data(wire.ODATA, 20))  # 16 new gaps, room for 6: everything below 14 is cut
    elif inp is NakInput.RETRIES_EXHAUSTED:
        # Internal: only a COUNT_* action feeds it.  Applied to the machine directly.
        b.rx._naks.apply(s, sqn, inp, b.now)
        b.rx._deliver(s)
        b.rx._settle(s)
        b._collect()
    else:
        assert inp is NakInput.SESSION_END
        b.feed(b.next_spm(trail=0, lead=3, rst=True))


def _expected(b: Bench, state: NakState, inp: NakInput) -> NakRow:
    row = NAK_TRANSITIONS[state, inp]
    rec = b.session.naks.get(b.session.unwrap(TARGET))
    cfg = b.rx.config
    if rec is not None and (
        (row.action is NakAction.COUNT_NCF_RETRY and rec.ncf_retries + 1 > cfg.nak_ncf_retries)
        or (
            row.action is NakAction.COUNT_DATA_RETRY and rec.data_retries + 1 > cfg.nak_data_retries
        )
    ):
        return NAK_TRANSITIONS[state, NakInput.RETRIES_EXHAUSTED]
    return row


# Inputs after which delivery passes TARGET whatever its row did (it falls below the trailing
# edge, a capacity cut, or the end of the session): there it is reported, not kept.
_PASSED_BY_DELIVERY = (NakInput.TRAIL_PASSED, NakInput.CAPACITY_CUT, NakInput.SESSION_END)


def _check(b: Bench, state: NakState, inp: NakInput, row: NakRow, t0: float) -> None:
    after = b.state()
    assert b.naked == (row.action is NakAction.SEND_NAK), (state, inp, row)
    if row.next is NakState.LOST:
        # LOST, or already reported: delivery reports a LOST number as soon as it reaches it.
        assert after is NakState.LOST or (after is NakState.DONE and b.reported), (state, inp)
        return
    if inp in _PASSED_BY_DELIVERY and row.next in ACTIVE:
        assert after is NakState.DONE, (state, inp, row)
        return
    assert after is row.next, (state, inp, row, after)
    if row.next in ACTIVE:
        rec = b.session.naks[b.session.unwrap(TARGET)]
        assert rec.timer is row.timer
        cfg = b.rx.config
        if row.timer is NakTimer.BACK_OFF:
            assert t0 + cfg.nak_bo_min <= rec.deadline <= t0 + cfg.nak_bo_ivl
        elif row.timer is NakTimer.NCF:
            assert rec.deadline == pytest.approx(t0 + cfg.nak_rpt_ivl)
        elif row.timer is NakTimer.RDATA:
            assert rec.deadline == pytest.approx(t0 + cfg.nak_rdata_ivl)
    elif row.action is NakAction.RECOVER or (inp is NakInput.DATA and after is NakState.DONE):
        assert not b.reported  # the data came: it is held for delivery, not lost
        assert b.session.unwrap(TARGET) in b.session.buf


def _run_pair(state: NakState, inp: NakInput, ncf_retries: int, data_retries: int) -> None:
    b = _bench(ncf_retries, data_retries)
    _drive(b, state)
    row = _expected(b, state, inp)
    s = b.session
    rec = s.naks.get(s.unwrap(TARGET))
    t0 = rec.deadline if inp is NakInput.TIMER and rec is not None else b.now
    if inp is NakInput.TIMER and rec is None:
        t0 = b.now + 0.01
    _apply(b, inp)
    _check(b, state, inp, row, t0)


@pytest.mark.parametrize("inp", list(NakInput), ids=lambda i: i.name)
@pytest.mark.parametrize("state", list(NakState), ids=lambda s: s.name)
def test_every_state_and_input_follows_its_row(state: NakState, inp: NakInput) -> None:
    _run_pair(state, inp, ncf_retries=2, data_retries=2)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    state=st.sampled_from(list(NakState)),
    inp=st.sampled_from(list(NakInput)),
    ncf_retries=st.integers(0, 3),
    data_retries=st.integers(0, 3),
)
def test_state_and_input_with_retry_limits(
    state: NakState, inp: NakInput, ncf_retries: int, data_retries: int
) -> None:
    # The retry limits decide whether a COUNT_* row's own next state or the
    # RETRIES_EXHAUSTED row applies.
    _run_pair(state, inp, ncf_retries, data_retries)


_REPLACEMENTS = [
    NakRow(action, nxt, timer)
    for action in (NakAction.NONE, NakAction.SEND_NAK)
    for nxt in ACTIVE
    for timer in (NakTimer.BACK_OFF, NakTimer.NCF, NakTimer.RDATA)
] + [
    NakRow(NakAction.GIVE_UP, NakState.LOST, NakTimer.NONE),
    NakRow(NakAction.DISCARD, NakState.DONE, NakTimer.NONE),
]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    state=st.sampled_from(ACTIVE),
    inp=st.sampled_from(
        [NakInput.TIMER, NakInput.NCF, NakInput.PEER_NAK, NakInput.RETRIES_EXHAUSTED]
    ),
    row=st.sampled_from(_REPLACEMENTS),
)
def test_changing_a_row_changes_behaviour(state: NakState, inp: NakInput, row: NakRow) -> None:
    original = NAK_TRANSITIONS[state, inp]
    b = _bench(3, 3)
    _drive(b, state)  # with the table as shipped
    NAK_TRANSITIONS[state, inp] = row
    try:
        s = b.session
        rec = s.naks[s.unwrap(TARGET)]
        t0 = rec.deadline if inp is NakInput.TIMER else b.now
        _apply(b, inp)
        _check(b, state, inp, row, t0)
    finally:
        NAK_TRANSITIONS[state, inp] = original


def test_no_nak_when_the_send_nak_row_is_replaced() -> None:
    key = (NakState.BACK_OFF, NakInput.TIMER)
    original = NAK_TRANSITIONS[key]
    try:
        NAK_TRANSITIONS[key] = NakRow(NakAction.NONE, NakState.WAIT_NCF, NakTimer.NCF)
        b = _bench(3, 3)
        _drive(b, NakState.WAIT_NCF)
        s = b.session
        assert s.stats.nak_packets_sent == 0 and s.nak_state(s.unwrap(1)) is NakState.WAIT_DATA
    finally:
        NAK_TRANSITIONS[key] = original
