"""The network-namespace test bed (tests/testbed/netbed.py) works, proven with the stdlib
socket module.

Raw IP protocol 113 and UDP multicast, IPv4 and IPv6, across a veth pair and through a bridge;
nftables loss (input hook and netdev egress) that really drops; teardown that always cleans up,
also after a crash (cleanup_stale).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import textwrap
import time

import pytest

from tests.conftest import require
from tests.testbed import netbed
from tests.testbed.netbed import (
    GROUP4,
    GROUP6,
    NetBed,
    NetHost,
    cleanup_stale,
    list_netns,
)

pytestmark = pytest.mark.netns

PGM = 113
SO_RCVBUFFORCE = getattr(socket, "SO_RCVBUFFORCE", 33)  # Linux; root may exceed rmem_max
PORT = 7500
RECV_TIMEOUT = 2.0  # seconds: a datagram on a veth arrives in well under a millisecond
IPV6_MREQ = "16sI"  # struct ipv6_mreq: group address, interface index


# -- sockets ---------------------------------------------------------------------------------


def raw_receiver_v4(host: NetHost) -> socket.socket:
    sock = host.socket(socket.AF_INET, socket.SOCK_RAW, PGM)
    mreq = socket.inet_aton(GROUP4) + socket.inet_aton(host.ip4)  # struct ip_mreq
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
    return sock


def raw_receiver_v6(host: NetHost) -> socket.socket:
    sock = host.socket(socket.AF_INET6, socket.SOCK_RAW, PGM)
    mreq = struct.pack(IPV6_MREQ, socket.inet_pton(socket.AF_INET6, GROUP6), host.ifindex)
    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP, mreq)
    return sock


def udp_receiver(host: NetHost, family: int, port: int = PORT) -> socket.socket:
    sock = host.socket(family, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # root: bypass net.core.rmem_max (not namespaced, see tests/testbed/netbed.py)
    sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 4 << 20)
    if family == socket.AF_INET:
        sock.bind(("0.0.0.0", port))
        mreq = socket.inet_aton(GROUP4) + socket.inet_aton(host.ip4)
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
    else:
        sock.bind(("::", port))
        mreq = struct.pack(IPV6_MREQ, socket.inet_pton(socket.AF_INET6, GROUP6), host.ifindex)
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP, mreq)
    return sock


def multicast_sender(host: NetHost, family: int, type: int, proto: int = 0) -> socket.socket:
    sock = host.socket(family, type, proto)
    if family == socket.AF_INET:
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(host.ip4))
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 0)
    else:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, host.ifindex)
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 1)
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_LOOP, 0)
    return sock


def group(family: int, port: int = PORT) -> tuple[str, int]:
    return (GROUP4, port) if family == socket.AF_INET else (GROUP6, port)


def receive(
    sock: socket.socket,
    count: int,
    timeout: float = RECV_TIMEOUT,
    quiet: float | None = None,
) -> list[tuple[bytes, str]]:
    """Up to ``count`` datagrams, stopping at ``timeout`` or after ``quiet`` s without one."""
    got: list[tuple[bytes, str]] = []
    deadline = time.monotonic() + timeout
    while len(got) < count:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        sock.settimeout(min(remaining, quiet) if quiet is not None else remaining)
        try:
            data, addr = sock.recvfrom(65535)
        except TimeoutError:
            break
        got.append((data, addr[0]))
    return got


def ipv4_payload(packet: bytes) -> bytes:
    """An IPv4 raw socket hands over the IP header too; an IPv6 one does not."""
    return packet[(packet[0] & 0x0F) * 4 :]


# -- the pair --------------------------------------------------------------------------------


def test_pair_topology(netbed_pair: NetBed) -> None:
    a, b = netbed_pair.a, netbed_pair.b
    n = netbed_pair.subnet
    assert (a.ip4, b.ip4, a.ip6, b.ip6) == (
        f"10.{n}.0.1",
        f"10.{n}.0.2",
        f"fd00:{n}::1",
        f"fd00:{n}::2",
    )
    assert netbed_pair.source is a and netbed_pair.receivers == [b]
    for host in (a, b):
        assert len(host.name) <= 15 and host.name.startswith(f"pgmt{netbed_pair.rid}")
        assert host.name in list_netns()
        link = json.loads(host.ip("-j", "addr", "show", "dev", host.ifname))[0]
        assert "MULTICAST" in link["flags"] and link["operstate"] == "UP"
        assert host.ip("route", "show", "224.0.0.0/4").startswith(f"224.0.0.0/4 dev {host.ifname}")
        assert host.ip("-6", "route", "show", "ff00::/8").startswith(f"ff00::/8 dev {host.ifname}")
        assert host.sysctl("net.ipv4.igmp_max_memberships") == "1024"
    # nothing of ours in the caller's namespace
    assert a.ifname not in [name for _, name in socket.if_nameindex()]
    # the sysctl report says what happened to the (not namespaced) socket-buffer limits
    assert "net.core.rmem_max" in netbed_pair.sysctl_report
    # host.python: the test interpreter inside the namespace, with the project importable
    code = (
        "import socket, tests.testbed.netbed as nb; "
        "print([n for _, n in socket.if_nameindex()], nb.GROUP4)"
    )
    proc = b.python(["-c", code], check=True)
    assert proc.stdout.strip() == f"['lo', '{b.ifname}'] {GROUP4}"


@pytest.mark.raw
def test_raw_pgm_multicast_ipv4(netbed_pair: NetBed) -> None:
    a, b = netbed_pair.a, netbed_pair.b
    rx = raw_receiver_v4(b)
    tx = multicast_sender(a, socket.AF_INET, socket.SOCK_RAW, PGM)
    payload = b"\x01\x02PGM over raw IPv4"
    tx.sendto(payload, (GROUP4, 0))
    ((packet, src),) = receive(rx, 1)
    assert src == a.ip4
    assert packet[9] == PGM and packet[16:20] == socket.inet_aton(GROUP4)
    assert ipv4_payload(packet) == payload


@pytest.mark.raw
def test_raw_pgm_multicast_ipv6(netbed_pair: NetBed) -> None:
    a, b = netbed_pair.a, netbed_pair.b
    rx = raw_receiver_v6(b)
    tx = multicast_sender(a, socket.AF_INET6, socket.SOCK_RAW, PGM)
    payload = b"\x01\x02PGM over raw IPv6"
    tx.sendto(payload, (GROUP6, 0))
    assert receive(rx, 1) == [(payload, a.ip6)]


@pytest.mark.parametrize("family", [socket.AF_INET, socket.AF_INET6], ids=["ipv4", "ipv6"])
def test_udp_multicast(netbed_pair: NetBed, family: int) -> None:
    a, b = netbed_pair.a, netbed_pair.b
    rx = udp_receiver(b, family)
    tx = multicast_sender(a, family, socket.SOCK_DGRAM)
    tx.sendto(b"udp-encapsulated", group(family))
    src = a.ip4 if family == socket.AF_INET else a.ip6
    assert receive(rx, 1) == [(b"udp-encapsulated", src)]


@pytest.mark.raw
def test_unicast_back_from_b_to_a(netbed_pair: NetBed) -> None:
    a, b = netbed_pair.a, netbed_pair.b
    rx4 = a.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx4.bind((a.ip4, PORT))
    rx6 = a.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    rx6.bind((a.ip6, PORT))
    raw = a.socket(socket.AF_INET, socket.SOCK_RAW, PGM)
    # b sends from a child process (host.python), a receives in this process
    code = textwrap.dedent(
        f"""
        import socket
        for family, dst in ((socket.AF_INET, {a.ip4!r}), (socket.AF_INET6, {a.ip6!r})):
            with socket.socket(family, socket.SOCK_DGRAM) as s:
                s.sendto(b"NAK-ish " + dst.encode(), (dst, {PORT}))
        with socket.socket(socket.AF_INET, socket.SOCK_RAW, {PGM}) as s:
            s.sendto(b"raw unicast", ({a.ip4!r}, 0))
        """
    )
    proc = b.python(["-c", code], timeout=10)
    assert proc.returncode == 0, proc.stderr
    assert receive(rx4, 1) == [(b"NAK-ish " + a.ip4.encode(), b.ip4)]
    assert receive(rx6, 1) == [(b"NAK-ish " + a.ip6.encode(), b.ip6)]
    ((packet, src),) = receive(raw, 1)
    assert src == b.ip4 and ipv4_payload(packet) == b"raw unicast"


def test_popen_receiver_in_namespace(netbed_pair: NetBed) -> None:
    a, b = netbed_pair.a, netbed_pair.b
    code = textwrap.dedent(
        f"""
        import socket, struct, sys
        s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        s.bind(("::", {PORT}))
        mreq = struct.pack("16sI", socket.inet_pton(socket.AF_INET6, {GROUP6!r}),
                           socket.if_nametoindex({b.ifname!r}))
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP, mreq)
        s.settimeout(5)
        print("ready", flush=True)
        data, addr = s.recvfrom(100)
        print(data.decode(), addr[0], flush=True)
        """
    )
    proc = b.python_popen(["-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    tx = multicast_sender(a, socket.AF_INET6, socket.SOCK_DGRAM)
    tx.sendto(b"hello-child", group(socket.AF_INET6))
    out, _ = proc.communicate(timeout=10)
    assert proc.returncode == 0
    assert out.strip() == f"hello-child {a.ip6}"


# -- loss ------------------------------------------------------------------------------------

LOSS_COUNT = 400


@pytest.mark.parametrize(
    ("proto", "family"),
    [("udp", socket.AF_INET), ("pgm", socket.AF_INET6)],
    ids=["udp-ipv4", "pgm-ipv6"],
)
def test_set_loss_50_percent(netbed_pair: NetBed, proto: str, family: int) -> None:
    a, b = netbed_pair.a, netbed_pair.b
    if proto == "udp":
        rx = udp_receiver(b, family)
        tx = multicast_sender(a, family, socket.SOCK_DGRAM)
        dst = group(family)
    else:
        rx = raw_receiver_v6(b)
        rx.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 4 << 20)
        tx = multicast_sender(a, family, socket.SOCK_RAW, PGM)
        dst = (GROUP6, 0)
    b.set_loss(50, protocols=(proto,))
    for i in range(LOSS_COUNT):
        tx.sendto(b"%d" % i, dst)
    got = receive(rx, LOSS_COUNT, quiet=0.3)  # until 0.3 s without a datagram
    counters = b.nft_counters()
    dropped = counters[f"in_{proto}"]
    assert 100 < dropped < 300, counters
    assert len(got) + dropped == LOSS_COUNT
    assert counters["total"] == dropped  # nothing else was dropped
    # loss off again: everything arrives, the counter stays
    b.set_loss(0)
    for i in range(20):
        tx.sendto(b"after %d" % i, dst)
    assert len(receive(rx, 20)) == 20
    assert b.nft_counters()[f"in_{proto}"] == dropped


@pytest.mark.raw
def test_drop_all(netbed_pair: NetBed) -> None:
    a, b = netbed_pair.a, netbed_pair.b
    rx_raw, rx_udp = raw_receiver_v4(b), udp_receiver(b, socket.AF_INET)
    tx_raw = multicast_sender(a, socket.AF_INET, socket.SOCK_RAW, PGM)
    tx_udp = multicast_sender(a, socket.AF_INET, socket.SOCK_DGRAM)

    def burst(n: int) -> tuple[int, int]:
        for i in range(n):
            tx_raw.sendto(b"raw %d" % i, (GROUP4, 0))
            tx_udp.sendto(b"udp %d" % i, group(socket.AF_INET))
        return len(receive(rx_raw, n, quiet=0.2)), len(receive(rx_udp, n, quiet=0.2))

    b.drop_all(True)
    assert burst(25) == (0, 0)
    counters = b.nft_counters()
    assert (counters["in_pgm"], counters["in_udp"]) == (25, 25)
    b.drop_all(False)
    assert burst(25) == (25, 25)
    b.reset_counters()
    assert b.nft_counters()["total"] == 0


def test_bad_loss_arguments(netbed_pair: NetBed) -> None:
    with pytest.raises(ValueError):
        netbed_pair.b.set_loss(150)
    with pytest.raises(ValueError):
        netbed_pair.b.set_loss(10, protocols=("tcp",))
    with pytest.raises(ValueError):
        netbed_pair.b.set_loss(10, direction="output")  # never the sender's output hook


# -- the star --------------------------------------------------------------------------------


@pytest.mark.raw
def test_star_multicast_reaches_every_receiver(netbed_star: NetBed) -> None:
    src, receivers = netbed_star.source, netbed_star.receivers
    n = netbed_star.subnet
    assert len(receivers) == 3
    assert [r.ip4 for r in receivers] == [f"10.{n}.0.{i}" for i in (2, 3, 4)]
    assert [r.ip6 for r in receivers] == [f"fd00:{n}::{i}" for i in (2, 3, 4)]
    assert netbed_star.switch is not None
    (br0,) = json.loads(netbed_star.switch.ip("-d", "-j", "link", "show", "br0"))
    assert br0["linkinfo"]["info_data"]["mcast_snooping"] == 0
    for family in (socket.AF_INET, socket.AF_INET6):
        rxs = [udp_receiver(r, family) for r in receivers]
        raws = [
            raw_receiver_v4(r) if family == socket.AF_INET else raw_receiver_v6(r)
            for r in receivers
        ]
        tx = multicast_sender(src, family, socket.SOCK_DGRAM)
        tx_raw = multicast_sender(src, family, socket.SOCK_RAW, PGM)
        tx.sendto(b"to all", group(family))
        tx_raw.sendto(b"raw to all", (group(family)[0], 0))
        src_ip = src.ip4 if family == socket.AF_INET else src.ip6
        for rx, raw in zip(rxs, raws, strict=True):
            assert receive(rx, 1) == [(b"to all", src_ip)]
            ((packet, from_ip),) = receive(raw, 1)
            data = ipv4_payload(packet) if family == socket.AF_INET else packet
            assert (data, from_ip) == (b"raw to all", src_ip)
        for sock in (*rxs, *raws):  # exactly one copy each
            assert receive(sock, 1, timeout=0.02) == []
        for sock in (*rxs, *raws, tx, tx_raw):
            sock.close()


@pytest.mark.parametrize("netbed_star", [5], indirect=True)
def test_star_size_is_parametrizable(netbed_star: NetBed) -> None:
    assert [r.ip4.rsplit(".", 1)[1] for r in netbed_star.receivers] == ["2", "3", "4", "5", "6"]
    assert len(netbed_star.namespaces) == 7  # source, 5 receivers, switch


def test_receiver_loss_is_per_receiver(netbed_star: NetBed) -> None:
    src, (r1, r2, r3) = netbed_star.source, netbed_star.receivers
    rxs = [udp_receiver(r, socket.AF_INET) for r in (r1, r2, r3)]
    tx = multicast_sender(src, socket.AF_INET, socket.SOCK_DGRAM)
    r2.drop_all(True, protocols=("udp",))
    for i in range(10):
        tx.sendto(b"%d" % i, group(socket.AF_INET))
    assert [len(receive(rx, 10, quiet=0.2)) for rx in rxs] == [10, 0, 10]
    assert r2.nft_counters()["in_udp"] == 10 and r1.nft_counters()["total"] == 0


@pytest.mark.raw
def test_egress_loss_is_seen_by_every_receiver(netbed_star: NetBed) -> None:
    src = netbed_star.source
    require(src.egress_supported(), "needs nftables netdev egress hooks (kernel >= 5.16)")
    rxs = [udp_receiver(r, socket.AF_INET) for r in netbed_star.receivers]
    tx = multicast_sender(src, socket.AF_INET, socket.SOCK_DGRAM)
    src.egress_loss(50, protocols=("udp",))
    for i in range(200):
        assert tx.sendto(b"%d" % i, group(socket.AF_INET)) > 0  # a wire drop: sendto succeeds
    dropped = src.nft_counters()["egress_udp"]
    assert 40 < dropped < 160
    seen = [{data for data, _ in receive(rx, 200 - dropped, quiet=0.5)} for rx in rxs]
    assert len(seen[0]) == 200 - dropped
    assert seen[0] == seen[1] == seen[2]  # the same packets are missing everywhere
    src.egress_loss(0)
    src.drop_all(True, protocols=("pgm",), direction="egress")
    raw = [raw_receiver_v4(r) for r in netbed_star.receivers]
    tx_raw = multicast_sender(src, socket.AF_INET, socket.SOCK_RAW, PGM)
    for _ in range(5):
        tx_raw.sendto(b"lost", (GROUP4, 0))
    assert [receive(r, 1, timeout=0.1) for r in raw] == [[], [], []]
    assert src.nft_counters()["egress_pgm"] == 5


# -- lifecycle -------------------------------------------------------------------------------


def test_module_fixture_and_reset(netbed_pair_module: NetBed) -> None:
    b = netbed_pair_module.b
    b.set_loss(10)
    b.drop_all(True, direction="in")
    netbed_pair_module.reset()
    assert b.nft_counters()["total"] == 0
    rules = b.run(["nft", "list", "chain", "inet", "pgmt", "input"], check=True).stdout
    assert "drop" not in rules


def _marker(bed: NetBed) -> str:
    return str(netbed.MARKER_DIR / f"{bed.prefix}{bed.rid}.json")


def test_teardown_removes_everything() -> None:
    netbed.require_netns()
    bed = NetBed.pair()
    names = bed.namespaces
    assert all(n in list_netns() for n in names) and os.path.exists(_marker(bed))
    sleeper = bed.b.popen(["sleep", "30"])
    sock = bed.a.socket(socket.AF_INET, socket.SOCK_DGRAM)
    started = time.monotonic()
    bed.close()
    assert time.monotonic() - started < 5
    assert not set(names) & set(list_netns())
    assert not os.path.exists(_marker(bed))
    assert sleeper.poll() is not None and sock.fileno() == -1
    bed.close()  # idempotent
    assert bed.closed


@pytest.mark.parametrize("exc", [RuntimeError, KeyboardInterrupt])
def test_teardown_on_exception(exc: type[BaseException]) -> None:
    netbed.require_netns()
    names: list[str] = []
    with pytest.raises(exc), NetBed.star(2) as bed:
        names = bed.namespaces
        bed.receivers[0].set_loss(5)
        raise exc("test failure")
    assert names and not set(names) & set(list_netns())


def _run_creator(code: str) -> subprocess.CompletedProcess[str]:
    """A separate Python process building a bed in the caller's namespace."""
    env = dict(os.environ, PYTHONPATH=str(netbed.PROJECT_ROOT))
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=str(netbed.PROJECT_ROOT),
        env=env,
    )


