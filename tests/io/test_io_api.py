"""The public pgm.io API the facade and the CLI use, over UDP in network namespaces.

Sender on host ``a``, receiver on host ``b`` of one veth pair (tests/testbed/netbed.py).
Root on Linux; elsewhere these skip, saying so.
"""

from __future__ import annotations

import dataclasses
import itertools
import time
from collections.abc import Iterator

import pytest

from pgm.engine import DataReceived, SourceConfig, SourceState
from pgm.io import PgmReceiver, PgmSender
from tests.testbed.netbed import GROUP4, NetBed

pytestmark = pytest.mark.netns

_ports = itertools.count(7900)


@pytest.fixture
def bed(netbed_pair_module: NetBed) -> Iterator[NetBed]:
    netbed_pair_module.reset()
    yield netbed_pair_module
    netbed_pair_module.reset()


def _data(rx: PgmReceiver, n: int, timeout: float = 5.0) -> list[bytes]:
    got: list[bytes] = []
    end = time.monotonic() + timeout
    while len(got) < n and time.monotonic() < end:
        got += [e.data for e in rx.next_events(0.1) if isinstance(e, DataReceived)]
    return got


def test_sender_identity_snapshots_and_shutdown(bed: NetBed) -> None:
    port = next(_ports)
    cfg = SourceConfig(rate_bps=2_000_000, linger_secs=0.3)
    rx = bed.b.call(lambda: PgmReceiver(GROUP4, port, ifaces=bed.b.ifname, transport="udp"))
    tx = bed.a.call(
        lambda: PgmSender(GROUP4, port, iface=bed.a.ifname, transport="udp", config=cfg)
    )
    try:
        assert str(tx.nla) == bed.a.ip4
        assert tx.tsi == tx.engine.tsi and tx.max_tsdu == tx.engine.max_tsdu > 0
        assert tx.config.udp_encapsulation and not cfg.udp_encapsulation  # a copy, not mutated
        assert tx.config == dataclasses.replace(cfg, udp_encapsulation=True)
        for i in range(5):
            tx.send(b"m%d" % i)
        assert _data(rx, 5) == [b"m%d" % i for i in range(5)]
        info = tx.info()
        assert info.tsi == tx.tsi and info.lead64 == 4 and info.state is SourceState.OPEN
        s = rx.session_info(tx.tsi)
        assert s is not None and s.started and s.first_sqn == 0 and not s.ended
        assert rx.session_info(object()) is None
        assert not tx.closed
        t0 = time.monotonic()
        tx.shutdown()
        assert time.monotonic() - t0 < 0.2  # starts the close, does not wait for it
        assert tx.wait_closed(5.0) and tx.closed
        assert tx.info().state is SourceState.CLOSED
    finally:
        tx.close()
        rx.close()


def test_wait_closed_times_out_while_lingering(bed: NetBed) -> None:
    port = next(_ports)
    tx = bed.a.call(lambda: PgmSender(GROUP4, port, iface=bed.a.ifname, transport="udp"))
    try:
        tx.send(b"x")
        tx.shutdown(linger=30.0)
        assert not tx.wait_closed(0.2) and not tx.closed
    finally:
        tx.abort()


def test_simulated_loss_is_a_seeded_transport_wrapper(bed: NetBed) -> None:
    port = next(_ports)
    rx = bed.b.call(
        lambda: PgmReceiver(
            GROUP4, port, ifaces=bed.b.ifname, transport="udp", loss=1.0, loss_seed=5
        )
    )
    tx = bed.a.call(lambda: PgmSender(GROUP4, port, iface=bed.a.ifname, transport="udp"))
    try:
        for i in range(5):
            tx.send(b"lost%d" % i)
        end = time.monotonic() + 5
        while rx.simulated_drops < 5 and time.monotonic() < end:
            time.sleep(0.02)
        assert rx.simulated_drops >= 5 and rx.stats()["simulated_drops"] == rx.simulated_drops
        assert not [e for e in rx.next_events(0.2) if isinstance(e, DataReceived)]
    finally:
        tx.abort()
        rx.close()
