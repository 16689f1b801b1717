"""Network interfaces: name, index and addresses, found with ``ifaddr`` (works on Linux, macOS
and Windows without root), and probes of what this host lets us do with them.

:func:`resolve_interface` accepts what a user types — an interface name (``eth0``), one of its
addresses (``10.0.0.1``, ``fd00::1``) or its index (``2``) — and says which interfaces exist
when nothing matches.

The probes answer questions before a command commits to a plan, without raising:

* :func:`raw_sockets_permitted` — may this process open a raw IP protocol 113 socket (root or
  CAP_NET_RAW)?  Used to choose between raw IP and UDP encapsulation.
* :func:`interface_flags` — the Linux interface flags (up, loopback, multicast) from ``/sys``;
  :func:`interface_mtu` its MTU.
* :func:`local_multicast_candidates` — interfaces that may carry multicast back to this host,
  best first; :func:`probe_multicast` then proves one does by looping a TTL 0 datagram back.
"""

from __future__ import annotations

import os
import select
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address, ip_address

from .wire import NLA

__all__ = [
    "IFF_LOOPBACK",
    "IFF_MULTICAST",
    "IFF_UP",
    "Interface",
    "InterfaceError",
    "interface_flags",
    "interface_mtu",
    "list_interfaces",
    "local_multicast_candidates",
    "probe_multicast",
    "raw_sockets_permitted",
    "resolve_interface",
]

# Linux interface flags (/sys/class/net/IF/flags, <linux/if.h>)
IFF_UP = 0x1
IFF_LOOPBACK = 0x8
IFF_MULTICAST = 0x1000

_IPPROTO_PGM = 113  # PGM's IP protocol number (as transport.IPPROTO_PGM, which imports us)


class InterfaceError(ValueError):
    """No interface matches what was asked for (the message lists the ones that exist)."""


@dataclass(frozen=True)
class Interface:
    """One network interface."""

    name: str
    """Kernel name (``eth0``)."""
    index: int
    """Interface index (for IPv6 multicast and ``ip_mreqn``)."""
    ipv4: tuple[IPv4Address, ...]
    """Its IPv4 addresses."""
    ipv6: tuple[IPv6Address, ...]
    """Its IPv6 addresses (global/ULA first, link-local last)."""

    def address(self, version: int) -> NLA:
        """The address to use as this host's NLA for ``version`` 4 or 6."""
        addrs: tuple[NLA, ...] = self.ipv4 if version == 4 else self.ipv6
        if not addrs:
            raise InterfaceError(f"interface {self.name} has no IPv{version} address")
        return addrs[0]

    def __str__(self) -> str:
        addrs = ", ".join(str(a) for a in (*self.ipv4, *self.ipv6)) or "no address"
        return f"{self.name} (index {self.index}: {addrs})"


def list_interfaces() -> list[Interface]:
    """Every interface ``ifaddr`` reports, in index order."""
    import ifaddr  # imported lazily: only socket-using code needs it

    out = []
    for a in ifaddr.get_adapters():
        v4: list[IPv4Address] = []
        v6: list[IPv6Address] = []
        for ip in a.ips:
            if isinstance(ip.ip, tuple):  # IPv6: (address, flowinfo, scope_id)
                v6.append(IPv6Address(ip.ip[0].split("%")[0]))
            else:
                v4.append(IPv4Address(ip.ip))
        v6.sort(key=lambda x: x.is_link_local)
        index = getattr(a, "index", None)
        out.append(
            Interface(str(a.name), int(index) if index is not None else 0, tuple(v4), tuple(v6))
        )
    out.sort(key=lambda i: i.index)
    return out


