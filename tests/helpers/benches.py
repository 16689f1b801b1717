"""Two-node benches: a real engine ("app") facing a scripted :class:`~tests.helpers.peer.Peer`.

Theory of operation
-------------------
:class:`TxBench` puts a real :class:`~pgm.engine.Source` at ``SRC_ADDR`` and the scripted peer
on the group at ``RCV_ADDR``; :class:`RxBench` puts a real :class:`~pgm.engine.Receiver` at
``RCV_ADDR`` and the peer playing the source at ``SRC_ADDR``.  Both are seeded and run on
virtual time: ``inject(when, packet)`` schedules a scripted packet, ``net.run(until=...)``
advances the clock, and the trace (:mod:`tests.helpers.trace`) says what the real engine sent.
"""

from __future__ import annotations

import random

from pgm import wire
from pgm.engine import (
    DataReceived,
    Receiver,
    ReceiverConfig,
    SessionStarted,
    Source,
    SourceConfig,
)
from pgm.sim import Network
from pgm.wire import NLA
from tests.helpers.addresses import DPORT, GROUP, GSI, RCV_ADDR, SESSION, SPORT, SRC_ADDR
from tests.helpers.peer import Peer, Responder
from tests.helpers.trace import Tx, sent


class TxBench:
    """A real Source ("app", 10.0.0.1) and sim.c as a receiver on the group (10.0.0.2)."""

    def __init__(self, config: SourceConfig | None = None) -> None:
        self.net = Network(seed=0)
        self.source = Source(
            config or SourceConfig(window_secs=60.0),
            group=GROUP,
            nla=SRC_ADDR,
            dport=DPORT,
            sport=SPORT,
            gsi=GSI,
            rng=random.Random(1),
            now=0.0,
        )
        self.node = self.net.add_node(self.source, SRC_ADDR, name="app")
        self.sim = Peer()
        self.sim_node = self.net.add_node(self.sim, RCV_ADDR, groups=[GROUP], name="sim")
        self.first_sqns: list[int] = []

    def send(self, when: float, *payloads: bytes) -> None:
        def go() -> None:
            for p in payloads:
                self.first_sqns.append(self.source.send(p, self.net.now))
            self.node.poke()

        self.net.call_at(when, go)

    def inject(self, when: float, pkt: wire.Packet, dst: NLA = SRC_ADDR) -> None:
        def go() -> None:
            self.sim.out.append((pkt.encode(), dst, None))
            self.sim_node.poke()

        self.net.call_at(when, go)

    def out(self, type_: str | None = None) -> list[Tx]:
        return sent(self.net, self.node, type_)


class RxBench:
    """A real Receiver ("app", 10.0.0.2) and sim.c playing the source (10.0.0.1)."""

    def __init__(
        self,
        config: ReceiverConfig | None = None,
        *,
        seed: int = 7,
        responder: Responder | None = None,
    ) -> None:
        self.net = Network(seed=0)
        self.sim = Peer(responder)
        self.sim_node = self.net.add_node(self.sim, SRC_ADDR, groups=[GROUP], name="sim")
        self.receiver = Receiver(
            config or ReceiverConfig(), group=GROUP, dport=DPORT, rng=random.Random(seed)
        )
        self.events: list[tuple[float, object]] = []
        self.node = self.net.add_node(
            self.receiver,
            RCV_ADDR,
            groups=[GROUP],
            name="app",
            on_event=lambda _n, ev: self.events.append((self.net.now, ev)),
        )

    def inject(
        self, when: float, pkt: wire.Packet, dst: NLA = GROUP, ttl: int | None = None
    ) -> None:
        def go() -> None:
            self.sim.out.append((pkt.encode(), dst, ttl))
            self.sim_node.poke()

        self.net.call_at(when, go)

    def run(self, until: float) -> None:
        self.net.run(until=until)

    def upstream(self, type_: str | None = None) -> list[Tx]:
        return sent(self.net, self.node, type_)

    def delivered(self) -> list[tuple[float, int, bytes]]:
        out: list[tuple[float, int, bytes]] = []
        for t, ev in self.events:
            if isinstance(ev, DataReceived):
                assert ev.tsi == SESSION
                out.append((t, ev.sqn, ev.data))
        return out

    def app_events(self) -> list[object]:
        """Events other than SessionStarted, in order."""
        return [ev for _, ev in self.events if not isinstance(ev, SessionStarted)]
