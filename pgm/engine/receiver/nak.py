"""The NAK state machine of one missing sequence number (RFC 3208 §6.3), as a table.

Theory of operation
-------------------
Every sequence number a session misses gets a record (:class:`NakRecord`) that walks the
machine below.  :data:`NAK_TRANSITIONS` is its only truth: each ``(state, input)`` pair maps to
a row ``(action, next state, timer)`` and :meth:`NakMachine.apply` does exactly what the row
says — change nothing in the row and nothing changes; change a row and the receiver behaves
differently.

* **Entry.**  A detected gap (data beyond the leading edge, an SPM advertising a later lead, an
  NCF for something not yet seen) enters BACK_OFF, one random back-off draw over
  ``[nak_bo_min, nak_bo_ivl]`` for the whole burst, so it leaves as one NAK list.
* **States.**  BACK_OFF (waiting to NAK), WAIT_NCF (NAKed, waiting for the source's NCF),
  WAIT_DATA (confirmed, waiting for the repair), LOST (given up; kept until delivery reports
  it, a late repair is still delivered) and DONE (no record: repaired, or passed by delivery).
* **Inputs.**  TIMER (the timer the row armed expired), NCF, PEER_NAK (another receiver's
  multicast NAK: suppression, §6.3), DATA (the data arrived), TRAIL_PASSED (the source's
  trailing edge moved past it), CAPACITY_CUT (``max_pending_naks`` forced it out),
  RETRIES_EXHAUSTED (a retry count went past its limit; fed back by the COUNT_* actions) and
  SESSION_END.
* **Actions.**  SEND_NAK (queue the number for the session's next NAK packet — nowhere, and
  treated as sent, before an SPM told us the NAK destination), COUNT_NCF_RETRY /
  COUNT_DATA_RETRY (past ``nak_ncf_retries`` / ``nak_data_retries`` the record takes the input
  RETRIES_EXHAUSTED instead), GIVE_UP (LOST, with a :class:`~pgm.engine.LossReason` from the
  input), RECOVER (a LOST number's data came after all), DISCARD (drop the record) and NONE.
* **Timers.**  The row names the timer to arm on entering the next state: BACK_OFF (a random
  back-off), NCF (``nak_rpt_ivl``), RDATA (``nak_rdata_ivl``) or NONE; with
  ``adaptive_nak_timers`` NCF and RDATA wait as long as the source's measured answers take, at
  most those intervals (:mod:`.rtt`).  Each kind has its own heap in the session.  An entry
  is stale (skipped) once its record's deadline or timer kind changed.
"""

from __future__ import annotations

import heapq
import random
from enum import IntEnum
from typing import TYPE_CHECKING, NamedTuple

from ..config import ReceiverConfig
from ..events import LossReason

if TYPE_CHECKING:
    from .session import Session

__all__ = [
    "NAK_TRANSITIONS",
    "NakAction",
    "NakInput",
    "NakMachine",
    "NakRecord",
    "NakRow",
    "NakState",
    "NakTimer",
]


class NakState(IntEnum):
    """States of one missing sequence number (RFC 3208 §6.3)."""

    BACK_OFF = 1
    """Missing; a NAK goes out when the random back-off expires."""
    WAIT_NCF = 2
    """NAKed; waiting for the source's NCF (``nak_rpt_ivl``)."""
    WAIT_DATA = 3
    """Confirmed by an NCF; waiting for the repair (``nak_rdata_ivl``)."""
    LOST = 4
    """Given up; delivery reports it where it falls, unless its data still arrives first."""
    DONE = 5
    """No record: the data arrived, or delivery passed the number."""


class NakInput(IntEnum):
    """What can happen to a missing sequence number."""

    TIMER = 1
    """The timer the last row armed expired."""
    NCF = 2
    """An NCF for it (RFC 3208 §6.3)."""
    PEER_NAK = 3
    """Another receiver's multicast NAK for it (NAK suppression, §6.3)."""
    DATA = 4
    """Its ODATA or RDATA arrived."""
    TRAIL_PASSED = 5
    """The source's trailing edge moved past it: it can no longer be repaired."""
    CAPACITY_CUT = 6
    """``max_pending_naks`` forced it out to make room for newer gaps."""
    RETRIES_EXHAUSTED = 7
    """A COUNT_* action took a retry count past its limit."""
    SESSION_END = 8
    """The session ended (FIN, RST or expiry)."""


