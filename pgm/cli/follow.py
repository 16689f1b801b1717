"""Follow the first session: what ``pgm recv`` and the demo's receivers keep of the events.

Theory of operation: a receiver on a group and port may hear several sources; the commands
take the first session that starts and ignore every other TSI.  The sorting is the session
demultiplexer's (:class:`~pgm.sessions.SessionDemux`, set to follow the first session from its
start and to record unrecoverable loss rather than end the session on it); this module adds the
one rule of the command line and the counters both commands report.

The rule: a session that had already ended when first heard — the engine says so with
:attr:`SessionStarted.ended_when_heard <pgm.engine.SessionStarted.ended_when_heard>`: its first
packet was an SPM with OPT_FIN from a source lingering after an earlier transfer — is not the
transfer we wait for.  When such a session ends (OPT_FIN) with nothing delivered and nothing
lost, it is dropped and the next session to start is followed (:attr:`Step.skipped` names it).

:meth:`FirstSession.feed` takes one engine event and returns a :class:`Step`: the followed
session's new messages and loss ranges, in order, and its end once it ended.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from ..engine import Event, SessionStarted
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

__all__ = ["FirstSession", "Step"]

_MAX_LOSS_RECORDS = 1 << 20
"""Loss ranges kept for the final report (each is one UnrecoverableLoss event)."""


@dataclass(frozen=True, slots=True)
class Step:
    """What one event did to the followed session."""

    messages: tuple[bytes, ...] = ()
    """Messages delivered, in order."""
    losses: tuple[LossRecord, ...] = ()
    """Ranges reported lost for good (delivery goes on after them)."""
    skipped: TSI | None = None
    """A session dropped because it had already ended when first heard."""
    end: SessionEnd | None = None
    """The followed session's end, once it ended: nothing follows."""


_NOTHING = Step()


class FirstSession:
    """The first session heard, followed through a :class:`~pgm.sessions.SessionDemux`."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._demux = SessionDemux(
            DemuxConfig(
                admit=Admit.ON_START,
                follow_first=True,
                loss_ends_session=False,
                max_loss_records=_MAX_LOSS_RECORDS,
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
        self._losses_seen = 0
        self._ended_when_heard = False

    @property
    def tsi(self) -> TSI | None:
        """The followed session's TSI."""
        return None if self.session is None else self.session.tsi

    @property
    def source(self) -> NLA | None:
        """The address the followed session's packets come from."""
        return None if self.session is None else self.session.source

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
        self._demux.feed((e,))
        s = self._demux.followed
        if s is None:
            return _NOTHING
        if s is not self.session:  # followed from its SessionStarted: the event just fed
            self.session, self.started_at, self._losses_seen = s, self._clock(), 0
            self._ended_when_heard = isinstance(e, SessionStarted) and e.ended_when_heard
        messages = tuple(s.pop_all())
        for m in messages:
            self.nbytes += len(m)
        self.messages += len(messages)
        losses = tuple(s.losses[self._losses_seen :])
        self._losses_seen = len(s.losses)
        if s.end is None:
            return Step(messages, losses) if messages or losses else _NOTHING
        if (
            s.end.reason is EndReason.FIN
            and not self.messages
            and not s.loss_events
            and self._ended_when_heard
        ):
            self._demux.drop(s)
            self.session = None
            return Step(skipped=s.tsi)
        self.ended_at = self._clock()
        return Step(messages, losses, end=s.end)
