"""The ``wsrm.h`` option structures as little-endian :mod:`ctypes` structures.

Theory of operation: ``bytes(struct)`` is exactly what a Windows program puts in ``optval``, and
``RM_SEND_WINDOW.from_buffer_copy(optval)`` reads it back (x86 and x64 Windows share the layout:
no pointers, no padding).  They compare equal by value, and ``dict(struct.items())`` lists their
fields in order.  :data:`STRUCTS` finds one by its name, as the option table names value types.
"""

from __future__ import annotations

import ctypes
from collections.abc import Iterator


class _RMStruct(ctypes.LittleEndianStructure):
    """Common behaviour: value equality, a readable repr, ``items()``."""

    def items(self) -> Iterator[tuple[str, int]]:
        """(field name, value) pairs in layout order."""
        for f in self._fields_:
            yield f[0], int(getattr(self, f[0]))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, type(self)) and bytes(self) == bytes(other)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v}" for k, v in self.items())
        return f"{type(self).__name__}({inner})"


class RM_SEND_WINDOW(_RMStruct):
    """``RM_SEND_WINDOW`` (wsrm.h), 12 bytes, ``struct`` format ``"<3I"``: the sender's rate and
    window, for RM_RATE_WINDOW_SIZE.  ``WindowSizeInBytes = RateKbitsPerSec *
    WindowSizeInMSecs / 8`` (k = 1000)."""

    _fields_ = [
        ("RateKbitsPerSec", ctypes.c_uint32),
        ("WindowSizeInMSecs", ctypes.c_uint32),
        ("WindowSizeInBytes", ctypes.c_uint32),
    ]
    RateKbitsPerSec: int
    WindowSizeInMSecs: int
    WindowSizeInBytes: int


class RM_FEC_INFO(_RMStruct):
    """``RM_FEC_INFO`` (wsrm.h), 6 bytes, ``"<HHBB"``: forward error correction, for
    RM_USE_FEC."""

    _fields_ = [
        ("FECBlockSize", ctypes.c_uint16),
        ("FECProActivePackets", ctypes.c_uint16),
        ("FECGroupSize", ctypes.c_uint8),
        ("fFECOnDemandParityEnabled", ctypes.c_uint8),
    ]
    FECBlockSize: int
    FECProActivePackets: int
    FECGroupSize: int
    fFECOnDemandParityEnabled: int


_SENDER_FIELDS = (
    "DataBytesSent",
    "TotalBytesSent",
    "NaksReceived",
    "NaksReceivedTooLate",
    "NumOutstandingNaks",
    "NumNaksAfterRData",
    "RepairPacketsSent",
    "BufferSpaceAvailable",
    "TrailingEdgeSeqId",
    "LeadingEdgeSeqId",
    "RateKBitsPerSecOverall",
    "RateKBitsPerSecLast",
    "TotalODataPacketsSent",
)

_RECEIVER_FIELDS = (
    "NumODataPacketsReceived",
    "NumRDataPacketsReceived",
    "NumDuplicateDataPackets",
    "DataBytesReceived",
    "TotalBytesReceived",
    "RateKBitsPerSecOverall",
    "RateKBitsPerSecLast",
    "TrailingEdgeSeqId",
    "LeadingEdgeSeqId",
    "AverageSequencesInWindow",
    "MinSequencesInWindow",
    "MaxSequencesInWindow",
    "FirstNakSequenceNumber",
    "NumPendingNaks",
    "NumOutstandingNaks",
    "NumDataPacketsBuffered",
    "TotalSelectiveNaksSent",
    "TotalParityNaksSent",
)


class RM_SENDER_STATS(_RMStruct):
    """``RM_SENDER_STATS`` (wsrm.h), 13 x ULONGLONG = 104 bytes, ``"<13Q"``: RM_SENDER_STATISTICS.

    What each field counts here is in docs/windows-porting.md (statistics).
    """

    _fields_ = [(n, ctypes.c_uint64) for n in _SENDER_FIELDS]
    DataBytesSent: int
    TotalBytesSent: int
    NaksReceived: int
    NaksReceivedTooLate: int
    NumOutstandingNaks: int
    NumNaksAfterRData: int
    RepairPacketsSent: int
    BufferSpaceAvailable: int
    TrailingEdgeSeqId: int
    LeadingEdgeSeqId: int
    RateKBitsPerSecOverall: int
    RateKBitsPerSecLast: int
    TotalODataPacketsSent: int


class RM_RECEIVER_STATS(_RMStruct):
    """``RM_RECEIVER_STATS`` (wsrm.h), 18 x ULONGLONG = 144 bytes, ``"<18Q"``:
    RM_RECEIVER_STATISTICS (per accepted session)."""

    _fields_ = [(n, ctypes.c_uint64) for n in _RECEIVER_FIELDS]
    NumODataPacketsReceived: int
    NumRDataPacketsReceived: int
    NumDuplicateDataPackets: int
    DataBytesReceived: int
    TotalBytesReceived: int
    RateKBitsPerSecOverall: int
    RateKBitsPerSecLast: int
    TrailingEdgeSeqId: int
    LeadingEdgeSeqId: int
    AverageSequencesInWindow: int
    MinSequencesInWindow: int
    MaxSequencesInWindow: int
    FirstNakSequenceNumber: int
    NumPendingNaks: int
    NumOutstandingNaks: int
    NumDataPacketsBuffered: int
    TotalSelectiveNaksSent: int
    TotalParityNaksSent: int


STRUCTS: dict[str, type[_RMStruct]] = {
    "RM_SEND_WINDOW": RM_SEND_WINDOW,
    "RM_FEC_INFO": RM_FEC_INFO,
    "RM_SENDER_STATS": RM_SENDER_STATS,
    "RM_RECEIVER_STATS": RM_RECEIVER_STATS,
}
