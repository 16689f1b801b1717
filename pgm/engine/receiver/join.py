"""Where a receiver joins a session, and what it knows it missed (RFC 3208 §6.1, §9.5, §9.6).

Theory of operation
-------------------
The first packet heard of a session sets its window (RFC 3208 §6.1, as OpenPGM): an SPM starts
delivery at its leading edge + 1, a data packet at its own sequence number — the *heard* point.
A source with late join on (``SourceConfig.late_join``, Windows' RM_LATEJOIN) puts OPT_JOIN on
its SPMs and data: OPT_JOIN_MIN is the lowest sequence number a late joiner may NAK for
(§9.5).  Then the window starts lower, at the *join point*::

    join = max(OPT_JOIN_MIN, trail, heard - history, heard - max_pending_naks)   (<= heard)

where ``history`` is ``ReceiverConfig.join_history`` (None: all that is offered; 0: none),
and the receiver NAKs ``join .. heard - 1`` like any other gap: the repairs come as RDATA
under the source's rate limit.  Without OPT_JOIN (OpenPGM never sends it) the join point is
the heard point, as before.

A receiver always knows whether it has the session from its start:

* OPT_SYN (§9.6) on the data at the join point says it does (nothing before it existed);
* otherwise, a trailing edge below the join point says data before it existed and will never
  be delivered: the *missed* range ``trail .. join - 1``;
* with neither (the join point is the trailing edge, no OPT_SYN yet) nothing is known to be
  missing.

:class:`~pgm.engine.SessionStarted` and :class:`~pgm.engine.receiver.stats.SessionInfo` carry
the join point, whether OPT_SYN was seen and the missed range.  Sequence numbers here are the
receiver's unbounded integers (:mod:`.session`).
"""

from __future__ import annotations

from collections.abc import Sequence

from ... import wire
from ...wire.sqn import SQN_MASK
from ..config import ReceiverConfig
from ..events import SessionStarted
from .nak import NakInput, NakMachine
from .session import Session

__all__ = ["join_point", "missed_range", "open_join_gap", "read_options", "start_session"]

_OPT_JOIN = wire.OptJoin
_OPT_SYN = wire.OptSyn


def read_options(options: Sequence[wire.Option]) -> tuple[int | None, bool]:
    """(OPT_JOIN_MIN as a wire number or None, whether OPT_SYN is present) of a packet."""
    join: int | None = None
    syn = False
    for o in options:
        t = type(o)
        if t is _OPT_JOIN:
            join = o.join_min  # type: ignore[attr-defined]
        elif t is _OPT_SYN:
            syn = True
    return join, syn


def join_point(heard: int, join_min: int | None, trail: int, config: ReceiverConfig) -> int:
    """The first sequence number to deliver: ``heard`` (the first packet's start), lowered to
    the source's OPT_JOIN_MIN when it offers one, within the trailing edge and the caps."""
    if join_min is None or join_min >= heard:
        return heard
    lowest = heard - config.max_pending_naks
    history = config.join_history
    if history is not None:
        lowest = max(lowest, heard - history)
    return max(join_min, trail, lowest)


def missed_range(first: int, trail: int, syn: bool) -> tuple[int, int] | None:
    """The sequence numbers known to exist before ``first`` and never to be delivered
    (inclusive), or None: OPT_SYN at ``first``, or a trailing edge not below it."""
    if syn or trail >= first:
        return None
    return trail, first - 1


def start_session(
    s: Session,
    heard: int,
    trail: int,
    ended: bool,
    join: int | None,
    syn: bool,
    config: ReceiverConfig,
) -> SessionStarted:
    """Set the window of a session whose first packet starts at ``heard`` (unbounded; OPT_JOIN
    ``join`` and OPT_SYN ``syn`` as read from it, the join wire number or None) and return the
    :class:`SessionStarted` that says where it joined."""
    join_min = None if join is None else s.unwrap(join)
    first = join_point(heard, join_min, trail, config)
    s.start(first, trail, ended)
    s.join_min = join_min
    s.syn = syn = syn and first == heard
    s.missed = missed = missed_range(first, trail, syn)
    wire_missed = None if missed is None else (missed[0] & SQN_MASK, missed[1] & SQN_MASK)
    return SessionStarted(s.tsi, s.source, first & SQN_MASK, ended, syn, wire_missed, join)


def open_join_gap(s: Session, naks: NakMachine, now: float) -> None:
    """The first SPM of a session joined late on data: NAK back to the join point, all at once
    (``s.join_gap`` is where the data heard began); repairs heard meanwhile count as data."""
    hi, s.join_gap = s.join_gap, None
    if hi is not None and s.next < hi:
        naks.open_gap(s, s.next, hi, now)
        for q in [q for q in s.buf if q in s.naks]:
            naks.apply(s, q, NakInput.DATA, now)
