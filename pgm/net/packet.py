"""AF_PACKET transmit of raw PGM/IPv4 multicast with a cached Ethernet + IPv4 header (issue 17).

Theory of operation
-------------------
A raw IP socket costs a route lookup, an IP header build and the netfilter output path per
``sendto``; an ``AF_PACKET`` socket bound to the interface takes a finished Ethernet frame.
:class:`PacketSender` keeps the frame's constant parts — the multicast MAC of the group
(``01:00:5e`` + its low 23 bits, RFC 1112 §6.4), the interface's MAC, EtherType 0x0800, and the
IPv4 header's fixed words with their one's complement sum — so each packet costs its total
length, an identification number and a header checksum finished from that sum.

:func:`open_packet_sender` opens one only where it is safe: IPv4 multicast from a source on an
Ethernet-like interface (``SIOCGIFHWADDR``: ARPHRD_ETHER) with multicast loopback off — frames
sent this way never reach the host's own receivers — and returns None otherwise (or when the
socket cannot be opened), so the raw socket carries everything as before.  The raw socket
stays for NAKs, unicast, TTL overrides, loopback and fallback (:class:`pgm.net.transport.
RawTransport`).  Packets lost to a full device queue are counted by the transport like any
send error.
"""

from __future__ import annotations

import errno
import socket
import struct
from ipaddress import IPv4Address

from ..interfaces import Interface, InterfaceError

__all__ = ["PacketSender", "open_packet_sender"]

_ETH_P_IP = 0x0800
_ARPHRD_ETHER = 1
_SIOCGIFHWADDR = 0x8927
_IPPROTO_PGM = 113
_VARYING = struct.Struct("!HHHBBH")  # total length, id, flags/fragment, TTL, protocol, checksum


def _hwaddr(name: str) -> bytes | None:
    """The interface's MAC if it is Ethernet-like (ARPHRD_ETHER), else None; asked of the
    kernel (SIOCGIFHWADDR) in the caller's network namespace (/sys may show another)."""
    try:
        import fcntl

        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            req = struct.pack("16s16x", name.encode()[:15])
            res = fcntl.ioctl(s.fileno(), _SIOCGIFHWADDR, req)
    except (OSError, ImportError, ValueError):
        return None
    family = struct.unpack_from("=H", res, 16)[0]
    mac = res[18:24]
    return mac if family == _ARPHRD_ETHER and any(mac) else None


def _sum16(data: bytes) -> int:
    return sum(struct.unpack(f"!{len(data) // 2}H", data))


class PacketSender:
    """Sends PGM packets to one IPv4 group as Ethernet frames (see the module docstring)."""

    def __init__(
        self, sock: socket.socket, src: IPv4Address, group: IPv4Address, mac: bytes, ttl: int
    ) -> None:
        self.sock = sock
        g = group.packed
        dst_mac = bytes((0x01, 0x00, 0x5E, g[1] & 0x7F, g[2], g[3]))
        self._prefix = dst_mac + mac + struct.pack("!HBB", _ETH_P_IP, 0x45, 0)
        self._addrs = src.packed + g
        self._ttl = ttl
        # Sum of the header's fixed words: version/IHL/TOS, flags, TTL/protocol, addresses.
        self._base = 0x4500 + (ttl << 8 | _IPPROTO_PGM) + _sum16(self._addrs)
        self._id = 0
        self.sent = 0
        """Frames handed to the device."""
        self.failed: str | None = None
        """Why it stopped (the raw socket took over), if it did."""

    def send(self, packet: bytes) -> None:
        """One PGM packet in a frame (raises OSError as ``send`` does)."""
        n = 20 + len(packet)
        ident = self._id = (self._id + 1) & 0xFFFF
        s = self._base + n + ident
        s = (s & 0xFFFF) + (s >> 16)
        s = (s & 0xFFFF) + (s >> 16)
        hdr = _VARYING.pack(n, ident, 0, self._ttl, _IPPROTO_PGM, ~s & 0xFFFF)
        self.sock.send(b"".join((self._prefix, hdr, self._addrs, packet)))
        self.sent += 1

    def try_send(self, packet: bytes) -> int:
        """Send ``packet``: 1 if it went, 0 if it was lost to a full queue (count it), -1 if
        this socket cannot send (closed now: use the raw socket from here on)."""
        try:
            self.send(packet)
            return 1
        except BlockingIOError:
            return 0
        except OSError as exc:
            if exc.errno in (errno.ENOBUFS, errno.ENETDOWN, errno.ENXIO):
                return 0
            self.failed = f"AF_PACKET send failed: {exc.strerror}"
            self.close()
            return -1

    def close(self) -> None:
        """Release the socket."""
        self.sock.close()


def open_packet_sender(
    group: object, iface: Interface, ttl: int, loop: bool, sndbuf: int
) -> PacketSender | None:
    """A :class:`PacketSender` for ``group`` on ``iface`` where safe, else None."""
    if loop or not isinstance(group, IPv4Address) or not hasattr(socket, "AF_PACKET"):
        return None
    mac = _hwaddr(iface.name)
    if mac is None:
        return None
    try:
        src = iface.address(4)
    except InterfaceError:
        return None
    if not isinstance(src, IPv4Address):
        return None
    try:
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(_ETH_P_IP))
    except OSError:
        return None
    try:
        sock.bind((iface.name, _ETH_P_IP))
        try:
            sock.setsockopt(socket.SOL_SOCKET, getattr(socket, "SO_SNDBUFFORCE", 32), sndbuf)
        except OSError:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, sndbuf)
        sock.setblocking(False)
    except OSError:
        sock.close()
        return None
    return PacketSender(sock, src, group, mac, ttl)
