"""Endpoint spellings of OpenPGM and ZeroMQ: interface + group (+ port, + transport) in one string.

Theory of operation: :func:`parse_endpoint` reads what users of the two bring along —

* a plain group address: ``239.192.0.1``, ``ff08::1``;
* OpenPGM's network string ``INTERFACES;RECEIVE-GROUPS[;SEND-GROUP]`` (``pgm_getaddrinfo``):
  ``eth0;239.192.0.1``, ``;239.192.0.1`` (default interface), ``eth0,eth1;ff08::1``;
  one group (a send group, when given, must be that group);
* ZeroMQ's endpoints ``pgm://NETWORK:PORT`` (raw IP, protocol 113) and ``epgm://NETWORK:PORT``
  (UDP encapsulation), NETWORK being the network string above; an IPv6 group may be written in
  brackets (``epgm://eth0;[ff08::1]:7500``) or bare (the last colon starts the port).

— into an :class:`Endpoint`: the group, the interfaces named (empty: the default), and the port
and transport when the spelling carries them (None otherwise).  Anything else is a ValueError
whose message shows the accepted forms.  Interfaces are not looked up here: that is
:func:`pgm.interfaces.resolve_interface`'s job, with its own message listing what exists.
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv6Address, ip_address
from typing import NamedTuple

__all__ = ["Endpoint", "parse_endpoint"]

_FORMS = (
    "a multicast group (239.192.0.1), OpenPGM's 'eth0;239.192.0.1', or ZeroMQ's "
    "'epgm://eth0;239.192.0.1:7500' / 'pgm://eth0;239.192.0.1:7500'"
)
_SCHEMES = {"pgm": "raw", "epgm": "udp"}


class Endpoint(NamedTuple):
    """What an endpoint spelling says."""

    group: IPv4Address | IPv6Address
    """The multicast group."""
    ifaces: tuple[str, ...] = ()
    """The interfaces named (names, addresses or indexes; empty: the default)."""
    port: int | None = None
    """The port (ZeroMQ endpoints), else None."""
    transport: str | None = None
    """``"raw"`` (``pgm://``), ``"udp"`` (``epgm://``) or None."""


def _group(text: str, whole: str) -> IPv4Address | IPv6Address:
    t = text.strip()
    if t.startswith("[") and t.endswith("]"):
        t = t[1:-1]
    try:
        addr = ip_address(t)
    except ValueError:
        raise ValueError(f"not an IP address: {text!r} in {whole!r}; use {_FORMS}") from None
    if not addr.is_multicast:
        raise ValueError(
            f"{addr} is not a multicast group address (IPv4 224.0.0.0/4, IPv6 ff00::/8)"
        )
    return addr


def _network(text: str, whole: str) -> tuple[IPv4Address | IPv6Address, tuple[str, ...]]:
    """OpenPGM's ``INTERFACES;RECEIVE-GROUPS[;SEND-GROUP]``."""
    parts = text.split(";")
    if len(parts) not in (2, 3):
        raise ValueError(f"not an endpoint: {whole!r}; use {_FORMS}")
    ifaces = tuple(i.strip() for i in parts[0].split(",") if i.strip())
    groups = [g for g in parts[1].split(",") if g.strip()]
    if len(groups) != 1:
        raise ValueError(f"one receive group, please, not {len(groups)}, in {whole!r}")
    group = _group(groups[0], whole)
    if len(parts) == 3 and parts[2].strip() and _group(parts[2], whole) != group:
        raise ValueError(f"the send group must be the receive group in {whole!r}")
    return group, ifaces


def _split_port(rest: str, whole: str) -> tuple[str, int]:
    """``NETWORK:PORT`` -> (NETWORK, PORT): the last colon, after an optional ``]``."""
    head, sep, port_text = rest.rpartition(":")
    if not sep or not port_text.isdigit():
        raise ValueError(f"no port in {whole!r}: ZeroMQ endpoints end in :PORT")
    port = int(port_text)
    if not 0 < port < 65536:
        raise ValueError(f"port must be in 1..65535, not {port} in {whole!r}")
    return head, port


def parse_endpoint(text: str) -> Endpoint:
    """Read a group, OpenPGM network string or ZeroMQ endpoint (see the module docstring)."""
    whole = text
    scheme, sep, rest = text.partition("://")
    if sep:
        transport = _SCHEMES.get(scheme.lower())
        if transport is None:
            raise ValueError(f"unknown scheme {scheme!r}: pgm:// (raw IP) or epgm:// (UDP)")
        network, port = _split_port(rest, whole)
        if ";" not in network:
            network = ";" + network
        group, ifaces = _network(network, whole)
        return Endpoint(group, ifaces, port, transport)
    if ";" in text:
        group, ifaces = _network(text, whole)
        return Endpoint(group, ifaces)
    return Endpoint(_group(text, whole))
