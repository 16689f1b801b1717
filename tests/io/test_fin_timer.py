"""The I/O thread wakes for the engine's timers, not only for packets (issue 13).

A source sends its data and FIN and then falls silent.  The receiver must still probe the FIN
(the SPMR after its back-off) and end the session when ``fin_confirm`` has passed: both are
engine timers, so the reactor thread (:mod:`pgm.io.reactor`, :mod:`pgm.driver`) has to sleep
until the engine's next deadline rather than until the next packet.  First with the reactor
around a real :class:`~pgm.engine.Receiver` and a socketpair for a transport, then with a
:class:`~pgm.io.PgmReceiver` over UDP in a network namespace pair.  The bounds are generous
(10 s): they prove that it ends, and ends as "fin", not how fast.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator, Sequence
from ipaddress import IPv4Address
from typing import Any

import pytest

from pgm import wire
from pgm.driver import EngineDriver
from pgm.engine import DataReceived, Receiver, SessionEnded, Source, SourceConfig
from pgm.engine.api import Outgoing
from pgm.io import PgmReceiver
from pgm.io.reactor import Reactor
from pgm.wire import NLA
from tests.testbed.netbed import GROUP4, NetBed, require_netns

GROUP = IPv4Address(GROUP4)
SRC = IPv4Address("10.0.0.1")
PORT = 47101
LIMIT = 10.0
MSGS = [b"message %d" % i for i in range(20)]


def _silent_source(nla: str, *, udp: bool = False, fin_spms: bool = False) -> list[bytes]:
    """Everything a source sends for ``MSGS`` and a close at once: its start SPMs, the data
    (OPT_FIN on the last) and - with ``fin_spms`` - its FIN SPMs.  Nothing after that: no
    heartbeat, no answer to SPMRs."""
    cfg = SourceConfig(rate_bps=100_000_000, udp_encapsulation=udp)
    src = Source(cfg, group=GROUP4, nla=nla, dport=PORT, sport=40001, gsi=bytes(range(1, 7)))
    for m in MSGS:
        src.send(m, 0.0)
    src.close(0.0)
    out = [pkt for pkt, _, _ in src.datagrams_to_send(0.0)]
    assert any(p[4] == wire.TYPE_ODATA for p in out)
    if fin_spms:
        return out
    return [p for p in out if p[4] != wire.TYPE_SPM or wire.parse(p).option(wire.OptFin) is None]


class PairTransport:
    """A transport over one end of a Unix datagram socketpair; what the engine sends is kept."""

    kind = "udp"
    buffer_warning = None
    tx_errors = 0

    def __init__(self) -> None:
        self.inject, self.sock = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.setblocking(False)
        self.sent: list[tuple[float, bytes]] = []

    def fileno(self) -> int:
        return self.sock.fileno()

    def send(self, packet: bytes, dst: NLA, ttl: int | None = None) -> None:
        self.sent.append((time.monotonic(), packet))

    def send_all(self, datagrams: Sequence[Outgoing]) -> None:
        for pkt, dst, ttl in datagrams:
            self.send(pkt, dst, ttl)

    def recv_batch(self) -> list[tuple[bytes, NLA, NLA | None]]:
        out: list[tuple[bytes, NLA, NLA | None]] = []
        while True:
            try:
                out.append((self.sock.recv(65536), SRC, GROUP))
            except BlockingIOError:
                return out

    def close(self) -> None:
        self.inject.close()
        self.sock.close()


class ReceiverThread(Reactor):
    """The reactor thread around a :class:`Receiver` on a :class:`PairTransport`."""

    def __init__(self) -> None:
        super().__init__("test-fin-timer")
        self.transport: PairTransport = PairTransport()
        self.events: list[Any] = []
        self.engine = Receiver(group=GROUP4, dport=PORT, now=time.monotonic())
        self.driver = EngineDriver(self.engine, self.transport.send_all, self.events.extend)
        self.start()

    def wait_end(self, timeout: float) -> SessionEnded | None:
        def ended() -> bool:
            return any(isinstance(e, SessionEnded) for e in self.events)

        with self.cond:
            self.cond.wait_for(lambda: ended() or self.error is not None, timeout)
        self._check()
        return next((e for e in self.events if isinstance(e, SessionEnded)), None)


@pytest.mark.parametrize("fin_spms", [False, True], ids=["fin-on-data", "fin-spms"])
def test_reactor_ends_a_silent_fin_session_on_its_timers(fin_spms: bool) -> None:
    rx = ReceiverThread()
    try:
        for pkt in _silent_source(str(SRC), fin_spms=fin_spms):
            rx.transport.inject.send(pkt)
        last = time.monotonic()
        end = rx.wait_end(LIMIT)
        assert end is not None, f"no SessionEnded within {LIMIT} s of the last packet"
        assert end.reason == "fin"
        with rx.lock:
            got = [e.data for e in rx.events if isinstance(e, DataReceived)]
            spmrs = [t for t, p in rx.transport.sent if p[4] == wire.TYPE_SPMR]
        assert got == MSGS
        if not fin_spms:
            # The FIN came on data alone: the probe went out on its back-off timer.
            assert spmrs and all(t >= last for t in spmrs)
    finally:
        rx.stop()
        rx.transport.close()


@pytest.fixture
def bed() -> Iterator[NetBed]:
    require_netns()
    with NetBed.pair(prefix="pgmh") as b:
        yield b


@pytest.mark.netns
def test_pgm_receiver_ends_a_silent_fin_session(bed: NetBed) -> None:
    rx = bed.b.call(lambda: PgmReceiver(GROUP4, PORT, ifaces=bed.b.ifname, transport="udp"))
    events: list[Any] = []
    try:
        pkts = _silent_source(bed.a.ip4, udp=True)

        def blast() -> None:
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(bed.a.ip4))
                for p in pkts:
                    s.sendto(p, (GROUP4, PORT))
            finally:
                s.close()

        time.sleep(0.2)  # the receiver joined
        bed.a.call(blast)
        deadline = time.monotonic() + LIMIT
        while time.monotonic() < deadline and not any(isinstance(e, SessionEnded) for e in events):
            events += rx.next_events(0.2)
        ends = [e for e in events if isinstance(e, SessionEnded)]
        assert ends, f"no SessionEnded within {LIMIT} s of the last packet"
        assert ends[0].reason == "fin"
        assert [e.data for e in events if isinstance(e, DataReceived)] == MSGS
    finally:
        rx.close()
