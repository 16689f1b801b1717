"""The source's identity, life-cycle states and read-only snapshot.

Theory of operation
-------------------
:class:`SourceState` is the life of a source session (``OPEN`` -> ``CLOSING`` -> ``LINGERING``
-> ``CLOSED``, see :mod:`.source`).  :class:`SourceInfo` is what :meth:`Source.info` hands out:
a frozen copy of the session's identity, window edges, counters and rates, so reading it never
changes the engine.  :func:`info_dict` flattens one for JSON output
(:meth:`Source.stats_dict`).  :func:`session_identity` checks the addresses and ports a
source is created with and generates the omitted ones.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from enum import Enum
from ipaddress import IPv6Address
from random import Random
from typing import Any

from ...wire import NLA, TSI
from ..config import SourceConfig
from ..errors import ConfigError
from .stats import SourceStats

__all__ = ["SourceInfo", "SourceState", "info_dict", "session_identity"]


class SourceState(str, Enum):
    """Where a source session is in its life.

    A ``str`` enum: ``state == "open"`` keeps working for callers that compare with strings.
    """

    OPEN = "open"
    """Taking messages from the application."""
    CLOSING = "closing"
    """:meth:`Source.close` was called; queued data is still going out (OPT_FIN on the last)."""
    LINGERING = "lingering"
    """All data sent; SPMs (with OPT_FIN or OPT_RST) go out and NAKs are answered for the
    linger time."""
    CLOSED = "closed"
    """Finished: nothing more is sent, :class:`SourceClosed` was emitted."""


@dataclass(frozen=True, slots=True)
class SourceInfo:
    """A snapshot of a source session (:meth:`Source.info`): identity, window, counters, rates.

    Taking one changes nothing in the engine; two snapshots at the same ``now`` are equal.
    """

    tsi: TSI
    """The session's transport session identifier (GSI + data-source port)."""
    group: NLA
    """Multicast group the data goes to."""
    dport: int
    """Data-destination port."""
    nla: NLA
    """This host's address on the sending interface (the SPM path NLA; NAKs come back to it)."""
    config: SourceConfig
    """The session's configuration."""
    max_tsdu: int
    """Largest message that goes out as one unfragmented ODATA."""
    state: SourceState
    """Life-cycle state."""
    trail64: int
    """Trailing edge of the transmit window, unbounded (Windows' TrailingEdgeSeqId); the wire
    value is ``trail64 & 0xFFFFFFFF``."""
    lead64: int
    """Leading edge of the transmit window, unbounded (Windows' LeadingEdgeSeqId); ``trail64 ==
    lead64 + 1`` when the window is empty (``-1`` before the first ODATA of a session started
    at 0)."""
    pending_bytes: int
    """Bytes accepted by :meth:`Source.send` and not yet sent."""
    window_bytes_free: int
    """Free bytes in the transmit window."""
    outstanding_repairs: int
    """RDATA queued and not yet sent (RM: NumOutstandingNaks)."""
    stats: SourceStats
    """A copy of the counters at the time of the snapshot."""
    rate_kbps_overall: float
    """Send rate since the session started, kbit/s over SPM + ODATA + RDATA bytes (RM:
    RateKBitsPerSecOverall)."""
    rate_kbps_last: float
    """Send rate over the last whole second (counted from the session's start) completed before
    the snapshot, kbit/s over SPM + ODATA bytes (RM: RateKBitsPerSecLast)."""
    join_min64: int | None = None
    """OPT_JOIN_MIN advertised now, unbounded (late join, RFC 3208 §9.5); None when off."""


def info_dict(info: SourceInfo) -> dict[str, Any]:
    """All counters of ``info`` plus its window edges and rates, for JSON output."""
    st = info.stats
    d: dict[str, Any] = {f.name: getattr(st, f.name) for f in fields(st)}
    d.update(
        trail=info.trail64,
        lead=info.lead64,
        outstanding_repairs=info.outstanding_repairs,
        window_bytes_free=info.window_bytes_free,
        rate_kbps_overall=info.rate_kbps_overall,
        rate_kbps_last=info.rate_kbps_last,
        join_min=info.join_min64,
    )
    return d


def session_identity(
    cfg: SourceConfig,
    group: NLA,
    dport: int,
    sport: int | None,
    gsi: bytes | None,
    rng: Random,
) -> tuple[int, bytes]:
    """Check the session's addresses and ports; return (sport, gsi), generated when omitted."""
    if not group.is_multicast:
        raise ConfigError(f"{group} is not a multicast group")
    if isinstance(group, IPv6Address) != (cfg.ip_version == 6):
        raise ConfigError("config.ip_version does not match the group's address family")
    if not 0 < dport < 65536:
        raise ConfigError(f"bad destination port {dport}")
    if sport is None:
        sport = dport
        while sport == dport:
            sport = rng.randrange(1024, 65536)
    gsi = gsi if gsi is not None else rng.randbytes(6)
    if len(gsi) != 6:
        raise ConfigError("gsi must be 6 bytes")
    return sport, gsi
