"""What every PGM transport shares: the :class:`DatagramTransport` protocol the I/O layer
drives, and :class:`Transport`, the base of the raw-IP (:mod:`.raw`) and UDP (:mod:`.udp`)
transports.

Theory of operation
-------------------
A transport owns one socket bound to the session's interface and group.  The base class sizes
the socket buffers (forcing past ``net.core.rmem_max`` / ``wmem_max`` when privileged), sets
the multicast interface, TTL and loopback, joins and leaves groups, and sends one packet or a
flush of them; the subclasses say how to address a packet and how to read a batch.  See
:mod:`pgm.net.transport` for the two kinds and docs/transports.md for the details.
"""

from __future__ import annotations

import contextlib
import errno
import socket
import struct
from collections.abc import Sequence
from ipaddress import IPv6Address, ip_address
from typing import Protocol

from ..interfaces import Interface
from ..wire import NLA

IPPROTO_PGM = 113
MAX_BATCH = 512
"""Most reads of one drain (``recv_batch``): a drain this long means more may be waiting."""
_MAX_BATCH = MAX_BATCH
_BUF = 8 * 1024 * 1024
_RCVBUF = 32 * 1024 * 1024  # receive: bursts of repairs and loss processing (docs/transports.md)

# Linux values where the socket module lacks them
_SO_RCVBUFFORCE = getattr(socket, "SO_RCVBUFFORCE", 33)
_SO_SNDBUFFORCE = getattr(socket, "SO_SNDBUFFORCE", 32)
_IPV6_RECVPKTINFO = getattr(socket, "IPV6_RECVPKTINFO", 49)
_IPV6_PKTINFO = getattr(socket, "IPV6_PKTINFO", 50)


class DatagramTransport(Protocol):
    """What the I/O reactor needs from a transport (a socket, or a wrapper around one)."""

    @property
    def kind(self) -> str:
        """``"raw"`` or ``"udp"``."""
        ...

    @property
    def buffer_warning(self) -> str | None:
        """Set when the kernel refused the socket buffer size asked for (high rates drop)."""
        ...

    @property
    def tx_errors(self) -> int:
        """Datagrams the kernel refused to send (counted, never silent)."""
        ...

    def fileno(self) -> int:
        """The descriptor to wait on for readability."""
        ...

    def send(self, packet: bytes, dst: NLA, ttl: int | None = None) -> None:
        """Send one PGM packet to ``dst``."""
        ...

    def send_all(self, datagrams: Sequence[tuple[bytes, NLA, int | None]]) -> None:
        """Send every ``(packet, dst, ttl)`` of one engine flush, in order."""
        ...

    def recv_batch(self) -> list[tuple[bytes, NLA, NLA | None]]:
        """Everything queued now, as ``(pgm_packet, src, dst)``."""
        ...

    def close(self) -> None:
        """Release the socket."""
        ...


