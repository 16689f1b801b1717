"""``pgm dump``'s summary: what each session sent and what the capture point saw lost.

Theory of operation
-------------------
:class:`DumpTally` counts every packet shown: malformed ones, frames without PGM, and per
session (TSI) a :class:`SessionTally` — packets by type, the sequence numbers NAKs asked for
and NCFs confirmed (the packet's own plus OPT_NAK_LIST, RFC 3208 §9), and a
:class:`GapTracker` over the ODATA sequence numbers.  A malformed packet counts in the session
its header names if that session has been seen; otherwise (junk) it opens none.

The tracker unwraps each 32-bit number near the highest seen (:func:`pgm.wire.sqn_unwrap`); a
jump past ``highest + 1`` opens a gap, a late ODATA or an RDATA for a missing number closes it
(an RDATA counts as a repair).  What is still missing at the end is the loss this capture point
saw unrepaired.  Parity packets (FEC) are counted but their sequence numbers are parity numbers
and enter no gap.  Everything is bounded: at most :data:`MAX_SESSIONS` sessions (later ones are
counted together) and :data:`MAX_MISSING` missing numbers per session (beyond that only
counted).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from .. import wire
from .dump_decode import TYPE_NAMES, Decoded

__all__ = ["MAX_MISSING", "MAX_SESSIONS", "DumpTally", "GapTracker", "SessionTally"]

MAX_SESSIONS = 10_000
MAX_MISSING = 100_000
_RANGES_SHOWN = 8


@dataclass
class GapTracker:
    """Gaps in one session's ODATA sequence numbers and their repairs."""

    highest: int | None = None
    """Highest ODATA sequence number seen, unwrapped."""
    missing: set[int] = field(default_factory=set)
    """Unwrapped numbers skipped by ODATA and not seen since (at most MAX_MISSING)."""
    gaps: int = 0
    """Numbers ODATA skipped (later ODATA for them, being reordering, are taken back)."""
    repaired: int = 0
    """Missing numbers an RDATA then carried."""
    overflow: int = 0
    """Missing numbers not kept because the set was full; counted as unrepaired."""

    def odata(self, sqn: int) -> None:
        if self.highest is None:
            self.highest = sqn
            return
        u = wire.sqn_unwrap(sqn, self.highest)
        if u > self.highest:
            skipped = u - self.highest - 1
            self.gaps += skipped
            room = max(0, MAX_MISSING - len(self.missing))
            self.missing.update(range(self.highest + 1, self.highest + 1 + min(skipped, room)))
            self.overflow += max(0, skipped - room)
            self.highest = u
        elif u in self.missing:  # arrived late: reordered, not lost
            self.missing.discard(u)
            self.gaps -= 1

    def rdata(self, sqn: int) -> None:
        if self.highest is None:
            return
        u = wire.sqn_unwrap(sqn, self.highest)
        if u in self.missing:
            self.missing.discard(u)
            self.repaired += 1

    @property
    def unrepaired(self) -> int:
        return len(self.missing) + self.overflow

    def ranges(self) -> list[tuple[int, int]]:
        """The missing numbers as (first, last) wire-number ranges, in stream order."""
        out: list[tuple[int, int]] = []
        for u in sorted(self.missing):
            if out and out[-1][1] == u - 1:
                out[-1] = (out[-1][0], u)
            else:
                out.append((u, u))
        return [(a & wire.SQN_MASK, b & wire.SQN_MASK) for a, b in out]


