"""RM_SENDER_STATISTICS and RM_RECEIVER_STATISTICS from the engine's snapshots.

Theory of operation: the engine hands out frozen snapshots — :class:`~pgm.engine.SourceInfo`
(:meth:`pgm.io.PgmSender.info`) and :class:`~pgm.engine.SessionInfo`
(:meth:`pgm.io.PgmReceiver.session_info`) — whose counters, window edges (already numbered
with Windows' 64-bit sequence numbers) and rates are what the Windows structures report.  These
functions only translate field by field; taking a snapshot changes nothing, so any number of
readers see the same figures.  Unsigned fields never go negative: an empty window before the
first packet (an edge of -1) reads as 0.  What each field counts is in docs/windows-porting.md.
"""

from __future__ import annotations

from ..engine import SessionInfo, SourceInfo
from .structs import RM_RECEIVER_STATS, RM_SENDER_STATS

__all__ = ["receiver_stats", "sender_stats"]


def sender_stats(info: SourceInfo, partial_dropped: int) -> RM_SENDER_STATS:
    """RM_SENDER_STATS of a source snapshot.  ``partial_dropped`` (reported in
    BufferSpaceAvailable) counts RM_SET_MESSAGE_BOUNDARY messages dropped incomplete."""
    st = info.stats
    return RM_SENDER_STATS(
        DataBytesSent=st.data_bytes_sent,
        TotalBytesSent=st.total_bytes_sent,
        NaksReceived=st.naks_received + st.parity_naks_received,  # FEC: parity NAKs too
        NaksReceivedTooLate=st.naks_received_too_late,
        NumOutstandingNaks=info.outstanding_repairs,
        NumNaksAfterRData=st.naks_after_rdata,
        RepairPacketsSent=st.repair_packets_sent
        + st.parity_packets_sent
        - st.proactive_parity_sent,  # FEC: on-demand parity is repair too
        BufferSpaceAvailable=partial_dropped,
        TrailingEdgeSeqId=max(0, info.trail64),
        LeadingEdgeSeqId=max(0, info.lead64),
        RateKBitsPerSecOverall=int(info.rate_kbps_overall),
        RateKBitsPerSecLast=int(info.rate_kbps_last),
        TotalODataPacketsSent=st.odata_packets_sent,
    )


def receiver_stats(info: SessionInfo) -> RM_RECEIVER_STATS:
    """RM_RECEIVER_STATS of a receiving session's snapshot."""
    st = info.stats
    return RM_RECEIVER_STATS(
        NumODataPacketsReceived=st.odata_packets_received,
        NumRDataPacketsReceived=st.rdata_packets_received,
        NumDuplicateDataPackets=st.duplicate_data_packets,
        DataBytesReceived=st.data_bytes_received,
        TotalBytesReceived=st.total_bytes_received,
        RateKBitsPerSecOverall=int(info.rate_kbps_overall),
        RateKBitsPerSecLast=int(info.rate_kbps_last),
        TrailingEdgeSeqId=max(0, info.trail),
        LeadingEdgeSeqId=max(0, info.lead),
        AverageSequencesInWindow=max(0, info.window_average),
        MinSequencesInWindow=max(0, info.window_min),
        MaxSequencesInWindow=max(0, info.window_max),
        FirstNakSequenceNumber=max(0, info.first_nak) if info.first_nak is not None else 0,
        NumPendingNaks=info.pending_naks,
        NumOutstandingNaks=info.outstanding_naks,
        NumDataPacketsBuffered=info.buffered_packets,
        TotalSelectiveNaksSent=st.selective_naks_sent,
        TotalParityNaksSent=st.parity_naks_sent,
    )
