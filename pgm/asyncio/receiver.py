"""AsyncReceiver: every PGM session sent to a group and port, on an asyncio loop.

Theory of operation
-------------------
An :class:`AsyncReceiver` is a :class:`~pgm.engine.Receiver` and its transport — opened exactly
as :class:`~pgm.io.PgmReceiver` opens them (:func:`pgm.io.receiver.open_receiver_endpoint`,
simulated ``loss=`` included) — run by an :class:`~pgm.asyncio.protocol.EngineProtocol`.  Each
step appends the engine's events to one bounded queue; when more than ``max_queue_bytes`` of
messages wait there the protocol stops reading the socket until the application catches up
(back-pressure: the kernel buffer fills, and what overflows NAKs repair).

The application reads that queue in one of two styles (one per receiver; mixing them raises
``ValueError``, since each would see only part of the events):

* **events** — ``async for event in rx`` / :meth:`AsyncReceiver.next_event`: the engine's event
  classes, as the blocking API gives them (``SessionStarted``, ``DataReceived``,
  ``UnrecoverableLoss``, ``SessionEnded``);
* **sessions** — :meth:`AsyncReceiver.messages` follows the first session heard, and
  :meth:`AsyncReceiver.accept` hands out one :class:`AsyncSession` per sender session, like the
  Windows-style facade's listen / accept.  Both sort the events with a
  :class:`~pgm.sessions.SessionDemux`, fed only when a reader needs more (so its byte budget
  and the queue's are the back-pressure).

Loss is never a silent gap: an event in the events style; in ``messages(losses=True)`` the
:class:`~pgm.engine.UnrecoverableLoss` event comes in line between the messages; otherwise
reading raises :class:`SessionLost` carrying that event.  A reset or expired session raises
:class:`SessionReset`.  A graceful end (OPT_FIN) ends the iteration.
"""

from __future__ import annotations

import asyncio
import enum
from collections import deque
from collections.abc import AsyncIterator, Sequence
from typing import Any

from ..engine import (
    DataReceived,
    Event,
    LossReason,
    SessionEnded,
    SessionInfo,
    SessionStarted,
    UnrecoverableLoss,
)
from ..io.receiver import ReceiverEndpoint, receiver_stats
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
from .protocol import EngineProtocol

__all__ = ["AsyncReceiver", "AsyncSession", "SessionLost", "SessionReset"]


class _Style(enum.Enum):
    """How a receiver is read (one style per receiver)."""

    EVENTS = "events"
    """The engine's events: ``async for event in rx``, ``next_event(s)``."""
    SESSIONS = "sessions"
    """Per session, through the demultiplexer: ``messages()``, ``accept()``."""


class SessionReset(ConnectionResetError):
    """The session ended without OPT_FIN: reset by the source (OPT_RST) or expired."""

    def __init__(self, end: SessionEnd) -> None:
        super().__init__(end.detail)
        self.end = end
        """The demultiplexer's end marker (reason and detail)."""


class SessionLost(SessionReset):
    """Data of the session was lost for good (RFC 3208 §6.3: retries exhausted, or the source's
    window moved past it); :attr:`event` is the engine's report."""

    def __init__(self, end: SessionEnd, event: UnrecoverableLoss) -> None:
        super().__init__(end)
        self.event = event
        """The :class:`~pgm.engine.UnrecoverableLoss` event."""


def _loss_event(tsi: TSI, rec: LossRecord) -> UnrecoverableLoss:
    """The engine's event again, from the demultiplexer's record of it."""
    try:
        reason = LossReason(rec.reason)
    except ValueError:
        reason = LossReason.RETRIES
    return UnrecoverableLoss(tsi, rec.first, rec.last, reason)


def _raise_end(s: DemuxSession) -> None:
    """Raise what ``s``'s non-graceful end means (nothing for OPT_FIN)."""
    end = s.end
    if end is None or end.graceful:
        return
    if end.reason is EndReason.LOSS and end.loss is not None:
        raise SessionLost(end, _loss_event(s.tsi, end.loss))
    raise SessionReset(end)


class AsyncSession:
    """One sender session handed out by :meth:`AsyncReceiver.accept`.

    ``async for msg in session`` reads its messages in order until it ends gracefully; or
    :meth:`recv` one at a time.  :meth:`close` when done (frees its queue).
    """

    def __init__(self, rx: AsyncReceiver, s: DemuxSession) -> None:
        self._rx = rx
        self._s = s

    @property
    def tsi(self) -> TSI:
        """The session's TSI."""
        return self._s.tsi

    @property
    def source(self) -> NLA:
        """The address its packets come from."""
        return self._s.source

    @property
    def end(self) -> SessionEnd | None:
        """The end marker once the session ended (read after the messages before it)."""
        return self._s.end

    async def recv(self) -> bytes | None:
        """The next message; None once the session ended gracefully (or the receiver closed).
        Raises :class:`SessionLost` / :class:`SessionReset` when it ended otherwise."""
        s = self._s
        while True:
            msg = s.pop_message()
            if msg is not None:
                self._rx.protocol.poke()  # a reader waiting for room in the demux may go on
                return msg
            if s.end is not None:
                _raise_end(s)
                return None
            if s.closed or not await self._rx._pump():
                return None

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[bytes]:
        while True:
            msg = await self.recv()
            if msg is None:
                return
            yield msg

    def close(self) -> None:
        """Done with this session: drop its queue and route nothing more to it."""
        demux = self._rx._demux
        if demux is not None and not self._s.closed:
            demux.drop(self._s)

    def __repr__(self) -> str:
        return f"<AsyncSession {self.tsi} from {self.source}>"


