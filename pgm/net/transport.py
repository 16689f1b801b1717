"""Sockets that carry PGM packets: raw IP protocol 113 and UDP encapsulation.

Theory of operation
-------------------
Both present the same small interface to the I/O reactor (:mod:`pgm.io`), stated as the
:class:`DatagramTransport` protocol: ``send(packet, dst, ttl)``, ``send_all(datagrams)`` (one
engine flush), ``recv_batch()`` (drain the socket until it would block, returning ``(packet,
src, dst)`` tuples with the PGM packet starting at its header), ``fileno()`` and ``close()``.
Wrappers with the same interface change what passes through without touching the reactor:
:class:`pgm.net.lossy.LossyTransport` drops received data packets at random (simulated loss).

**Raw IP** (RFC 3208 as specified): ``socket(AF_INET[6], SOCK_RAW, 113)``.  One raw socket sees
every protocol-113 packet for the host, so the engine filters on group, port and TSI.  IPv4 raw
sockets deliver the IP header (we read source and destination from it); IPv6 ones do not, so the
destination comes from ``IPV6_PKTINFO``.  Needs root or CAP_NET_RAW.

A raw IPv4 source on an Ethernet-like interface with multicast loopback off also opens an
``AF_PACKET`` socket (:mod:`.packet`) and sends its multicast as finished Ethernet frames with a
cached link + IPv4 header; NAKs, unicast, TTL overrides and any failure use the raw socket.

**UDP encapsulation** (OpenPGM/ZeroMQ ``epgm``; docs/transports.md): the PGM packet is the UDP
payload.  Multicast goes to group:port; NAKs and unicast SPMRs go to the SPM path NLA at the
*same* port (OpenPGM with ucast port = mcast port, as ZeroMQ configures it).  Receivers bind the
group address, the source binds the wildcard address: that way, on one host, unicast NAKs reach
the source's socket and never a receiver's — the shared-port pitfall of OpenPGM/ZeroMQ (libzmq
#104).  Several sources on one host must use different ports: with two on one port, unicast NAKs
reach only one of them and the other's receivers lose data.  On Linux the second is refused —
each UDP source holds an abstract Unix socket named after its port (per network namespace,
released when the process ends), and a second source on the port fails with EADDRINUSE and a
message that names the fix.  Link-scope IPv6 groups (``ff02::/16``, ``ff12::/16``,
interface-local ``ff01::``) are bound with the interface's scope id.  No privilege needed.

**Batched UDP** (Linux >= 4.18): :meth:`UdpTransport.send_all` hands the kernel runs of
same-size packets to one destination as one ``sendmsg`` with ``UDP_SEGMENT`` (generic
segmentation offload: up to 64 packets, 64 KiB, one syscall), each still its own UDP datagram
on the wire; a run ends at a shorter packet, another destination or a TTL override.  Support is
probed once at open, and the first send the kernel refuses turns it off for the socket (plain
sends from then on, :attr:`UdpTransport.gso_fallback` says why).  The batches are what one
engine flush released under its token bucket, so the rate on the wire is the engine's.
Receivers ask for ``UDP_GRO``: the kernel hands back runs of datagrams coalesced into one
buffer with their segment size, which :meth:`UdpTransport.recv_batch` splits.

:func:`open_transport` checks the group (a multicast address) and the port (1..65535) first,
raising ValueError, and a socket is closed again if its setup fails: nothing leaks.
"""

from __future__ import annotations

import contextlib
import errno
import socket
import struct
import sys
from collections.abc import Sequence
from ipaddress import IPv4Address, IPv6Address, ip_address
from typing import Protocol

from ..interfaces import Interface
from ..wire import NLA
from .gso import GRO_CMSG_SPACE, GSO_REFUSED, SOL_UDP, UDP_GRO, UDP_SEGMENT, gro_segment, run_end
from .packet import PacketSender, open_packet_sender

__all__ = [
    "IPPROTO_PGM",
    "DatagramTransport",
    "RawTransport",
    "Transport",
    "UdpTransport",
    "check_endpoint",
    "open_transport",
]

