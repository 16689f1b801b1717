"""An in-memory multicast network for sans-I/O PGM engines, driven by a virtual clock.

Theory of operation
-------------------
A :class:`Network` owns a virtual clock (:attr:`Network.now`, float seconds from 0.0), an event
queue (a ``heapq`` of ``(time, seq, ...)`` tuples; ``seq`` is a global insertion counter, so
simultaneous events run in the order they were scheduled and every run is reproducible) and a
``random.Random(seed)`` from which all loss, duplication and jitter are drawn.

Each :class:`Node` wraps one engine (anything that satisfies :class:`Engine`) at one address and
a set of joined multicast groups.  Whenever an engine gets input — a datagram, a timer, an
explicit :meth:`Node.poke` after the application called one of its API methods, or the initial
kick scheduled by :meth:`Network.add_node` — the network *services* it:

1. drains ``datagrams_to_send(now)`` and schedules a delivery per recipient (a multicast
   destination goes to every member of that group except the sender, unless the sender's
   ``loopback`` is on; a unicast destination goes to the node owning the address, or is counted
   as unroutable).  Recipients are resolved when the datagram is *sent*;
2. drains ``next_event()`` into :attr:`Node.events` (and the node's ``on_event`` callback);
3. schedules a wake-up at ``next_timer()`` unless one at that time or earlier is already queued.
   Deadlines in the past run at the current time; the clock never moves backwards.  A wake-up
   that has been superseded by an earlier one is discarded when popped, and at a wake-up the
   engine's ``handle_timer(now)`` is called only if ``next_timer()`` is due, so an engine's
   timer runs at exactly its deadline and is never called spuriously.

Link conditions (:class:`Link`) apply per directed pair of nodes, with wildcards and a default.
For each copy of a datagram the order is: link down → scripted ``drop`` predicate → random loss
→ duplication (one extra copy) → ``delay`` plus uniform ``[0, jitter)`` per copy.  The ``drop``
predicate is evaluated **once per datagram per Link object**: a Link shared by several receivers
(e.g. the default link) drops a multicast for all of them at once — like loss at the sender's
egress — while a per-receiver Link drops just that receiver's copy.  Random loss and duplication
are drawn per copy (independent per receiver).

Every datagram sent is recorded in :attr:`Network.trace` (bounded; disable with ``trace=False``)
so tests can state exact expectations: ``net.sent(by=receiver, type="NAK")``.

The per-datagram path never parses packets; only ``drop`` predicates and :meth:`Network.sent` do.

Example::

    net = Network(seed=1)
    src = net.add_node(source_engine, "10.0.0.1")
    rcv = net.add_node(receiver_engine, "10.0.0.2", groups=["239.1.2.3"])
    net.default_link = Link(delay=0.010, loss=0.05)
    source_engine.send(b"hello"); src.poke()
    net.run(until=5.0)
    print(rcv.events, net.sent(by=rcv, type="NAK"))
"""

from __future__ import annotations

import heapq
import math
import random
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar, runtime_checkable

from .wire import NLA, PACKET_TYPES, OptNakList, Packet, PacketError, as_nla, parse

__all__ = [
    "Engine",
    "Link",
    "Network",
    "Node",
    "Stats",
    "TraceEntry",
    "drop_all",
    "drop_sqns",
    "drop_types",
]

DropPredicate = Callable[[bytes], bool]
"""A scripted drop rule: called with the packet bytes, returns True to drop that copy."""

_TYPE_CODES: dict[str, int] = {cls.NAME: code for code, cls in PACKET_TYPES.items()}
_TYPE_OFFSET = 4  # RFC 3208 §8: type byte of the PGM header

# Event kinds (index 2 of a queue entry).
_DELIVER = 0  # (t, seq, _DELIVER, node, data, src_addr, dst_addr)
_TIMER = 1  # (t, seq, _TIMER, node)
_POKE = 2  # (t, seq, _POKE, node)
_CALL = 3  # (t, seq, _CALL, fn)