class AsyncReceiver:
    """Receive every session sent to a group and port, from asyncio.

    Made by :func:`pgm.asyncio.open_receiver` (the arguments are :class:`~pgm.io.PgmReceiver`'s)
    from a :class:`~pgm.io.receiver.ReceiverEndpoint`, on the running loop.
    """

    def __init__(
        self, end: ReceiverEndpoint, port: int, *, max_queue_bytes: int = 64 * 1024 * 1024
    ) -> None:
        if max_queue_bytes <= 0:
            raise ValueError("max_queue_bytes must be positive")
        self.loop = asyncio.get_running_loop()
        self.group = end.group
        """The group address."""
        self.port = port
        """The port listened on."""
        self.ifaces = end.ifaces
        """The interfaces joined."""
        self.engine = end.engine
        """The :class:`~pgm.engine.Receiver` engine."""
        self.max_queue_bytes = max_queue_bytes
        """Message bytes queued before the socket is no longer read (back-pressure)."""
        self._lossy = end.lossy
        self._queue: deque[Event] = deque()
        self._queued_bytes = 0
        self._style: _Style | None = None
        self._demux: SessionDemux | None = None
        self._follow: _Follower | None = None
        self._closed = False
        self.protocol = EngineProtocol(self.engine, end.transport, self.loop, self._queue_events)
        """Runs the engine on the loop."""

    # -- the queue -------------------------------------------------------------------------------
    def _queue_events(self, evs: Sequence[Any]) -> None:
        self._queue.extend(evs)
        self._queued_bytes += sum(len(e.data) for e in evs if type(e) is DataReceived)
        if self._queued_bytes > self.max_queue_bytes:
            self.protocol.pause_reading()

    def _take(self) -> list[Event]:
        out = list(self._queue)
        self._queue.clear()
        self._queued_bytes = 0
        if not self._closed:
            self.protocol.resume_reading()
        return out

    async def _wait(self) -> bool:
        """Wait until events are queued; False once the receiver is closed (and empty)."""
        while not self._queue:
            if self._closed or self.protocol.stopped:
                self.protocol.check()
                return False
            await self.protocol.wait_step(lambda: bool(self._queue))
        return True

    def _use(self, style: _Style) -> None:
        if self._style is None:
            self._style = style
        elif self._style is not style:
            raise ValueError(
                f"this receiver is read as {self._style.value}; reading it as {style.value} "
                "too would split the events between the two (open another receiver)"
            )

    # -- the events style ------------------------------------------------------------------------
    async def next_events(self) -> list[Event]:
        """Every event queued now, waiting for the first; [] once the receiver is closed."""
        self._use(_Style.EVENTS)
        if not await self._wait():
            return []
        return self._take()

    async def next_event(self) -> Event | None:
        """The next event (wait with ``asyncio.wait_for`` for a timeout); None once closed."""
        self._use(_Style.EVENTS)
        if not await self._wait():
            return None
        e = self._queue.popleft()
        if type(e) is DataReceived:
            before = self._queued_bytes
            self._queued_bytes -= len(e.data)
            if before > self.max_queue_bytes >= self._queued_bytes and not self._closed:
                self.protocol.resume_reading()
        return e

    def __aiter__(self) -> AsyncIterator[Event]:
        return self.events()

    async def events(self) -> AsyncIterator[Event]:
        """Iterate over the events until the receiver is closed."""
        while True:
            batch = await self.next_events()
            if not batch:
                return
            for e in batch:
                yield e

    # -- the sessions style ----------------------------------------------------------------------
    def _demuxer(self, config: DemuxConfig) -> SessionDemux:
        self._use(_Style.SESSIONS)
        if self._demux is None:
            self._demux = SessionDemux(config)
        elif self._demux.config != config:
            raise ValueError("messages() and accept() cannot both read one receiver")
        return self._demux

    async def _pump(self) -> bool:
        """Feed the demultiplexer what is queued (waiting for something if nothing is);
        False once the receiver is closed."""
        demux = self._demux
        assert demux is not None
        while not demux.has_room:  # the application reads other sessions first
            if self._closed:
                return False
            await self.protocol.wait_step(lambda: demux.has_room)
        if not await self._wait():
            return False
        events = self._take()
        if self._follow is not None:
            self._follow.feed(events)
        else:
            demux.feed(events)
        return True

    async def accept(self) -> AsyncSession:
        """The next sender session (one that sent data), oldest first, waiting for one.
        Raises ``ConnectionAbortedError`` once the receiver is closed."""
        demux = self._demuxer(_ACCEPT)
        while True:
            s = demux.accept()
            if s is not None:
                return AsyncSession(self, s)
            if not await self._pump():
                raise ConnectionAbortedError("the receiver is closed")

    def messages(self, *, losses: bool = False) -> AsyncIterator[bytes | UnrecoverableLoss]:
        """The messages of the first session heard, in order, until it ends gracefully.

        A loss raises :class:`SessionLost`; with ``losses=True`` the
        :class:`~pgm.engine.UnrecoverableLoss` event comes in line instead and the messages go
        on after the gap.  A reset or expiry raises :class:`SessionReset`.
        """
        demux = self._demuxer(_FOLLOW)
        if self._follow is None:
            self._follow = _Follower(demux)
        return self._follow_messages(self._follow, losses)

    async def _follow_messages(
        self, follow: _Follower, losses: bool
    ) -> AsyncIterator[bytes | UnrecoverableLoss]:
        while True:
            while follow.items:
                item = follow.items.popleft()
                if isinstance(item, SessionEnd):
                    s = follow.session
                    assert s is not None
                    _raise_end(s)
                    return
                if isinstance(item, UnrecoverableLoss) and not losses:
                    end = SessionEnd(EndReason.LOSS, f"unrecoverable loss: {item}")
                    raise SessionLost(end, item)
                yield item
            if not await self._pump():
                return

    @property
    def followed(self) -> TSI | None:
        """The session :meth:`messages` follows, once one was heard."""
        f = self._follow
        return None if f is None or f.session is None else f.session.tsi

    # -- snapshots -------------------------------------------------------------------------------
    @property
    def simulated_drops(self) -> int:
        """Data packets dropped by simulated loss (``loss=``) so far."""
        return 0 if self._lossy is None else self._lossy.drops

    def stats(self) -> dict[str, Any]:
        """Receiver-wide counters and each session's figures (as :meth:`PgmReceiver.stats`)."""
        return receiver_stats(self.engine, self.loop.time(), self.simulated_drops)

    def session_info(self, tsi: Any) -> SessionInfo | None:
        """A read-only snapshot of the session ``tsi`` (as :meth:`PgmReceiver.session_info`)."""
        info: SessionInfo | None = self.engine.session_info(tsi, self.loop.time())
        return info

    # -- ending ----------------------------------------------------------------------------------
    @property
    def closed(self) -> bool:
        """True after :meth:`close`."""
        return self._closed

    def close(self) -> None:
        """Stop receiving and release the socket; readers waiting are woken.  Idempotent."""
        if self._closed:
            return
        self._closed = True
        self.protocol.stop()

    async def __aenter__(self) -> AsyncReceiver:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<AsyncReceiver {self.group}:{self.port}>"


