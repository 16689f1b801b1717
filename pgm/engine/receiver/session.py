"""Receive state of one source session (RFC 3208 §6) and its read-only figures.

Theory of operation
-------------------
A :class:`Session` is plain state, changed only by the receiver's modules:

* **window**: ``next`` (first sequence number not yet delivered or reported), ``lead``
  (highest known to exist) and ``trail`` (the source's trailing edge), all unbounded integers:
  wire numbers are unwrapped against ``lead`` (:func:`pgm.wire.sqn.sqn_unwrap`), so everything
  after that is plain comparison.  ``first`` is where the stream started; ``base`` turns the
  unbounded numbers into Windows-style 64-bit ones (``first - base`` is its wire number);
* **held data** ``buf`` (:mod:`.delivery`), and reassembly progress ``frag_pos`` / ``frag_acc``;
* **NAK records** ``naks`` (waiting numbers) and ``lost`` (given up, not yet reported), with
  one timer queue per kind (:mod:`.nak`) and ``lost_below`` / ``below_reason``: everything
  missing below it is lost for that reason;
* **counters** (:class:`SessionStats`) and rate samples, which the receiver takes about once a
  second: reading them (:meth:`Session.rates_kbps`, :meth:`Session.info`,
  :meth:`Session.stats_dict`) never changes anything.
"""

from __future__ import annotations

from dataclasses import fields, replace
from typing import TYPE_CHECKING, Any

from ...wire import NLA, TSI
from ...wire.sqn import SQN_MASK, sqn_unwrap
from ..events import EndReason, LossReason
from .delivery import Held
from .guard import SessionGuard
from .nak import NakMachine, NakRecord, NakState
from .rtt import RepairRtt
from .stats import SessionInfo, SessionStats

if TYPE_CHECKING:
    from .fec import SessionFec

__all__ = ["Session"]


