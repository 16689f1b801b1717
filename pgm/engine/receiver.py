"""The PGM receiver as a sans-I/O state machine (RFC 3208 §6).

Theory of operation
-------------------
A :class:`Receiver` is bound to one group and data-destination port and tracks every source
session (TSI) it hears there, up to ``max_sessions``.  Per session:

* **Window start** (RFC 3208 §6.1, OpenPGM rxw): the first packet defines it — an SPM starts
  delivery at its leading edge + 1 (earlier data is not asked for: a late joiner), a data packet
  at its own sequence number.  Sequence numbers are unwrapped into unbounded integers against
  the window with 32-bit circular arithmetic, so everything after that is plain comparisons.
* **Loss detection** (§6.3): a data packet beyond the leading edge, an SPM advertising a later
  leading edge, or an NCF for something not yet seen opens a NAK for each missing sequence
  number.
* **NAK state machine** (§6.3, the table ``NAK_TRANSITIONS`` below): BACK-OFF (random wait over
  [nak_bo_min, nak_bo_ivl], one draw per detection so a burst goes out as one NAK list) →
  WAIT_NCF (``nak_rpt_ivl``) → WAIT_DATA (``nak_rdata_ivl``); an NCF, or a multicast NAK from
  another receiver, suppresses; expiries retry until ``nak_ncf_retries`` /
  ``nak_data_retries`` are used up, and the sequence number is then lost.  No NAK is sent
  before an SPM told us where NAKs go; data from a source without an SPM triggers an SPMR
  (Appendix C) after a random ``spmr_bo_ivl`` wait, suppressed by another receiver's SPMR.
* **Delivery**: contiguous data in order, whole messages (OPT_FRAGMENT reassembly).  Lost
  sequence numbers — retries exhausted, or the source's trailing edge passed them — are
  reported as :class:`UnrecoverableLoss` at the point of the stream where they fall, with the
  range; a message missing any fragment is dropped and its other fragments reported with it.
  Delivery then continues after the gap.  Loss is never silent.
* **End**: OPT_FIN (on data or SPM) ends the session once everything up to its last sequence
  number is delivered or reported lost; OPT_RST ends it at once; silence for ``peer_expiry``
  expires it.  Each ends with a :class:`SessionEnded` event.
"""

from __future__ import annotations

import heapq
import os
import random
from collections import OrderedDict, deque
from collections.abc import Iterable
from dataclasses import dataclass, fields, replace
from itertools import count
from typing import Any

from .. import wire
from ..wire import NLA, TSI, as_nla
from .config import ReceiverConfig
from .errors import ConfigError
from .events import (
    DataReceived,
    EndReason,
    Event,
    LossReason,
    NakSent,
    NcfReceived,
    SessionEnded,
    SessionStarted,
    UnrecoverableLoss,
    data_received,
)
from .source import Outgoing

__all__ = [
    "NAK_TRANSITIONS",
    "NakState",
    "Receiver",
    "ReceiverStats",
    "SessionInfo",
    "SessionStats",
]

_M32 = 0xFFFFFFFF
_HALF = 0x80000000
_WRAP = 0x100000000


class NakState:
    """States of one missing sequence number (RFC 3208 §6.3)."""

    BACK_OFF = 1
    WAIT_NCF = 2
    WAIT_DATA = 3


