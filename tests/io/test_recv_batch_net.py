"""The receive path in batches (issue 17, pgm.io.receiver), over real sockets in namespaces.

An application thread waiting in ``next_events`` drains the socket and runs the engine itself
(it *drives*); the reactor thread takes the socket back when the application stops reading, and
stops reading it while the application has too much unread (back-pressure, nothing dropped).
A drain that reaches ``MAX_BATCH`` (the application falls behind) hands the socket to the
reactor thread at once.  A data packet with a bad PGM checksum is counted and dropped on both
transports, raw IPv4 included.  Sender on host ``a``, receiver on host ``b`` of one veth pair
(tests/testbed/netbed.py); UDP ports 47300-47399.
"""

from __future__ import annotations

import ipaddress
import itertools
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from pgm.engine import DataReceived, Event, Source, SourceConfig
from pgm.io import PgmReceiver, PgmSender
from pgm.net.base import MAX_BATCH
from pgm.wire import TYPE_ODATA
from tests.testbed.netbed import GROUP4, NetBed

pytestmark = pytest.mark.netns

_ports = itertools.count(47310)


@pytest.fixture
def bed(netbed_pair_module: NetBed) -> Iterator[NetBed]:
    netbed_pair_module.reset()
    yield netbed_pair_module
    netbed_pair_module.reset()


def _open(
    bed: NetBed, transport: str, rate_bps: int, **rx_kw: object
) -> tuple[PgmReceiver, PgmSender]:
    port = next(_ports)
    rx = bed.b.call(
        lambda: PgmReceiver(GROUP4, port, ifaces=bed.b.ifname, transport=transport, **rx_kw)
    )
    cfg = SourceConfig(rate_bps=rate_bps, linger_secs=0.3)
    try:
        tx = bed.a.call(
            lambda: PgmSender(GROUP4, port, iface=bed.a.ifname, transport=transport, config=cfg)
        )
    except BaseException:
        rx.close()
        raise
    return rx, tx


