"""Counters and read-only snapshots of the receiver and its sessions.

Theory of operation
-------------------
:class:`SessionStats` and :class:`ReceiverStats` are plain counters the receiver's modules
increment; every field of Windows' RM_RECEIVER_STATS has a counterpart.  :class:`SessionInfo`
is a frozen snapshot (:meth:`~pgm.engine.Receiver.session_info`) of one session: its
counters, its window in 64-bit sequence numbers, its NAK and buffer figures and its rates.
Reading any of them changes nothing: rates come from samples the receiver takes itself.
"""

from __future__ import annotations

from dataclasses import dataclass

from ...wire import NLA, TSI
from ..events import EndReason

__all__ = ["ReceiverStats", "SessionInfo", "SessionStats"]


@dataclass(slots=True)
class SessionStats:
    """Counters of one session; every field of Windows' RM_RECEIVER_STATS has a counterpart.

    Byte counts are PGM packet bytes (PGM header included, IP/UDP headers not), except
    ``data_bytes_received`` which counts application bytes.
    """

    odata_packets_received: int = 0
    """Unique ODATA sequence numbers received (RM: NumODataPacketsReceived)."""
    rdata_packets_received: int = 0
    """Unique RDATA sequence numbers received (RM: NumRDataPacketsReceived)."""
    duplicate_data_packets: int = 0
    """Data for sequence numbers already held or delivered (RM: NumDuplicateDataPackets)."""
    data_bytes_received: int = 0
    """Application bytes delivered (RM: DataBytesReceived)."""
    total_bytes_received: int = 0
    """Bytes of SPM + ODATA + RDATA packets (RM: TotalBytesReceived)."""
    selective_naks_sent: int = 0
    """Sequence numbers requested in NAKs (a NAK list counts each) (RM: TotalSelectiveNaksSent)."""
    parity_naks_sent: int = 0
    """Parity requests sent, one per transmission group named (RM: TotalParityNaksSent)."""
    nak_packets_sent: int = 0
    """NAK packets sent."""
    naks_suppressed: int = 0
    """Sequence numbers whose NAK back-off an NCF or another receiver's NAK ended before this
    receiver NAKed them (NAK suppression, RFC 3208 §6.3)."""
    ncfs_received: int = 0
    """NCF packets heard for this session."""
    spms_received: int = 0
    """SPMs accepted."""
    spms_out_of_sequence: int = 0
    """SPMs discarded for an old SPM sequence number (RFC 3208 §6.2)."""
    spmrs_sent: int = 0
    """SPM requests sent (unicast + multicast count as one)."""
    spmrs_suppressed: int = 0
    """SPMRs probing a FIN not sent because an SPM was heard first (docs/security.md)."""
    out_of_window: int = 0
    """Data packets too far ahead of the delivery point (``max_window_sqns``)."""
    buffer_drops: int = 0
    """Data packets dropped because ``max_buffer_bytes`` was reached (NAKed again later)."""
    lost_sqns: int = 0
    """Sequence numbers reported lost."""
    loss_events: int = 0
    """UnrecoverableLoss events emitted."""
    apdus_delivered: int = 0
    """Messages delivered."""
    window_samples: int = 0
    """Data packets that sampled the window occupancy (lead - next + 1); the others took the
    in-order path, where the occupancy is 1."""
    window_sum: int = 0
    """Sum of window-occupancy samples."""
    window_min: int = 0
    """Smallest window occupancy seen (RM: MinSequencesInWindow)."""
    window_max: int = 0
    """Largest window occupancy seen (RM: MaxSequencesInWindow)."""
    parity_packets_ignored: int = 0
    """ODATA/RDATA with the PARITY flag from a session whose SPM advertised no FEC, dropped."""
    parity_packets_received: int = 0
    """Parity packets of an FEC session taken in (docs/fec.md)."""
    packets_recovered_by_parity: int = 0
    """Data packets rebuilt from parity (also counted in ``rdata_packets_received``)."""
    parity_decode_failures: int = 0
    """Groups whose parity could not be used (lengths that do not fit, bad parameters)."""
    suspect_packets: int = 0
    """Packets not believed (docs/security.md): a leading edge, trail or SPM sequence beyond
    what the source has shown plausible; dropped, never a reason to declare loss."""
    suspect_fins: int = 0
    """FINs not believed: below the known leading edge, or contradicted by the source."""
    path_nla_changes_damped: int = 0
    """SPMs naming a new path NLA not (yet) adopted (RFC 3208 §10)."""
    peer_naks_received: int = 0
    """Other receivers' NAK packets for this session heard on the group (RFC 3208 §9.3)."""
    peer_naks_ignored: int = 0
    """Other receivers' NAKs that no longer suppress ours (suppression is bounded)."""
    bad_fragments: int = 0
    """Fragments failing the checks on arrival (start after them, length too small)."""
    memory_drops: int = 0
    """Data refused by the receivers' memory budget (``max_total_bytes``)."""


