"""Reading the simulated network's trace: what a node sent, when, to whom, parsed.

Theory of operation
-------------------
:class:`pgm.sim.Network` records every datagram (time, sender, destination, TTL, bytes).
:func:`sent` turns one node's share of that trace into :class:`Tx` records with the packet
parsed by :func:`pgm.wire.parse`, so a bad checksum fails the test right there.  :func:`within`
asserts a virtual time with a float slack of ``EPS``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pgm import wire
from pgm.sim import Network, Node
from pgm.wire import NLA
from tests.helpers.addresses import EPS


@dataclass(frozen=True)
class Tx:
    """One datagram from the trace: when, where to, TTL, parsed packet, raw bytes."""

    time: float
    dst: NLA
    ttl: int | None
    pkt: Any
    raw: bytes


def sent(net: Network, by: Node[Any], type_: str | None = None) -> list[Tx]:
    """Datagrams ``by`` sent (checksums verified), optionally of one type, in send order."""
    out: list[Tx] = []
    for e in net.trace:
        if e.src is not by:
            continue
        pkt = wire.parse(e.data)
        if type_ is None or type_ == pkt.NAME:
            out.append(Tx(e.time, e.dst_addr, e.ttl, pkt, e.data))
    return out


def within(t: float, lo: float, hi: float, what: str) -> None:
    assert lo - EPS <= t <= hi + EPS, f"{what} at t={t:.6f}, expected within [{lo:.6f}, {hi:.6f}]"
