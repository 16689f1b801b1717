"""The simulated network: nodes, a virtual clock and an event queue, driving engines.

Theory of operation
-------------------
A :class:`Network` owns a virtual clock (:attr:`Network.now`, float seconds from 0.0), an event
queue (a ``heapq`` of ``(time, seq, ...)`` tuples; ``seq`` is a global insertion counter, so
simultaneous events run in the order they were scheduled and every run is reproducible) and a
``random.Random(seed)`` from which all loss, duplication and jitter are drawn.

Each :class:`Node` wraps one engine (anything that satisfies :class:`Engine`) at one address and
a set of joined multicast groups, and runs it through an :class:`~pgm.driver.EngineDriver` — the
same step the I/O reactor runs.  Whenever an engine gets input — a datagram, a timer, an
explicit :meth:`Node.poke` after the application called one of its API methods, or the initial
kick scheduled by :meth:`Network.add_node` — the network *services* it:

1. flushes ``datagrams_to_send(now)`` and schedules a delivery per recipient (a multicast
   destination goes to every member of that group except the sender, unless the sender's
   ``loopback`` is on; a unicast destination goes to the node owning the address, or is counted
   as unroutable).  Recipients are resolved when the datagram is *sent*;
2. drains the engine's events into :attr:`Node.events` (and the node's ``on_event`` callback);
3. schedules a wake-up at ``next_timer()`` unless one at that time or earlier is already queued.
   Deadlines in the past run at the current time; the clock never moves backwards.  A wake-up
   that has been superseded by an earlier one is discarded when popped, and at a wake-up the
   engine's ``handle_timer(now)`` is called only if ``next_timer()`` is due, so an engine's
   timer runs at exactly its deadline and is never called spuriously.

Link conditions (:class:`~pgm.sim.links.Link`) apply per directed pair of nodes, with wildcards
and a default.  For each copy of a datagram the order is: link down → scripted ``drop``
predicate → random loss → duplication (one extra copy) → ``delay`` plus uniform
``[0, jitter)`` per copy, plus ``reorder_delay`` for a copy held back (probability
``reorder``).  The ``drop`` predicate is evaluated **once per datagram per Link object**: a
Link shared by several receivers (e.g. the default link) drops a multicast for all of them at
once — like loss at the sender's egress — while a per-receiver Link drops just that receiver's
copy.  Random loss and duplication are drawn per copy (independent per receiver).

Every datagram sent is recorded in :attr:`Network.trace` (:mod:`pgm.sim.trace`; bounded,
disable with ``trace=False``) so tests can state exact expectations:
``net.sent(by=receiver, type="NAK")``.

:class:`Engine` and :class:`Node` live in :mod:`pgm.sim.node`.

The per-datagram path never parses packets; only ``drop`` predicates and :meth:`Network.sent` do.
Copies of one datagram that arrive at the same time (a multicast over links with the same delay
and no jitter) share one queue entry, a *fan-out*: it is delivered node by node in recipient
order, exactly as separate entries with consecutive sequence numbers would be (each delivery
still counts as one event for ``stop``, ``max_events`` and :meth:`Network.step`), but a
multicast to a thousand receivers costs one heap push instead of a thousand.
"""

from __future__ import annotations

import heapq
import random
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from ..wire import NLA, Packet, PacketError, as_nla
from .links import PERFECT, Link
from .node import E, Engine, Node
from .trace import Stats, TraceEntry, sent_packets

__all__ = ["Engine", "Network", "Node"]

