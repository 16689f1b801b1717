"""UDP generic segmentation and receive offload (``UDP_SEGMENT`` / ``UDP_GRO``, Linux >= 4.18).

Theory of operation
-------------------
One ``sendmsg`` with a ``UDP_SEGMENT`` control message of segment size ``S`` hands the kernel a
buffer of packets of ``S`` bytes (the last may be shorter); it leaves as that many UDP
datagrams, each with its own headers, for the cost of one syscall.  :func:`run_end` cuts an
engine flush into such runs: same destination, no TTL override, the first packet's size (a
shorter packet ends a run), at most 64 segments and 65000 bytes.  Only ODATA and RDATA are
batched: SPMs, NCFs and the rest keep a datagram each, so the three SPMs that start a session
stay three chances — a virtual link (veth) carries a batch as one buffer up to the receiving
socket, and a filter that drops it there (as the namespace test beds do to simulate loss)
drops the whole batch.  A receiving socket with
``UDP_GRO`` gets runs the network coalesced back as one buffer, with the segment size in a
``UDP_GRO`` control message (:func:`gro_segment`).  The transport (:mod:`.transport`) probes
support once and falls back to plain sends and receives.
"""

from __future__ import annotations

import errno
import socket
import sys
from collections.abc import Sequence

from ..wire import NLA

__all__ = [
    "GRO_CMSG_SPACE",
    "GSO_MAX_BYTES",
    "GSO_MAX_SEGMENTS",
    "GSO_REFUSED",
    "SOL_UDP",
    "UDP_GRO",
    "UDP_SEGMENT",
    "gro_segment",
    "run_end",
]

SOL_UDP: int = getattr(socket, "SOL_UDP", 17)
UDP_SEGMENT: int = getattr(socket, "UDP_SEGMENT", 103)
UDP_GRO: int = getattr(socket, "UDP_GRO", 104)
GSO_MAX_SEGMENTS = 64
"""The kernel's UDP_MAX_SEGMENTS."""
GSO_MAX_BYTES = 65000
"""Under the 65507-byte UDP payload limit."""
GSO_REFUSED = (errno.EINVAL, errno.EOPNOTSUPP, errno.ENOPROTOOPT, errno.EIO)
"""errnos with which a kernel or device refuses segmentation (then: plain sends)."""
_DATA_TYPES = (0x04, 0x05)  # ODATA, RDATA (RFC 3208 §8)
GRO_CMSG_SPACE: int = socket.CMSG_SPACE(4) if hasattr(socket, "CMSG_SPACE") else 0


def gro_segment(anc: list[tuple[int, int, bytes]]) -> int:
    """The segment size of a coalesced receive (its ``UDP_GRO`` control message), else 0."""
    for level, typ, cdata in anc:
        if level == SOL_UDP and typ == UDP_GRO and len(cdata) >= 4:
            return int.from_bytes(cdata[:4], sys.byteorder)
    return 0


def run_end(datagrams: Sequence[tuple[bytes, NLA, int | None]], i: int, n: int) -> int:
    """End of the run starting at ``i``: same destination, no TTL override, packets of the
    first one's size (a shorter one ends it), within the kernel's segment and byte limits."""
    pkt, dst, _ = datagrams[i]
    if len(pkt) < 5 or pkt[4] not in _DATA_TYPES:
        return i + 1  # control packets keep their own datagrams (see the module docstring)
    size = len(pkt)
    total = size
    j = i + 1
    last = min(n, i + GSO_MAX_SEGMENTS)
    while j < last:
        p, d, t = datagrams[j]
        m = len(p)
        total += m
        if t is not None or m > size or total > GSO_MAX_BYTES or (d is not dst and d != dst):
            break
        j += 1
        if m < size:
            break
    return j