IPPROTO_PGM = 113
_MAX_BATCH = 512
_BUF = 8 * 1024 * 1024

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
    def _size_buffers(self, size: int = _BUF) -> None:
        """Large buffers: 1 Gbit/s overflows the usual 208 KiB default within milliseconds.
        As root, *BUFFORCE bypasses net.core.rmem_max / wmem_max (docs/transports.md,
        "Socket buffers")."""
        s = self.sock
        for force, plain, name in (
            (_SO_RCVBUFFORCE, socket.SO_RCVBUF, "receive"),
            (_SO_SNDBUFFORCE, socket.SO_SNDBUF, "send"),
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


def _claim_source_port(port: int) -> socket.socket | None:
    """The host-wide claim on UDP ``port`` for one PGM source (Linux; elsewhere None)."""
    if not sys.platform.startswith("linux"):
        return None
    claim = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        claim.bind(f"\0pgm-udp-source-{port}")
    except OSError as exc:
        claim.close()
        if exc.errno != errno.EADDRINUSE:
            return None  # no abstract sockets here: go without the check
        raise OSError(
            errno.EADDRINUSE,
            f"another PGM source on this host already uses UDP port {port}: unicast NAKs "
            "would reach only one of them and the other's receivers would lose data; give "
            "each source its own port (--port / port=)",
        ) from None
    return claim


def _scope_id(group: NLA, iface: Interface) -> int:
    """The scope id to bind an IPv6 group with: the interface's for link- and interface-local
    scopes (RFC 4291 §2.7, the low nibble of the second byte), else 0."""
    if isinstance(group, IPv6Address) and group.packed[1] & 0x0F <= 2:
        return iface.index
    return 0


class UdpTransport(Transport):
    """PGM over UDP (see the module docstring)."""

    kind = "udp"

    def __init__(
        self,
        group: NLA,
        port: int,
        iface: Interface,
        *,
        receiver: bool,
        ttl: int = 1,
        loop: bool = True,
        extra_ifaces: tuple[Interface, ...] = (),
        gso: bool = True,
    ) -> None:
        super().__init__(group, iface, ttl, loop)
        self.port = port
        self.gso = False
        """Batched sends with ``UDP_SEGMENT`` in use (see the module docstring)."""
        self.gso_fallback: str | None = None
        """Why batched sends are off, when they were asked for and are not available."""
        self.gso_sends = 0
        """``sendmsg`` calls that carried more than one packet."""
        self.gro = False
        """Receives coalesced by ``UDP_GRO``."""
        self._claim = None if receiver else _claim_source_port(port)
        try:
            self.sock = socket.socket(self.family, socket.SOCK_DGRAM)
        except BaseException:
            self._release_claim()
            raise
        try:
            self._setup(receiver, extra_ifaces)
        except BaseException:
            self.close()
            raise
        self.dst_known = receiver and sys.platform.startswith("linux")
        if gso:
            self._probe_offloads(receiver)

    def _probe_offloads(self, receiver: bool) -> None:
        """Batched sends and coalesced receives where the kernel has them (once, at open)."""
        try:
            self.sock.getsockopt(SOL_UDP, UDP_SEGMENT)
            self.gso = True
        except OSError as exc:
            self.gso_fallback = f"UDP_SEGMENT not supported: {exc.strerror}"
        if receiver:
            try:
                self.sock.setsockopt(SOL_UDP, UDP_GRO, 1)
                self.gro = True
            except OSError:
                pass  # plain receives

    def _setup(self, receiver: bool, extra_ifaces: tuple[Interface, ...]) -> None:
        s = self.sock
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._size_buffers()
        # Receivers bind the group (Linux filters on it; other systems need the wildcard);
        # the source binds the wildcard address so unicast NAKs/SPMRs reach it.
        if receiver and sys.platform.startswith("linux"):
            bind_to = str(self.group)
        else:
            bind_to = "::" if self.v6 else "0.0.0.0"
        if self.v6:
            scope = _scope_id(self.group, self.iface) if bind_to != "::" else 0
            s.bind((bind_to, self.port, 0, scope))
        else:
            s.bind((bind_to, self.port))
        self._multicast_options()
        if receiver:
            for i in (self.iface, *extra_ifaces):
                self.join(i)
        s.setblocking(False)

    def close(self) -> None:
        """Release the socket (and the source's claim on the port)."""
        self.sock.close()
        self._release_claim()

    def _release_claim(self) -> None:
        if self._claim is not None:
            self._claim.close()
            self._claim = None

    def _sockaddr_for(self, dst: NLA) -> tuple[object, ...]:
        return self._addr(dst, self.port)

    def send_all(self, datagrams: Sequence[tuple[bytes, NLA, int | None]]) -> None:
        """Send one engine flush: runs of same-size packets to one destination go as one
        ``UDP_SEGMENT`` batch (see the module docstring), the rest one by one."""
        n = len(datagrams)
        if not self.gso or n < 2:
            Transport.send_all(self, datagrams)
            return
        send = self.send
        i = 0
        while i < n:
            pkt, dst, ttl = datagrams[i]
            j = run_end(datagrams, i, n) if ttl is None else i + 1
            if j - i == 1:
                send(pkt, dst, ttl)
            elif not self._send_segments(datagrams, i, j, len(pkt), dst):
                Transport.send_all(self, datagrams[i:])  # refused: plain sends from now on
                return
            i = j

    def _send_segments(
        self,
        datagrams: Sequence[tuple[bytes, NLA, int | None]],
        i: int,
        j: int,
        size: int,
        dst: NLA,
    ) -> bool:
        """Packets ``i .. j-1`` in one ``sendmsg``; False if the kernel refuses batching."""
        addr = self._sockaddr.get(dst)
        if addr is None:
            addr = self._sockaddr[dst] = self._sockaddr_for(dst)
        buf = b"".join([d[0] for d in datagrams[i:j]])
        try:
            self.sock.sendmsg([buf], [(SOL_UDP, UDP_SEGMENT, struct.pack("=H", size))], 0, addr)
        except BlockingIOError:
            self.tx_errors += j - i  # a full send buffer: lost as on a congested link
        except OSError as exc:
            if exc.errno in GSO_REFUSED:
                self.gso = False
                self.gso_fallback = f"UDP_SEGMENT send refused: {exc.strerror}"
                return False
            if exc.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH, errno.EPERM, errno.ENOBUFS):
                self.tx_errors += j - i
            else:
                raise
        self.gso_sends += 1
        return True

    def recv_batch(self) -> list[tuple[bytes, NLA, NLA | None]]:
        if self.gro:
            return self._recv_gro()
        out: list[tuple[bytes, NLA, NLA | None]] = []
        recv = self.sock.recvfrom
        nla = self._nla
        dst = self.group if self.dst_known else None
        n = 0
        while n < _MAX_BATCH:
            try:
                data, addr = recv(65535)
            except (BlockingIOError, InterruptedError):
                break
            except OSError as exc:  # e.g. ICMP port unreachable reported on a later recv
                if exc.errno in (errno.ECONNREFUSED, errno.EHOSTUNREACH, errno.ENETUNREACH):
                    continue
                raise
            out.append((data, nla(addr[0]), dst))
            self.rx_bytes += len(data)
            n += 1
        return out

    def _recv_gro(self) -> list[tuple[bytes, NLA, NLA | None]]:
        """:meth:`recv_batch` with ``UDP_GRO``: a buffer may hold a run of datagrams of the
        size its control message gives (the last may be shorter)."""
        out: list[tuple[bytes, NLA, NLA | None]] = []
        recv = self.sock.recvmsg
        space = GRO_CMSG_SPACE
        nla = self._nla
        dst = self.group if self.dst_known else None
        while len(out) < _MAX_BATCH:
            try:
                data, anc, _flags, addr = recv(65535, space)
            except (BlockingIOError, InterruptedError):
                break
            except OSError as exc:
                if exc.errno in (errno.ECONNREFUSED, errno.EHOSTUNREACH, errno.ENETUNREACH):
                    continue
                raise
            src = nla(addr[0])
            self.rx_bytes += len(data)
            seg = gro_segment(anc) if anc else 0
            if 0 < seg < len(data):
                out.extend((data[k : k + seg], src, dst) for k in range(0, len(data), seg))
            else:
                out.append((data, src, dst))
        return out


