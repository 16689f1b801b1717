"""Follow one session: what ``pgm recv`` and the demo's receivers keep of the events.

Theory of operation: a receiver on a group and port may hear several sources.  The commands
*prefer*, rather than lock onto, the first session heard (docs/security.md "Session choice"):
the session demultiplexer (:class:`~pgm.sessions.SessionDemux`, following the first session
from its start, recording unrecoverable loss rather than ending on it) follows the first
session and keeps every other one as a *candidate* with its data queued, within caps
(:data:`CANDIDATE_BYTES` each, the demultiplexer's ``max_bytes`` together, its
``max_sessions``; past them a candidate is *truncated* and can no longer replace anything).

The followed session *fails as a transfer* when it is reset (OPT_RST), expires, or ends
(OPT_FIN) with nothing delivered — in particular when it had already ended when first heard
(:attr:`SessionStarted.ended_when_heard <pgm.engine.SessionStarted.ended_when_heard>`: a source
lingering after an earlier transfer).  Then the earliest candidate whose data is complete from
its start (not truncated, not itself ended badly or empty) is followed instead, from its start
with nothing lost, and :attr:`Step.switched` says what happened.  With no such candidate the
old rules hold: a session that had ended when heard is dropped and the next session to start is
followed (:attr:`Step.skipped`); any other failure is the end.

Every session heard is tallied (:class:`HeardSession`, at most :data:`MAX_HEARD` kept) so the
final report can name the others (:attr:`FirstSession.others`).

:meth:`FirstSession.feed` takes one engine event and returns a :class:`Step`: the followed
session's new messages and loss ranges, in order, and its end once it ended.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from ..engine import DataReceived, Event, SessionEnded, SessionStarted
from ..sessions import (
    Admit,
    DemuxConfig,
    DemuxSession,
    EndReason,
    LossRecord,
    SessionDemux,
    SessionEnd,
)
from ..wire import NLA, TSI

__all__ = ["CANDIDATE_BYTES", "MAX_HEARD", "FirstSession", "HeardSession", "Step", "Switch"]

_MAX_LOSS_RECORDS = 1 << 20
"""Loss ranges kept for the final report (each is one UnrecoverableLoss event)."""

CANDIDATE_BYTES = 16 * 1024 * 1024
"""Message bytes queued per candidate session (docs/security.md "Session choice")."""

MAX_HEARD = 1024
"""Sessions tallied for the report; beyond, the oldest gone from the demultiplexer is dropped
(counted in :attr:`FirstSession.unlisted`)."""


class HeardSession:
    """A session heard on the group: who, since when, how much it sent."""

    __slots__ = ("end", "ended_when_heard", "heard_at", "messages", "nbytes", "source", "tsi")

    def __init__(self, e: SessionStarted, heard_at: float) -> None:
        self.tsi: TSI = e.tsi
        self.source: NLA = e.source
        self.heard_at = heard_at
        """When its first packet was heard (the clock's time)."""
        self.ended_when_heard = e.ended_when_heard
        self.messages = 0
        """Messages it sent that the receiver delivered (to the demultiplexer)."""
        self.nbytes = 0
        """Their bytes."""
        self.end: str | None = None
        """How it ended ('fin', 'rst', 'expired'), None while it lasts."""


@dataclass(frozen=True, slots=True)
class Switch:
    """The followed session failed as a transfer; another one is followed from its start."""

    failed: TSI
    """The session given up."""
    failed_source: NLA
    """Where its packets came from."""
    why: str
    """What it did, as words: 'was reset (OPT_RST)', 'expired', ..."""
    now: TSI
    """The session followed instead."""
    now_source: NLA
    """Where its packets come from."""
    heard_secs: float
    """How long ago it was first heard."""

    def text(self) -> str:
        """The sentence ``pgm recv`` prints."""
        return (
            f"session {self.failed} from {self.failed_source} {self.why}; following session "
            f"{self.now} from {self.now_source}, heard since {self.heard_secs:.1f} s ago, "
            "from its start"
        )


@dataclass(frozen=True, slots=True)
class Step:
    """What one event did to the followed session."""

    messages: tuple[bytes, ...] = ()
    """Messages delivered, in order."""
    losses: tuple[LossRecord, ...] = ()
    """Ranges reported lost for good (delivery goes on after them)."""
    skipped: TSI | None = None
    """A session dropped because it had already ended when first heard."""
    switched: Switch | None = None
    """The followed session failed and another is followed from its start: everything
    delivered before (of the failed session) is to be discarded; ``messages`` are the new
    session's from its first."""
    end: SessionEnd | None = None
    """The followed session's end, once it ended: nothing follows."""


_NOTHING = Step()


class FirstSession:
    """The session followed, through a :class:`~pgm.sessions.SessionDemux` (module docstring).

    ``candidate_bytes`` = 0 locks onto the first session (other sessions are not kept).
    """

    def __init__(
        self, clock: Callable[[], float] = time.monotonic, candidate_bytes: int = CANDIDATE_BYTES
    ) -> None:
        self._clock = clock
        self._demux = SessionDemux(
            DemuxConfig(
                admit=Admit.ON_START,
                follow_first=True,
                loss_ends_session=False,
                max_loss_records=_MAX_LOSS_RECORDS,
                candidate_bytes=candidate_bytes,
            )
        )
        self.session: DemuxSession | None = None
        """The session followed (None until one starts, and after one is skipped)."""
        self.started_at = 0.0
        """When it started (the clock's time)."""
        self.ended_at = 0.0
        """When it ended (0 until then)."""
        self.nbytes = 0
        """Bytes delivered."""
        self.messages = 0
        """Messages delivered."""
        self.heard: dict[TSI, HeardSession] = {}
        """Every session heard (at most :data:`MAX_HEARD`), in the order first heard."""
        self.unlisted = 0
        """Sessions heard but no longer (or never) in :attr:`heard`."""
        self.abandoned: dict[TSI, str] = {}
        """Sessions followed and given up for another, with what they did."""
        self._losses_seen = 0

    @property
    def demux(self) -> SessionDemux:
        """The demultiplexer underneath (its candidates and caps)."""
        return self._demux

    @property
    def tsi(self) -> TSI | None:
        """The followed session's TSI."""
        return None if self.session is None else self.session.tsi

    @property
    def source(self) -> NLA | None:
        """The address the followed session's packets come from."""
        return None if self.session is None else self.session.source

    @property
    def others(self) -> list[HeardSession]:
        """The sessions heard other than the one followed, in the order first heard."""
        tsi = self.tsi
        return [h for h in self.heard.values() if h.tsi != tsi]

    @property
    def lost_ranges(self) -> list[tuple[int, int]]:
        """Every range reported lost, in stream order (32-bit sequence numbers)."""
        return [] if self.session is None else [(r.first, r.last) for r in self.session.losses]

    @property
    def loss_events(self) -> int:
        """How many loss reports the followed session had."""
        return 0 if self.session is None else self.session.loss_events

    @property
    def lost_packets(self) -> int:
        """Sequence numbers reported lost."""
        return 0 if self.session is None else sum(r.count for r in self.session.losses)

    def feed(self, e: Event) -> Step:
        """Take one engine event; what it did to the followed session."""
        self._tally(e)
        self._demux.feed((e,))
        s = self._demux.followed
        if s is None:
            return _NOTHING
        if s is not self.session:  # followed from its SessionStarted: the event just fed
            self._start(s)
        messages, losses = self._take(s)
        if s.end is None:
            return Step(messages, losses) if messages or losses else _NOTHING
        why = self._failure(s)
        if why is not None:
            step = self._replace(s, why)
            if step is not None:
                return step
            h = self.heard.get(s.tsi)
            if s.end.reason is EndReason.FIN and h is not None and h.ended_when_heard:
                self._demux.drop(s)
                self.session = None
                return Step(skipped=s.tsi)
        self.ended_at = self._clock()
        return Step(messages, losses, end=s.end)

    # -- inside -------------------------------------------------------------------------------

    def _start(self, s: DemuxSession) -> None:
        self.session, self._losses_seen = s, 0
        h = self.heard.get(s.tsi)
        self.started_at = h.heard_at if h is not None else self._clock()
        self.nbytes = self.messages = 0

    def _take(self, s: DemuxSession) -> tuple[tuple[bytes, ...], tuple[LossRecord, ...]]:
        messages = tuple(s.pop_all())
        for m in messages:
            self.nbytes += len(m)
        self.messages += len(messages)
        losses = tuple(s.losses[self._losses_seen :])
        self._losses_seen = len(s.losses)
        return messages, losses

    def _failure(self, s: DemuxSession) -> str | None:
        """Why the ended session ``s`` is not the transfer wanted, or None if it may be."""
        assert s.end is not None
        reason = s.end.reason
        if reason is EndReason.RST:
            return "was reset (OPT_RST)"
        if reason is EndReason.EXPIRED:
            return "expired (fell silent without OPT_FIN)"
        if reason is EndReason.FIN and not self.messages and not s.loss_events:
            h = self.heard.get(s.tsi)
            if h is not None and h.ended_when_heard:
                return "had already ended when first heard (its FIN, from an earlier transfer)"
            return "ended with nothing delivered"
        return None

    def _replacement(self) -> DemuxSession | None:
        """The earliest candidate complete from its start that may be the transfer wanted."""
        for c in self._demux.candidates():
            h = self.heard.get(c.tsi)
            if c.truncated or (h is not None and h.ended_when_heard):
                continue
            if c.end is None or (c.end.graceful and (c.queued_messages or c.loss_events)):
                return c
        return None

    def _replace(self, failed: DemuxSession, why: str) -> Step | None:
        """Follow the replacement for ``failed`` from its start; None if there is none."""
        c = self._replacement()
        if c is None:
            return None
        self.abandoned[failed.tsi] = why
        h = self.heard.get(c.tsi)
        heard_secs = self._clock() - h.heard_at if h is not None else 0.0
        self._demux.follow(c)
        self._start(c)
        switch = Switch(failed.tsi, failed.source, why, c.tsi, c.source, heard_secs)
        messages, losses = self._take(c)
        if c.end is None:
            return Step(messages, losses, switched=switch)
        self.ended_at = self._clock()
        return Step(messages, losses, switched=switch, end=c.end)

    def _tally(self, e: Event) -> None:
        """Count ``e`` for its session's :class:`HeardSession`."""
        if type(e) is DataReceived:
            h = self.heard.get(e.tsi)
            if h is not None:
                h.messages += 1
                h.nbytes += len(e.data)
        elif isinstance(e, SessionStarted):
            if e.tsi in self.heard:
                return
            if len(self.heard) >= MAX_HEARD and not self._make_room():
                self.unlisted += 1
                return
            self.heard[e.tsi] = HeardSession(e, self._clock())
        elif isinstance(e, SessionEnded):
            h = self.heard.get(e.tsi)
            if h is not None and h.end is None:
                value = getattr(e.reason, "value", e.reason)
                h.end = value if isinstance(value, str) else str(value)

    def _make_room(self) -> bool:
        """Forget the oldest tallied session the demultiplexer no longer tracks."""
        tracked = self._demux.sessions
        for tsi in self.heard:
            if tsi not in tracked and tsi != self.tsi:
                del self.heard[tsi]
                self.unlisted += 1
                return True
        return False