@pytest.mark.parametrize(
    "ending",
    ["pass", "raise KeyboardInterrupt", "sys.exit(3)"],
    ids=["normal-exit", "keyboardinterrupt", "sys-exit"],
)
def test_atexit_cleans_unclosed_bed(ending: str) -> None:
    netbed.require_netns()
    proc = _run_creator(
        f"""
        import sys
        from tests.testbed.netbed import NetBed
        bed = NetBed.pair()  # never closed
        bed.b.popen(["sleep", "30"])
        print(" ".join(bed.namespaces), flush=True)
        {ending}
        """
    )
    names = proc.stdout.split()
    assert len(names) == 2, proc.stderr
    assert not set(names) & set(list_netns())


def test_cleanup_stale_after_sigkill() -> None:
    netbed.require_netns()
    with NetBed.pair() as live:
        try:
            proc = _run_creator(
                """
                import os, signal, subprocess
                from tests.testbed.netbed import NetBed
                bed = NetBed.star(2)
                quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
                sleeper = bed.receivers[0].popen(["sleep", "30"], **quiet)  # left inside
                print(sleeper.pid, *bed.namespaces, flush=True)
                os.kill(os.getpid(), signal.SIGKILL)
                """
            )
            assert proc.returncode == -signal.SIGKILL
            pid, *names = proc.stdout.split()
            assert len(names) == 4 and set(names) <= set(list_netns())  # killed: left behind
            assert netbed._proc_running(int(pid))
            removed = cleanup_stale()
            assert set(names) <= set(removed)
            assert not set(names) & set(list_netns())
            assert not netbed._proc_running(int(pid))
            # a live bed (its creator is this process) is left alone
            assert set(live.namespaces) <= set(list_netns())
            assert not set(live.namespaces) & set(removed)
        finally:
            cleanup_stale()


def test_no_namespaces_of_ours_left() -> None:
    """Every bed this process built is gone, except a module-scoped one still in use."""
    in_use = {name for bed in netbed._LIVE.values() for name in bed.namespaces}
    ours: set[str] = set()
    if netbed.MARKER_DIR.is_dir():
        for path in netbed.MARKER_DIR.glob("*.json"):
            with contextlib.suppress(OSError, ValueError):
                info = json.loads(path.read_text())
                if info.get("pid") == os.getpid():
                    ours.update(info.get("namespaces", []))
    assert ours <= in_use  # closed beds removed their markers
    leftover = {n for n in list_netns() if n.startswith(netbed.PREFIX)} & ours - in_use
    assert not leftover
