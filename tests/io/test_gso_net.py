"""UDP generic segmentation / receive offload over real sockets (issue 17, pgm.net.gso).

A source whose flushes leave as ``UDP_SEGMENT`` batches, a receiver with ``UDP_GRO``: every
message arrives exactly, the batches were really used, the source's IP bytes per second stay
within its rate, and plain sends take over when batching is turned off.  Namespaces only
(tests/testbed/netbed.py).
"""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Iterator

import pytest

from pgm.engine import DataReceived, SourceConfig
from pgm.io import PgmReceiver, PgmSender
from pgm.net.transport import UdpTransport
from tests.testbed.netbed import GROUP4, NetBed

pytestmark = pytest.mark.netns

_ports = itertools.count(7950)


@pytest.fixture
def bed(netbed_pair_module: NetBed) -> Iterator[NetBed]:
    netbed_pair_module.reset()
    yield netbed_pair_module
    netbed_pair_module.reset()


def _receive(rx: PgmReceiver, n: int, timeout: float) -> list[bytes]:
    got: list[bytes] = []
    end = time.monotonic() + timeout
    while len(got) < n and time.monotonic() < end:
        got += [e.data for e in rx.next_events(0.1) if isinstance(e, DataReceived)]
    return got


@pytest.mark.parametrize("rate_bps", [40_000_000, 400_000_000])
def test_gso_sent_gro_received_content_exact_within_rate(bed: NetBed, rate_bps: int) -> None:
    port = next(_ports)
    cfg = SourceConfig(rate_bps=rate_bps, linger_secs=1.0)
    rx = bed.b.call(lambda: PgmReceiver(GROUP4, port, ifaces=bed.b.ifname, transport="udp"))
    tx = bed.a.call(
        lambda: PgmSender(GROUP4, port, iface=bed.a.ifname, transport="udp", config=cfg)
    )
    try:
        assert isinstance(tx.transport, UdpTransport) and tx.transport.gso
        assert isinstance(rx.transport, UdpTransport) and rx.transport.gro
        msgs = [os.urandom(tx.max_tsdu) for _ in range(6000)]  # 8.5 MB, all full packets
        t0 = time.monotonic()
        for m in msgs:
            tx.send(m)
        got = _receive(rx, len(msgs), timeout=120.0)
        assert got == msgs
        elapsed = time.monotonic() - t0
        assert tx.transport.gso_sends > 0  # batches really went out
        st = tx.engine.stats
        ip_bytes = st.total_bytes_sent + 28 * (st.odata_packets_sent + st.spm_packets_sent)
        # The token bucket's burst allows at most a little over the rate (generous: loaded CI).
        assert ip_bytes * 8 / elapsed <= rate_bps * 1.10
    finally:
        tx.close()
        rx.close()


def test_plain_sends_when_batching_is_off(bed: NetBed) -> None:
    port = next(_ports)
    cfg = SourceConfig(rate_bps=40_000_000, linger_secs=0.5)
    rx = bed.b.call(lambda: PgmReceiver(GROUP4, port, ifaces=bed.b.ifname, transport="udp"))
    tx = bed.a.call(
        lambda: PgmSender(GROUP4, port, iface=bed.a.ifname, transport="udp", config=cfg)
    )
    try:
        assert isinstance(tx.transport, UdpTransport)
        tx.transport.gso = False  # as after a refused batch
        time.sleep(0.2)  # a flush under way (the start SPMs) may still batch
        base = tx.transport.gso_sends
        msgs = [os.urandom(1000 + i % 400) for i in range(2000)]
        for m in msgs:
            tx.send(m)
        assert _receive(rx, len(msgs), timeout=60.0) == msgs
        assert tx.transport.gso_sends == base
    finally:
        tx.close()
        rx.close()
