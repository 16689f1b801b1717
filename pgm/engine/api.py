"""Types shared by every sans-I/O engine and the code that drives one.

Theory of operation
-------------------
An engine (:class:`~pgm.engine.Source`, :class:`~pgm.engine.Receiver`) is a state machine with
no clock, socket or global randomness.  A driver — the I/O threads (:mod:`pgm.io`), the
simulator (:mod:`pgm.sim`), an asyncio protocol — owns those and moves data across the
boundary with five calls, in a loop (docs/engine.md):

1. :meth:`Engine.receive` for each datagram that arrived, with the time it arrived;
2. :meth:`Engine.handle_timer` once :meth:`Engine.next_timer` has passed;
3. :meth:`Engine.datagrams_to_send` to take the packets to transmit, as :data:`Outgoing`
   tuples;
4. :meth:`Engine.next_event` until it returns ``None``, to hand events to the application;
5. :meth:`Engine.next_timer` to learn when to call again if nothing arrives.

:class:`Engine` states that contract as a :class:`typing.Protocol`, so a driver accepts any
engine that has these methods without inheriting from anything.
"""

from __future__ import annotations

from typing import Protocol

from ..wire import NLA

__all__ = ["Engine", "Outgoing"]

#: One datagram for the transport: (PGM packet bytes, destination address, TTL or None).
#: A TTL of ``None`` means the transport's default (the configured multicast hops).
Outgoing = tuple[bytes, NLA, int | None]


class Engine(Protocol):
    """What a driver needs from a sans-I/O protocol engine (``Source``, ``Receiver``, ...).

    The engine never reads a clock or a socket: the driver passes ``now`` in and takes output
    out (docs/engine.md).
    """

    def receive(self, datagram: bytes, src: NLA, now: float, dst: NLA | None = None) -> None:
        """Process one PGM packet (from the PGM header on) sent by ``src`` to ``dst``."""
        ...

    def handle_timer(self, now: float) -> None:
        """Run whatever is due at ``now`` (early calls must be harmless)."""
        ...

    def datagrams_to_send(self, now: float) -> list[tuple[bytes, NLA, int | None]]:
        """Take pending output: ``(packet bytes, destination address, ttl or None)``."""
        ...

    def next_timer(self) -> float | None:
        """Absolute time of the next deadline, or ``None``."""
        ...

    def next_event(self) -> object | None:
        """Pop one pending application event, or ``None``."""
        ...
