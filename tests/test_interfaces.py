"""Interface resolution: by name, address and index, IPv4 and IPv6, and a helpful error."""

from __future__ import annotations

import pytest

from pgm.interfaces import InterfaceError, list_interfaces, resolve_interface


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
