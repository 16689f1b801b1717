"""Compatibility alias: the transports live in :mod:`pgm.net.transport` (see there)."""

from .net.transport import (
    IPPROTO_PGM,
    DatagramTransport,
    RawTransport,
    Transport,
    UdpTransport,
    open_transport,
)

__all__ = [
    "IPPROTO_PGM",
    "DatagramTransport",
    "RawTransport",
    "Transport",
    "UdpTransport",
    "open_transport",
]
