"""AF_PACKET transmit for raw IPv4 multicast (issue 17, pgm.net.packet), over real sockets.

A raw source on a veth with multicast loopback off sends its data as Ethernet frames with a
cached link + IPv4 header: the receiver's kernel accepts them (IP header checksum, addresses)
and every message arrives exactly; with loopback on, or after the frame socket fails, the raw
IP socket carries everything.  Namespaces only (tests/testbed/netbed.py).
"""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Iterator

import pytest

from pgm.engine import DataReceived, SourceConfig
from pgm.io import PgmReceiver, PgmSender
from pgm.net.transport import RawTransport
from tests.testbed.netbed import GROUP4, NetBed

pytestmark = [pytest.mark.netns, pytest.mark.raw]  # AF_PACKET + raw IP sockets

_ports = itertools.count(7970)


@pytest.fixture
def bed(netbed_pair_module: NetBed) -> Iterator[NetBed]:
    netbed_pair_module.reset()
    yield netbed_pair_module
    netbed_pair_module.reset()


def _transfer(bed: NetBed, *, loop: bool, break_frames: bool = False) -> RawTransport:
    port = next(_ports)
    cfg = SourceConfig(rate_bps=40_000_000, linger_secs=0.5)
    rx = bed.b.call(lambda: PgmReceiver(GROUP4, port, ifaces=bed.b.ifname, transport="raw"))
    tx = bed.a.call(
        lambda: PgmSender(GROUP4, port, iface=bed.a.ifname, transport="raw", config=cfg, loop=loop)
    )
    try:
        t = tx.transport
        assert isinstance(t, RawTransport)
        msgs = [os.urandom(1 + (i * 37) % tx.max_tsdu) for i in range(3000)]
        half = len(msgs) // 2
        for m in msgs[:half]:
            tx.send(m)
        if break_frames:
            assert t.packet is not None
            t.packet.sock.close()  # the next frame fails: the raw socket takes over
        for m in msgs[half:]:
            tx.send(m)
        got: list[bytes] = []
        end = time.monotonic() + 60
        while len(got) < len(msgs) and time.monotonic() < end:
            got += [e.data for e in rx.next_events(0.1) if isinstance(e, DataReceived)]
        assert got == msgs
        return t
    finally:
        tx.close()
        rx.close()


def test_frames_reach_the_receiver_exactly(bed: NetBed) -> None:
    t = _transfer(bed, loop=False)
    assert t.packet is not None and t.packet.sent >= 3000 and t.packet.failed is None


def test_loopback_keeps_the_raw_socket(bed: NetBed) -> None:
    assert _transfer(bed, loop=True).packet is None


def test_a_failed_frame_socket_falls_back_to_raw(bed: NetBed) -> None:
    assert _transfer(bed, loop=False, break_frames=True).packet is None