# The NAK state machine as a table: (state, input) -> (next state, action).
# Inputs: "timer" (the state's timer expired), "ncf" (an NCF for the sequence number),
# "nak" (another receiver's multicast NAK for it).  Data for the sequence number ends the
# machine in every state.  Actions: "send_nak", "retry_ncf" / "retry_data" (count a retry; past
# the limit the sequence number is lost, else back off again), "restart" (re-arm the state's
# timer).
NAK_TRANSITIONS: dict[tuple[int, str], tuple[int, str]] = {
    (NakState.BACK_OFF, "timer"): (NakState.WAIT_NCF, "send_nak"),
    (NakState.BACK_OFF, "ncf"): (NakState.WAIT_DATA, "restart"),
    (NakState.BACK_OFF, "nak"): (NakState.WAIT_NCF, "restart"),
    (NakState.WAIT_NCF, "timer"): (NakState.BACK_OFF, "retry_ncf"),
    (NakState.WAIT_NCF, "ncf"): (NakState.WAIT_DATA, "restart"),
    (NakState.WAIT_NCF, "nak"): (NakState.WAIT_NCF, "restart"),
    (NakState.WAIT_DATA, "timer"): (NakState.BACK_OFF, "retry_data"),
    (NakState.WAIT_DATA, "ncf"): (NakState.WAIT_DATA, "restart"),
    (NakState.WAIT_DATA, "nak"): (NakState.WAIT_DATA, "restart"),
}


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
    """Parity NAKs sent (RM: TotalParityNaksSent; 0 until FEC)."""
    nak_packets_sent: int = 0
    """NAK packets sent."""
    ncfs_received: int = 0
    """NCF packets heard for this session."""
    spms_received: int = 0
    """SPMs accepted."""
    spms_out_of_sequence: int = 0
    """SPMs discarded for an old SPM sequence number (RFC 3208 §6.2)."""
    spmrs_sent: int = 0
    """SPM requests sent (unicast + multicast count as one)."""
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
    """ODATA/RDATA with the PARITY flag, dropped unread (FEC is not implemented)."""


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
    parity_packets_ignored: int = 0
    """ODATA/RDATA with the PARITY flag (FEC repair packets), dropped: FEC is not implemented,
    and a parity packet is never data (every session's, also those not yet heard)."""


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
    the first data packet's, or an SPM's leading edge + 1 (RFC 3208 §6.1)."""
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


class _Nak:
    __slots__ = ("data_retries", "deadline", "ncf_retries", "state")

    def __init__(self, state: int, deadline: float) -> None:
        self.state = state
        self.deadline = deadline
        self.ncf_retries = 0
        self.data_retries = 0


class _Rx:
    """A held data packet: payload, fragment info (unbounded first SQN), FIN flag."""

    __slots__ = ("data", "first", "offset", "total")

    def __init__(self, data: bytes, first: int, offset: int, total: int) -> None:
        self.data = data
        self.first = first  # -1: not a fragment
        self.offset = offset
        self.total = total


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
        self.buf: dict[int, _Rx] = {}
        self.buf_bytes = 0
        self.naks: dict[int, _Nak] = {}
        self.lost: dict[int, str] = {}  # declared lost, not yet passed by delivery
        self.lost_below = 0  # everything below this that is not held is lost ...
        self.below_reason = "window"  # ... for this reason
        self.backoff: list[tuple[float, int]] = []  # heap
        self.wait_ncf: deque[tuple[float, int]] = deque()
        self.wait_data: deque[tuple[float, int]] = deque()
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
        self.ended_when_heard = False
        self.end_reason: EndReason | None = None
        self.ended_at = now

    # -- helpers ------------------------------------------------------------------------------

    def unwrap(self, s32: int) -> int:
        """Unbounded sequence number nearest the leading edge for wire number ``s32``."""
        ref = self.lead
        d = (s32 - ref) & _M32
        if d >= _HALF:
            d -= _WRAP
        return ref + d

    def first_nak(self) -> int | None:
        """Lowest sequence number being repaired (wire), or None."""
        return (min(self.naks) & _M32) if self.naks else None

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
        )

    def stats_dict(self, now: float) -> dict[str, Any]:
        """Counters, window edges and NAK figures, for JSON output."""
        d: dict[str, Any] = {f.name: getattr(self.stats, f.name) for f in fields(self.stats)}
        pending, outstanding = self.nak_counts()
        overall, last = self.rates_kbps(now)
        lo, hi = self.window_min_max()
        d.update(
            window_min=lo,
            window_max=hi,
            trail=self.trail,
            lead=self.lead,
            next=self.next,
            pending_naks=pending,
            outstanding_naks=outstanding,
            first_nak=self.first_nak(),
            buffered_packets=len(self.buf),
            window_average=self.window_average(),
            rate_kbps_overall=overall,
            rate_kbps_last=last,
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
        t: float | None = None
        for cand in (
            self.backoff[0][0] if self.backoff else None,
            self.wait_ncf[0][0] if self.wait_ncf else None,
            self.wait_data[0][0] if self.wait_data else None,
            self.spmr_at,
        ):
            if cand is not None and (t is None or cand < t):
                t = cand
        return t


class Receiver:
    """All sessions on one group and data-destination port (see the module docstring).

    ``group`` and ``dport`` select the traffic; ``rng`` is the only source of randomness (NAK
    and SPMR back-off); ``now`` the start time.
    """

    def __init__(
        self,
        config: ReceiverConfig | None = None,
        *,
        group: NLA | str,
        dport: int = 7500,
        rng: random.Random | None = None,
        now: float = 0.0,
    ) -> None:
        self.config = config or ReceiverConfig()
        self.group: NLA = as_nla(group)
        if not self.group.is_multicast:
            raise ConfigError(f"{self.group} is not a multicast group")
        if not 0 < dport < 65536:
            raise ConfigError(f"bad destination port {dport}")
        self.dport = dport
        self.rng = rng if rng is not None else random.Random(os.urandom(16))
        self.stats = ReceiverStats()
        self.sessions: dict[TSI, Session] = {}
        self._ended: OrderedDict[TSI, float] = OrderedDict()
        #: Sessions that ended, newest last (up to ``ended_memory``), for their final figures.
        self.ended_sessions: OrderedDict[TSI, Session] = OrderedDict()
        self._events: deque[Event] = deque()
        self._out: list[Outgoing] = []
        self._timers: list[tuple[float, int, Session]] = []  # heap of per-session deadlines
        self._seq = count()
        self._expiry: list[tuple[float, int, Session]] = []  # heap: (last_heard + expiry)
        self._now = now
        c = self.config
        self._bo_lo = c.nak_bo_min
        self._bo_span = c.nak_bo_ivl - c.nak_bo_min
        self._max_window = c.max_window_sqns
        self._dst_ok: object = self.group
        self._dport_b = dport.to_bytes(2, "big")
        self._rate_tick = now + 1.0  # next time to sample the sessions' receive rates

    def session_info(self, tsi: TSI, now: float | None = None) -> SessionInfo | None:
        """A read-only snapshot of session ``tsi`` (live, or ended and still remembered, up to
        ``ended_memory``), or None.  ``now`` (default: the time of the latest call into the
        receiver) dates the rates of a live session."""
        s = self.sessions.get(tsi) or self.ended_sessions.get(tsi)
        if s is None:
            return None
        return s.info(self._now if now is None else now)

    def _sample_rates(self, now: float) -> None:
        """About once a second: close each session's rate interval (read-only statistics)."""
        self._rate_tick = now + 1.0
        for s in self.sessions.values():
            s.sample_rate(now)

    # -- sans-I/O interface -------------------------------------------------------------------

    def next_event(self) -> Event | None:
        """The next event for the application, or None."""
        return self._events.popleft() if self._events else None

    def take_events(self) -> deque[Event]:
        """All pending events at once, oldest first (for drivers that hand over batches)."""
        evs = self._events
        self._events = deque()
        return evs

    def datagrams_to_send(self, now: float) -> list[Outgoing]:
        """NAKs and SPMRs to transmit now."""
        out = self._out
        self._out = []
        return out

    def next_timer(self) -> float | None:
        """Absolute time of the next NAK/SPMR/expiry deadline, or None."""
        t: float | None = None
        h = self._timers
        while h:
            d, _, s = h[0]
            if s.ended:
                heapq.heappop(h)
                continue
            if s.next_deadline() != d:
                heapq.heappop(h)  # stale: the session's deadline moved
                if s.sched == d:
                    s.sched = None
                self._schedule(s)
                continue
            t = d
            break
        e = self._expiry
        while e:
            d, _, s = e[0]
            if s.ended or s.last_heard + self.config.peer_expiry != d:
                heapq.heappop(e)
                if not s.ended:
                    self._push_expiry(s)
                continue
            if t is None or d < t:
                t = d
            break
        return t

    def handle_timer(self, now: float) -> None:
        """Run every timer due at ``now`` (early calls are harmless)."""
        self._now = now
        if now >= self._rate_tick:
            self._sample_rates(now)
        h = self._timers
        due: list[Session] = []
        while h and h[0][0] <= now:
            d, _, s = heapq.heappop(h)
            if s.sched == d:
                s.sched = None
            if not s.ended and s not in due:
                due.append(s)
        for s in due:
            self._run_session_timers(s, now)
            if not s.ended:
                self._deliver(s)
                self._schedule(s)
        e = self._expiry
        while e and e[0][0] <= now:
            _, _, s = heapq.heappop(e)
            if s.ended:
                continue
            if s.last_heard + self.config.peer_expiry <= now:
                self._end(s, "expired", now)
            else:
                self._push_expiry(s)

    def receive_many(self, items: Iterable[tuple[bytes, NLA, NLA | None]], now: float) -> None:
        """Take a batch of ``(datagram, src, dst)`` heard at ``now`` (the I/O drivers drain a
        socket into one batch).  Same effect as :meth:`receive` on each, in order; the common
        case — the next in-order message of a known session — runs with its lookups hoisted
        out of the loop."""
        self._now = now
        if now >= self._rate_tick:
            self._sample_rates(now)
        sessions_get = self.sessions.get
        decode = wire.decode_data
        append = self._events.append
        make = data_received
        dport_b = self._dport_b
        verify = self.config.verify_checksum
        slow = self.receive
        for datagram, src, dst in items:
            if (
                len(datagram) < 24
                or (datagram[4] != wire.TYPE_ODATA and datagram[4] != wire.TYPE_RDATA)
                or datagram[5] & wire.FLAG_PARITY
                or datagram[2:4] != dport_b
                or (dst is not None and dst is not self._dst_ok)
            ):
                slow(datagram, src, now, dst)
                continue
            s = sessions_get((datagram[8:14], datagram[0] << 8 | datagram[1]))  # type: ignore[call-overload]
            if s is None or s.buf:
                slow(datagram, src, now, dst)
                continue
            try:
                tbyte, _flags, sqn, trail, opts, payload = decode(datagram, verify)
            except wire.PacketError:
                self.stats.malformed_packets += 1
                continue
            ref = s.lead
            d = (sqn - ref) & _M32
            d2 = (trail - ref) & _M32
            trail_u = ref + (d2 - _WRAP if d2 >= _HALF else d2)
            if opts or d != 1 or ref + 1 != s.next or trail_u > s.trail:
                s.last_heard = now
                self._on_data(
                    s, sqn, trail, tbyte == wire.TYPE_RDATA, opts, payload, len(datagram), now
                )
                continue
            # In-order fast path, as in receive().
            s.last_heard = now
            s.lead = ref + 1
            s.next = ref + 2
            st = s.stats
            st.total_bytes_received += len(datagram)
            if tbyte == wire.TYPE_RDATA:
                st.rdata_packets_received += 1
            else:
                st.odata_packets_received += 1
            st.data_bytes_received += len(payload)
            st.apdus_delivered += 1
            append(make(s.tsi, payload, sqn))
            if s.fin is not None and ref + 1 >= s.fin:
                self._end(s, "fin", now)

    def receive(self, datagram: bytes, src: NLA, now: float, dst: NLA | None = None) -> None:
        """Take one PGM packet heard on the group (or unicast to this host)."""
        self._now = now
        if now >= self._rate_tick:
            self._sample_rates(now)
        if dst is not None and dst is not self._dst_ok:
            if dst == self.group:
                self._dst_ok = dst  # the transport tends to pass the same object every time
            elif dst.is_multicast:
                self.stats.wrong_group += 1
                return
        tbyte = datagram[4] if len(datagram) > 4 else -1
        if tbyte == wire.TYPE_ODATA or tbyte == wire.TYPE_RDATA:
            # Hot path: decode without building a packet object.
            try:
                _t, flags, sqn, trail, opts, payload = wire.decode_data(
                    datagram, self.config.verify_checksum
                )
            except wire.PacketError:
                self.stats.malformed_packets += 1
                return
            if datagram[2:4] != self._dport_b:
                self.stats.wrong_port += 1
                return
            key = (datagram[8:14], datagram[0] << 8 | datagram[1])
            s = self.sessions.get(key)  # type: ignore[call-overload]
            if flags & wire.FLAG_PARITY:
                # RFC 3208 §9: a parity packet (FEC) is no data: it must never be delivered or
                # fill a gap.  Until FEC is implemented it is counted and dropped.
                self.stats.parity_packets_ignored += 1
                if s is not None:
                    s.last_heard = now
                    s.stats.parity_packets_ignored += 1
                return
            if s is None:
                s = self._session(TSI(*key), src, now, create=True)
                if s is None:
                    return
            else:
                s.last_heard = now
                if not opts and not s.buf:
                    # In-order fast path (nearly all traffic): the very next message, whole,
                    # nothing held.  Same rules as _on_data, inlined.
                    ref = s.lead
                    d = (sqn - ref) & _M32
                    d2 = (trail - ref) & _M32
                    trail_u = ref + (d2 - _WRAP if d2 >= _HALF else d2)
                    if d == 1 and ref + 1 == s.next and trail_u <= s.trail:
                        st = s.stats
                        s.lead = ref + 1
                        s.next = ref + 2
                        st.total_bytes_received += len(datagram)
                        if tbyte == wire.TYPE_RDATA:
                            st.rdata_packets_received += 1
                        else:
                            st.odata_packets_received += 1
                        st.data_bytes_received += len(payload)
                        st.apdus_delivered += 1
                        self._events.append(data_received(s.tsi, payload, sqn))
                        if s.fin is not None and ref + 1 >= s.fin:
                            self._end(s, "fin", now)
                        return
            rdata = tbyte == wire.TYPE_RDATA
            self._on_data(s, sqn, trail, rdata, opts, payload, len(datagram), now)
            return
        try:
            pkt = wire.parse(datagram, verify=self.config.verify_checksum)
        except wire.PacketError:
            self.stats.malformed_packets += 1
            return
        t = type(pkt)
        if t is wire.SPM:
            if pkt.destination_port != self.dport:
                self.stats.wrong_port += 1
                return
            s = self._session(pkt.tsi, src, now, create=True)
            if s is not None:
                self._on_spm(s, pkt, len(datagram), now)  # type: ignore[arg-type]
        elif t is wire.NCF:
            if pkt.destination_port != self.dport:
                self.stats.wrong_port += 1
                return
            s = self._session(pkt.tsi, src, now, create=False)
            if s is not None:
                self._on_ncf(s, pkt, now)  # type: ignore[arg-type]
        elif t is wire.SPMR or t is wire.NAK:
            # Upstream packets we overhear: another receiver's multicast SPMR or NAK suppresses
            # ours (RFC 3208 App. C, §6.3).  Unicast ones are for the source, not us.
            if dst is None or not dst.is_multicast or pkt.source_port != self.dport:
                return
            s = self._session(pkt.tsi, src, now, create=False)
            if s is None:
                return
            if t is wire.SPMR:
                if s.spmr_at is not None:
                    s.spmr_at = now + self._spmr_retry()
                    self._schedule(s)
            else:
                self._on_peer_nak(s, pkt, now)  # type: ignore[arg-type]

    # -- sessions -----------------------------------------------------------------------------

    def _session(self, tsi: TSI, src: NLA, now: float, create: bool) -> Session | None:
        s = self.sessions.get(tsi)
        if s is not None:
            s.last_heard = now
            return s
        if tsi in self._ended:
            self.stats.ended_session_packets += 1
            return None
        if not create:
            self.stats.unknown_session += 1
            return None
        if len(self.sessions) >= self.config.max_sessions:
            self.stats.sessions_rejected += 1
            return None
        s = Session(tsi, src, now)
        self.sessions[tsi] = s
        self.stats.sessions_started += 1
        self._push_expiry(s)
        return s

    def _push_expiry(self, s: Session) -> None:
        heapq.heappush(self._expiry, (s.last_heard + self.config.peer_expiry, next(self._seq), s))

    def _schedule(self, s: Session) -> None:
        """Make sure the session's earliest deadline is in the timer heap (once)."""
        d = s.next_deadline()
        if d is not None and d != s.sched:
            heapq.heappush(self._timers, (d, next(self._seq), s))
            s.sched = d

    def _end(self, s: Session, reason: str, now: float) -> None:
        if s.ended:
            return
        if reason != "fin" and s.started and s.next <= s.lead:
            # Whatever was still missing or undelivered will never come: say so.
            s.lost_below = s.lead + 1
            s.below_reason = reason
            self._deliver(s, final=True)
        s.ended = True
        s.end_reason = EndReason(reason)
        s.ended_at = now
        # An ended session keeps its counters and edges only.
        s.naks.clear()
        s.buf.clear()
        s.buf_bytes = 0
        s.lost.clear()
        s.backoff.clear()
        s.wait_ncf.clear()
        s.wait_data.clear()
        s.spmr_at = None
        del self.sessions[s.tsi]
        self._ended[s.tsi] = now
        self.ended_sessions[s.tsi] = s
        while len(self._ended) > self.config.ended_memory:
            self._ended.popitem(last=False)
        while len(self.ended_sessions) > self.config.ended_memory:
            self.ended_sessions.popitem(last=False)
        self.stats.sessions_ended += 1
        self._events.append(SessionEnded(s.tsi, s.end_reason))

    # -- packets --------------------------------------------------------------------------------

    def _start(self, s: Session, first: int, trail: int, ended: bool = False) -> None:
        """The session's first packet sets its window (RFC 3208 §6.1); announce it."""
        s.started = True
        s.next = first
        s.lead = first - 1
        s.trail = trail
        s.lost_below = first
        s.first = first
        s.base = first - (first & _M32)
        s.ended_when_heard = ended
        self._events.append(SessionStarted(s.tsi, s.source, first & _M32, ended))

    def _on_data(
        self,
        s: Session,
        sqn32: int,
        trail32: int,
        rdata: bool,
        opts: list[wire.Option],
        data: bytes,
        size: int,
        now: float,
    ) -> None:
        st = s.stats
        st.total_bytes_received += size
        if not s.started:
            # RFC 3208 §6.1 / OpenPGM: the first data packet starts the window at its SQN.
            s.lead = sqn32 - 1  # unwrap reference
            self._start(s, sqn32, s.unwrap(trail32))
            if not s.have_spm and s.spmr_at is None:
                # App. C: ask for an SPM (we need its path NLA to NAK) after a random wait.
                s.spmr_at = now + self.rng.random() * self.config.spmr_bo_ivl
                self._schedule(s)
        # Unwrap against the leading edge (32-bit circular arithmetic, inlined).
        ref = s.lead
        d = (sqn32 - ref) & _M32
        sqn = ref + (d - _WRAP if d >= _HALF else d)
        d = (trail32 - ref) & _M32
        trail = ref + (d - _WRAP if d >= _HALF else d)
        if trail > s.trail:
            self._advance_trail(s, trail, now)
            if s.ended:
                return
        if sqn == ref + 1 and sqn == s.next and not opts and not s.buf:
            # Fast path (nearly all traffic): the next message, whole, in order, nothing held.
            s.lead = sqn
            s.next = sqn + 1
            if rdata:
                st.rdata_packets_received += 1
            else:
                st.odata_packets_received += 1
            st.data_bytes_received += len(data)
            st.apdus_delivered += 1
            self._events.append(data_received(s.tsi, data, sqn32))
            if s.fin is not None and sqn >= s.fin:
                self._end(s, "fin", now)
            return
        if sqn < s.next or sqn in s.buf:
            st.duplicate_data_packets += 1
            return
        if sqn - s.next >= self._max_window:
            st.out_of_window += 1
            return
        frag: wire.OptFragment | None = None
        fin = False
        if opts:
            for o in opts:
                t = type(o)
                if t is wire.OptFragment:
                    frag = o  # type: ignore[assignment]
                elif t is wire.OptFin:
                    fin = True
        n = len(data)
        if frag is not None:
            first = s.unwrap(frag.first_sqn)
            rx = _Rx(data, first, frag.offset, frag.apdu_length)
            head_apdu = first == s.next
        else:
            rx = _Rx(data, -1, 0, n)
            head_apdu = sqn == s.next
        if not head_apdu and s.buf_bytes + n > self.config.max_buffer_bytes:
            st.buffer_drops += 1
            return
        if sqn > s.lead:
            if sqn > s.lead + 1:
                self._open_gap(s, s.lead + 1, sqn, now)
            s.lead = sqn
        else:
            nak = s.naks.pop(sqn, None)
            if nak is None:
                s.lost.pop(sqn, None)  # arrived after being given up: deliver it after all
        if rdata:
            st.rdata_packets_received += 1
        else:
            st.odata_packets_received += 1
        if fin:
            s.fin = sqn
        occ = s.lead - s.next + 1
        if st.window_samples == 0 or occ < st.window_min:
            st.window_min = occ
        if occ > st.window_max:
            st.window_max = occ
        st.window_samples += 1
        st.window_sum += occ
        s.buf[sqn] = rx
        s.buf_bytes += n
        self._deliver(s)
        self._schedule(s)

    def _on_spm(self, s: Session, spm: wire.SPM, size: int, now: float) -> None:
        st = s.stats
        if s.have_spm and not wire.sqn_gt(spm.spm_sqn, s.spm_sqn):
            # RFC 3208 §6.2: SPMs out of sequence are discarded.
            st.spms_out_of_sequence += 1
            return
        st.spms_received += 1
        st.total_bytes_received += size
        s.have_spm = True
        s.spm_sqn = spm.spm_sqn
        s.nak_dst = spm.path_nla
        s.spmr_at = None
        rst = fin = False
        for o in spm.options:
            if type(o) is wire.OptRst:
                rst = True
            elif type(o) is wire.OptFin:
                fin = True
        if not s.started:
            # First packet is an SPM: start after its leading edge (RFC 3208 §6.1, OpenPGM).
            s.lead = spm.spm_lead
            lead = spm.spm_lead
            self._start(s, lead + 1, s.unwrap(spm.spm_trail), fin or rst)
        else:
            lead = s.unwrap(spm.spm_lead)
            self._advance_trail(s, s.unwrap(spm.spm_trail), now)
            if s.ended:
                return
            if lead > s.lead and lead - s.next < self.config.max_window_sqns:
                # The source has sent data we never saw: NAK it (RFC 3208 §6.3).
                self._open_gap(s, s.lead + 1, lead + 1, now)
                s.lead = lead
        if rst:
            s.rst = True
            self._end(s, "rst", now)
            return
        if fin:
            s.fin = s.lead if s.started else lead
        self._deliver(s)
        if not s.ended:
            self._schedule(s)

    def _on_ncf(self, s: Session, ncf: wire.NCF, now: float) -> None:
        s.stats.ncfs_received += 1
        sqns = [ncf.nak_sqn]
        lst = ncf.option(wire.OptNakList)
        if lst is not None:
            sqns.extend(lst.sqns)
        if self.config.trace_events:
            self._events.append(NcfReceived(s.tsi, tuple(sqns)))
        if not s.started or ncf.parity:
            return
        for s32 in sqns:
            sqn = s.unwrap(s32)
            if sqn < s.next or sqn in s.buf:
                continue  # RFC 3208 §6.3: NCFs for received or passed data are ignored
            if sqn > s.lead:
                if sqn - s.next >= self.config.max_window_sqns:
                    continue
                # An NCF beyond the lead extends the window (OpenPGM).
                if sqn > s.lead + 1:
                    self._open_gap(s, s.lead + 1, sqn, now)
                s.lead = sqn
                fresh = _Nak(NakState.BACK_OFF, 0.0)
                s.naks[sqn] = fresh
                s.lost.pop(sqn, None)
                self._transition(s, sqn, fresh, "ncf", now)
                continue
            nak = s.naks.get(sqn)
            if nak is not None:
                self._transition(s, sqn, nak, "ncf", now)
        self._schedule(s)

    def _on_peer_nak(self, s: Session, nak_pkt: wire.NAK, now: float) -> None:
        if nak_pkt.parity or not s.started:
            return
        sqns = [nak_pkt.nak_sqn]
        lst = nak_pkt.option(wire.OptNakList)
        if lst is not None:
            sqns.extend(lst.sqns)
        for s32 in sqns:
            sqn = s.unwrap(s32)
            nak = s.naks.get(sqn)
            if nak is not None:
                self._transition(s, sqn, nak, "nak", now)
        self._schedule(s)

    # -- window, NAKs, delivery --------------------------------------------------------------

    def _backoff(self) -> float:
        return self._bo_lo + self.rng.random() * self._bo_span

    def _spmr_retry(self) -> float:
        return max(1.0, 4 * self.config.spmr_bo_ivl)

    def _open_gap(self, s: Session, lo: int, hi: int, now: float) -> None:
        """Sequence numbers [lo, hi) are missing: start a NAK for each (one back-off draw)."""
        room = self.config.max_pending_naks - len(s.naks)
        if hi - lo > room:
            # Too many to track: give up the oldest (everything missing below the cut).
            cut = hi - max(room, 0)
            s.lost_below = cut
            s.below_reason = "capacity"
            for sqn in [q for q in s.naks if q < cut]:
                del s.naks[sqn]
            lo = cut
        deadline = now + self._backoff()
        for sqn in range(lo, hi):
            s.naks[sqn] = _Nak(NakState.BACK_OFF, deadline)
            heapq.heappush(s.backoff, (deadline, sqn))

    def _transition(self, s: Session, sqn: int, nak: _Nak, inp: str, now: float) -> None:
        state, action = NAK_TRANSITIONS[(nak.state, inp)]
        cfg = self.config
        if action == "retry_ncf":
            nak.ncf_retries += 1
            if nak.ncf_retries > cfg.nak_ncf_retries:
                self._give_up(s, sqn)
                return
        elif action == "retry_data":
            nak.data_retries += 1
            if nak.data_retries > cfg.nak_data_retries:
                self._give_up(s, sqn)
                return
        nak.state = state
        if state == NakState.BACK_OFF:
            nak.deadline = now + self._backoff()
            heapq.heappush(s.backoff, (nak.deadline, sqn))
        elif state == NakState.WAIT_NCF:
            nak.deadline = now + cfg.nak_rpt_ivl
            s.wait_ncf.append((nak.deadline, sqn))
        else:
            nak.deadline = now + cfg.nak_rdata_ivl
            s.wait_data.append((nak.deadline, sqn))

    def _give_up(self, s: Session, sqn: int, reason: str = "retries") -> None:
        s.naks.pop(sqn, None)
        s.lost[sqn] = reason

    def _run_session_timers(self, s: Session, now: float) -> None:
        naks = s.naks
        to_send: list[int] = []
        bo = s.backoff
        while bo and bo[0][0] <= now:
            d, sqn = heapq.heappop(bo)
            nak = naks.get(sqn)
            if nak is None or nak.state != NakState.BACK_OFF or nak.deadline != d:
                continue
            if s.nak_dst is not None:
                to_send.append(sqn)
            # Without an SPM there is nowhere to send the NAK (RFC 3208 §6.3: no NAKs before an
            # SPM); it is treated as sent and unanswered, so the SPMR has NAK_RPT_IVL per retry
            # to bring the SPM in before the gap is given up.
            self._transition(s, sqn, nak, "timer", now)
        for q in (s.wait_ncf, s.wait_data):
            while q and q[0][0] <= now:
                d, sqn = q.popleft()
                nak = naks.get(sqn)
                if nak is None or nak.deadline != d:
                    continue
                self._transition(s, sqn, nak, "timer", now)
        if to_send:
            self._send_naks(s, sorted(to_send))
        if s.spmr_at is not None and s.spmr_at <= now:
            if s.have_spm:
                s.spmr_at = None
            else:
                self._send_spmr(s)
                s.spmr_at = now + self._spmr_retry()

    def _send_naks(self, s: Session, sqns: list[int]) -> None:
        assert s.nak_dst is not None
        st = s.stats
        for i in range(0, len(sqns), 1 + wire.MAX_NAK_LIST):
            chunk = [q & _M32 for q in sqns[i : i + 1 + wire.MAX_NAK_LIST]]
            pkt = wire.NAK(
                source_port=self.dport,
                destination_port=s.tsi.source_port,
                gsi=s.tsi.gsi,
                nak_sqn=chunk[0],
                source_nla=s.nak_dst,
                group_nla=self.group,
                options=[wire.OptNakList(chunk[1:])] if len(chunk) > 1 else [],
            ).encode()
            self._out.append((pkt, s.nak_dst, None))
            st.nak_packets_sent += 1
            st.selective_naks_sent += len(chunk)
            if self.config.trace_events:
                self._events.append(NakSent(s.tsi, tuple(chunk)))

    def _send_spmr(self, s: Session) -> None:
        pkt = wire.SPMR(
            source_port=self.dport, destination_port=s.tsi.source_port, gsi=s.tsi.gsi
        ).encode()
        if self.config.spmr_multicast:
            self._out.append((pkt, self.group, 1))  # TTL 1: for the other receivers here
        self._out.append((pkt, s.source, None))
        s.stats.spmrs_sent += 1

    def _advance_trail(self, s: Session, trail: int, now: float) -> None:
        """The source's trailing edge moved: anything missing below it is lost (RFC 3208 §6.3)."""
        if trail <= s.trail:
            return
        if trail - s.trail >= _HALF:
            return  # implausible jump (OpenPGM ignores these too)
        s.trail = trail
        if trail > s.lost_below:
            s.lost_below = trail
            s.below_reason = "window"
            if trail > s.lead + 1:
                s.lead = trail - 1
            for sqn in [q for q in s.naks if q < trail]:
                del s.naks[sqn]
            self._deliver(s)

    def _deliver(self, s: Session, final: bool = False) -> None:
        """Deliver what is contiguous from ``next``; report lost stretches where they fall."""
        buf = s.buf
        lost = s.lost
        events = self._events
        st = s.stats
        while True:
            sqn = s.next
            rx = buf.get(sqn)
            if rx is None:
                if sqn in lost or (sqn < s.lost_below and sqn <= s.lead):
                    self._report_lost_run(s, sqn)
                    continue
                break
            if rx.first < 0:
                del buf[sqn]
                s.buf_bytes -= len(rx.data)
                s.next = sqn + 1
                st.data_bytes_received += len(rx.data)
                st.apdus_delivered += 1
                events.append(DataReceived(s.tsi, rx.data, sqn & _M32))
                continue
            if rx.first != sqn or rx.offset != 0:
                # A fragment whose message began before what we have: its start is gone.
                self._drop_orphans(s)
                continue
            if not self._assemble(s):
                break
        if s.fin is not None and s.next > s.fin and not s.ended and not final:
            self._end(s, "fin", self._now)

    def _assemble(self, s: Session) -> bool:
        """Advance reassembly of the message starting at ``next``; True if it moved on."""
        buf = s.buf
        first = s.next
        total = buf[first].total
        if total > self.config.max_apdu:
            self._drop_apdu(s, first)
            return True
        q = s.frag_pos or first
        acc = s.frag_acc
        while acc < total:
            rx = buf.get(q)
            if rx is None:
                if q in s.lost or q < s.lost_below:
                    self._drop_apdu(s, q)  # a fragment is lost: so is the message
                    return True
                s.frag_pos, s.frag_acc = q, acc  # resume here when more arrives
                return False
            if rx.first != first:
                self._drop_apdu(s, q - 1)  # the next message started early: ours is short
                return True
            if rx.offset != acc or rx.total != total or acc + len(rx.data) > total:
                self._drop_apdu(s, q)  # inconsistent OPT_FRAGMENT
                return True
            acc += len(rx.data)
            q += 1
        data = b"".join([buf.pop(i).data for i in range(first, q)])
        s.buf_bytes -= total
        s.next = q
        s.frag_pos = s.frag_acc = 0
        s.stats.data_bytes_received += total
        s.stats.apdus_delivered += 1
        self._events.append(DataReceived(s.tsi, data, first & _M32))
        return True

    def _drop_apdu(self, s: Session, upto: int) -> None:
        """The message at ``next`` cannot complete: drop it through ``upto`` and the fragments
        of it held beyond; report them lost together."""
        first = s.next
        end = upto
        while True:
            rx = s.buf.get(end + 1)
            if rx is None or rx.first != first:
                break
            end += 1
        for q in range(first, end + 1):
            rx = s.buf.pop(q, None)
            if rx is not None:
                s.buf_bytes -= len(rx.data)
            s.naks.pop(q, None)
            s.lost.pop(q, None)
        s.frag_pos = s.frag_acc = 0
        s.next = end + 1
        if end > s.lead:
            s.lead = end
        self._emit_loss(s, first, end, "fragment")

    def _drop_orphans(self, s: Session) -> None:
        """Fragments at ``next`` whose message started earlier (its start was lost)."""
        first = s.next
        orphan_of = s.buf[first].first
        end = first
        while True:
            rx = s.buf.get(end + 1)
            if rx is None or rx.first != orphan_of:
                break
            end += 1
        for q in range(first, end + 1):
            rx = s.buf.pop(q)
            s.buf_bytes -= len(rx.data)
        s.next = end + 1
        self._emit_loss(s, first, end, "fragment")

    def _report_lost_run(self, s: Session, sqn: int) -> None:
        """``sqn`` (at ``next``) is lost: skip the whole lost stretch and report it once."""
        lost = s.lost
        buf = s.buf
        if sqn < s.lost_below:
            reason = s.below_reason
            lost.pop(sqn, None)
            # Up to the first packet we hold, or the cut, whichever comes first (never
            # walking the stretch one number at a time: it may be long).
            end = min(s.lost_below, s.lead + 1) - 1
            held = [q for q in buf if q > sqn]
            if held:
                end = min(end, min(held) - 1)
            if len(s.naks) < end - sqn:
                for q in [k for k in s.naks if sqn <= k <= end]:
                    del s.naks[q]
            else:
                for q in range(sqn, end + 1):
                    s.naks.pop(q, None)
            if lost:
                for q in [k for k in lost if sqn <= k <= end]:
                    del lost[q]
        else:
            reason = lost.pop(sqn)
            end = sqn
        # Extend through individually given-up numbers that follow.
        while end + 1 in lost and end + 1 not in buf:
            end += 1
            lost.pop(end)
            s.naks.pop(end, None)
        s.next = end + 1
        self._emit_loss(s, sqn, end, reason)

    def _emit_loss(self, s: Session, first: int, last: int, reason: str) -> None:
        st = s.stats
        st.lost_sqns += last - first + 1
        st.loss_events += 1
        self._events.append(
            UnrecoverableLoss(s.tsi, first & _M32, last & _M32, LossReason(reason))
        )
