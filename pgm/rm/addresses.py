"""IPv4 addresses as the facade takes them, with Winsock errors for bad ones.

Theory of operation: Windows' PGM provider is IPv4 only; an address is a dotted string (``""``
meaning INADDR_ANY) or an :class:`~ipaddress.IPv4Address`, and a socket address a
``(host, port)`` tuple as :mod:`socket` takes it.  Anything else is WSAEINVAL (a wrong shape of
socket address is a TypeError, as with :mod:`socket`).
"""

from __future__ import annotations

from ipaddress import IPv4Address
from typing import Any

from .errors import rm_error

__all__ = ["ipv4", "socket_address"]


def ipv4(value: Any, what: str) -> IPv4Address:
    """``value`` as an IPv4 address (``""`` is 0.0.0.0), else WSAEINVAL naming ``what``."""
    try:
        return IPv4Address("0.0.0.0" if value == "" else value)
    except (ValueError, TypeError):
        raise rm_error("WSAEINVAL", f"{what}: {value!r} is not an IPv4 address") from None


def socket_address(address: Any, what: str) -> tuple[IPv4Address, int]:
    """An AF_INET ``(host, port)`` tuple, checked."""
    if not isinstance(address, tuple) or len(address) != 2:
        raise TypeError(f"{what}: AF_INET address must be a tuple (host, port), not {address!r}")
    host, port = address
    if not isinstance(port, int) or not 0 <= port <= 0xFFFF:
        raise rm_error("WSAEINVAL", f"{what}: port must be 0..65535, not {port!r}")
    return ipv4(host, what), port
