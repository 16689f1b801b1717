"""The checks of ``pgm doctor``: each looks at one thing this host must get right for PGM and
returns :class:`Finding` s in plain words, with the fix.

Theory of operation: a check is a function of the :class:`DoctorPlan` (interface, group, port,
transport, rate) that never raises: what it cannot read it reports as ``info``.  ``level`` is
``ok``, ``info`` (worth knowing, needs nothing), ``warn`` (works, but something will bite —
high rates, other hosts) or ``fail`` (the requested mode will not work here).  ``needed`` says
whether the finding concerns the mode asked for; ``pgm doctor`` exits 0 unless a needed
finding failed.  The live self-test opens a real source and receiver on the loopback interface
(TTL 0: nothing leaves the host) for UDP and, when permitted, raw IP.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from enum import Enum
from ipaddress import IPv4Address, IPv6Address

from ..interfaces import Interface

__all__ = ["DoctorPlan", "Finding", "Level", "all_checks", "self_test"]

_BUF_WANTED = 8 * 1024 * 1024  # what pgm.net.transport asks for


class Level(Enum):
    """How a finding weighs."""

    OK = "ok"
    INFO = "info"
    WARN = "warn"
    FAIL = "fail"


@dataclass(frozen=True)
class Finding:
    """One thing checked: what was found, in words, and what to do about it."""

    check: str
    level: Level
    text: str
    fix: str = ""
    needed: bool = True
    """Whether it concerns the requested mode (a needed failure makes the exit status 1)."""


@dataclass(frozen=True)
class DoctorPlan:
    """What the user wants to run."""

    iface: Interface
    group: IPv4Address | IPv6Address
    port: int
    transport: str
    rate_bps: int
    self_test: bool


def _read(path: str) -> str | None:
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return None


def check_interface(p: DoctorPlan) -> list[Finding]:
    """Up, multicast-capable, its MTU and addresses."""
    from ..interfaces import IFF_LOOPBACK, IFF_MULTICAST, IFF_UP, interface_flags, interface_mtu

    i = p.iface
    addrs = ", ".join(str(a) for a in (*i.ipv4, *i.ipv6)) or "no address"
    out = [Finding("interface", Level.OK, f"{i.name} (index {i.index}): {addrs}")]
    f = interface_flags(i.name)
    if f is None:
        out.append(Finding("interface", Level.INFO, "flags unknown (no /sys/class/net here)"))
    else:
        if not f & IFF_UP:
            out.append(
                Finding("interface", Level.FAIL, f"{i.name} is down", f"ip link set {i.name} up")
            )
        if not f & IFF_MULTICAST and not f & IFF_LOOPBACK:
            out.append(
                Finding(
                    "interface",
                    Level.FAIL,
                    f"{i.name} has no MULTICAST flag: the kernel will not send multicast on it",
                    f"ip link set {i.name} multicast on",
                )
            )
        if f & IFF_LOOPBACK:
            out.append(Finding("interface", Level.INFO, f"{i.name} is loopback: this host only"))
    mtu = interface_mtu(i.name)
    if mtu is not None:
        level = Level.OK if mtu >= 1280 else Level.WARN
        out.append(
            Finding(
                "interface",
                level,
                f"MTU {mtu}" + ("" if level is Level.OK else ": small; PGM packets will be too"),
                "" if level is Level.OK else f"ip link set {i.name} mtu 1500",
            )
        )
    if not (i.ipv6 if p.group.version == 6 else i.ipv4):
        out.append(
            Finding(
                "interface",
                Level.FAIL,
                f"{i.name} has no IPv{p.group.version} address for group {p.group}",
                "pick another --iface (pgm ifaces lists them) or a group of the other family",
            )
        )
    return out


def check_route(p: DoctorPlan) -> list[Finding]:
    """Whether the routing table has a way to the group (pgm names the interface itself, so
    only other programs need it)."""
    fam = socket.AF_INET6 if p.group.version == 6 else socket.AF_INET
    try:
        with socket.socket(fam, socket.SOCK_DGRAM) as s:
            s.connect((str(p.group), p.port))
            via = s.getsockname()[0]
        return [Finding("route", Level.OK, f"a route to {p.group} exists (from {via})")]
    except OSError as exc:
        prefix = "ff00::/8" if p.group.version == 6 else "224.0.0.0/4"
        return [
            Finding(
                "route",
                Level.INFO,
                f"no route to {p.group} ({exc.strerror}); pgm sets the interface itself, so "
                "it works, but programs that rely on the routing table will not",
                f"ip route add {prefix} dev {p.iface.name}",
                needed=False,
            )
        ]


def check_privilege(p: DoctorPlan) -> list[Finding]:
    """Raw IP protocol 113 needs root or CAP_NET_RAW."""
    from ..interfaces import raw_sockets_permitted

    if raw_sockets_permitted():
        return [Finding("privilege", Level.OK, "raw PGM sockets (IP protocol 113) permitted",
                        needed=p.transport == "raw")]  # fmt: skip
    return [
        Finding(
            "privilege",
            Level.FAIL if p.transport == "raw" else Level.INFO,
            "raw PGM sockets (IP protocol 113) are not permitted to this process",
            "run as root (sudo .venv/bin/pgm ...), grant CAP_NET_RAW "
            "(setcap cap_net_raw+ep on the interpreter), or use --transport udp",
            needed=p.transport == "raw",
        )
    ]


def check_buffers(p: DoctorPlan) -> list[Finding]:
    """net.core.rmem_max / wmem_max against what the rate needs (root bypasses them)."""
    want = min(_BUF_WANTED, max(256 * 1024, p.rate_bps // 8 // 4))  # a quarter second
    out = []
    root = hasattr(os, "geteuid") and os.geteuid() == 0
    for key in ("rmem_max", "wmem_max"):
        text = _read(f"/proc/sys/net/core/{key}")
        if text is None or not text.isdigit():
            out.append(Finding("buffers", Level.INFO, f"net.core.{key} unreadable"))
            continue
        have = int(text)
        if have >= want or root:
            why = " (root: pgm forces its 8 MiB anyway)" if root and have < want else ""
            out.append(Finding("buffers", Level.OK, f"net.core.{key} = {have}{why}"))
        else:
            out.append(
                Finding(
                    "buffers",
                    Level.WARN,
                    f"net.core.{key} = {have}: below the {want} bytes "
                    f"{p.rate_bps / 1e6:g} Mbit/s needs; bursts will be dropped and repaired",
                    f"sysctl -w net.core.{key}={_BUF_WANTED}",
                )
            )
    return out


def _ruleset() -> tuple[str, str] | None:
    for argv in (["nft", "list", "ruleset"], ["iptables-save"], ["ip6tables-save"]):
        if shutil.which(argv[0]) is None:
            continue
        try:
            r = subprocess.run(argv, capture_output=True, text=True, timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if r.returncode == 0 and r.stdout.strip():
            return argv[0], r.stdout
    return None


def check_firewall(p: DoctorPlan) -> list[Finding]:
    """Rules that would drop IP protocol 113 or the UDP port, if they can be read."""
    got = _ruleset()
    if got is None:
        return [Finding("firewall", Level.INFO, "no firewall rules readable (none, or not root)",
                        needed=False)]  # fmt: skip
    tool, text = got
    port = str(p.port)
    hits = []
    for line in text.splitlines():
        low = line.lower()
        if not any(w in low for w in ("drop", "reject")):
            continue
        raw_rule = p.transport == "raw" and any(w in low for w in (" 113", "pgm"))
        udp_rule = p.transport == "udp" and "udp" in low and port in low.split()
        if raw_rule or udp_rule or ("policy drop" in low and "input" in low):
            hits.append(line.strip())
    if not hits:
        return [Finding("firewall", Level.OK, f"no {tool} rule drops PGM here")]
    what = "IP protocol 113" if p.transport == "raw" else f"UDP port {p.port}"
    return [
        Finding(
            "firewall",
            Level.WARN,
            f"{tool} rules may drop {what}: " + "; ".join(hits[:3]),
            "allow it, e.g. nft add rule inet filter input ip protocol 113 accept"
            if p.transport == "raw"
            else f"allow it, e.g. nft add rule inet filter input udp dport {p.port} accept",
        )
    ]


def check_loopback(p: DoctorPlan) -> list[Finding]:
    """Multicast sent on the interface comes back to this host (what same-host receivers and
    the demo need)."""
    from ..interfaces import probe_multicast

    if p.group.version != 4 or not p.iface.ipv4:
        return [Finding("loopback", Level.INFO, "multicast loopback probed for IPv4 only",
                        needed=False)]  # fmt: skip
    why = probe_multicast(p.iface, IPv4Address("239.255.77.77"))
    if why is None:
        return [Finding("loopback", Level.OK, f"multicast on {p.iface.name} loops back here")]
    return [
        Finding(
            "loopback",
            Level.WARN,
            f"multicast on {p.iface.name} does not come back to this host ({why}): receivers "
            "on this host will not hear sources on it",
            "check the interface's MULTICAST flag, or use lo for same-host tests",
            needed=False,
        )
    ]


def self_test(transport: str, timeout: float = 10.0) -> Finding:
    """A source and a receiver on the loopback interface (TTL 0): 20 messages and OPT_FIN."""
    from ..engine import DataReceived, SessionEnded, SourceConfig
    from ..io import PgmReceiver, PgmSender

    group, port = "239.255.77.78", 40000 + os.getpid() % 20000
    name = f"self-test ({transport})"
    try:
        with PgmReceiver(group, port, iface="127.0.0.1", transport=transport) as rx:
            cfg = SourceConfig(linger_secs=0.5)
            tx = PgmSender(group, port, iface="127.0.0.1", transport=transport, config=cfg, ttl=0)
            sent = [b"doctor %d" % i for i in range(20)]
            tx.send_many(sent)
            tx.shutdown()
            got: list[bytes] = []
            ended = None
            end = time.monotonic() + timeout
            while ended is None and time.monotonic() < end:
                for e in rx.next_events(0.2):
                    if isinstance(e, DataReceived):
                        got.append(e.data)
                    elif isinstance(e, SessionEnded):
                        ended = e.reason
            tx.close()
    except OSError as exc:
        return Finding(name, Level.FAIL, f"could not open the sockets: {exc}",
                       "see the privilege and interface findings")  # fmt: skip
    if got == sent and ended == "fin":
        return Finding(name, Level.OK, "a source and a receiver on lo: 20 messages, OPT_FIN")
    return Finding(
        name,
        Level.FAIL,
        f"a source and a receiver on lo: {len(got)} of 20 messages, end {ended or 'none'}",
        "run pgm -v doctor for the library's log; check the loopback finding",
    )


def all_checks(p: DoctorPlan) -> list[Finding]:
    """Every finding, in the order they are printed."""
    from ..interfaces import raw_sockets_permitted

    out: list[Finding] = []
    for check in (check_interface, check_route, check_privilege, check_buffers, check_firewall,
                  check_loopback):  # fmt: skip
        try:
            out += check(p)
        except Exception as exc:  # a check must never stop the others
            out.append(Finding(check.__name__, Level.INFO, f"could not check: {exc}"))
    if p.self_test:
        out.append(self_test("udp"))
        if raw_sockets_permitted():
            out.append(self_test("raw"))
        else:
            out.append(Finding("self-test (raw)", Level.INFO, "skipped: no raw socket privilege",
                               needed=p.transport == "raw"))  # fmt: skip
    needed = [f for f in out if f.check.startswith("self-test")]
    for f in needed:
        if f.check != f"self-test ({p.transport})" and f.level is Level.FAIL:
            out[out.index(f)] = Finding(f.check, f.level, f.text, f.fix, needed=False)
    return out
