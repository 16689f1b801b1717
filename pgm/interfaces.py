"""Network interfaces: name, index and addresses, found with ``ifaddr`` (works on Linux, macOS
and Windows without root).

:func:`resolve_interface` accepts what a user types — an interface name (``eth0``), one of its
addresses (``10.0.0.1``, ``fd00::1``) or its index (``2``) — and says which interfaces exist
when nothing matches.
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address, ip_address

from .wire import NLA

__all__ = ["Interface", "InterfaceError", "list_interfaces", "resolve_interface"]


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