def _messages(n: int, size: int) -> list[bytes]:
    return [i.to_bytes(4, "big") * (size // 4) for i in range(n)]


def _data(events: list[Event]) -> list[bytes]:
    return [e.data for e in events if type(e) is DataReceived]


@pytest.mark.parametrize("transport", ["udp", "raw"])
def test_the_reading_thread_drives_and_gets_every_message_in_order(
    bed: NetBed, transport: str
) -> None:
    msgs = _messages(2000, 1000)
    rx, tx = _open(bed, transport, 20_000_000)
    try:
        tx.send_many(msgs)
        got: list[bytes] = []
        end = time.monotonic() + 60
        while len(got) < len(msgs) and time.monotonic() < end:
            got += _data(rx.next_events(1.0))
        assert got == msgs
        assert rx.drives > 0  # steps ran in this (the application's) thread
        assert rx.stats()["receiver"]["malformed_packets"] == 0
    finally:
        tx.close()
        rx.close()


def test_the_reactor_takes_the_socket_back_when_the_application_stops_reading(
    bed: NetBed,
) -> None:
    rx, tx = _open(bed, "udp", 2_000_000)
    try:
        tx.send(b"first")
        first: list[bytes] = []
        end = time.monotonic() + 60
        while not first and time.monotonic() < end:
            first = _data(rx.next_events(1.0))  # this thread drives (SPM, then the data)
        assert first == [b"first"]
        drives = rx.drives
        msgs = _messages(50, 100)
        tx.send_many(msgs)
        got: list[bytes] = []
        end = time.monotonic() + 60
        while len(got) < len(msgs) and time.monotonic() < end:
            got += _data(rx.next_events(0))  # timeout 0 never drives: the reactor read these
            time.sleep(0.05)
        assert got == msgs
        assert rx.drives == drives
    finally:
        tx.close()
        rx.close()


def test_back_pressure_stops_reading_and_loses_nothing(bed: NetBed) -> None:
    cap = 16
    peaks: list[int] = [0]
    rx, tx = _open(bed, "udp", 200_000, max_queue_events=cap)

    def on_events() -> None:  # reactor thread, lock held
        peaks[0] = max(peaks[0], len(rx._queue))

    rx.on_events = on_events
    msgs = _messages(300, 100)
    try:
        tx.send_many(msgs)
        assert tx.flush(60.0)  # all sent (about 2 s at this rate) while nobody reads
        time.sleep(0.5)
        with rx.lock:
            held = len(rx._queue)
        assert held < len(msgs)  # the reactor stopped reading: the rest waits in the kernel
        got: list[bytes] = []
        end = time.monotonic() + 60
        while len(got) < len(msgs) and time.monotonic() < end:
            got += _data(rx.next_events(1.0))
        assert got == msgs
        assert peaks[0] < len(msgs)
        assert rx.stats()["receiver"]["malformed_packets"] == 0
    finally:
        tx.close()
        rx.close()


def _odata(bed: NetBed, port: int, payload: bytes) -> bytes:
    """One ODATA packet (sequence 0) of a fresh session to ``GROUP4`` port ``port``."""
    src = Source(SourceConfig(), group=GROUP4, nla=bed.a.ip4, dport=port, now=0.0)
    src.send(payload, 0.0)
    data = [p for p, _dst, _ttl in src.datagrams_to_send(0.0) if p[4] == TYPE_ODATA]
    assert len(data) == 1
    return data[0]


@pytest.mark.parametrize("transport", ["udp", "raw"])
def test_a_bad_checksum_is_counted_and_dropped(bed: NetBed, transport: str) -> None:
    port = next(_ports)
    rx = bed.b.call(lambda: PgmReceiver(GROUP4, port, ifaces=bed.b.ifname, transport=transport))
    if transport == "raw":
        sock = bed.a.socket(socket.AF_INET, socket.SOCK_RAW, 113)
        dst: tuple[str, int] = (GROUP4, 0)
    else:
        sock = bed.a.socket(socket.AF_INET, socket.SOCK_DGRAM)
        dst = (GROUP4, port)
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(bed.a.ip4))
    try:
        good = _odata(bed, port, b"payload!" * 100)
        bad = bytearray(good)
        bad[-1] ^= 0x01  # one payload bit: the PGM checksum no longer verifies
        sock.sendto(bytes(bad), dst)
        end = time.monotonic() + 30
        malformed = 0
        while malformed == 0 and time.monotonic() < end:
            assert _data(rx.next_events(0.2)) == []
            malformed = rx.stats()["receiver"]["malformed_packets"]
        assert malformed == 1
        sock.sendto(good, dst)  # the same packet intact: delivered
        got: list[bytes] = []
        while not got and time.monotonic() < end:
            got = _data(rx.next_events(0.2))
        assert got == [b"payload!" * 100]
        assert rx.stats()["receiver"]["malformed_packets"] == 1
    finally:
        sock.close()
        rx.close()


class _Burst:
    """A stand-in transport: always readable, every drain full (``MAX_BATCH`` junk datagrams),
    recording which thread drained it."""

    kind = "udp"
    buffer_warning = None
    tx_errors = 0

    def __init__(self) -> None:
        self._r, self._w = socket.socketpair()
        self._w.send(b"x")  # readable until closed
        self.threads: list[str] = []

    def fileno(self) -> int:
        return self._r.fileno()

    def recv_batch(self) -> list[tuple[bytes, object, None]]:
        self.threads.append(threading.current_thread().name)
        return [(b"junk", ipaddress.ip_address("10.9.9.9"), None)] * MAX_BATCH

    def send_all(self, datagrams: object) -> None:
        pass

    def close(self) -> None:
        self._r.close()
        self._w.close()


def test_a_full_drain_hands_the_socket_to_the_reactor(bed: NetBed) -> None:
    port = next(_ports)
    rx = bed.b.call(lambda: PgmReceiver(GROUP4, port, ifaces=bed.b.ifname, transport="udp"))
    real = rx.transport
    burst = _Burst()
    with rx.lock:
        rx.transport = burst
    try:
        me = threading.current_thread().name
        end = time.monotonic() + 30
        while "pgm-receiver" not in burst.threads and time.monotonic() < end:
            assert rx.next_events(0.5) == []  # junk only: this thread drives full drains ...
        assert me in burst.threads
        # ... and the reactor thread reads between them, while this one is still waiting
        # (without the hand-over it would stay away while this thread drives)
        assert me in burst.threads[burst.threads.index("pgm-receiver") :]
        assert rx.stats()["receiver"]["malformed_packets"] >= MAX_BATCH
    finally:
        rx.close()
        real.close()