class Session:
    """Receive state of one source session (see the module docstring)."""

    def __init__(self, tsi: TSI, source: NLA, now: float) -> None:
        self.tsi = tsi
        self.source = source
        self.stats = SessionStats()
        self.nak_dst: NLA | None = None  # SPM path NLA: where NAKs go
        self.have_spm = False
        self.spm_sqn = 0
        self.started = False
        self.next = 0  # next sequence number to deliver (unbounded)
        self.lead = -1  # highest sequence number known to exist
        self.trail = 0  # source's trailing edge (unbounded)
        self.buf: dict[int, Held] = {}
        self.buf_bytes = 0
        self.naks: dict[int, NakRecord] = {}  # BACK_OFF, WAIT_NCF, WAIT_DATA
        self.lost: dict[int, LossReason] = {}  # LOST: given up, not yet passed by delivery
        self.nak_queue: list[int] = []  # numbers SEND_NAK put in the next NAK packet
        self.lost_below = 0  # everything below this that is not held is lost ...
        self.below_reason = LossReason.WINDOW  # ... for this reason
        self.backoff: list[tuple[float, int]] = []  # heap
        self.wait_ncf: list[tuple[float, int]] = []  # heap (adaptive waits differ: .rtt)
        self.wait_data: list[tuple[float, int]] = []  # heap
        self.ncf_rtt = RepairRtt()  # NAK -> NCF latency (.rtt)
        self.rdata_rtt = RepairRtt()  # NCF -> RDATA latency
        self.fin: int | None = None  # last sequence number of a finished session
        self.rst = False
        self.last_heard = now
        self.spmr_at: float | None = None
        self.sched: float | None = None  # deadline last pushed to the receiver's timer heap
        self.ended = False
        # APDU assembly in progress at the head: position and bytes gathered so far
        self.frag_pos = 0
        self.frag_acc = 0
        self.started_at = now
        # Rate samples, taken by the receiver itself (never on read): the last interval's
        # rate, and the mark (time, total_bytes_received) it ended at.
        self.rate_mark = now
        self.rate_bytes = 0
        self.rate_last = 0.0
        self.base = 0  # unbounded minus base = 64-bit sequence number (see SessionInfo)
        self.first = 0  # first sequence number of the stream (unbounded)
        self.fec: SessionFec | None = None  # FEC, once an SPM advertised it (.fec)
        self.ended_when_heard = False
        # Where it joined (.join): the source's OPT_JOIN_MIN then, OPT_SYN seen at ``first``,
        # and the numbers known to exist before ``first`` (inclusive range), all unbounded.
        self.join_min: int | None = None
        self.syn = False
        self.missed: tuple[int, int] | None = None
        self.join_gap: int | None = None  # joined on data: NAK [next, join_gap) at the 1st SPM
        self.end_reason: EndReason | None = None
        self.ended_at = now
        self.guard = SessionGuard(now)  # what is believed of the source (.guard)
        self.fin_at: float | None = None  # a FIN ends the session no sooner (.guard)

    # -- helpers ------------------------------------------------------------------------------

    def start(self, first: int, trail: int, ended_when_heard: bool) -> None:
        """The first packet set the window: delivery starts at ``first`` (RFC 3208 §6.1)."""
        self.started = True
        self.next = first
        self.lead = first - 1
        self.trail = trail
        self.lost_below = first
        self.first = first
        self.base = first - (first & SQN_MASK)
        self.ended_when_heard = ended_when_heard

    def close(self, reason: EndReason, now: float) -> None:
        """The session ended: keep its counters and edges only."""
        self.ended = True
        self.end_reason = reason
        self.ended_at = now
        self.naks.clear()
        self.lost.clear()
        self.nak_queue.clear()
        self.buf.clear()
        self.buf_bytes = 0
        self.backoff.clear()
        self.wait_ncf.clear()
        self.wait_data.clear()
        self.spmr_at = None
        if self.fec is not None:
            self.fec.groups.clear()

    def sample_window(self) -> None:
        """Sample the window occupancy (lead - next + 1) for the RM window figures; the
        in-order path does not sample (its occupancy is 1, see :meth:`window_average`)."""
        st = self.stats
        occ = self.lead - self.next + 1
        if st.window_samples == 0 or occ < st.window_min:
            st.window_min = occ
        if occ > st.window_max:
            st.window_max = occ
        st.window_samples += 1
        st.window_sum += occ

    def unwrap(self, s32: int) -> int:
        """Unbounded sequence number nearest the leading edge for wire number ``s32``."""
        return sqn_unwrap(s32, self.lead)

    def nak_state(self, sqn: int) -> NakState:
        """The NAK state of unbounded sequence number ``sqn`` (DONE: no record)."""
        return NakMachine.state_of(self, sqn)

    def first_nak(self) -> int | None:
        """Lowest sequence number being repaired (wire), or None."""
        return (min(self.naks) & SQN_MASK) if self.naks else None

    def nak_counts(self) -> tuple[int, int]:
        """(waiting for NCF incl. back-off, waiting for data) — RM NumPendingNaks/Outstanding."""
        w = sum(1 for n in self.naks.values() if n.state == NakState.WAIT_DATA)
        return len(self.naks) - w, w

    def rates_kbps(self, now: float) -> tuple[float, float]:
        """(overall, last-interval) receive rate in kbit/s.  Reading changes nothing: the last
        interval is the receiver's latest sample (:meth:`sample_rate`), or, when none was
        taken for a second or more, the stretch since it."""
        total = self.stats.total_bytes_received
        el = now - self.started_at
        overall = total * 8 / 1000 / el if el > 0 else 0.0
        span = now - self.rate_mark
        if span >= 1.0:
            return overall, (total - self.rate_bytes) * 8 / 1000 / span
        return overall, self.rate_last

    def sample_rate(self, now: float) -> None:
        """Close the rate interval at ``now`` if it is a second or longer (the receiver calls
        this about once a second)."""
        span = now - self.rate_mark
        if span >= 1.0:
            total = self.stats.total_bytes_received
            self.rate_last = (total - self.rate_bytes) * 8 / 1000 / span
            self.rate_bytes = total
            self.rate_mark = now

    def info(self, now: float) -> SessionInfo:
        """A snapshot (see :class:`SessionInfo`); an ended session's at its end."""
        if self.ended:
            now = self.ended_at
        base = self.base
        pending, outstanding = self.nak_counts()
        overall, last = self.rates_kbps(now)
        lo, hi = self.window_min_max()
        return SessionInfo(
            tsi=self.tsi,
            source=self.source,
            started=self.started,
            ended=self.ended,
            end_reason=self.end_reason,
            ended_when_heard=self.ended_when_heard,
            first_sqn=self.first - base,
            trail=self.trail - base,
            lead=self.lead - base,
            next=self.next - base,
            first_nak=min(self.naks) - base if self.naks else None,
            pending_naks=pending,
            outstanding_naks=outstanding,
            buffered_packets=len(self.buf),
            buffered_bytes=self.buf_bytes,
            window_average=self.window_average(),
            window_min=lo,
            window_max=hi,
            rate_kbps_overall=overall,
            rate_kbps_last=last,
            stats=replace(self.stats),
            join_min=None if self.join_min is None else self.join_min - base,
            syn_seen=self.syn,
            missed=None if self.missed is None else (self.missed[0] - base, self.missed[1] - base),
        )

    def stats_dict(self, now: float) -> dict[str, Any]:
        """Counters, window edges and NAK figures, for JSON output.  Besides the counters:
        ``first_sqn`` (64-bit, see :class:`SessionInfo`), ``ended_when_heard`` and
        ``end_reason`` ("fin", "rst", "expired" or None), and where it joined: ``join_min``,
        ``syn_seen`` and ``missed`` (``[first, last]`` or None; see :class:`SessionInfo`)."""
        d: dict[str, Any] = {f.name: getattr(self.stats, f.name) for f in fields(self.stats)}
        pending, outstanding = self.nak_counts()
        overall, last = self.rates_kbps(now)
        lo, hi = self.window_min_max()
        d.update(
            window_min=lo,
            window_max=hi,
            trail=self.trail - self.base,  # 64-bit, as the source's stats count them
            lead=self.lead - self.base,
            next=self.next - self.base,
            pending_naks=pending,
            outstanding_naks=outstanding,
            first_nak=self.first_nak(),
            buffered_packets=len(self.buf),
            window_average=self.window_average(),
            rate_kbps_overall=overall,
            rate_kbps_last=last,
            first_sqn=self.first - self.base,
            ended_when_heard=self.ended_when_heard,
            end_reason=None if self.end_reason is None else self.end_reason.value,
            join_min=None if self.join_min is None else self.join_min - self.base,
            syn_seen=self.syn,
            missed=None if self.missed is None else [m - self.base for m in self.missed],
        )
        return d

    def _in_order(self) -> int:
        st = self.stats
        return st.odata_packets_received + st.rdata_packets_received - st.window_samples

    def window_average(self) -> int:
        """Average sequences in the window over all data packets (RM AverageSequencesInWindow)."""
        st = self.stats
        fast = self._in_order()
        n = st.window_samples + fast
        return (st.window_sum + fast) // n if n else 0

    def window_min_max(self) -> tuple[int, int]:
        """(min, max) sequences in the window seen (RM Min/MaxSequencesInWindow)."""
        st = self.stats
        lo, hi = st.window_min, st.window_max
        if self._in_order():
            lo = 1 if not st.window_samples else min(lo, 1)
            hi = max(hi, 1)
        return lo, hi

    def next_deadline(self) -> float | None:
        """The earliest of the NAK queues' heads, the SPMR, the FIN confirmation and the FIN
        probe; None if nothing is pending.  Runs after every packet: no tuple, no loop."""
        t = self.spmr_at
        c = self.fin_at
        if c is not None and (t is None or c < t):
            t = c
        c = self.guard.probe_at
        if c is not None and (t is None or c < t):
            t = c
        if self.backoff:
            c = self.backoff[0][0]
            if t is None or c < t:
                t = c
        if self.wait_ncf:
            c = self.wait_ncf[0][0]
            if t is None or c < t:
                t = c
        if self.wait_data:
            c = self.wait_data[0][0]
            if t is None or c < t:
                t = c
        return t
