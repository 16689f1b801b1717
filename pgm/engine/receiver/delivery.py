"""In-order delivery, fragment reassembly and loss reporting for one session (RFC 3208 §6).

Theory of operation
-------------------
A session holds the data packets it cannot deliver yet in ``buf`` (unbounded sequence number
-> :data:`Held` tuple).  :func:`deliver` walks forward from ``next``, the first sequence number not
yet delivered or reported:

* a held, unfragmented packet is delivered as one :class:`~pgm.engine.DataReceived`;
* a held fragment starting a message (OPT_FRAGMENT offset 0, RFC 3208 §9.3) begins reassembly:
  the message is delivered once all its fragments are there, consistent (same first sequence
  number and length, offsets adding up); reassembly resumes where it stopped when more arrives;
* a missing number that is LOST (its NAK record gave up), or below ``lost_below`` (the
  trailing edge, a capacity cut or the session's end passed it), is reported together with the
  lost numbers that follow it as one :class:`~pgm.engine.UnrecoverableLoss`, at the point of
  the stream where it falls; delivery then continues after the gap;
* a message missing any fragment is dropped, and its fragments held are reported lost with it;
  fragments whose message began before what we have are reported the same way;
* otherwise delivery waits.

Delivery retires the NAK records of the numbers it passes.  Loss is never silent.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Final, TypeAlias

from ...wire.sqn import SQN_MASK
from ..events import DataReceived, Event, LossReason, UnrecoverableLoss, data_received

if TYPE_CHECKING:
    from .session import Session

__all__ = ["Held", "deliver"]


Held: TypeAlias = tuple[bytes, int, int, int]
"""A held data packet: ``(data, first, offset, total)`` — its payload, the first sequence
number (unbounded) of the message it is a fragment of (-1: not a fragment), its offset in that
message and the message's length.  A plain tuple of bytes and ints: the garbage collector stops
tracking such a tuple at its first collection, so a large window held behind a gap is not
walked again by every later one (docs/performance.md)."""

_DATA: Final = 0  # indexes into a Held tuple
_FIRST: Final = 1
_OFFSET: Final = 2
_TOTAL: Final = 3


def deliver(s: Session, events: deque[Event], max_apdu: int) -> bool:
    """Deliver what is contiguous from ``next``; report lost stretches where they fall.
    True once everything up to the session's FIN sequence number is done."""
    buf = s.buf
    lost = s.lost
    st = s.stats
    append = events.append
    tsi = s.tsi
    while True:
        sqn = s.next
        rx = buf.get(sqn)
        if rx is None:
            if sqn in lost or (sqn < s.lost_below and sqn <= s.lead):
                _report_lost_run(s, sqn, events)
                continue
            break
        if rx[_FIRST] < 0:
            # A run of whole messages (a repaired gap releases what was held behind it): one
            # tight loop, the counters summed once.
            count = nbytes = 0
            while rx is not None and rx[_FIRST] < 0:
                del buf[sqn]
                data = rx[_DATA]
                nbytes += len(data)
                count += 1
                append(data_received(tsi, data, sqn & SQN_MASK))
                sqn += 1
                rx = buf.get(sqn)
            s.buf_bytes -= nbytes
            s.next = sqn
            st.data_bytes_received += nbytes
            st.apdus_delivered += count
            continue
        if rx[_FIRST] != sqn or rx[_OFFSET] != 0:
            # A fragment whose message began before what we have: its start is gone.
            _drop_orphans(s, events)
            continue
        if not _assemble(s, events, max_apdu):
            break
    return s.fin is not None and s.next > s.fin


