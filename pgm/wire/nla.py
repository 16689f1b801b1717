"""Network-layer addresses as PGM carries them (RFC 3208 §8: ``AFI(2) | reserved(2) | address``).

AFI 1 is IPv4 (4 address bytes), AFI 2 is IPv6 (16); any other family is refused (OpenPGM
refuses them too).  Addresses are :mod:`ipaddress` objects.
"""

from __future__ import annotations

import struct
from ipaddress import IPv4Address, IPv6Address, ip_address

from .errors import BadAFI, TruncatedPacket

__all__ = ["AFI_IP", "AFI_IP6", "NLA", "as_nla", "decode_nla", "encode_nla", "nla_size"]

AFI_IP = 1
AFI_IP6 = 2

NLA = IPv4Address | IPv6Address

_AFI = struct.Struct(">HH")


def as_nla(value: NLA | str | bytes) -> NLA:
    """Coerce a dotted/colon string, 4/16 packed bytes or an address object to an NLA."""
    if isinstance(value, IPv4Address | IPv6Address):
        return value
    if isinstance(value, bytes) and len(value) not in (4, 16):
        raise BadAFI(f"an NLA needs 4 or 16 address bytes, not {len(value)}")
    try:
        return ip_address(value)
    except ValueError as exc:
        raise BadAFI(f"not an IPv4/IPv6 address: {value!r}") from exc


def nla_size(addr: NLA) -> int:
    """Encoded size of an NLA: 8 for IPv4, 20 for IPv6."""
    return 8 if addr.version == 4 else 20


def encode_nla(addr: NLA) -> bytes:
    """``AFI | reserved | address`` bytes for ``addr``."""
    if addr.version == 4:
        return _AFI.pack(AFI_IP, 0) + addr.packed
    return _AFI.pack(AFI_IP6, 0) + addr.packed


def decode_nla(buf: bytes, off: int, what: str) -> tuple[NLA, int]:
    """Read an NLA at ``off``; return it and the offset just past it."""
    end = len(buf)
    if off + 4 > end:
        raise TruncatedPacket(f"{what}: packet ends inside the NLA header")
    afi = (buf[off] << 8) | buf[off + 1]
    if afi == AFI_IP:
        if off + 8 > end:
            raise TruncatedPacket(f"{what}: packet ends inside an IPv4 NLA")
        return IPv4Address(buf[off + 4 : off + 8]), off + 8
    if afi == AFI_IP6:
        if off + 20 > end:
            raise TruncatedPacket(f"{what}: packet ends inside an IPv6 NLA")
        return IPv6Address(buf[off + 4 : off + 20]), off + 20
    raise BadAFI(f"{what}: address family {afi} is neither 1 (IPv4) nor 2 (IPv6)")