class Transport:
    """Common parts: buffer sizing, address caches, multicast options."""

    sock: socket.socket
    kind = "?"

    def __init__(self, group: NLA, iface: Interface, ttl: int, loop: bool) -> None:
        self.group = group
        self.iface = iface
        self.v6 = isinstance(group, IPv6Address)
        self.family = socket.AF_INET6 if self.v6 else socket.AF_INET
        self.ttl = ttl
        self.loop = loop
        self.buffer_warning: str | None = None
        self._addr_cache: dict[str, NLA] = {}
        self._last_dst: object = None  # one-entry cache: nearly every packet goes to the group
        self._last_addr: tuple[object, ...] = ()
        self._sockaddr: dict[NLA, tuple[object, ...]] = {}
        self.rx_bytes = 0
        self.tx_errors = 0

    # -- setup helpers --------------------------------------------------------------------------
    def _size_buffers(self, rcv: int = _RCVBUF, snd: int = _BUF) -> None:
        """Large buffers: 1 Gbit/s overflows the usual 208 KiB default within milliseconds.
        As root, *BUFFORCE bypasses net.core.rmem_max / wmem_max (docs/transports.md,
        "Socket buffers")."""
        s = self.sock
        for force, plain, name, size in (
            (_SO_RCVBUFFORCE, socket.SO_RCVBUF, "receive", rcv),
            (_SO_SNDBUFFORCE, socket.SO_SNDBUF, "send", snd),
        ):
            try:
                s.setsockopt(socket.SOL_SOCKET, force, size)
            except OSError:
                with contextlib.suppress(OSError):
                    s.setsockopt(socket.SOL_SOCKET, plain, size)
            got = s.getsockopt(socket.SOL_SOCKET, plain)
            if got < size // 2 and name == "receive":
                self.buffer_warning = (
                    f"socket {name} buffer is {got} bytes (wanted {size}); raise "
                    "net.core.rmem_max or run as root for high rates"
                )

    def _multicast_options(self) -> None:
        s = self.sock
        if self.v6:
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, self.iface.index)
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, self.ttl)
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_LOOP, int(self.loop))
        else:
            s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, self.iface.address(4).packed)
            s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, self.ttl)
            s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, int(self.loop))

    def join(self, iface: Interface) -> None:
        """Join the group on ``iface`` (IP_ADD_MEMBERSHIP / IPV6_JOIN_GROUP by index)."""
        self._membership(iface, join=True)

    def leave(self, iface: Interface) -> None:
        """Leave the group on ``iface``."""
        self._membership(iface, join=False)

    def _membership(self, iface: Interface, *, join: bool) -> None:
        if self.v6:
            mreq = self.group.packed + struct.pack("@I", iface.index)
            opt = socket.IPV6_JOIN_GROUP if join else socket.IPV6_LEAVE_GROUP
            self.sock.setsockopt(socket.IPPROTO_IPV6, opt, mreq)
        else:
            mreq = self.group.packed + iface.address(4).packed
            opt = socket.IP_ADD_MEMBERSHIP if join else socket.IP_DROP_MEMBERSHIP
            self.sock.setsockopt(socket.IPPROTO_IP, opt, mreq)

    def _nla(self, text: str) -> NLA:
        a = self._addr_cache.get(text)
        if a is None:
            if len(self._addr_cache) > 4096:
                self._addr_cache.clear()
            a = self._addr_cache[text] = ip_address(text.split("%")[0])
        return a

    def _ttl_once(self, ttl: int) -> None:
        if self.v6:
            self.sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, ttl)
        else:
            self.sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, ttl)

    # -- I/O ---------------------------------------------------------------------------------
    def fileno(self) -> int:
        """The socket's descriptor (for select)."""
        return self.sock.fileno()

    def close(self) -> None:
        """Release the socket."""
        self.sock.close()

    def send(self, packet: bytes, dst: NLA, ttl: int | None = None) -> None:
        """Send one PGM packet to ``dst`` (TTL override for this packet only)."""
        if dst is self._last_dst and ttl is None:
            try:
                self.sock.sendto(packet, self._last_addr)
                return
            except OSError:
                pass  # fall through: the slow path counts or raises
        addr = self._sockaddr.get(dst)
        if addr is None:
            addr = self._sockaddr[dst] = self._sockaddr_for(dst)
        self._last_dst, self._last_addr = dst, addr
        self._sendto(packet, addr, dst, ttl)

    def send_all(self, datagrams: Sequence[tuple[bytes, NLA, int | None]]) -> None:
        """Send every ``(packet, dst, ttl)`` of one engine flush, in order."""
        send = self.send
        for packet, dst, ttl in datagrams:
            send(packet, dst, ttl)

    def _sockaddr_for(self, dst: NLA) -> tuple[object, ...]:
        raise NotImplementedError

    def _addr(self, dst: NLA, port: int) -> tuple[object, ...]:
        if self.v6:
            scope = self.iface.index if (dst.is_link_local or dst.is_multicast) else 0
            return (str(dst), port, 0, scope)
        return (str(dst), port)

    def recv_batch(self) -> list[tuple[bytes, NLA, NLA | None]]:
        """Everything queued on the socket now, as ``(pgm_packet, src, dst)``."""
        raise NotImplementedError

    def _sendto(self, packet: bytes, addr: tuple[object, ...], dst: NLA, ttl: int | None) -> None:
        try:
            if ttl is not None and dst.is_multicast:
                self._ttl_once(ttl)
                try:
                    self.sock.sendto(packet, addr)
                finally:
                    self._ttl_once(self.ttl)
            else:
                self.sock.sendto(packet, addr)
        except BlockingIOError:
            # The send buffer is full: the packet is lost like on a congested link; PGM's
            # NAK/RDATA recovers it.  Counted so it is never silent.
            self.tx_errors += 1
        except OSError as exc:
            if exc.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH, errno.EPERM, errno.ENOBUFS):
                self.tx_errors += 1
            else:
                raise


def check_endpoint(group: NLA, port: int) -> None:
    """ValueError unless ``group`` is a multicast address and ``port`` in 1..65535."""
    if not group.is_multicast:
        raise ValueError(
            f"{group} is not a multicast group address (IPv4 224.0.0.0/4, IPv6 ff00::/8)"
        )
    if not (isinstance(port, int) and 0 < port < 65536):
        raise ValueError(f"port must be in 1..65535, not {port!r}")
