"""PgmSender.send_many: one engine call per batch (issue 17), over UDP in network namespaces.

Sender on host ``a``, receiver on host ``b`` of one veth pair (tests/testbed/netbed.py).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator

import pytest

from pgm.engine import DataReceived, SourceConfig, WouldBlock
from pgm.io import PgmReceiver, PgmSender
from tests.testbed.netbed import GROUP4, NetBed

pytestmark = pytest.mark.netns

_ports = itertools.count(7960)


@pytest.fixture
def bed(netbed_pair_module: NetBed) -> Iterator[NetBed]:
    netbed_pair_module.reset()
    yield netbed_pair_module
    netbed_pair_module.reset()


def _data(rx: PgmReceiver, n: int, timeout: float = 20.0) -> list[bytes]:
    got: list[bytes] = []
    end = time.monotonic() + timeout
    while len(got) < n and time.monotonic() < end:
        got += [e.data for e in rx.next_events(0.1) if isinstance(e, DataReceived)]
    return got


def _pair(bed: NetBed, cfg: SourceConfig) -> tuple[PgmReceiver, PgmSender]:
    """A receiver on ``b`` and a sender with ``cfg`` on ``a``, over UDP on a fresh port."""
    port = next(_ports)
    rx = bed.b.call(lambda: PgmReceiver(GROUP4, port, ifaces=bed.b.ifname, transport="udp"))
    try:
        tx = bed.a.call(
            lambda: PgmSender(GROUP4, port, iface=bed.a.ifname, transport="udp", config=cfg)
        )
    except BaseException:
        rx.close()
        raise
    return rx, tx


def test_send_many_delivers_every_message_in_order(bed: NetBed) -> None:
    # A send buffer smaller than the batch: send_many blocks and resumes inside the batch.
    cfg = SourceConfig(rate_bps=50_000_000, send_buffer_bytes=20_000, linger_secs=0.5)
    rx, tx = _pair(bed, cfg)
    try:
        msgs = [b"%05d" % i * (1 + i % 300) for i in range(2000)]  # mixed sizes, fragments too
        last = tx.send_many(iter(msgs))  # any iterable
        assert tx.send_many([]) == -1
        assert _data(rx, len(msgs)) == msgs
        assert len(msgs[-1]) <= tx.max_tsdu and last == tx.info().lead64  # its only TPDU
    finally:
        tx.close()
        rx.close()


def test_send_many_timeout_zero_sends_what_fit_then_would_block(bed: NetBed) -> None:
    cfg = SourceConfig(rate_bps=100_000, send_buffer_bytes=3000, linger_secs=0.5)
    rx, tx = _pair(bed, cfg)
    try:
        msgs = [bytes([65 + i]) * 1000 for i in range(10)]
        with pytest.raises(WouldBlock):
            tx.send_many(msgs, timeout=0)
        taken = tx.info().lead64 + 1 + tx.info().pending_bytes // 1000
        assert 3 <= taken < len(msgs)
        assert _data(rx, taken) == msgs[:taken]
    finally:
        tx.abort()
        rx.close()


def test_a_blocked_send_wakes_at_half_the_buffer_not_per_reactor_step(bed: NetBed) -> None:
    # 400 messages through a 40 kB buffer at 10 Mbit/s (a one-packet token bucket: the
    # reactor steps for every packet, ~0.5 s of them): the blocked writer is woken when the
    # queue is down to half the buffer (or polls every 50 ms), not after each of ~400 steps.
    cfg = SourceConfig(rate_bps=10_000_000, send_buffer_bytes=40_000, linger_secs=0.5)
    rx, tx = _pair(bed, cfg)
    waits = 0
    wait = tx._room.wait

    def counted(timeout: float | None = None) -> bool:
        nonlocal waits
        waits += 1
        return wait(timeout)

    tx._room.wait = counted  # type: ignore[method-assign]
    try:
        msgs = [b"%04d" % i * 250 for i in range(400)]
        t0 = time.monotonic()
        tx.send_many(msgs)
        took = time.monotonic() - t0
        assert _data(rx, len(msgs)) == msgs
        # one wake per half buffer freed (20 kB: 18 for the 360 kB beyond the first fill),
        # plus the 50 ms polls: not one per reactor step (~400)
        assert waits <= 18 + took / 0.05 + 2, (waits, took)
    finally:
        tx.close()
        rx.close()