@runtime_checkable
class Engine(Protocol):
    """What the network needs from a sans-I/O protocol engine (``Source``, ``Receiver``, ...).

    The engine never reads a clock or a socket: the network passes ``now`` in and takes output
    out (design.md, "Sans-I/O engine").
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
        """Absolute virtual time of the next deadline, or ``None``."""
        ...

    def next_event(self) -> object | None:
        """Pop one pending application event, or ``None``."""
        ...


E = TypeVar("E", bound=Engine)


def _check_probability(name: str, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"Link.{name} must be a probability in [0, 1], not {value!r}")


@dataclass(frozen=True, slots=True)
class Link:
    """Conditions on a directed link between two nodes (or the default for all links)."""

    loss: float = 0.0
    """Probability that a copy is lost (drawn per copy from the network's seeded RNG)."""
    delay: float = 0.0
    """One-way delay in seconds."""
    jitter: float = 0.0
    """Extra delay drawn uniformly from ``[0, jitter)`` per copy; reorders packets."""
    duplicate: float = 0.0
    """Probability that a delivered datagram arrives twice (each copy gets its own jitter)."""
    drop: DropPredicate | None = None
    """Scripted drop rule on the packet bytes (see :func:`drop_sqns`); once per datagram."""
    up: bool = True
    """``False`` models a partition: everything on this link is dropped."""

    def __post_init__(self) -> None:
        _check_probability("loss", self.loss)
        _check_probability("duplicate", self.duplicate)
        for name, value in (("delay", self.delay), ("jitter", self.jitter)):
            if not (value >= 0.0 and math.isfinite(value)):
                raise ValueError(f"Link.{name} must be a finite number >= 0, not {value!r}")


PERFECT = Link()
"""No loss, no delay: the initial :attr:`Network.default_link`."""


class Node(Generic[E]):
    """One host on the simulated network: an engine, its address, its groups and counters."""

    __slots__ = (
        "_alive",
        "_timer_at",
        "_timer_seq",
        "address",
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


@dataclass(frozen=True, slots=True)
class TraceEntry:
    """One datagram as sent by an engine, and what the network did with its copies."""

    time: float
    """Virtual time it was sent."""
    src: Node[Any]
    """The sending node."""
    dst_addr: NLA
    """Destination address (a group or a unicast address)."""
    data: bytes
    """The packet bytes (from the PGM header on)."""
    delivered_to: list[str]
    """Names of the nodes a copy was scheduled for (twice if duplicated)."""
    dropped_for: list[str]
    """Names of the nodes whose copy the link lost (partition, drop rule, random loss)."""
    ttl: int | None = None
    """TTL the engine asked for (``1`` = link-local multicast; the flat network ignores it)."""

    def packet(self, *, verify: bool = False) -> Packet:
        """The datagram parsed with :func:`pgm.wire.parse` (raises ``PacketError``)."""
        return parse(self.data, verify=verify)


@dataclass(slots=True)
class Stats:
    """Network-wide counters."""

    events: int = 0
    """Events processed (deliveries, timer wake-ups, pokes, scheduled calls)."""
    sent: int = 0
    """Datagrams emitted by all engines."""
    delivered: int = 0
    """Copies handed to an engine's ``receive``."""
    dropped: int = 0
    """Copies lost by link conditions."""
    duplicated: int = 0
    """Extra copies created by ``Link.duplicate``."""
    unroutable: int = 0
    """Unicast datagrams to an address no node owns."""
    trace_discarded: int = 0
    """Oldest trace entries discarded because the trace hit ``trace_limit``."""


class Network:
    """The simulated multicast network: nodes, links, a virtual clock and an event queue.

    ``seed`` seeds the RNG behind loss, duplication and jitter: the same seed and the same
    script give the same trace.  ``trace=False`` disables :attr:`trace` (for benchmarks);
    ``trace_limit`` bounds it (oldest entries are discarded and counted in
    :attr:`Stats.trace_discarded`).
    """

    def __init__(self, seed: int = 0, *, trace: bool = True, trace_limit: int = 1_000_000) -> None:
        if trace_limit < 1:
            raise ValueError(f"trace_limit must be >= 1, not {trace_limit}")
        self.seed = seed
        """The seed given to the constructor."""
        self.now = 0.0
        """Virtual clock, seconds."""
        self.rng = random.Random(seed)
        """The RNG behind loss, duplication and jitter (draw from it and you change them)."""
        self.default_link = PERFECT
        """Conditions for every link without an explicit :meth:`set_link`."""
        self.tracing = trace
        """Whether datagrams are recorded in :attr:`trace`."""
        self.trace_limit = trace_limit
        """Maximum number of entries kept in :attr:`trace`."""
        self.trace: deque[TraceEntry] = deque(maxlen=trace_limit)
        """Every datagram sent, oldest first (a ``deque``: ``list(net.trace)`` to slice)."""
        self.stats = Stats()
        """Network-wide counters."""
        self.nodes: list[Node[Any]] = []
        """All nodes, in the order they were added."""
        self._by_addr: dict[NLA, Node[Any]] = {}
        self._by_name: dict[str, Node[Any]] = {}
        self._groups: dict[NLA, list[Node[Any]]] = {}
        self._links: dict[tuple[Node[Any] | None, Node[Any] | None], Link] = {}
        self._queue: list[tuple[Any, ...]] = []
        self._seq = 0

    # -- topology ------------------------------------------------------------------------------
    def add_node(
        self,
        engine: E,
        address: NLA | str,
        groups: Iterable[NLA | str] = (),
        name: str | None = None,
        *,
        loopback: bool = False,
        on_event: Callable[[Node[Any], object], None] | None = None,
        keep_events: bool = True,
    ) -> Node[E]:
        """Attach ``engine`` at unicast ``address``, joined to ``groups``.

        The engine is serviced (output, events, timers) by an event queued at the current time,
        so nodes added back to back all exist before any of them sends.
        """
        if not isinstance(engine, Engine):
            raise TypeError(f"{engine!r} does not implement the sim.Engine protocol")
        addr = as_nla(address)
        if addr.is_multicast:
            raise ValueError(f"node address must be unicast, not {addr}")
        if addr in self._by_addr:
            raise ValueError(f"address {addr} already belongs to {self._by_addr[addr].name}")
        node_name = str(addr) if name is None else name
        if node_name in self._by_name:
            raise ValueError(f"a node named {node_name!r} already exists")
        node: Node[E] = Node(
            self,
            engine,
            addr,
            node_name,
            loopback=loopback,
            on_event=on_event,
            keep_events=keep_events,
        )
        self.nodes.append(node)
        self._by_addr[addr] = node
        self._by_name[node_name] = node
        for g in groups:
            self._join(node, as_nla(g))
        self._push(self.now, _POKE, node)
        return node

    def remove_node(self, node: Node[Any]) -> None:
        """Detach a node (a crash): its queued deliveries and timers are discarded."""
        if not node._alive:
            return
        node._alive = False
        for g in list(node.groups):
            self._leave(node, g)
        self.nodes.remove(node)
        del self._by_addr[node.address]
        del self._by_name[node.name]
        for key in [k for k in self._links if node in k]:
            del self._links[key]

    def node(self, key: str | NLA) -> Node[Any]:
        """Look a node up by name or address (``KeyError`` if there is none)."""
        if isinstance(key, str):
            found = self._by_name.get(key)
            if found is not None:
                return found
            try:
                key = as_nla(key)
            except PacketError:
                raise KeyError(key) from None
        return self._by_addr[key]

    def members(self, group: NLA | str) -> list[Node[Any]]:
        """Nodes currently joined to ``group``."""
        return list(self._groups.get(as_nla(group), ()))

    def _join(self, node: Node[Any], group: NLA) -> None:
        if not group.is_multicast:
            raise ValueError(f"{group} is not a multicast group")
        if group in node.groups:
            return
        node.groups.add(group)
        self._groups.setdefault(group, []).append(node)

    def _leave(self, node: Node[Any], group: NLA) -> None:
        if group not in node.groups:
            return
        node.groups.discard(group)
        members = self._groups[group]
        members.remove(node)
        if not members:
            del self._groups[group]

    # -- links ---------------------------------------------------------------------------------
    def set_link(
        self,
        src: Node[Any] | None,
        dst: Node[Any] | None,
        link: Link | None,
        *,
        both: bool = False,
    ) -> None:
        """Set the conditions from ``src`` to ``dst`` (``link=None`` removes the override).

        ``None`` for ``src`` or ``dst`` is a wildcard: ``set_link(None, r, Link(loss=0.1))`` is
        loss on everything arriving at ``r``.  Lookup order: ``(src, dst)``, ``(src, *)``,
        ``(*, dst)``, then :attr:`default_link`.  ``both=True`` also sets ``dst → src``.
        """
        pairs = [(src, dst), (dst, src)] if both else [(src, dst)]
        for key in pairs:
            if link is None:
                self._links.pop(key, None)
            else:
                self._links[key] = link

    def link(self, src: Node[Any], dst: Node[Any]) -> Link:
        """The conditions currently in force from ``src`` to ``dst``."""
        links = self._links
        return (
            links.get((src, dst))
            or links.get((src, None))
            or links.get((None, dst))
            or self.default_link
        )

    # -- scheduling ----------------------------------------------------------------------------
    def _push(self, when: float, kind: int, a: Any, *rest: Any) -> int:
        seq = self._seq
        self._seq = seq + 1
        heapq.heappush(self._queue, (when, seq, kind, a, *rest))
        return seq

    def call_at(self, when: float, fn: Callable[[], object]) -> None:
        """Run ``fn()`` at virtual time ``when`` (a scripted action: cut a link, send data)."""
        if when < self.now:
            raise ValueError(f"call_at({when}) is in the past (now={self.now})")
        self._push(when, _CALL, fn)

    def call_later(self, delay: float, fn: Callable[[], object]) -> None:
        """Run ``fn()`` ``delay`` seconds from now."""
        self.call_at(self.now + delay, fn)

    def poke(self, node: Node[Any]) -> None:
        """Service ``node`` now: send its pending output, drain its events, (re)arm its timer."""
        if node._alive:
            self._service(node)

    def next_time(self) -> float | None:
        """Time of the next queued event (possibly a superseded wake-up), or ``None``."""
        return self._queue[0][0] if self._queue else None

    def rng_for(self, label: str) -> random.Random:
        """A fresh RNG derived from the network seed and ``label`` (e.g. an engine's NAK
        back-off), independent of the network's own draws."""
        return random.Random(f"{self.seed}:{label}")

    # -- the engine driver ---------------------------------------------------------------------
    def _service(self, node: Node[Any]) -> None:
        engine = node.engine
        now = self.now
        out = engine.datagrams_to_send(now)
        if out:
            send = self._send
            for item in out:
                # Tolerate (bytes, dst) pairs as in design.md as well as (bytes, dst, ttl).
                send(node, item[0], item[1], item[2] if len(item) > 2 else None)
        ev = engine.next_event()
        while ev is not None:
            if node.keep_events:
                node.events.append(ev)
            if node.on_event is not None:
                node.on_event(node, ev)
            ev = engine.next_event()
        t = engine.next_timer()
        if t is not None:
            if t < now:
                t = now
            at = node._timer_at
            if at is None or t < at:
                node._timer_at = t
                node._timer_seq = self._push(t, _TIMER, node)

    def _send(self, node: Node[Any], data: bytes, dst: NLA, ttl: int | None) -> None:
        if type(data) is not bytes:
            data = bytes(data)
        now = self.now
        stats = self.stats
        stats.sent += 1
        node.sent += 1
        members = self._groups.get(dst)
        if members is not None:
            if node.loopback or node not in members:
                targets = members
            else:
                targets = [m for m in members if m is not node]
        else:
            owner = self._by_addr.get(dst)
            if owner is not None:
                targets = [owner]
            else:
                targets = []
                if not dst.is_multicast:
                    stats.unroutable += 1
                    node.unroutable += 1
        tracing = self.tracing
        delivered: list[str] = []
        dropped: list[str] = []
        if targets:
            links = self._links
            default = self.default_link
            rng = self.rng
            queue = self._queue
            push = heapq.heappush
            verdicts: dict[int, bool] | None = None
            for target in targets:
                if links:
                    link = (
                        links.get((node, target))
                        or links.get((node, None))
                        or links.get((None, target))
                        or default
                    )
                else:
                    link = default
                if not link.up:
                    lost = True
                elif link.drop is not None:
                    # Once per datagram per Link object (see the module docstring).
                    if verdicts is None:
                        verdicts = {}
                    verdict = verdicts.get(id(link))
                    if verdict is None:
                        verdict = verdicts[id(link)] = bool(link.drop(data))
                    lost = verdict
                else:
                    lost = False
                if not lost and link.loss and rng.random() < link.loss:
                    lost = True
                if lost:
                    stats.dropped += 1
                    target.dropped += 1
                    if tracing:
                        dropped.append(target.name)
                    continue
                copies = 1
                if link.duplicate and rng.random() < link.duplicate:
                    copies = 2
                    stats.duplicated += 1
                for _ in range(copies):
                    when = now + link.delay
                    if link.jitter:
                        when += rng.random() * link.jitter
                    seq = self._seq
                    self._seq = seq + 1
                    push(queue, (when, seq, _DELIVER, target, data, node.address, dst))
                    if tracing:
                        delivered.append(target.name)
        if tracing:
            trace = self.trace
            if len(trace) == self.trace_limit:
                stats.trace_discarded += 1
            trace.append(TraceEntry(now, node, dst, data, delivered, dropped, ttl))

    def _process(self, ev: tuple[Any, ...]) -> bool:
        """Run one popped event; ``False`` if it was a superseded wake-up (nothing done)."""
        kind = ev[2]
        if kind == _DELIVER:
            node = ev[3]
            if not node._alive:
                return False
            self.now = ev[0]
            node.received += 1
            self.stats.delivered += 1
            node.engine.receive(ev[4], ev[5], self.now, ev[6])
            self._service(node)
        elif kind == _TIMER:
            node = ev[3]
            if ev[1] != node._timer_seq or not node._alive:
                return False  # superseded by an earlier wake-up, or node removed
            now = self.now = ev[0]
            node._timer_at = None
            node._timer_seq = -1
            engine = node.engine
            due = engine.next_timer()
            if due is not None and due <= now:
                engine.handle_timer(now)
            self._service(node)
        elif kind == _POKE:
            node = ev[3]
            if not node._alive:
                return False
            self.now = ev[0]
            self._service(node)
        else:
            self.now = ev[0]
            ev[3]()
        self.stats.events += 1
        return True

    # -- running -------------------------------------------------------------------------------
    def run(
        self,
        until: float | None = None,
        *,
        stop: Callable[[], bool] | None = None,
        max_events: int = 10_000_000,
    ) -> None:
        """Process events in time order.

        Returns when the queue is empty, when the next event lies after ``until`` (the clock is
        then set to ``until``; events exactly at ``until`` run), or when ``stop()`` — checked
        after each event — returns True (the clock stays at that event).  Raises
        ``RuntimeError`` rather than process more than ``max_events`` events, so a runaway
        simulation (a timer that never settles, a packet storm) fails a test instead of hanging.
        """
        if until is not None and until < self.now:
            raise ValueError(f"run(until={until}) is in the past (now={self.now})")
        queue = self._queue
        pop = heapq.heappop
        process = self._process
        count = 0
        while queue:
            if until is not None and queue[0][0] > until:
                break
            ev = pop(queue)
            if count >= max_events:
                heapq.heappush(queue, ev)
                raise RuntimeError(
                    f"simulation runaway: {max_events} events processed without finishing "
                    f"(now={self.now:.6f}s, until={until}, {len(queue)} events queued); "
                    "a timer or packet loop? pass until=/stop= or raise max_events"
                )
            if not process(ev):
                continue
            count += 1
            if stop is not None and stop():
                return
        if until is not None and until > self.now:
            self.now = until

    def run_for(
        self,
        seconds: float,
        *,
        stop: Callable[[], bool] | None = None,
        max_events: int = 10_000_000,
    ) -> None:
        """:meth:`run` until ``now + seconds``."""
        if seconds < 0:
            raise ValueError(f"run_for({seconds}): negative duration")
        self.run(self.now + seconds, stop=stop, max_events=max_events)

    def step(self) -> bool:
        """Process the next event; ``False`` if there was none."""
        queue = self._queue
        while queue:
            if self._process(heapq.heappop(queue)):
                return True
        return False

    # -- trace queries -------------------------------------------------------------------------
    def sent(
        self,
        by: Node[Any] | None = None,
        type: str | None = None,
        *,
        to: NLA | str | None = None,
    ) -> list[tuple[float, Packet]]:
        """Parsed datagrams from :attr:`trace`: ``[(time, packet), ...]`` in send order.

        Filter by sender node, packet type name (``"NAK"``, ``"ODATA"``, ...) and destination
        address.  Entries that do not parse are skipped (checksums are not verified here).
        """
        code: int | None = None
        if type is not None:
            code = _type_code(type)
        dst = None if to is None else as_nla(to)
        result: list[tuple[float, Packet]] = []
        for entry in self.trace:
            if by is not None and entry.src is not by:
                continue
            if dst is not None and entry.dst_addr != dst:
                continue
            data = entry.data
            if code is not None and (len(data) <= _TYPE_OFFSET or data[_TYPE_OFFSET] != code):
                continue
            try:
                pkt = parse(data, verify=False)
            except PacketError:
                continue
            result.append((entry.time, pkt))
        return result


# -- scripted drop rules ---------------------------------------------------------------------------
def _type_code(name: str) -> int:
    try:
        return _TYPE_CODES[name.upper()]
    except KeyError:
        known = ", ".join(sorted(_TYPE_CODES))
        raise ValueError(f"unknown PGM packet type {name!r} (known: {known})") from None


def _sqns_of(pkt: Packet) -> list[int]:
    """The sequence numbers a packet is about: data SQN, NAK/NCF SQN plus its NAK list, SPM SQN."""
    sqn = getattr(pkt, "data_sqn", None)
    if sqn is not None:
        return [sqn]
    sqn = getattr(pkt, "nak_sqn", None)
    if sqn is not None:
        sqns = [sqn]
        opt = pkt.option(OptNakList)
        if opt is not None:
            sqns.extend(opt.sqns)
        return sqns
    sqn = getattr(pkt, "spm_sqn", None)
    return [] if sqn is None else [sqn]


def drop_sqns(
    sqns: Iterable[int], types: Iterable[str] = ("ODATA",), times: int = 1
) -> DropPredicate:
    """Drop packets of ``types`` that carry one of ``sqns``, up to ``times`` times per SQN.

    The SQN is ``data_sqn`` for ODATA/RDATA, ``nak_sqn`` plus OPT_NAK_LIST for NAK/NNAK/NCF, and
    ``spm_sqn`` for SPM.  A packet is dropped if any SQN it carries still has budget; each such
    SQN is then charged once.  ``drop_sqns([3])`` loses the first ODATA 3 and lets its second
    transmission through.
    """
    if times < 1:
        raise ValueError(f"times must be >= 1, not {times}")
    codes = frozenset(_type_code(t) for t in types)
    budget = dict.fromkeys(sqns, times)

    def predicate(data: bytes) -> bool:
        if not budget or len(data) <= _TYPE_OFFSET or data[_TYPE_OFFSET] not in codes:
            return False
        try:
            pkt = parse(data, verify=False)
        except PacketError:
            return False
        hit = False
        for sqn in _sqns_of(pkt):
            left = budget.get(sqn)
            if left is not None:
                hit = True
                if left <= 1:
                    del budget[sqn]
                else:
                    budget[sqn] = left - 1
        return hit

    return predicate


def drop_types(*names: str) -> DropPredicate:
    """Drop every packet whose type is one of ``names`` (e.g. ``drop_types("NCF", "RDATA")``)."""
    codes = frozenset(_type_code(n) for n in names)

    def predicate(data: bytes) -> bool:
        return len(data) > _TYPE_OFFSET and data[_TYPE_OFFSET] in codes

    return predicate


def drop_all() -> DropPredicate:
    """Drop everything (a one-way partition that still goes through the drop-rule path)."""

    def predicate(data: bytes) -> bool:
        return True

    return predicate
