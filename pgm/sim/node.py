"""A host on the simulated network: the :class:`Engine` protocol and :class:`Node`.

Theory of operation
-------------------
A :class:`Node` is one engine at one unicast address with a set of joined groups, run through
an :class:`~pgm.driver.EngineDriver`: its datagrams go to the network's send path, its events
to :attr:`Node.events` and the ``on_event`` callback.  The :class:`~pgm.sim.network.Network`
owns the clock, the queue and the routing, and calls into the node's driver when the node gets
input (see :mod:`pgm.sim.network`); the node itself schedules nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar, runtime_checkable

from ..driver import EngineDriver
from ..engine.api import Engine as _EngineProtocol
from ..engine.api import Outgoing
from ..wire import NLA, as_nla

if TYPE_CHECKING:
    from .network import Network

__all__ = ["Engine", "Node"]


@runtime_checkable
class Engine(_EngineProtocol, Protocol):
    """The engine protocol (:class:`pgm.engine.api.Engine`), checkable with ``isinstance``: what
    the network needs from a sans-I/O engine (``Source``, ``Receiver``, a test fake)."""


E = TypeVar("E", bound=Engine)


class Node(Generic[E]):
    """One host on the simulated network: an engine, its address, its groups and counters."""

    __slots__ = (
        "_alive",
        "_timer_at",
        "_timer_seq",
        "address",
        "driver",
        "dropped",
        "engine",
        "events",
        "groups",
        "keep_events",
        "loopback",
        "name",
        "network",
        "on_event",
        "received",
        "sent",
        "unroutable",
    )

    engine: E
    """The protocol engine this node drives."""
    driver: EngineDriver
    """Runs :attr:`engine`: its datagrams go to the network, its events to :attr:`events`."""
    address: NLA
    """Unicast address of the node (the ``src`` its datagrams carry)."""
    groups: set[NLA]
    """Multicast groups joined (change with :meth:`join` / :meth:`leave`)."""
    name: str
    """Unique name, used in trace entries (defaults to the address)."""
    loopback: bool
    """Deliver this node's multicast back to itself (IP_MULTICAST_LOOP)."""
    events: list[object]
    """Application events drained from the engine, in order (if ``keep_events``)."""
    keep_events: bool
    """Append drained events to :attr:`events` (turn off for long runs with a callback)."""
    on_event: Callable[[Node[Any], object], None] | None
    """Called as ``on_event(node, event)`` for every drained event."""
    network: Network
    """The network this node was added to."""
    sent: int
    """Datagrams the engine emitted."""
    received: int
    """Datagrams delivered to the engine (duplicates included)."""
    dropped: int
    """Copies addressed to this node lost on the way (partition, drop rule, random loss)."""
    unroutable: int
    """Unicast datagrams this node sent to an address no node owns."""

    def __init__(
        self,
        network: Network,
        engine: E,
        address: NLA,
        name: str,
        *,
        loopback: bool = False,
        on_event: Callable[[Node[Any], object], None] | None = None,
        keep_events: bool = True,
    ) -> None:
        self.network = network
        self.engine = engine
        self.address = address
        self.name = name
        self.groups = set()
        self.loopback = loopback
        self.events = []
        self.keep_events = keep_events
        self.on_event = on_event
        self.sent = 0
        self.received = 0
        self.dropped = 0
        self.unroutable = 0
        self._alive = True
        self._timer_at: float | None = None  # time of the live wake-up, if one is queued
        self._timer_seq = -1  # its queue sequence number (older wake-ups are stale)
        self.driver = EngineDriver(engine, self._transmit, self._deliver)

    def _transmit(self, out: Sequence[Outgoing]) -> None:
        send = self.network._send
        for item in out:
            # Tolerate (bytes, dst) pairs as well as (bytes, dst, ttl).
            send(self, item[0], item[1], item[2] if len(item) > 2 else None)

    def _deliver(self, events: Sequence[object]) -> None:
        if not self.keep_events and self.on_event is None:
            return  # drained and dropped (long runs that count in the engine instead)
        for ev in events:
            if self.keep_events:
                self.events.append(ev)
            if self.on_event is not None:
                self.on_event(self, ev)

    def poke(self) -> None:
        """Pick up output, events and timers after the application called the engine's API."""
        self.network.poke(self)

    def join(self, group: NLA | str) -> None:
        """Join a multicast group (takes effect for datagrams sent from now on)."""
        self.network._join(self, as_nla(group))

    def leave(self, group: NLA | str) -> None:
        """Leave a multicast group (datagrams already in flight still arrive)."""
        self.network._leave(self, as_nla(group))

    def __repr__(self) -> str:
        return f"<Node {self.name} {self.address} sent={self.sent} received={self.received}>"
