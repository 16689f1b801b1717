"""PGM over UDP encapsulation (OpenPGM/ZeroMQ ``epgm``), with GSO sends and GRO receives.

Theory of operation
-------------------
The PGM packet is the UDP payload.  Receivers bind the group address, sources the wildcard
address, all on the session's one port, so unicast NAKs on one host reach the source's socket
and never a receiver's; a second UDP source on the same host and port is refused (an abstract
Unix socket per port holds the claim).  Runs of same-size data packets go to the kernel as one
``UDP_SEGMENT`` send; receivers split ``UDP_GRO`` buffers.  The module docstring of
:mod:`pgm.net.transport` and docs/transports.md say more.
"""

from __future__ import annotations

import errno
import socket
import struct
import sys
from collections.abc import Sequence
from ipaddress import IPv6Address

from ..interfaces import Interface
from ..wire import NLA
from .base import _MAX_BATCH, Transport
from .gso import GRO_CMSG_SPACE, GSO_REFUSED, SOL_UDP, UDP_GRO, UDP_SEGMENT, gro_segment, run_end


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
                out += [(data[k : k + seg], src, dst) for k in range(0, len(data), seg)]
            else:
                out.append((data, src, dst))
        return out