@dataclass(frozen=True, slots=True)
class SessionInfo:
    """A read-only snapshot of one session (:meth:`Receiver.session_info`), live or ended.

    Sequence numbers here are 64-bit: the first one of the stream (:attr:`first_sqn`) is its
    wire number and they count on past 2**32 after that (low 32 bits = the wire's), as
    Windows' RM_RECEIVER_STATS numbers them.  An empty window has ``lead == next - 1``, which
    is -1 when the stream starts at 0.  An ended session's figures are frozen at its end.
    """

    tsi: TSI
    """The session."""
    source: NLA
    """IP address its packets come from."""
    started: bool
    """Its window start is known (the first SPM or data packet was taken)."""
    ended: bool
    """It ended (:attr:`end_reason` says how); nothing more is delivered for it."""
    end_reason: EndReason | None
    """FIN, RST or EXPIRED once ended, else None."""
    ended_when_heard: bool
    """The first packet heard was an SPM with OPT_FIN or OPT_RST: the source had already
    finished, nothing was ever to be delivered (see :class:`~pgm.engine.SessionStarted`)."""
    first_sqn: int
    """First sequence number of the stream the application sees (delivered or reported lost):
    the first data packet's, or an SPM's leading edge + 1 (RFC 3208 §6.1), or the source's
    OPT_JOIN_MIN when it offers late join (§9.5, within ``join_history``): the join point."""
    trail: int
    """The source's trailing edge as last advertised."""
    lead: int
    """Highest sequence number known to exist (received, or advertised by an SPM or NCF)."""
    next: int
    """Next sequence number to deliver (everything below was delivered or reported lost)."""
    first_nak: int | None
    """Lowest sequence number being repaired (RM FirstNakSequenceNumber), or None."""
    pending_naks: int
    """Sequence numbers waiting for an NCF, back-off included (RM NumPendingNaks)."""
    outstanding_naks: int
    """Sequence numbers NAKed and confirmed, waiting for the repair (RM NumOutstandingNaks)."""
    buffered_packets: int
    """Data packets held for in-order delivery (RM NumDataPacketsBuffered)."""
    buffered_bytes: int
    """Payload bytes of those packets."""
    window_average: int
    """Average sequences in the window over all data packets (RM AverageSequencesInWindow)."""
    window_min: int
    """Smallest window occupancy seen (RM MinSequencesInWindow)."""
    window_max: int
    """Largest window occupancy seen (RM MaxSequencesInWindow)."""
    rate_kbps_overall: float
    """Receive rate since the session started, kbit/s of PGM packet bytes."""
    rate_kbps_last: float
    """Receive rate over the last interval of at least a second, kbit/s."""
    stats: SessionStats
    """A copy of the session's counters."""
    join_min: int | None = None
    """OPT_JOIN_MIN the source offered when the receiver joined (late join, RFC 3208 §9.5), or
    None when it offered none (OpenPGM never does)."""
    syn_seen: bool = False
    """OPT_SYN (RFC 3208 §9.6) was seen on the data at :attr:`first_sqn`: the session is had
    from its very start."""
    missed: tuple[int, int] | None = None
    """``(first, last)``: the sequence numbers known to exist before :attr:`first_sqn` (from the
    source's trailing edge) and never delivered — the receiver joined late; None when nothing is
    known missed (OPT_SYN seen, or the join point was the trailing edge).  A number before a
    32-bit wrap above :attr:`first_sqn` is negative here."""

    @property
    def from_start(self) -> bool:
        """Nothing of the session is known missed before :attr:`first_sqn`."""
        return self.missed is None


@dataclass(slots=True)
class ReceiverStats:
    """Counters of the receiver as a whole (packets that belong to no session)."""

    malformed_packets: int = 0
    """Packets that failed to parse (checksum, lengths, options, ...)."""
    wrong_port: int = 0
    """Downstream packets for another data-destination port."""
    wrong_group: int = 0
    """Packets addressed to another group."""
    unknown_session: int = 0
    """NCFs and upstream packets for sessions we do not have."""
    sessions_rejected: int = 0
    """Packets of new sessions refused because ``max_sessions`` was reached."""
    ended_session_packets: int = 0
    """Packets of sessions that already ended."""
    sessions_started: int = 0
    """Sessions created."""
    sessions_ended: int = 0
    """Sessions ended (FIN, RST or expiry)."""
    sessions_not_chosen: int = 0
    """Packets of sessions refused because ``only_tsi`` / ``only_source`` names another."""
    suspect_packets: int = 0
    """Packets of no known session not believed (docs/security.md), e.g. TRAIL ahead of SQN."""
    parity_packets_ignored: int = 0
    """ODATA/RDATA with the PARITY flag (FEC repair packets) dropped: of sessions not heard, not
    started or without FEC advertised (a parity packet is never data)."""
