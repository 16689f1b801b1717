"""PGM over raw IP protocol 113 (RFC 3208 as specified), IPv4 and IPv6.

Theory of operation
-------------------
One raw socket sees every protocol-113 packet for the host (the engine filters on group, port
and TSI).  IPv4 raw sockets deliver the IP header, read for source and destination; IPv6 ones
do not, so the destination comes from ``IPV6_PKTINFO``.  A raw IPv4 source on an Ethernet-like
interface with multicast loopback off sends its multicast through ``AF_PACKET``
(:mod:`.packet`) with a cached link + IP header.  Needs root or CAP_NET_RAW.
"""

from __future__ import annotations

import socket
from ipaddress import IPv4Address, IPv6Address

from ..interfaces import Interface
from ..wire import NLA
from .base import _BUF, _IPV6_PKTINFO, _IPV6_RECVPKTINFO, _MAX_BATCH, IPPROTO_PGM, Transport
from .packet import PacketSender, open_packet_sender


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
