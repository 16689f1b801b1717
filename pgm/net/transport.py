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

from ..interfaces import Interface
from ..wire import NLA
from .base import IPPROTO_PGM, DatagramTransport, Transport, check_endpoint
from .raw import RawTransport
from .udp import UdpTransport

__all__ = [
    "IPPROTO_PGM",
    "DatagramTransport",
    "RawTransport",
    "Transport",
    "UdpTransport",
    "check_endpoint",
    "open_transport",
]


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