class NakAction(IntEnum):
    """What a row does besides moving to its next state and arming its timer."""

    NONE = 0
    SEND_NAK = 1
    """Put the number in the session's next NAK (list) packet."""
    COUNT_NCF_RETRY = 2
    """Count an NCF retry; past ``nak_ncf_retries``, take RETRIES_EXHAUSTED instead."""
    COUNT_DATA_RETRY = 3
    """Count a data retry; past ``nak_data_retries``, take RETRIES_EXHAUSTED instead."""
    GIVE_UP = 4
    """Declare it lost (the input gives the reason); delivery reports it."""
    RECOVER = 5
    """Its data arrived after it was given up: deliver it after all."""
    DISCARD = 6
    """Forget the record."""


class NakTimer(IntEnum):
    """The timer a row arms for its next state."""

    NONE = 0
    BACK_OFF = 1
    """Random over ``[nak_bo_min, nak_bo_ivl]`` (RFC 3208 §6.3 NAK_BO_IVL)."""
    NCF = 2
    """``nak_rpt_ivl`` (NAK_RPT_IVL)."""
    RDATA = 3
    """``nak_rdata_ivl`` (NAK_RDATA_IVL)."""


class NakRow(NamedTuple):
    """One row of :data:`NAK_TRANSITIONS`."""

    action: NakAction
    next: NakState
    timer: NakTimer


def _rows() -> dict[tuple[NakState, NakInput], NakRow]:
    S, In, A, T = NakState, NakInput, NakAction, NakTimer
    table: dict[tuple[NakState, NakInput], NakRow] = {}
    for state in (S.BACK_OFF, S.WAIT_NCF, S.WAIT_DATA):
        # What every waiting state does alike.
        table[state, In.DATA] = NakRow(A.DISCARD, S.DONE, T.NONE)
        table[state, In.TRAIL_PASSED] = NakRow(A.GIVE_UP, S.LOST, T.NONE)
        table[state, In.CAPACITY_CUT] = NakRow(A.GIVE_UP, S.LOST, T.NONE)
        table[state, In.RETRIES_EXHAUSTED] = NakRow(A.GIVE_UP, S.LOST, T.NONE)
        table[state, In.SESSION_END] = NakRow(A.DISCARD, S.DONE, T.NONE)
        table[state, In.NCF] = NakRow(A.NONE, S.WAIT_DATA, T.RDATA)
    table[S.BACK_OFF, In.TIMER] = NakRow(A.SEND_NAK, S.WAIT_NCF, T.NCF)
    table[S.BACK_OFF, In.PEER_NAK] = NakRow(A.NONE, S.WAIT_NCF, T.NCF)
    table[S.WAIT_NCF, In.TIMER] = NakRow(A.COUNT_NCF_RETRY, S.BACK_OFF, T.BACK_OFF)
    table[S.WAIT_NCF, In.PEER_NAK] = NakRow(A.NONE, S.WAIT_NCF, T.NCF)
    table[S.WAIT_DATA, In.TIMER] = NakRow(A.COUNT_DATA_RETRY, S.BACK_OFF, T.BACK_OFF)
    table[S.WAIT_DATA, In.PEER_NAK] = NakRow(A.NONE, S.WAIT_DATA, T.RDATA)
    for inp in In:
        # LOST waits for delivery to report it; only its data (or the end) changes that.
        table[S.LOST, inp] = NakRow(A.NONE, S.LOST, T.NONE)
        table[S.DONE, inp] = NakRow(A.NONE, S.DONE, T.NONE)
    table[S.LOST, In.DATA] = NakRow(A.RECOVER, S.DONE, T.NONE)
    table[S.LOST, In.SESSION_END] = NakRow(A.DISCARD, S.DONE, T.NONE)
    return table


