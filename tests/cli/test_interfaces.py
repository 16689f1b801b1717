"""Interface resolution: by name, address and index, IPv4 and IPv6, and a helpful error; the
probes the demo chooses its interface and transport with."""

from __future__ import annotations

import os
from ipaddress import IPv4Address

import pytest

from pgm.interfaces import (
    IFF_LOOPBACK,
    Interface,
    InterfaceError,
    interface_flags,
    list_interfaces,
    local_multicast_candidates,
    probe_multicast,
    raw_sockets_permitted,
    resolve_interface,
)


def _loopback():  # type: ignore[no-untyped-def]
    for i in list_interfaces():
        if any(a.is_loopback for a in i.ipv4):
            return i
    pytest.skip("no IPv4 loopback interface on this machine")


def test_by_name_address_and_index() -> None:
    lo = _loopback()
    assert resolve_interface(lo.name).index == lo.index
    assert resolve_interface(str(lo.ipv4[0])).name == lo.name
    assert resolve_interface(lo.index).name == lo.name
    assert resolve_interface(str(lo.index)).name == lo.name
    assert lo.address(4) == lo.ipv4[0]


def test_ipv6_address_and_default() -> None:
    with_v6 = [i for i in list_interfaces() if i.ipv6]
    if with_v6:
        i = with_v6[0]
        assert resolve_interface(str(i.ipv6[0]), 6).name == i.name
        assert i.address(6) == i.ipv6[0]
    default = resolve_interface(None, 4)
    assert default.ipv4  # has an address of the family asked for


def test_unknown_interface_names_the_available_ones() -> None:
    lo = _loopback()
    for bad in ("no-such-if0", "203.0.113.77", "65000"):
        with pytest.raises(InterfaceError) as info:
            resolve_interface(bad)
        msg = str(info.value)
        assert "available:" in msg and lo.name in msg and str(lo.ipv4[0]) in msg
    with pytest.raises(InterfaceError):
        lo.address(6) if not lo.ipv6 else resolve_interface("fe80::dead:beef:1")


# -- probes --------------------------------------------------------------------------------------


def iface(name: str, addr: str, index: int) -> Interface:
    return Interface(name, index, (IPv4Address(addr),), ())


def test_local_multicast_candidates_loopback_first_then_multicast_up() -> None:
    ifaces = [
        iface("eth0", "192.0.2.1", 2),
        iface("lo", "127.0.0.1", 1),
        iface("down0", "192.0.2.9", 3),
        iface("nomc0", "192.0.2.10", 4),
        Interface("v6only", 5, (), ()),
    ]
    flags = {"eth0": 0x1003, "lo": 0x9, "down0": 0x1002, "nomc0": 0x3}
    got = local_multicast_candidates(ifaces, flags.get)
    assert [i.name for i in got] == ["lo", "eth0"]
    # flags unknown (not Linux): every interface with an IPv4 address, loopback first
    got = local_multicast_candidates(ifaces, lambda name: None)
    assert [i.name for i in got] == ["lo", "eth0", "down0", "nomc0"]


def test_interface_flags() -> None:
    lo = _loopback()
    flags = interface_flags(lo.name)
    if flags is None:
        pytest.skip("no /sys/class/net on this machine")
    assert flags & IFF_LOOPBACK
    assert interface_flags("no-such-if0") is None


def test_raw_sockets_permitted_as_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root")
    assert raw_sockets_permitted()


def test_probe_multicast_says_why_not() -> None:
    """An unjoinable 'group' (not multicast) fails with a reason, not an exception."""
    lo = _loopback()
    assert isinstance(probe_multicast(lo, IPv4Address("192.0.2.1"), timeout=0.05), str)
