"""Session life cycle of the receiver: creation, start, FIN and end.

Theory of operation
-------------------
A packet of an unknown TSI may create a :class:`~.session.Session` (an SPM or a data
packet; an NCF or overheard NAK never does), unless the TSI ended recently (counted, up to
``ended_memory``), the receiver is pinned to another session (``only_tsi``/``only_source``)
or ``max_sessions`` is reached.  The first packet starts the window (RFC 3208 §6.1; late join
§9.5, :mod:`.join`) and a data packet without an SPM schedules an SPMR (App. C).  A session
with a FIN ends once everything up to it is delivered and the FIN stood ``fin_confirm``
uncontradicted (.guard); any other end first reports what is still missing as lost, then
closes its NAK records and announces :class:`~pgm.engine.SessionEnded`.  Plain functions taking
the :class:`~.receiver.Receiver`, bound as its methods; the per-packet path calls them only
on rare branches.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ... import wire
from ...wire import NLA, TSI
from ...wire.sqn import SQN_MASK
from ..events import EndReason, LossReason, SessionEnded
from .join import read_options, start_session
from .session import Session

if TYPE_CHECKING:
    from .receiver import Receiver

__all__ = [
    "data_session",
    "end",
    "fin_progress",
    "fin_reached",
    "session",
    "start",
    "start_with_data",
]


def data_session(
    r: Receiver,
    key: tuple[bytes, int],
    src: NLA,
    sqn32: int,
    trail32: int,
    opts: list[wire.Option],
    now: float,
) -> Session | None:
    """The first data packet of an unknown TSI: create and start its session, or None."""
    if (sqn32 - trail32) & SQN_MASK >= 0x7FFFFFFF:
        r.stats.suspect_packets += 1  # TRAIL ahead of SQN (OpenPGM drops it)
        return None
    s = r._session(TSI(*key), src, now, create=True)
    if s is not None:
        r._start_with_data(s, sqn32, trail32, opts, now)
    return s


def session(r: Receiver, tsi: TSI, src: NLA, now: float, create: bool) -> Session | None:
    s = r.sessions.get(tsi)
    if s is not None:
        s.last_heard = now
        return s
    if tsi in r._ended:
        r.stats.ended_session_packets += 1
        return None
    if not create:
        r.stats.unknown_session += 1
        return None
    cfg = r.config
    if (cfg.only_tsi is not None and tsi != cfg.only_tsi) or (
        cfg.only_source is not None and src != cfg.only_source
    ):
        r.stats.sessions_not_chosen += 1  # pinned to another session (security.md)
        return None
    if len(r.sessions) >= r.config.max_sessions:
        r.stats.sessions_rejected += 1
        return None
    s = Session(tsi, src, now)
    r.sessions[tsi] = s
    r.stats.sessions_started += 1
    r._push_expiry(s)
    return s


def start(
    r: Receiver,
    s: Session,
    heard: int,
    trail: int,
    ended: bool = False,
    join: int | None = None,
    syn: bool = False,
) -> None:
    """The session's first packet sets its window (RFC 3208 §6.1) at ``heard``, or lower
    at the source's OPT_JOIN_MIN ``join`` (wire; .join); announce where it joined."""
    r._events.append(start_session(s, heard, trail, ended, join, syn, r.config))


def end(r: Receiver, s: Session, reason: EndReason, now: float) -> None:
    if s.ended:
        return
    if reason is not EndReason.FIN and s.started and s.next <= s.lead:
        # Whatever was still missing or undelivered will never come: say so.
        s.lost_below = s.lead + 1
        s.below_reason = LossReason(reason.value)
        r._deliver(s, final=True)
    r._naks.end(s, now)
    s.close(reason, now)
    del r.sessions[s.tsi]
    r._ended[s.tsi] = now
    r.ended_sessions[s.tsi] = s
    while len(r._ended) > r.config.ended_memory:
        r._ended.popitem(last=False)
    while len(r.ended_sessions) > r.config.ended_memory:
        r.ended_sessions.popitem(last=False)
    r.stats.sessions_ended += 1
    r._events.append(SessionEnded(s.tsi, reason))


def start_with_data(
    r: Receiver, s: Session, sqn32: int, trail32: int, opts: list[wire.Option], now: float
) -> None:
    # RFC 3208 §6.1 / OpenPGM: the first data packet starts the window at its SQN, or
    # lower with late join (OPT_JOIN, §9.5; .join): the gap up to it is then NAKed.
    s.lead = sqn32 - 1  # unwrap reference
    join32, syn = read_options(opts) if opts else (None, False)
    r._start(s, sqn32, s.unwrap(trail32), join=join32, syn=syn)
    if s.next < sqn32:
        # Late join before any SPM: NAK the history only once an SPM says where to, all
        # at once (ask for it now), not record by record as unanswered NAKs time out.
        s.join_gap = sqn32
        s.lead = sqn32 - 1
        s.spmr_at = now
        r._settle(s)
        return
    if not s.have_spm and s.spmr_at is None:
        # App. C: ask for an SPM (we need its path NLA to NAK) after a random wait.
        s.spmr_at = now + r.rng.random() * r.config.spmr_bo_ivl
        r._settle(s)


def fin_progress(r: Receiver, s: Session, sqn: int, now: float) -> None:
    """In-order data at ``sqn`` of a session with a FIN: beyond it the FIN was false
    (.guard); at it the session may end."""
    if s.fin is not None and sqn > s.fin:
        r._guard.fin_contradicted(s)
    elif s.fin is not None and s.next > s.fin:
        r._fin_reached(s, now)


def fin_reached(r: Receiver, s: Session, now: float) -> None:
    """Everything up to the FIN is done: end once the FIN is confirmed (``fin_confirm``
    without contradiction, .guard), else wait for that timer."""
    if s.fin_at is None or now >= s.fin_at:
        s.fin_at = None
        r._end(s, EndReason.FIN, now)
    else:
        r._settle(s)