#: The NAK state machine (RFC 3208 §6.3): ``(state, input) -> (action, next state, timer)``,
#: one row for every pair.  :meth:`NakMachine.apply` is driven by it alone.
NAK_TRANSITIONS: dict[tuple[NakState, NakInput], NakRow] = _rows()

_ACTIVE = (NakState.BACK_OFF, NakState.WAIT_NCF, NakState.WAIT_DATA)

#: The loss reason a GIVE_UP records, by the input that caused it.
_GIVE_UP_REASON = {
    NakInput.TRAIL_PASSED: LossReason.WINDOW,
    NakInput.CAPACITY_CUT: LossReason.CAPACITY,
}


class NakRecord:
    """One missing sequence number in BACK_OFF, WAIT_NCF or WAIT_DATA."""

    __slots__ = (
        "armed",
        "data_retries",
        "deadline",
        "ncf_retries",
        "peer_naks",
        "state",
        "timer",
    )

    def __init__(self, state: NakState, deadline: float, timer: NakTimer) -> None:
        self.state = state
        self.deadline = deadline
        self.timer = timer
        self.armed = 0.0  # when the current timer was armed (latency samples, .rtt)
        self.ncf_retries = 0
        self.data_retries = 0
        self.peer_naks = 0  # peer NAKs that suppressed ours (bounded: .guard)


