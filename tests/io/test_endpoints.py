"""Opening endpoints (issue 14): misuse gives a clear ValueError and leaks nothing, both
spellings of the interface argument, one UDP source per host and port, link-scope IPv6 groups
over UDP.

Loopback with TTL 0 where one host is enough; the link-scope groups in two network namespaces
(tests/testbed/netbed.py), since they need a real link.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from pgm.engine import DataReceived
from pgm.io import PgmReceiver, PgmSender
from tests.testbed.netbed import NetBed

ROOT = Path(__file__).resolve().parents[2]
LO = "127.0.0.1"

_MISUSE = """
import gc, warnings
warnings.simplefilter("error")
from pgm.io import PgmReceiver, PgmSender
for cls in (PgmReceiver, PgmSender):
    for group, port in (("10.0.0.1", 7500), ("239.192.0.1", 70000), ("239.192.0.1", 0)):
        try:
            cls(group, port, transport="udp", iface="127.0.0.1")
        except ValueError as exc:
            print(cls.__name__, exc)
        else:
            raise SystemExit("no ValueError")
gc.collect()
"""


def test_bad_group_or_port_is_a_clear_value_error_and_leaks_nothing() -> None:
    r = subprocess.run(
        [sys.executable, "-X", "dev", "-c", _MISUSE],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert r.returncode == 0 and not r.stderr, r.stderr  # no ResourceWarning under -X dev
    lines = r.stdout.splitlines()
    assert len(lines) == 6
    for cls in ("PgmReceiver", "PgmSender"):
        assert f"{cls} 10.0.0.1 is not a multicast group address" in r.stdout
        assert f"{cls} port must be in 1..65535, not 70000" in r.stdout
        assert f"{cls} port must be in 1..65535, not 0" in r.stdout


def test_iface_and_ifaces_are_both_accepted() -> None:
    with PgmReceiver("239.192.0.78", 7751, iface=LO, transport="udp") as rx:
        assert [i.name for i in rx.ifaces] == ["lo"]
    with PgmSender("239.192.0.78", 7751, ifaces=[LO], transport="udp", ttl=0) as tx:
        assert tx.iface.name == "lo"
    with pytest.raises(ValueError, match="not both"):
        PgmReceiver("239.192.0.78", 7751, iface=LO, ifaces=[LO], transport="udp")
    with pytest.raises(ValueError, match="one interface"):
        PgmSender("239.192.0.78", 7751, ifaces=[LO, LO], transport="udp")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the port claim is Linux's")
def test_a_second_udp_source_on_one_host_and_port_is_refused() -> None:
    first = PgmSender("239.192.0.78", 7752, iface=LO, transport="udp", ttl=0)
    try:
        with pytest.raises(OSError, match="already uses UDP port 7752") as info:
            PgmSender("239.192.0.79", 7752, iface=LO, transport="udp", ttl=0)
        assert "give each source its own port" in str(info.value)
        # a receiver on the port is fine, and so is another port
        PgmReceiver("239.192.0.78", 7752, iface=LO, transport="udp").close()
        PgmSender("239.192.0.78", 7753, iface=LO, transport="udp", ttl=0).abort()
    finally:
        first.abort()
    PgmSender("239.192.0.78", 7752, iface=LO, transport="udp", ttl=0).abort()  # released


@pytest.mark.netns
@pytest.mark.parametrize("group", ["ff12::7", "ff02::7", "ff15::7"])
def test_link_scope_ipv6_groups_over_udp(netbed_pair: NetBed, group: str) -> None:
    bed = netbed_pair
    rx = bed.b.call(lambda: PgmReceiver(group, 7754, iface=bed.b.ifname, transport="udp"))
    tx = bed.a.call(lambda: PgmSender(group, 7754, iface=bed.a.ifname, transport="udp"))
    try:
        bed.b.wait_joined(group)
        got: list[bytes] = []
        end = time.monotonic() + 20
        for i in range(5):
            tx.send(b"six-%d" % i)
        while len(got) < 5 and time.monotonic() < end:
            got += [e.data for e in rx.next_events(0.2) if isinstance(e, DataReceived)]
        assert got == [b"six-%d" % i for i in range(5)]
    finally:
        tx.abort()
        rx.close()