@dataclass
class SessionTally:
    """What one session (TSI) put on the wire, as captured."""

    tsi: str
    source: str | None = None
    """IP source of the session's downstream packets (the source's address)."""
    by_type: Counter[str] = field(default_factory=Counter)
    malformed: int = 0
    parity: int = 0
    nak_sqns: int = 0
    """Sequence numbers requested by NAKs (each NAK's own plus its OPT_NAK_LIST)."""
    ncf_sqns: int = 0
    """Sequence numbers confirmed by NCFs."""
    loss: GapTracker = field(default_factory=GapTracker)

    def add(self, d: Decoded) -> None:
        p = d.packet
        if p is None:
            self.malformed += 1
            return
        self.by_type[p.NAME] += 1
        if not p.UPSTREAM and self.source is None:
            self.source = d.src
        if p.parity:
            self.parity += 1
        if isinstance(p, wire.NakPacket):
            lst = p.option(wire.OptNakList)
            n = 1 + (len(lst.sqns) if lst is not None else 0)
            if isinstance(p, wire.NAK):
                self.nak_sqns += n
            elif isinstance(p, wire.NCF):
                self.ncf_sqns += n
        elif isinstance(p, wire.DataPacket) and not p.parity:
            if isinstance(p, wire.ODATA):
                self.loss.odata(p.data_sqn)
            else:
                self.loss.rdata(p.data_sqn)

    def as_dict(self) -> dict[str, Any]:
        return {
            "tsi": self.tsi,
            "source": self.source,
            "packets": sum(self.by_type.values()) + self.malformed,
            "by_type": dict(self.by_type),
            "malformed": self.malformed,
            "parity": self.parity,
            "naks": self.by_type.get("NAK", 0),
            "nak_sqns": self.nak_sqns,
            "ncfs": self.by_type.get("NCF", 0),
            "ncf_sqns": self.ncf_sqns,
            "rdata": self.by_type.get("RDATA", 0),
            "odata_gaps": self.loss.gaps,
            "repaired": self.loss.repaired,
            "unrepaired": self.loss.unrepaired,
            "unrepaired_ranges": self.loss.ranges()[:_RANGES_SHOWN],
        }

    def line(self) -> str:
        d = self.as_dict()
        order = [n for n in TYPE_NAMES.values() if n in self.by_type]
        types = ", ".join(f"{n} {self.by_type[n]}" for n in order) or "none"
        text = f"session {self.tsi}"
        if self.source:
            text += f" from {self.source}"
        text += f": {d['packets']} packets ({types}"
        text += f", malformed {self.malformed})" if self.malformed else ")"
        text += f"; NAKs {d['naks']} for {self.nak_sqns} sqns, NCFs {d['ncfs']}"
        text += f" for {self.ncf_sqns} sqns, RDATA {d['rdata']}"
        if self.parity:
            text += f", parity {self.parity}"
        text += f"; ODATA gaps {self.loss.gaps}, repaired {self.loss.repaired}, "
        text += f"unrepaired {self.loss.unrepaired}"
        ranges = self.loss.ranges()
        if ranges:
            shown = [str(a) if a == b else f"{a}-{b}" for a, b in ranges[:_RANGES_SHOWN]]
            more = f" and {len(ranges) - _RANGES_SHOWN} more" if len(ranges) > _RANGES_SHOWN else ""
            text += f" ({', '.join(shown)}{more})"
        return text


@dataclass
class DumpTally:
    """Everything ``pgm dump`` showed, by session."""

    packets: int = 0
    malformed: int = 0
    not_pgm: int = 0
    """Frames without PGM (other protocols or ports, IP fragments)."""
    filtered: int = 0
    """PGM packets the filters (``--tsi``, ``--type``) did not show."""
    sessions: dict[str, SessionTally] = field(default_factory=dict)
    kernel_drops: int | None = None
    """Packets the kernel dropped because the capture fell behind (live ``packet`` capture;
    ``None`` where the method cannot tell)."""
    no_session: int = 0
    """Malformed packets of no session seen (too short to name one, or an unknown TSI)."""

    def add(self, d: Decoded) -> None:
        self.packets += 1
        if d.packet is None:
            self.malformed += 1
        key = None if d.tsi is None else str(d.tsi)
        tally = None if key is None else self.sessions.get(key)
        if tally is None:
            if key is None or d.packet is None:  # junk opens no session
                self.no_session += 1
                return
            if len(self.sessions) >= MAX_SESSIONS:
                key = "(other sessions)"
            tally = self.sessions.setdefault(key, SessionTally(key))
        tally.add(d)

    def as_dict(self) -> dict[str, Any]:
        return {
            "packets": self.packets,
            "malformed": self.malformed,
            "not_pgm": self.not_pgm,
            "filtered": self.filtered,
            "kernel_drops": self.kernel_drops,
            "sessions": [s.as_dict() for s in self.sessions.values()],
        }

    def lines(self) -> list[str]:
        n = len(self.sessions)
        head = f"{self.packets} PGM packets, {self.malformed} malformed, {n} session"
        head += "" if n == 1 else "s"
        if self.filtered:
            head += f"; {self.filtered} more not matching the filters"
        if self.not_pgm:
            head += f"; {self.not_pgm} other frames ignored"
        if self.kernel_drops:
            head += f"; {self.kernel_drops} dropped by the kernel (the capture fell behind)"
        return [head, *(s.line() for s in self.sessions.values())]