# Event kinds (index 2 of a queue entry).
_DELIVER = 0  # (t, seq, _DELIVER, node, data, src_addr, dst_addr)
_TIMER = 1  # (t, seq, _TIMER, node)
_POKE = 2  # (t, seq, _POKE, node)
_CALL = 3  # (t, seq, _CALL, fn)
_FANOUT = 4  # (t, seq, _FANOUT, [node, ...], data, src_addr, dst_addr): copies arriving at once


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

    # -- driving the engines -------------------------------------------------------------------
    def _service(self, node: Node[Any]) -> None:
        now = self.now
        t = node.driver.service(now)  # flush output, drain events
        if t is not None:
            if t < now:
                t = now
            at = node._timer_at
            if at is None or t < at:
                node._timer_at = t
                node._timer_seq = self._push(t, _TIMER, node)

    def _targets(self, node: Node[Any], dst: NLA) -> list[Node[Any]]:
        """The nodes a datagram from ``node`` to ``dst`` reaches, resolved when it is sent."""
        members = self._groups.get(dst)
        if members is not None:
            if node.loopback or node not in members:
                return members
            return [m for m in members if m is not node]
        owner = self._by_addr.get(dst)
        if owner is not None:
            return [owner]
        if not dst.is_multicast:
            self.stats.unroutable += 1
            node.unroutable += 1
        return []

    def _send(self, node: Node[Any], data: bytes, dst: NLA, ttl: int | None) -> None:
        if type(data) is not bytes:
            data = bytes(data)
        now = self.now
        stats = self.stats
        stats.sent += 1
        node.sent += 1
        targets = self._targets(node, dst)
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
            arrivals: dict[float, list[Node[Any]]] = {}
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
                    if link.reorder and rng.random() < link.reorder:
                        when += link.reorder_delay
                    batch = arrivals.get(when)
                    if batch is None:
                        arrivals[when] = [target]
                    else:
                        batch.append(target)
                    if tracing:
                        delivered.append(target.name)
            src_addr = node.address
            for when, batch in arrivals.items():
                seq = self._seq
                self._seq = seq + 1
                if len(batch) == 1:
                    push(queue, (when, seq, _DELIVER, batch[0], data, src_addr, dst))
                else:
                    push(queue, (when, seq, _FANOUT, batch, data, src_addr, dst))
        if tracing:
            trace = self.trace
            if len(trace) == self.trace_limit:
                stats.trace_discarded += 1
            trace.append(TraceEntry(now, node, dst, data, delivered, dropped, ttl))

    def _process(self, ev: tuple[Any, ...]) -> bool:
        """Run one popped event; ``False`` if it was a superseded wake-up (nothing done)."""
        kind = ev[2]
        if kind == _DELIVER:
            return self._fan_out(ev, (ev[3],), 1, None)[0] > 0
        if kind == _FANOUT:
            return self._fan_out(ev, ev[3], 1, None)[0] > 0
        if kind == _TIMER:
            node = ev[3]
            if ev[1] != node._timer_seq or not node._alive:
                return False  # superseded by an earlier wake-up, or node removed
            now = self.now = ev[0]
            node._timer_at = None
            node._timer_seq = -1
            node.driver.tick(now)
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

    def _fan_out(
        self,
        ev: tuple[Any, ...],
        batch: Sequence[Node[Any]],
        limit: int,
        stop: Callable[[], bool] | None,
    ) -> tuple[int, bool]:
        """Deliver the datagram of ``ev`` to each node of ``batch`` in order, each followed by
        its service (the per-delivery path: no per-copy closure or helper call).

        Stops after ``limit`` deliveries or when ``stop()`` — asked after each — says so; the
        nodes left are queued again under the entry's own time and sequence number, so they
        still come first, in order.  Returns ``(deliveries made, stopped by stop())``.
        """
        now = ev[0]
        data, src, dst = ev[4], ev[5], ev[6]
        stats = self.stats
        service = self._service
        done = 0
        for i, node in enumerate(batch):
            if not node._alive:
                continue
            self.now = now
            node.received += 1
            stats.delivered += 1
            node.driver.feed_one(data, src, dst, now)
            service(node)
            stats.events += 1
            done += 1
            halted = stop is not None and stop()
            if halted or done >= limit:
                if i + 1 < len(batch):
                    rest = list(batch[i + 1 :])
                    heapq.heappush(self._queue, (ev[0], ev[1], _FANOUT, rest, data, src, dst))
                return done, halted
        return done, False

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
        fan_out = self._fan_out
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
            kind = ev[2]
            if kind in (_FANOUT, _DELIVER):
                batch = ev[3] if kind == _FANOUT else (ev[3],)
                done, stopped = fan_out(ev, batch, max_events - count, stop)
                count += done
                if stopped:
                    return
                continue
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
        address (see :func:`pgm.sim.trace.sent_packets`).
        """
        return sent_packets(self.trace, by, type, to)