def _assemble(s: Session, events: deque[Event], max_apdu: int) -> bool:
    """Advance reassembly of the message starting at ``next``; True if it moved on."""
    buf = s.buf
    first = s.next
    total = buf[first][_TOTAL]
    if total > max_apdu:
        _drop_apdu(s, first, events)
        return True
    q = s.frag_pos or first
    acc = s.frag_acc
    while acc < total:
        rx = buf.get(q)
        if rx is None:
            if q in s.lost or q < s.lost_below:
                _drop_apdu(s, q, events)  # a fragment is lost: so is the message
                return True
            s.frag_pos, s.frag_acc = q, acc  # resume here when more arrives
            return False
        data, rfirst, offset, rtotal = rx
        if rfirst != first:
            _drop_apdu(s, q - 1, events)  # the next message started early: ours is short
            return True
        if offset != acc or rtotal != total or acc + len(data) > total:
            _drop_apdu(s, q, events)  # inconsistent OPT_FRAGMENT
            return True
        acc += len(data)
        q += 1
    data = b"".join([buf.pop(i)[_DATA] for i in range(first, q)])
    s.buf_bytes -= total
    s.next = q
    s.frag_pos = s.frag_acc = 0
    s.stats.data_bytes_received += total
    s.stats.apdus_delivered += 1
    events.append(DataReceived(s.tsi, data, first & SQN_MASK))
    return True


def _fragments_of(s: Session, first: int, start: int) -> int:
    """Last held sequence number after ``start`` that continues message ``first``."""
    end = start
    while True:
        rx = s.buf.get(end + 1)
        if rx is None or rx[_FIRST] != first:
            return end
        end += 1


def _drop_apdu(s: Session, upto: int, events: deque[Event]) -> None:
    """The message at ``next`` cannot complete: drop it through ``upto`` and the fragments of
    it held beyond; report them lost together."""
    first = s.next
    end = _fragments_of(s, first, upto)
    for q in range(first, end + 1):
        rx = s.buf.pop(q, None)
        if rx is not None:
            s.buf_bytes -= len(rx[_DATA])
        s.naks.pop(q, None)
        s.lost.pop(q, None)
    s.frag_pos = s.frag_acc = 0
    s.next = end + 1
    if end > s.lead:
        s.lead = end
    _emit_loss(s, first, end, LossReason.FRAGMENT, events)


def _drop_orphans(s: Session, events: deque[Event]) -> None:
    """Fragments at ``next`` whose message started earlier (its start was lost)."""
    first = s.next
    end = _fragments_of(s, s.buf[first][_FIRST], first)
    for q in range(first, end + 1):
        rx = s.buf.pop(q)
        s.buf_bytes -= len(rx[_DATA])
    s.next = end + 1
    _emit_loss(s, first, end, LossReason.FRAGMENT, events)


def _report_lost_run(s: Session, sqn: int, events: deque[Event]) -> None:
    """``sqn`` (at ``next``) is lost: skip the whole lost stretch and report it once."""
    lost = s.lost
    buf = s.buf
    if sqn < s.lost_below:
        reason = s.below_reason
        lost.pop(sqn, None)
        # Up to the first packet we hold, or the cut, whichever comes first (never walking
        # the stretch one number at a time: it may be long).
        # Every number held or recorded is >= next: the cost is at most twice the smaller of
        # the stretch and the table, so the work per number passed is O(1) (security.md).
        end = min(s.lost_below, s.lead + 1) - 1
        q, steps = sqn + 1, len(buf)
        while q <= end and q not in buf and steps:
            q += 1  # walk to the first packet held, at most len(buf) steps ...
            steps -= 1
        if q <= end and q not in buf:
            held = [k for k in buf if k > sqn]  # ... then the table, shorter than the walk
            q = min(held) if held else end + 1
        end = min(end, q - 1)
        for table in (s.naks, lost):
            if not table:
                continue
            if len(table) < end - sqn:
                for q in [k for k in table if sqn <= k <= end]:
                    del table[q]
            else:
                for q in range(sqn, end + 1):
                    table.pop(q, None)
    else:
        reason = lost.pop(sqn)
        end = sqn
    # Extend through individually given-up numbers that follow.
    while end + 1 in lost and end + 1 not in buf:
        end += 1
        lost.pop(end)
        s.naks.pop(end, None)
    s.next = end + 1
    _emit_loss(s, sqn, end, reason, events)


def _emit_loss(s: Session, first: int, last: int, reason: LossReason, events: deque[Event]) -> None:
    st = s.stats
    st.lost_sqns += last - first + 1
    st.loss_events += 1
    events.append(UnrecoverableLoss(s.tsi, first & SQN_MASK, last & SQN_MASK, reason))