_ACCEPT = DemuxConfig(admit=Admit.ON_DATA, loss_ends_session=True)
_FOLLOW = DemuxConfig(admit=Admit.ON_START, follow_first=True, loss_ends_session=False)

_Item = bytes | UnrecoverableLoss | SessionEnd


class _Follower:
    """The first session heard, event by event through the demultiplexer, so that losses come
    in line with the messages (the demultiplexer records them apart)."""

    def __init__(self, demux: SessionDemux) -> None:
        self._demux = demux
        self.session: DemuxSession | None = None
        self.items: deque[_Item] = deque()
        self._messages = 0
        self._stale = False

    def feed(self, events: Sequence[Event]) -> None:
        """Route a batch, cut after each loss and each end so that the items keep stream order
        (one demultiplexer call per run of messages, not per message)."""
        start = 0
        for i, e in enumerate(events):
            t = type(e)
            if t is UnrecoverableLoss or t is SessionEnded:
                if self._feed_run(events[start : i + 1]):
                    return
                start = i + 1
        if start < len(events):
            self._feed_run(events[start:])

    def _feed_run(self, run: Sequence[Event]) -> bool:
        """Feed one run of events; True once the followed session's end is queued."""
        self._demux.feed(run)
        s = self._demux.followed
        if s is None:
            return False
        if s is not self.session:  # followed from its SessionStarted, in this run
            self.session, self._messages = s, 0
            self._stale = any(
                type(e) is SessionStarted and e.tsi == s.tsi and e.ended_when_heard for e in run
            )
        msgs = s.pop_all()
        self._messages += len(msgs)
        self.items.extend(msgs)
        self.items.extend(_loss_event(s.tsi, rec) for rec in s.losses)
        s.losses.clear()  # taken: the record list never reaches its cap
        if s.end is None:
            return False
        if self._stale and s.end.graceful and not self._messages and not s.loss_events:
            # an earlier transfer still lingering when we joined: follow the next session
            self._demux.drop(s)
            self.session = None
            return False
        self.items.append(s.end)
        return True  # nothing after the end is routed to the followed session
