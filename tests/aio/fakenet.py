"""An in-memory network and a virtual-time event loop for the asyncio API's tests.

Theory of operation
-------------------
:class:`VirtualLoop` is a standard ``asyncio.SelectorEventLoop`` whose selector
(:class:`VirtualSelector`) never blocks: it reports a fake descriptor readable while its
:class:`FakeTransport` has datagrams queued, and when nothing is readable it *advances the
loop's clock* by the timeout asyncio asked for (the next ``call_at`` deadline) instead of
sleeping.  ``loop.time()`` is that virtual clock, so the engines, the protocol's timer and
``asyncio.wait_for`` all run on it: deterministic, and minutes of protocol time pass in
milliseconds.  A loop with nothing scheduled and nothing to read raises (a deadlock).

:class:`FakeNet` connects :class:`FakeTransport` endpoints (the ``DatagramTransport`` the
protocol expects: ``fileno``, ``send_all``, ``recv_batch``, ``close``): multicast to the group
reaches every other endpoint, unicast the endpoint with that address, at once.  ``drop`` is a
predicate ``(parsed packet, sender, receiver) -> bool`` deciding losses deterministically.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import selectors
import types
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from ipaddress import IPv4Address
from typing import Any

from pgm import wire
from pgm.engine import Receiver, ReceiverConfig, Source, SourceConfig
from pgm.io.receiver import ReceiverEndpoint
from pgm.io.sender import SourceEndpoint

GROUP = IPv4Address("239.192.0.1")
PORT = 7500
_fds = itertools.count(100_000)


class VirtualSelector(selectors.BaseSelector):
    """See the module docstring; ``max_selects`` bounds a runaway loop."""

    def __init__(self, max_selects: int = 5_000_000) -> None:
        self.now = 1000.0
        self.transports: dict[int, FakeTransport] = {}
        self._keys: dict[int, selectors.SelectorKey] = {}
        self._selects = 0
        self._max = max_selects

    def register(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        fd = fileobj if isinstance(fileobj, int) else fileobj.fileno()
        key = selectors.SelectorKey(fileobj, fd, events, data)
        self._keys[fd] = key
        return key

    def unregister(self, fileobj: Any) -> selectors.SelectorKey:
        fd = fileobj if isinstance(fileobj, int) else fileobj.fileno()
        return self._keys.pop(fd)

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        self._selects += 1
        if self._selects > self._max:
            raise RuntimeError("virtual loop: too many iterations (busy loop?)")
        ready = []
        for fd, key in self._keys.items():
            t = self.transports.get(fd)
            if t is not None and t.inbox and key.events & selectors.EVENT_READ:
                ready.append((key, selectors.EVENT_READ))
        if ready:
            return ready
        if timeout is None:
            raise RuntimeError("virtual loop: nothing scheduled and nothing to read (deadlock)")
        self.now += timeout
        return []

    def close(self) -> None:
        self._keys.clear()

    def get_map(self) -> Mapping[Any, selectors.SelectorKey]:
        return types.MappingProxyType(self._keys)


class VirtualLoop(asyncio.SelectorEventLoop):
    """A selector event loop on virtual time (see the module docstring)."""

    pgm_timer_slack = 0.0  # its sleeps are exact: the protocol need not arm its timer early

    def __init__(self) -> None:
        self.vsel = VirtualSelector()
        super().__init__(self.vsel)

    def time(self) -> float:
        return self.vsel.now


def run(coro: Any) -> Any:
    """Run ``coro`` to completion on a fresh :class:`VirtualLoop`."""
    loop = VirtualLoop()
    try:
        return loop.run_until_complete(coro)
    finally:
        loop.close()


Drop = Callable[[Any, "FakeTransport", "FakeTransport"], bool]


class FakeNet:
    """Endpoints on one in-memory link (see the module docstring)."""

    def __init__(self, loop: VirtualLoop, drop: Drop | None = None) -> None:
        self.loop = loop
        self.endpoints: list[FakeTransport] = []
        self.drop = drop
        self.log: list[tuple[float, str, Any]] = []  # (time, sender name, parsed packet)

    def transport(self, addr: str, name: str) -> FakeTransport:
        t = FakeTransport(self, IPv4Address(addr), name)
        self.endpoints.append(t)
        self.loop.vsel.transports[t.fd] = t
        return t

    def deliver(self, sender: FakeTransport, packet: bytes, dst: Any) -> None:
        try:
            parsed = wire.parse(packet)
        except wire.PacketError:
            parsed = None
        self.log.append((self.loop.time(), sender.name, parsed))
        for t in self.endpoints:
            if t is sender or t.closed:
                continue
            if dst != GROUP and dst != t.addr:
                continue
            if self.drop is not None and self.drop(parsed, sender, t):
                t.dropped += 1
                continue
            t.inbox.append((packet, sender.addr, dst))

    # -- engines on endpoints --------------------------------------------------------------------
    def source(
        self, addr: str = "10.0.0.1", config: SourceConfig | None = None, seed: int = 1
    ) -> SourceEndpoint:
        t = self.transport(addr, f"source {addr}")
        cfg = config or SourceConfig(rate_bps=50_000_000)
        eng = Source(
            cfg, group=GROUP, nla=t.addr, dport=PORT, rng=random.Random(seed), now=self.loop.time()
        )
        return SourceEndpoint(GROUP, None, t, eng)  # type: ignore[arg-type]

    def receiver(
        self, addr: str, config: ReceiverConfig | None = None, seed: int = 2
    ) -> ReceiverEndpoint:
        t = self.transport(addr, f"receiver {addr}")
        eng = Receiver(
            config or ReceiverConfig(),
            group=GROUP,
            dport=PORT,
            rng=random.Random(seed),
            now=self.loop.time(),
        )
        return ReceiverEndpoint(GROUP, [], t, None, eng)


class FakeTransport:
    """One endpoint: a fake descriptor, an inbox, the transport interface."""

    kind = "udp"
    buffer_warning = None

    def __init__(self, net: FakeNet, addr: IPv4Address, name: str) -> None:
        self.net = net
        self.addr = addr
        self.name = name
        self.fd = next(_fds)
        self.inbox: deque[tuple[bytes, Any, Any]] = deque()
        self.closed = False
        self.dropped = 0
        self.tx_errors = 0
        self.fail_with: BaseException | None = None  # raised by the next send

    def fileno(self) -> int:
        return self.fd

    def send(self, packet: bytes, dst: Any, ttl: int | None = None) -> None:
        if self.closed:
            raise OSError(9, "send on a closed fake transport")
        if self.fail_with is not None:
            raise self.fail_with
        self.net.deliver(self, packet, dst)

    def send_all(self, datagrams: Sequence[tuple[bytes, Any, int | None]]) -> None:
        for packet, dst, ttl in datagrams:
            self.send(packet, dst, ttl)

    def recv_batch(self) -> list[tuple[bytes, Any, Any]]:
        out = list(self.inbox)
        self.inbox.clear()
        return out

    def close(self) -> None:
        self.closed = True
        self.inbox.clear()
