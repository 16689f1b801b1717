"""The source's counters.

Theory of operation
-------------------
One :class:`SourceStats` per session, a plain dataclass of integers the source's modules
increment as things happen (the scheduler for what it sends, :mod:`.repair` for NAKs, the
receive path for everything else).  Nothing ever reads and resets them: callers read them
through :meth:`Source.info`, which hands out a copy.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["SourceStats"]


@dataclass(slots=True)
class SourceStats:
    """Counters of a source; every field of Windows' RM_SENDER_STATS has a counterpart.

    Byte counts are PGM packet bytes (PGM header included, IP/UDP headers not).
    """

    data_bytes_sent: int = 0
    """Application bytes sent in ODATA (RM: DataBytesSent)."""
    total_bytes_sent: int = 0
    """Bytes of SPM + ODATA + RDATA packets (RM: TotalBytesSent)."""
    odata_packets_sent: int = 0
    """ODATA packets (RM: TotalODataPacketsSent)."""
    repair_packets_sent: int = 0
    """RDATA packets (RM: RepairPacketsSent)."""
    spm_packets_sent: int = 0
    """SPMs."""
    ncf_packets_sent: int = 0
    """NCFs."""
    naks_received: int = 0
    """Sequence numbers requested by accepted NAKs (a NAK list counts each) (RM: NaksReceived)."""
    naks_received_too_late: int = 0
    """Requested sequence numbers already behind the trailing edge (RM: NaksReceivedTooLate)."""
    naks_after_rdata: int = 0
    """Requests for a sequence number already repaired at least once (RM: NumNaksAfterRData)."""
    naks_merged: int = 0
    """Requests for a sequence number whose RDATA was still queued."""
    naks_below_join_min: int = 0
    """Requests refused for being below every OPT_JOIN_MIN in force (late join, RFC 3208 §9.5)."""
    naks_out_of_window: int = 0
    """Requests for sequence numbers never sent (ahead of the leading edge)."""
    naks_rejected: int = 0
    """NAKs for this TSI with a wrong source/group NLA (OpenPGM drops these too)."""
    naks_ignored: int = 0
    """NAKs that are not for this session (other GSI or ports), or parity NAKs without FEC."""
    naks_dropped: int = 0
    """Requests dropped because the repair queue was full (``max_repair_queue``)."""
    ncfs_merged: int = 0
    """Confirmations merged into an NCF already owed (the same number NAKed again meanwhile)."""
    nnaks_received: int = 0
    """Null NAKs heard."""
    spmrs_received: int = 0
    """SPM requests answered."""
    malformed_packets: int = 0
    """Packets that failed to parse (checksum, lengths, ...)."""
    other_packets: int = 0
    """Packets that are not for a source (downstream types, e.g. our own looped back)."""
    parity_packets_sent: int = 0
    """FEC parity packets sent, pro-active and on-demand (docs/fec.md)."""
    proactive_parity_sent: int = 0
    """Of those, pro-active ones (sent unasked after each transmission group)."""
    parity_naks_received: int = 0
    """Parity requests (one per transmission group named) in accepted parity NAKs."""
