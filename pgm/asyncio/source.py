"""AsyncSource: one PGM source session on an asyncio loop.

Theory of operation
-------------------
An :class:`AsyncSource` is a :class:`~pgm.engine.Source` and its transport — opened exactly
as :class:`~pgm.io.PgmSender` opens them (:func:`pgm.io.sender.open_source_endpoint`) — run by
an :class:`~pgm.asyncio.protocol.EngineProtocol` on the running loop.  Every coroutine is a
loop around the engine's non-blocking API:

* :meth:`AsyncSource.send` hands the message to the engine and services the protocol (what
  the rate limiter allows goes out at once, in the caller's task).  When the send buffer is
  full the engine raises :class:`~pgm.engine.WouldBlock`: ``send`` then waits for the next
  protocol step (the window advancing, tokens refilling) and tries again — back-pressure.
  A message is queued whole or not at all, so cancelling a task awaiting ``send`` leaves the
  session consistent: the message it waited on was not queued, every earlier one was and goes
  out.
* :meth:`AsyncSource.drain` waits until every queued message was transmitted once.
* :meth:`AsyncSource.close` is the graceful end (OPT_FIN after the queued data, then the linger
  serving repairs, RFC 3208 §5.4) and releases the socket; :meth:`AsyncSource.abort` sends
  OPT_RST (RFC 3208 §9.7) and releases at once.  ``async with`` closes on a normal exit and
  aborts when the body raises (cancellation included).  A close that is cancelled aborts.

The source's engine events (``SourceClosed``, and the trace events when enabled) are kept in a
bounded :attr:`AsyncSource.events` deque.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

from ..engine import Event, NotConnected, SourceConfig, SourceInfo, SourceState, WouldBlock
from ..io.sender import SourceEndpoint
from .protocol import EngineProtocol

__all__ = ["AsyncSource"]

_MAX_EVENTS = 1024


class AsyncSource:
    """Send messages to a group, reliably, from asyncio: one PGM source session.

    Made by :func:`pgm.asyncio.open_source` (the arguments are :class:`~pgm.io.PgmSender`'s)
    from a :class:`~pgm.io.sender.SourceEndpoint` (engine and transport), on the running loop.
    """

    def __init__(self, end: SourceEndpoint, port: int) -> None:
        self.loop = asyncio.get_running_loop()
        self.group = end.group
        """The group address."""
        self.port = port
        """The destination port (the session's data-destination port)."""
        self.iface = end.iface
        """The interface it sends from."""
        self.engine = end.engine
        """The :class:`~pgm.engine.Source` engine."""
        self.events: deque[Event] = deque(maxlen=_MAX_EVENTS)
        """The engine's latest events (bounded: the oldest are dropped)."""
        self.protocol = EngineProtocol(
            self.engine, end.transport, self.loop, self.events.extend, precise=True
        )
        """Runs the engine on the loop."""

    # -- identity and snapshots ------------------------------------------------------------------
    @property
    def tsi(self) -> Any:
        """This session's TSI (GSI and source port)."""
        return self.engine.tsi

    @property
    def max_tsdu(self) -> int:
        """The largest message payload that fits in one packet (bytes)."""
        return int(self.engine.max_tsdu)

    @property
    def config(self) -> SourceConfig:
        """The configuration the source runs with (ip_version / udp_encapsulation filled in)."""
        cfg: SourceConfig = self.engine.config
        return cfg

    @property
    def closed(self) -> bool:
        """True once the engine finished the session (the linger is over, or it was aborted
        and released)."""
        return self.engine.state is SourceState.CLOSED

    def info(self) -> SourceInfo:
        """A read-only snapshot (``SourceInfo``) at the loop's time."""
        info: SourceInfo = self.engine.info(self.loop.time())
        return info

    def stats(self) -> dict[str, Any]:
        """The source's counters, window edges and rates (as :meth:`PgmSender.stats`)."""
        d: dict[str, Any] = self.engine.stats_dict(self.loop.time())
        d["tx_errors"] = self.protocol.transport.tx_errors
        return d

    # -- sending ---------------------------------------------------------------------------------
    async def send(self, data: bytes) -> int:
        """Send one message; returns the sequence number of its first packet.

        Waits while the send buffer is full (back-pressure).  Cancelled while waiting, the
        message is not sent (and the session stays usable).  Raises
        :class:`~pgm.engine.NotConnected` after close/abort, ``ValueError`` beyond ``max_apdu``.
        """
        return await self.send_many((data,))

    async def send_many(self, messages: Iterable[bytes]) -> int:
        """Send several messages (each keeps its boundary) with one flush at the end; returns
        the first sequence number of the last one.  Cancelled while waiting for room, the
        messages before the one it waited on are queued and go out; the rest are not."""
        proto = self.protocol
        eng = self.engine
        first = -1
        try:
            for data in messages:
                while True:
                    self._check_usable()
                    try:
                        first = eng.send(data, self.loop.time())
                        break
                    except WouldBlock:
                        proto.service()  # what the window and the bucket allow goes out now
                        await proto.wait_step(self._room_for(len(data)))
        finally:
            if not proto.stopped:
                proto.service()
        return first

    def _room_for(self, n: int) -> Callable[[], bool]:
        """The condition a blocked send waits for: room for ``n`` bytes, and the buffer at most
        half full (so the task is resumed for a batch of messages, not for each packet)."""
        eng = self.engine
        cap = eng.config.send_buffer_bytes
        low = min(cap // 2, max(cap - n, 0))

        def room() -> bool:
            pending: int = eng.pending_bytes
            return pending <= low or eng.state is not SourceState.OPEN

        return room

    async def drain(self) -> None:
        """Wait until every queued message has been transmitted once."""
        eng = self.engine
        while eng.pending_bytes and not self.protocol.stopped:
            await self.protocol.wait_step(lambda: not eng.pending_bytes)
        self.protocol.check()

    def _check_usable(self) -> None:
        self.protocol.check()
        if self.protocol.stopped:
            raise NotConnected("the source is closed")

    # -- ending ----------------------------------------------------------------------------------
    async def wait_closed(self) -> None:
        """Wait until the engine has finished the session (after :meth:`close`'s linger)."""
        while not self.closed and not self.protocol.stopped:
            await self.protocol.wait_step(lambda: self.closed)

    async def close(self, linger: float | None = None) -> None:
        """End the session gracefully and release the socket: OPT_FIN after the queued data,
        then repairs for ``linger`` seconds (default: the config's ``linger_secs``).

        Idempotent.  Cancelled while closing, the session is aborted (OPT_RST) and released.
        """
        proto = self.protocol
        if proto.stopped:
            proto.check()
            return
        limit = self.engine.config.effective_linger if linger is None else linger
        try:
            self.engine.close(self.loop.time(), linger=linger)
            proto.service()
            await self.drain()
            # the engine ends the linger itself; never wait much past the limit
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.wait_closed(), limit + 1.0)
        except asyncio.CancelledError:
            self.abort()
            raise
        finally:
            proto.stop()
        proto.check()

    def abort(self) -> None:
        """Abort the session (OPT_RST) and release the socket at once.  Idempotent."""
        proto = self.protocol
        if proto.stopped:
            return
        try:
            self.engine.abort(self.loop.time())
            proto.service()  # the RST SPM burst is not rate-limited: it goes out now
        except (OSError, RuntimeError):
            pass  # the socket failed: nothing more can be sent anyway
        finally:
            proto.stop()

    async def __aenter__(self) -> AsyncSource:
        return self

    async def __aexit__(self, *exc: object) -> None:
        if exc[0] is None:
            await self.close()
        else:
            self.abort()

    def __repr__(self) -> str:
        return f"<AsyncSource {self.tsi} to {self.group}:{self.port} {self.engine.state.value}>"
