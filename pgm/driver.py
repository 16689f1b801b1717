"""One driver loop for a sans-I/O engine: feed, run timers, flush, drain events, next deadline.

Theory of operation
-------------------
A sans-I/O engine (:class:`~pgm.engine.Source`, :class:`~pgm.engine.Receiver`, or anything
with the same methods) never reads a clock or a socket.  Whoever runs it repeats one step each
time something happens — datagrams arrived, a deadline passed, or the application called the
engine's API:

1. **feed** the datagrams heard at ``now`` (``receive_many`` when the engine has it, else
   ``receive`` per datagram);
2. **tick**: run the engine's timers if its deadline is due (``handle_timer(now)`` is only
   called when ``next_timer() <= now``, so a timer runs at its deadline and never spuriously);
3. **flush**: take ``datagrams_to_send(now)`` and hand the whole list to the ``transmit`` sink
   (one call per flush, not per datagram);
4. **drain** the application events (``take_events()`` when the engine has it, else
   ``next_event()`` until ``None``) and hand the batch to the ``deliver`` sink;
5. return the engine's **next deadline** (absolute, or ``None``): the caller sleeps until then
   or until input arrives, whichever comes first, and steps again.

:class:`EngineDriver` is that step, written once.  It holds the engine by composition and owns
no thread, socket, lock or clock, so every runner uses it the same way:

* the I/O reactor threads (:mod:`pgm.io`) call :meth:`EngineDriver.step` after each
  ``select()`` with the socket's batch, and :meth:`EngineDriver.flush` from the application's
  thread after ``send`` (under the reactor's lock);
* the simulator (:mod:`pgm.sim`) calls :meth:`EngineDriver.feed_one` for each delivery,
  :meth:`EngineDriver.tick` at a wake-up and :meth:`EngineDriver.service` after either, then
  queues a wake-up at the returned deadline;
* an asyncio layer keeps one ``loop.call_at`` timer: ``add_reader`` feeds the socket's batch
  through :meth:`EngineDriver.step`, and after every step (or API call followed by
  :meth:`EngineDriver.service`) the timer is cancelled and re-armed at the returned deadline.

The driver adds one function call per batch, never per datagram or per event.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from .engine.api import Engine, Outgoing
from .wire import NLA

__all__ = ["Datagram", "Deliver", "EngineDriver", "Transmit"]

Datagram = tuple[bytes, NLA, "NLA | None"]
"""A datagram heard: ``(PGM packet from its header on, source address, destination or None)``."""

Transmit = Callable[[Sequence[Outgoing]], object]
"""The output sink: called with every ``(packet, destination, ttl or None)`` of one flush."""

Deliver = Callable[[Sequence[Any]], object]
"""The event sink: called with the events drained in one step (never with an empty batch)."""


class EngineDriver:
    """Runs one sans-I/O engine: see the module docstring for the step it repeats.

    ``transmit`` receives the datagrams of each flush; ``deliver`` (optional: without it events
    stay queued in the engine) the events drained in each step.  ``engine`` stays public: the
    owner calls its API (``send``, ``close``, statistics) directly, then :meth:`service`.
    """

    __slots__ = ("_deliver", "_drain", "_receive", "_receive_many", "_transmit", "engine")

    def __init__(self, engine: Engine, transmit: Transmit, deliver: Deliver | None = None) -> None:
        self.engine = engine
        """The engine driven (``Source``, ``Receiver`` or anything with the same methods)."""
        self._transmit = transmit
        self._deliver = deliver
        self._receive: Callable[..., None] = engine.receive
        self._receive_many: Callable[[Iterable[Datagram], float], None] | None = getattr(
            engine, "receive_many", None
        )
        take = getattr(engine, "take_events", None)
        self._drain: Callable[[], Sequence[object]] = take if take is not None else self._pop_all

    # -- the parts of a step ---------------------------------------------------------------------
    def feed(self, datagrams: Sequence[Datagram], now: float) -> None:
        """Hand the engine the datagrams heard at ``now``, in order (an empty batch still tells
        the engine the time)."""
        many = self._receive_many
        if many is not None:
            many(datagrams, now)
            return
        receive = self._receive
        for data, src, dst in datagrams:
            receive(data, src, now, dst)

    def feed_one(self, data: bytes, src: NLA, dst: NLA | None, now: float) -> None:
        """Hand the engine one datagram (the simulator delivers them one at a time)."""
        self._receive(data, src, now, dst)

    def tick(self, now: float) -> bool:
        """Run the engine's timers if its deadline is due at ``now``; True if they ran."""
        engine = self.engine
        due = engine.next_timer()
        if due is not None and due <= now:
            engine.handle_timer(now)
            return True
        return False

    def flush(self, now: float) -> list[Outgoing]:
        """Take what the engine has to send at ``now`` and hand it to ``transmit``; returns it."""
        out: list[Outgoing] = self.engine.datagrams_to_send(now)
        if out:
            self._transmit(out)
        return out

    def events(self) -> Sequence[object]:
        """Drain the engine's pending events, oldest first, and hand them to ``deliver``."""
        evs = self._drain()
        if evs and self._deliver is not None:
            self._deliver(evs)
        return evs

    def next_deadline(self) -> float | None:
        """The engine's next deadline (absolute time), or ``None``."""
        deadline: float | None = self.engine.next_timer()
        return deadline

    # -- whole steps -----------------------------------------------------------------------------
    def service(self, now: float) -> float | None:
        """Flush, drain events, and return the next deadline (after an API call or a feed)."""
        out = self.engine.datagrams_to_send(now)
        if out:
            self._transmit(out)
        if self._deliver is not None:
            evs = self._drain()
            if evs:
                self._deliver(evs)
        deadline: float | None = self.engine.next_timer()
        return deadline

    def step(
        self, now: float, datagrams: Sequence[Datagram] = (), timers: bool = True
    ) -> float | None:
        """One full step: feed ``datagrams``, run due timers, flush, drain; the next deadline.
        ``timers=False`` leaves the timers for a later step (a receiver behind its socket,
        :data:`pgm.io.receiver.TIMER_DEFER`)."""
        if datagrams:
            self.feed(datagrams, now)
        if timers:
            self.tick(now)
        return self.service(now)

    def _pop_all(self) -> list[object]:
        pop = self.engine.next_event
        evs: list[object] = []
        ev = pop()
        while ev is not None:
            evs.append(ev)
            ev = pop()
        return evs
