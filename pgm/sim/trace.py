"""What the simulated network records: one entry per datagram sent, and network-wide counters.

Theory of operation
-------------------
The network (:mod:`pgm.sim.network`) appends a :class:`TraceEntry` to its bounded trace for
every datagram an engine emits — when it is *sent*, with the nodes a copy was scheduled for and
the nodes whose copy the link lost — and counts everything in :class:`Stats`.  The per-datagram
path stores bytes only; :func:`sent_packets` parses entries when a test asks (``net.sent(by=r,
type="NAK")``), filtering on the type byte (RFC 3208 §8) before parsing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..wire import NLA, Packet, PacketError, as_nla, parse
from .links import TYPE_OFFSET, type_code

if TYPE_CHECKING:
    from .node import Node

__all__ = ["Stats", "TraceEntry", "sent_packets"]


@dataclass(frozen=True, slots=True)
class TraceEntry:
    """One datagram as sent by an engine, and what the network did with its copies."""

    time: float
    """Virtual time it was sent."""
    src: Node[Any]
    """The sending node."""
    dst_addr: NLA
    """Destination address (a group or a unicast address)."""
    data: bytes
    """The packet bytes (from the PGM header on)."""
    delivered_to: list[str]
    """Names of the nodes a copy was scheduled for (twice if duplicated)."""
    dropped_for: list[str]
    """Names of the nodes whose copy the link lost (partition, drop rule, random loss)."""
    ttl: int | None = None
    """TTL the engine asked for (``1`` = link-local multicast; the flat network ignores it)."""

    def packet(self, *, verify: bool = False) -> Packet:
        """The datagram parsed with :func:`pgm.wire.parse` (raises ``PacketError``)."""
        return parse(self.data, verify=verify)


@dataclass(slots=True)
class Stats:
    """Network-wide counters."""

    events: int = 0
    """Events processed (deliveries, timer wake-ups, pokes, scheduled calls)."""
    sent: int = 0
    """Datagrams emitted by all engines."""
    delivered: int = 0
    """Copies handed to an engine's ``receive``."""
    dropped: int = 0
    """Copies lost by link conditions."""
    duplicated: int = 0
    """Extra copies created by ``Link.duplicate``."""
    unroutable: int = 0
    """Unicast datagrams to an address no node owns."""
    trace_discarded: int = 0
    """Oldest trace entries discarded because the trace hit ``trace_limit``."""


def sent_packets(
    trace: Iterable[TraceEntry],
    by: Node[Any] | None = None,
    type: str | None = None,
    to: NLA | str | None = None,
) -> list[tuple[float, Packet]]:
    """Parsed datagrams from ``trace``: ``[(time, packet), ...]`` in send order.

    Filter by sender node, packet type name (``"NAK"``, ``"ODATA"``, ...) and destination
    address.  Entries that do not parse are skipped (checksums are not verified here).
    """
    code = None if type is None else type_code(type)
    dst = None if to is None else as_nla(to)
    result: list[tuple[float, Packet]] = []
    for entry in trace:
        if by is not None and entry.src is not by:
            continue
        if dst is not None and entry.dst_addr != dst:
            continue
        data = entry.data
        if code is not None and (len(data) <= TYPE_OFFSET or data[TYPE_OFFSET] != code):
            continue
        try:
            pkt = parse(data, verify=False)
        except PacketError:
            continue
        result.append((entry.time, pkt))
    return result
