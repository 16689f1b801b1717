"""A small world: one Source and N Receivers on a :mod:`pgm.sim` network.

Theory of operation
-------------------
:func:`make_world` builds the network (seeded, traced), a :class:`~pgm.engine.Source` at the first
address and ``n`` :class:`~pgm.engine.Receiver` nodes after it, all joined to one group (IPv4 or
IPv6 by the group's family).  :meth:`World.send_all` schedules messages at a virtual time,
:meth:`World.run_until_ended` runs until every receiver saw its session end, and the accessors
return what each receiver delivered or lost.  Everything runs on virtual time, so a test of a
minute of protocol takes milliseconds.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from pgm import wire
from pgm.engine import (
    DataReceived,
    Receiver,
    ReceiverConfig,
    SessionEnded,
    Source,
    SourceConfig,
    UnrecoverableLoss,
)
from pgm.sim import Link, Network, Node

GROUP4 = "239.192.0.1"
GROUP6 = "ff08::1"


@dataclass
class World:
    """A network with one source and some receivers, plus the messages sent."""

    net: Network
    source: Source
    src_node: Node[Source]
    receivers: list[Receiver]
    rx_nodes: list[Node[Receiver]]
    sent: list[tuple[int, bytes]] = field(default_factory=list)  # (first sqn, message)

    def send_all(self, messages: Sequence[bytes], at: float = 0.01, close: bool = True) -> None:
        """Queue ``messages`` at virtual time ``at`` (as fast as the buffer takes them)."""

        def go() -> None:
            for m in messages:
                first = self.source.send(m, self.net.now)
                self.sent.append((first, m))
            if close:
                self.source.close(self.net.now)
            self.src_node.poke()

        self.net.call_at(at, go)

    def run_until_ended(self, limit: float = 120.0) -> None:
        """Run until every receiver's session has ended (or ``limit`` virtual seconds)."""

        def done() -> bool:
            return all(any(isinstance(e, SessionEnded) for e in n.events) for n in self.rx_nodes)

        self.net.run(until=limit, stop=done)

    def delivered(self, i: int) -> list[DataReceived]:
        """DataReceived events of receiver ``i``."""
        return [e for e in self.rx_nodes[i].events if isinstance(e, DataReceived)]

    def losses(self, i: int) -> list[UnrecoverableLoss]:
        """UnrecoverableLoss events of receiver ``i``."""
        return [e for e in self.rx_nodes[i].events if isinstance(e, UnrecoverableLoss)]

    def packets(
        self, node: Node[object] | None = None, type: str | None = None
    ) -> list[tuple[float, wire.Packet]]:
        """Parsed packets sent (by ``node``), optionally of one type."""
        return self.net.sent(by=node, type=type)


def make_world(
    n_receivers: int = 1,
    *,
    seed: int = 0,
    source_config: SourceConfig | None = None,
    receiver_config: ReceiverConfig | None = None,
    link: Link | None = None,
    group: str = GROUP4,
    addresses: Callable[[int], str] | None = None,
    initial_sqn: int = 0,
    trace: bool = True,
) -> World:
    """Build a World; addresses default to 10.0.0.1 (source), 10.0.0.2... (receivers)."""
    v6 = ":" in group
    addr = addresses or ((lambda i: f"fd00::{i + 1}") if v6 else (lambda i: f"10.0.0.{i + 1}"))
    net = Network(seed=seed, trace=trace)
    if link is not None:
        net.default_link = link
    scfg = source_config or SourceConfig(rate_bps=100_000_000, window_secs=30, linger_secs=30)
    if v6 and scfg.ip_version != 6:
        scfg = dataclasses.replace(scfg, ip_version=6)
    src = Source(
        scfg,
        group=group,
        nla=addr(0),
        rng=random.Random(seed),
        gsi=bytes([1, 2, 3, 4, 5, seed & 0xFF]),
        sport=40000,
        initial_sqn=initial_sqn,
    )
    src_node = net.add_node(src, addr(0), groups=[group], name="source")
    rcvs, nodes = [], []
    for i in range(n_receivers):
        r = Receiver(
            receiver_config or ReceiverConfig(), group=group, rng=random.Random(seed + i + 1)
        )
        rcvs.append(r)
        nodes.append(net.add_node(r, addr(i + 1), groups=[group], name=f"r{i}"))
    return World(net, src, src_node, rcvs, nodes)


def messages(seed: int, count: int, max_size: int = 4000) -> list[bytes]:
    """Deterministic random messages of 1..max_size bytes."""
    rng = random.Random(seed)
    return [rng.randbytes(rng.randint(1, max_size)) for _ in range(count)]