def resolve_interface(spec: str | int | None, version: int = 4) -> Interface:
    """Find an interface by name, address or index; ``None`` picks a default.

    The default is the first interface that is not loopback and has an address of ``version``
    (falling back to loopback).  Raises :class:`InterfaceError` naming the available
    interfaces when nothing matches.
    """
    ifaces = list_interfaces()

    def has(i: Interface) -> bool:
        return bool(i.ipv4 if version == 4 else i.ipv6)

    if spec is None or spec == "":
        for i in ifaces:
            addr = i.ipv4[0] if version == 4 and i.ipv4 else (i.ipv6[0] if i.ipv6 else None)
            if has(i) and addr is not None and not addr.is_loopback:
                return i
        for i in ifaces:
            if has(i):
                return i
        raise InterfaceError(f"no interface has an IPv{version} address; {_available(ifaces)}")
    if isinstance(spec, int) or (isinstance(spec, str) and spec.isdigit()):
        idx = int(spec)
        for i in ifaces:
            if i.index == idx:
                return i
        raise InterfaceError(f"no interface with index {idx}; {_available(ifaces)}")
    for i in ifaces:
        if i.name == spec:
            return i
    try:
        addr = ip_address(spec.split("%")[0])
    except ValueError:
        raise InterfaceError(f"no interface named {spec!r}; {_available(ifaces)}") from None
    for i in ifaces:
        if addr in i.ipv4 or addr in i.ipv6:
            return i
    raise InterfaceError(f"no interface has address {addr}; {_available(ifaces)}")


def _available(ifaces: list[Interface]) -> str:
    return "available: " + ("; ".join(str(i) for i in ifaces) or "none")


# -- probes -----------------------------------------------------------------------------------


def raw_sockets_permitted() -> bool:
    """Whether this process may open a raw IPv4 socket for PGM (IP protocol 113)."""
    try:
        socket.socket(socket.AF_INET, socket.SOCK_RAW, _IPPROTO_PGM).close()
    except OSError:  # PermissionError without root / CAP_NET_RAW, others where unsupported
        return False
    return True


def interface_flags(name: str) -> int | None:
    """Linux interface flags from /sys (None where unavailable)."""
    try:
        with open(f"/sys/class/net/{name}/flags") as f:
            return int(f.read().strip(), 16)
    except (OSError, ValueError):
        return None


def interface_mtu(name: str) -> int | None:
    """The interface's MTU from Linux's /sys (None where unavailable)."""
    try:
        with open(f"/sys/class/net/{name}/mtu") as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


def local_multicast_candidates(
    ifaces: Sequence[Interface], flags: Callable[[str], int | None] = interface_flags
) -> list[Interface]:
    """Interfaces worth trying for multicast that stays on this host, best first: loopback
    (nothing can leave the host there, whatever its flags say: the probe decides), then
    interfaces that are up and have the MULTICAST flag (flags unknown: any with an IPv4
    address)."""
    first: list[Interface] = []
    rest: list[Interface] = []
    for i in ifaces:
        if not i.ipv4:
            continue
        if i.ipv4[0].is_loopback:
            first.append(i)
            continue
        f = flags(i.name)
        if f is None or (f & IFF_UP and f & IFF_MULTICAST and not f & IFF_LOOPBACK):
            rest.append(i)
    return first + rest


def probe_multicast(iface: Interface, group: IPv4Address, timeout: float = 0.3) -> str | None:
    """Send one UDP datagram to ``group`` with TTL 0 on ``iface`` and loop it back to
    ourselves; None if it arrived, else why not."""
    addr = iface.address(4).packed
    token = os.urandom(16)
    try:
        with (
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as r,
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s,
        ):
            r.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            r.bind(("", 0))
            port = r.getsockname()[1]
            r.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, group.packed + addr)
            s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, addr)
            s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 0)
            s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 1)
            end = time.monotonic() + timeout
            for _ in range(2):
                s.sendto(token, (str(group), port))
                while (left := end - time.monotonic()) > 0:
                    if not select.select([r], [], [], left)[0]:
                        break
                    if r.recv(64) == token:
                        return None
            return "no multicast came back"
    except OSError as exc:
        return exc.strerror or str(exc)