class NakMachine:
    """Runs :data:`NAK_TRANSITIONS` over the NAK records of a receiver's sessions.

    ``rng`` is the only source of randomness (the back-off draws).
    """

    def __init__(self, config: ReceiverConfig, rng: random.Random) -> None:
        self.config = config
        self.rng = rng
        self._bo_lo = config.nak_bo_min
        self._bo_span = config.nak_bo_ivl - config.nak_bo_min
        self._adaptive = config.adaptive_nak_timers
        self._floor = config.nak_timer_floor

    def backoff(self) -> float:
        """One random back-off interval."""
        return self._bo_lo + self.rng.random() * self._bo_span

    @staticmethod
    def state_of(s: Session, sqn: int) -> NakState:
        """The state of (unbounded) sequence number ``sqn`` in session ``s``."""
        rec = s.naks.get(sqn)
        if rec is not None:
            return rec.state
        return NakState.LOST if sqn in s.lost else NakState.DONE

    def apply(self, s: Session, sqn: int, inp: NakInput, now: float) -> None:
        """Feed ``inp`` to sequence number ``sqn``: do what its row says."""
        rec = s.naks.get(sqn)
        state = rec.state if rec is not None else self.state_of(s, sqn)
        action, nxt, timer = NAK_TRANSITIONS[state, inp]
        if state is NakState.BACK_OFF and (inp is NakInput.NCF or inp is NakInput.PEER_NAK):
            s.stats.naks_suppressed += 1  # suppression (§6.3): someone else asked first
        elif rec is not None and not (rec.ncf_retries or rec.data_retries or rec.peer_naks):
            # A first NAK answered: a latency sample (Karn's rule, .rtt).
            if state is NakState.WAIT_NCF and inp is NakInput.NCF:
                s.ncf_rtt.sample(now - rec.armed)
            elif state is NakState.WAIT_DATA and inp is NakInput.DATA:
                s.rdata_rtt.sample(now - rec.armed)
        if action is NakAction.SEND_NAK:
            if s.nak_dst is not None:
                s.nak_queue.append(sqn)
        elif action is NakAction.COUNT_NCF_RETRY or action is NakAction.COUNT_DATA_RETRY:
            if rec is not None and self._retries_exhausted(rec, action):
                self.apply(s, sqn, NakInput.RETRIES_EXHAUSTED, now)
                return
        elif action is NakAction.GIVE_UP:
            s.lost[sqn] = _GIVE_UP_REASON.get(inp, LossReason.RETRIES)
        elif action is NakAction.RECOVER or action is NakAction.DISCARD:
            s.lost.pop(sqn, None)
        if nxt in _ACTIVE:
            if rec is None:
                rec = s.naks[sqn] = NakRecord(nxt, 0.0, NakTimer.NONE)
                s.lost.pop(sqn, None)
            rec.state = nxt
            self._arm(s, sqn, rec, timer, now)
        elif rec is not None:
            del s.naks[sqn]

    def _retries_exhausted(self, rec: NakRecord, action: NakAction) -> bool:
        if action is NakAction.COUNT_NCF_RETRY:
            rec.ncf_retries += 1
            return rec.ncf_retries > self.config.nak_ncf_retries
        rec.data_retries += 1
        return rec.data_retries > self.config.nak_data_retries

    def _arm(self, s: Session, sqn: int, rec: NakRecord, timer: NakTimer, now: float) -> None:
        rec.timer = timer
        rec.armed = now
        cfg = self.config
        if timer is NakTimer.BACK_OFF:
            rec.deadline = now + self.backoff()
            heapq.heappush(s.backoff, (rec.deadline, sqn))
        elif timer is NakTimer.NCF:
            wait = cfg.nak_rpt_ivl
            if self._adaptive:
                wait = s.ncf_rtt.wait(wait, self._floor, rec.ncf_retries)
            rec.deadline = now + wait
            heapq.heappush(s.wait_ncf, (rec.deadline, sqn))
        elif timer is NakTimer.RDATA:
            wait = cfg.nak_rdata_ivl
            if self._adaptive:
                wait = s.rdata_rtt.wait(wait, self._floor, rec.data_retries)
            rec.deadline = now + wait
            heapq.heappush(s.wait_data, (rec.deadline, sqn))

    def open_gap(self, s: Session, lo: int, hi: int, now: float) -> None:
        """Sequence numbers [lo, hi) are missing: each enters BACK_OFF (one back-off draw).
        Past ``max_pending_naks`` the oldest are cut: everything missing below the cut."""
        room = self.config.max_pending_naks - len(s.naks)
        if hi - lo > room:
            cut = hi - max(room, 0)
            s.lost_below = cut
            s.below_reason = LossReason.CAPACITY
            self.apply_below(s, cut, NakInput.CAPACITY_CUT, now)
            lo = cut
        deadline = now + self.backoff()
        naks = s.naks
        push = heapq.heappush
        bo = s.backoff
        for sqn in range(lo, hi):
            naks[sqn] = NakRecord(NakState.BACK_OFF, deadline, NakTimer.BACK_OFF)
            push(bo, (deadline, sqn))

    def apply_below(self, s: Session, bound: int, inp: NakInput, now: float) -> None:
        """Feed ``inp`` to every record (waiting or LOST) below ``bound``: records are at or
        above ``next``, so the cost is the smaller of the stretch and the table."""
        for table in (s.naks, s.lost):
            if not table:
                continue
            if len(table) < bound - s.next:
                sqns = [q for q in table if q < bound]
            else:
                sqns = [q for q in range(s.next, bound) if q in table]
            for sqn in sqns:
                self.apply(s, sqn, inp, now)

    def end(self, s: Session, now: float) -> None:
        """The session ended: SESSION_END for every record."""
        for sqn in list(s.naks) + list(s.lost):
            self.apply(s, sqn, NakInput.SESSION_END, now)

    def run_timers(self, s: Session, now: float) -> None:
        """Feed TIMER to every record whose timer is due (back-offs first, as they expire);
        the numbers to NAK collect in ``s.nak_queue``."""
        naks = s.naks
        apply = self.apply
        bo = s.backoff
        while bo and bo[0][0] <= now:
            d, sqn = heapq.heappop(bo)
            rec = naks.get(sqn)
            if rec is not None and rec.deadline == d and rec.timer is NakTimer.BACK_OFF:
                apply(s, sqn, NakInput.TIMER, now)
        pop = heapq.heappop
        for q, kind in ((s.wait_ncf, NakTimer.NCF), (s.wait_data, NakTimer.RDATA)):
            while q and q[0][0] <= now:
                d, sqn = pop(q)
                rec = naks.get(sqn)
                if rec is not None and rec.deadline == d and rec.timer is kind:
                    apply(s, sqn, NakInput.TIMER, now)
