"""Timers of the receiver: the per-session deadline heap, expiry and the rate tick.

Theory of operation
-------------------
Each live session's earliest deadline (its NAK records' back-off/repeat timers, its SPMR,
its FIN confirmation) sits once in ``Receiver._timers``, a heap of ``(deadline, seq,
session)``; :func:`settle` pushes a new entry only when the deadline changed
(``Session.sched``).  Entries are never removed early: ones of ended sessions, or whose
deadline moved, are dropped when they reach the top (:func:`next_timer`).
Expiry (``last_heard + peer_expiry``) has its own heap, re-pushed lazily when the session was
heard from since (with a single session, only when :func:`handle_timer` meets the entry).
:func:`handle_timer` runs the NAK state machine's timers (:mod:`.nak`, RFC 3208 §6.3), repeats
SPMRs (App. C), ends sessions whose FIN stood its confirmation time or that fell silent.  About
once a second ``_tick`` samples the sessions' receive rates.  Plain functions taking the
:class:`~.receiver.Receiver`, bound as its methods.
"""

from __future__ import annotations

import heapq
from typing import TYPE_CHECKING

from ..events import EndReason
from .session import Session

if TYPE_CHECKING:
    from .receiver import Receiver

__all__ = [
    "handle_timer",
    "next_timer",
    "push_expiry",
    "run_session_timers",
    "settle",
    "spmr_retry",
    "tick",
]


def next_timer(r: Receiver) -> float | None:
    """Absolute time of the next NAK/SPMR/expiry deadline, or None."""
    t: float | None = None
    h = r._timers
    while h:
        d, _, s = h[0]
        if s.ended:
            heapq.heappop(h)
            continue
        if s.next_deadline() != d:
            heapq.heappop(h)  # stale: the session's deadline moved
            if s.sched == d:
                s.sched = None
            r._settle(s)
            continue
        t = d
        break
    e = r._expiry
    if len(e) == 1 and not e[0][2].ended:
        # One session (the usual case): its expiry is exact without re-pushing the entry
        # after every packet; a stale (earlier) entry is re-pushed by handle_timer when met.
        d = e[0][2].last_heard + r.config.peer_expiry
        return d if t is None or d < t else t
    while e:
        d, _, s = e[0]
        if s.ended:
            heapq.heappop(e)
            continue
        if s.last_heard + r.config.peer_expiry != d:  # heard since: the same, one heap step
            heapq.heapreplace(e, (s.last_heard + r.config.peer_expiry, next(r._seq), s))
            continue
        if t is None or d < t:
            t = d
        break
    return t


def handle_timer(r: Receiver, now: float) -> None:
    """Run every timer due at ``now`` (early calls are harmless)."""
    r._tick(now)
    h = r._timers
    due: list[Session] = []
    while h and h[0][0] <= now:
        d, _, s = heapq.heappop(h)
        if s.sched == d:
            s.sched = None
        if not s.ended and s not in due:
            due.append(s)
    for s in due:
        r._run_session_timers(s, now)
        if not s.ended:
            r._deliver(s)
            r._settle(s)
    e = r._expiry
    while e and e[0][0] <= now:
        _, _, s = heapq.heappop(e)
        if s.ended:
            continue
        if s.last_heard + r.config.peer_expiry <= now:
            r._end(s, EndReason.EXPIRED, now)
        else:
            r._push_expiry(s)


def tick(r: Receiver, now: float) -> None:
    r._now = now
    if now >= r._rate_tick:
        # About once a second: close each session's rate interval (read-only statistics).
        r._rate_tick = now + 1.0
        tick = r._guard.tick
        for s in r.sessions.values():
            s.sample_rate(now)
            tick(s, now)


def push_expiry(r: Receiver, s: Session) -> None:
    heapq.heappush(r._expiry, (s.last_heard + r.config.peer_expiry, next(r._seq), s))


def settle(r: Receiver, s: Session) -> None:
    """Send the NAKs the table's rows queued, and make sure the session's earliest deadline
    is in the timer heap (once)."""
    if s.nak_queue:
        r._send_naks(s)
    d = s.next_deadline()
    if d is not None and d != s.sched:
        heapq.heappush(r._timers, (d, next(r._seq), s))
        s.sched = d


def spmr_retry(r: Receiver) -> float:
    return max(1.0, 4 * r.config.spmr_bo_ivl)


def run_session_timers(r: Receiver, s: Session, now: float) -> None:
    # Without an SPM there is nowhere to send a NAK (RFC 3208 §6.3: no NAKs before an SPM);
    # SEND_NAK then treats it as sent and unanswered, so the SPMR has NAK_RPT_IVL per retry
    # to bring the SPM in before the gap is given up.
    r._naks.run_timers(s, now)
    if s.nak_queue:
        r._send_naks(s)
    if s.spmr_at is not None and s.spmr_at <= now:
        if s.have_spm:
            s.spmr_at = None
        else:
            r._send_spmr(s)
            s.spmr_at = now + r._spmr_retry()
    if r._guard.probe_due(s, now):
        r._send_spmr(s)  # ask the source whether its FIN is real (.guard)
    if s.fin_at is not None and s.fin_at <= now:
        s.fin_at = None  # the FIN stood its confirmation time (.guard)
        if s.fin is not None and s.next > s.fin:
            r._end(s, EndReason.FIN, now)