class RawTransport(Transport):
    """PGM directly over IP, protocol 113 (see the module docstring)."""

    kind = "raw"

    def __init__(
        self,
        group: NLA,
        iface: Interface,
        *,
        receiver: bool,
        ttl: int = 1,
        loop: bool = True,
        extra_ifaces: tuple[Interface, ...] = (),
        packet: bool = True,
    ) -> None:
        super().__init__(group, iface, ttl, loop)
        try:
            self.sock = socket.socket(self.family, socket.SOCK_RAW, IPPROTO_PGM)
        except PermissionError as exc:
            raise PermissionError(
                exc.errno,
                "raw PGM sockets (IP protocol 113) need root or the CAP_NET_RAW capability; "
                "run as root, grant CAP_NET_RAW (setcap cap_net_raw+ep on the interpreter), "
                "or use UDP encapsulation (transport='udp' / --transport udp), which needs no "
                "privileges",
            ) from exc
        try:
            self._setup(receiver, extra_ifaces)
        except BaseException:
            self.sock.close()
            raise
        self._cmsg_space = socket.CMSG_SPACE(20)
        # Multicast data as Ethernet frames where safe (.packet); None: the raw socket only.
        self.packet: PacketSender | None = None
        if not receiver and packet:
            self.packet = open_packet_sender(group, iface, ttl, loop, _BUF)

    def send(self, packet: bytes, dst: NLA, ttl: int | None = None) -> None:
        """Send one PGM packet: to the group through AF_PACKET when open, else raw IP."""
        ps = self.packet
        if ps is not None and ttl is None and (dst is self.group or dst == self.group):
            r = ps.try_send(packet)
            if r >= 0:
                self.tx_errors += 1 - r
                return
            self.packet = None  # failed: the raw socket from now on
        Transport.send(self, packet, dst, ttl)

    def close(self) -> None:
        """Release the sockets."""
        if self.packet is not None:
            self.packet.close()
        self.sock.close()

    def _setup(self, receiver: bool, extra_ifaces: tuple[Interface, ...]) -> None:
        s = self.sock
        self._size_buffers()
        self._multicast_options()
        if self.v6:
            s.setsockopt(socket.IPPROTO_IPV6, _IPV6_RECVPKTINFO, 1)
        if receiver:
            for i in (self.iface, *extra_ifaces):
                self.join(i)
        s.setblocking(False)

    def _sockaddr_for(self, dst: NLA) -> tuple[object, ...]:
        return self._addr(dst, 0)

    def recv_batch(self) -> list[tuple[bytes, NLA, NLA | None]]:
        out: list[tuple[bytes, NLA, NLA | None]] = []
        n = 0
        if not self.v6:
            recv = self.sock.recv
            cache: dict[bytes, NLA] = {}
            while n < _MAX_BATCH:
                try:
                    data = recv(65535)
                except (BlockingIOError, InterruptedError):
                    break
                n += 1
                # IPv4 raw sockets hand us the IP header: addresses from it, PGM after it.
                if len(data) < 20 or data[9] != IPPROTO_PGM:
                    continue
                hl = (data[0] & 0x0F) * 4
                s4 = data[12:16]
                d4 = data[16:20]
                src = cache.get(s4)
                if src is None:
                    src = cache[s4] = IPv4Address(s4)
                dst = self.group if d4 == self.group.packed else cache.get(d4)
                if dst is None:
                    dst = cache[d4] = IPv4Address(d4)
                self.rx_bytes += len(data)
                out.append((data[hl:], src, dst))
            return out
        recvmsg = self.sock.recvmsg
        space = self._cmsg_space
        while n < _MAX_BATCH:
            try:
                data, anc, _flags, addr = recvmsg(65535, space)
            except (BlockingIOError, InterruptedError):
                break
            n += 1
            dst6: NLA | None = None
            for level, typ, cdata in anc:
                if level == socket.IPPROTO_IPV6 and typ == _IPV6_PKTINFO and len(cdata) >= 16:
                    d = cdata[:16]
                    dst6 = self.group if d == self.group.packed else IPv6Address(d)
            self.rx_bytes += len(data)
            out.append((data, self._nla(addr[0]), dst6))
        return out


def open_transport(
    kind: str,
    group: NLA,
    port: int,
    iface: Interface,
    *,
    receiver: bool,
    ttl: int = 1,
    loop: bool = True,
    extra_ifaces: tuple[Interface, ...] = (),
) -> Transport:
    """Open a ``'raw'`` or ``'udp'`` transport (ValueError for a group that is not multicast, a
    port out of range or an unknown kind, before any socket is opened)."""
    check_endpoint(group, port)
    if kind == "udp":
        return UdpTransport(
            group, port, iface, receiver=receiver, ttl=ttl, loop=loop, extra_ifaces=extra_ifaces
        )
    if kind == "raw":
        return RawTransport(
            group, iface, receiver=receiver, ttl=ttl, loop=loop, extra_ifaces=extra_ifaces
        )
    raise ValueError(f"transport must be 'raw' or 'udp', not {kind!r}")
