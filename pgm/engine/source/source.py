"""The PGM source (sender) as a sans-I/O state machine (RFC 3208 §5, §6.1): API and scheduler.

Theory of operation
-------------------
The application hands messages (APDUs) to :meth:`Source.send` (several at once:
:meth:`Source.send_many`).  Each is cut into TSDUs (OPT_FRAGMENT when it does not fit one
packet), given consecutive sequence numbers — ODATA is numbered from 0 like OpenPGM, wrapping
mod 2**32 — and queued.  :meth:`Source.datagrams_to_send`
is the scheduler: it releases packets in priority order (RFC 3208 §5.1.1): NCFs at once, then
the start/close SPM bursts (not rate-limited, as OpenPGM), then, under the token bucket, a due
SPM, RDATA and ODATA.  Every SPM, ODATA and RDATA carries the current trailing edge.

The work is split by job:

* :mod:`.txw` — the TPDUs in a preallocated ring indexed by sequence number (the transmit
  window and the send queue), whose trailing edge advances with time in steps of
  ``window_advance_pct`` of ``window_secs`` (Windows' model);
* :mod:`.transmit` — RDATA, then ODATA in batches (one token-bucket refill and one debit per
  batch, packets built from the header template straight out of the ring);
* :mod:`.spm` — when SPMs fall due (start burst, heartbeats after data, ambient, SPMR);
* :mod:`.repair` — which NAKs are accepted, the NCFs and the RDATA queue;
* :mod:`.info` — the life-cycle states, the :class:`SourceInfo` snapshot, identity checks;
* this module — the public API, the session's life (:class:`SourceState`) and the scheduler.

Internally sequence numbers are unbounded integers (a 64-bit counter, never wrapping), so the
window is plain integer arithmetic; they are reduced mod 2**32 only on the wire
(:mod:`pgm.wire.fastpath` builds every packet), and wire numbers coming in are unwrapped
against the window (:func:`pgm.wire.sqn_unwrap`).

Life: ``OPEN`` until :meth:`Source.close`, which puts OPT_FIN on the last data still queued
(``CLOSING`` while it drains), then ``LINGERING``: a closing SPM burst and SPMs with OPT_FIN,
NAKs still answered for ``linger_secs``, then ``CLOSED`` and :class:`SourceClosed`.
:meth:`Source.abort` drops queued data and lingers with OPT_RST SPMs, answering no NAKs.
Statistics are read-only: :meth:`Source.info` is a snapshot, and the rate figures come from a
:class:`~pgm.engine.rate.RateMeter` the scheduler feeds, so reading them changes nothing.
"""

from __future__ import annotations

import os
import random
from collections import deque
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any, cast

from ... import wire
from ...wire import NLA, SQN_MASK, TSI, as_nla
from ..api import Outgoing
from ..config import SourceConfig
from ..errors import NotConnected, WouldBlock
from ..events import Event, SourceClosed
from ..rate import RateMeter, TokenBucket
from . import transmit
from .budget import SourceBudget
from .info import SourceInfo, SourceState, info_dict, session_identity
from .join import LateJoin
from .repair import RepairQueue
from .spm import SpmSchedule
from .stats import SourceStats
from .txw import TransmitWindow, TxPacket, fragments
from .txw import ring_size as _ring_size

if TYPE_CHECKING:  # imported when a session uses FEC (its Reed-Solomon code is not small)
    from .fec import SourceFec

__all__ = ["Outgoing", "Source", "SourceInfo", "SourceState", "SourceStats"]

_UPSTREAM = frozenset((wire.TYPE_NAK, wire.TYPE_NNAK, wire.TYPE_SPMR))
#: Late join: OPT_JOIN + OPT_SYN, the room it takes from a fragment (RFC 3208 §9.5, §9.6); an
#: unfragmented message's is ``SourceConfig.max_message_tsdu``.
_LATE_FRAG_BYTES = len(wire.data_options(fragment=(0, 0, 0), join=0, syn=True)) - len(
    wire.data_options(fragment=(0, 0, 0))
)


# Module-level aliases: an Enum member looked up on its class costs ~50 ns, too much per packet.
_OPEN = SourceState.OPEN
_CLOSING = SourceState.CLOSING
_LINGERING = SourceState.LINGERING
_CLOSED = SourceState.CLOSED


class Source:
    """One PGM source session.  See the module docstring for how it behaves.

    Parameters are the session's identity: ``group`` and ``dport`` (data-destination port) are
    where data goes; ``nla`` is this host's address on the sending interface (the SPM path NLA,
    where NAKs come back to).  ``gsi`` (6 bytes) and ``sport`` are generated when omitted.
    ``rng`` is the only source of randomness; ``now`` is the start time; ``initial_sqn`` lets
    tests start near the 32-bit wrap.
    """

    def __init__(
        self,
        config: SourceConfig | None = None,
        *,
        group: NLA | str,
        nla: NLA | str,
        dport: int = 7500,
        sport: int | None = None,
        gsi: bytes | None = None,
        rng: random.Random | None = None,
        now: float = 0.0,
        initial_sqn: int = 0,
    ) -> None:
        self.config = cfg = config or SourceConfig()
        self.group: NLA = as_nla(group)
        self.nla: NLA = as_nla(nla)
        self.rng = rng if rng is not None else random.Random(os.urandom(16))
        self.dport = dport
        sport, gsi = session_identity(cfg, self.group, dport, sport, gsi, self.rng)
        self.sport, self.gsi = sport, gsi
        self.tsi = TSI(gsi, sport)
        self.stats = SourceStats()

        self._overhead = cfg.header_overhead
        # OpenPGM accommodation: options_on_all_data (SourceConfig) - OPT_LENGTH + OPT_JOIN on
        # every packet without OPT_FRAGMENT, 12 bytes less room for an unfragmented message.
        self._join = cfg.options_on_all_data
        self._max_tsdu = cfg.max_message_tsdu
        self._max_frag = cfg.max_tsdu_fragment
        self._setup_late_join(initial_sqn & SQN_MASK, now)
        self._bucket = TokenBucket(
            cfg.rate_bps / 8, max(cfg.mtu, cfg.rate_bps / 8 * cfg.burst_secs), now
        )
        # A source held back by the rate wakes when half the bucket's depth has refilled (a
        # batch, not one packet per wake-up: docs/performance.md); a one-MTU bucket: per packet.
        depth = self._bucket.burst
        self._wake_tokens = depth / 2 if depth >= 4 * cfg.mtu else 0.0
        self._data = wire.DataTemplate(sport, dport, self.gsi)
        self._events: deque[Event] = deque()
        initial_sqn &= SQN_MASK
        # The ring holds the window and the send queue (.txw); first sized for full packets.
        held = (cfg.effective_window_bytes + cfg.send_buffer_bytes) // max(1, self._max_tsdu)
        self._txw = TransmitWindow(
            initial_sqn,
            cfg.effective_window_bytes,
            cfg.window_secs,
            cfg.window_secs * cfg.window_advance_pct / 100.0,
            _ring_size(held + 64),
        )
        self._txw.syn_sqn = self._syn_sqn
        self._last_first = -1  # first SQN of the last message queued (unbounded)
        self._pending_bytes = 0
        self._repairs = RepairQueue(
            tsi=self.tsi,
            dport=dport,
            nla=self.nla,
            group=self.group,
            cap=cfg.max_repair_queue,
            stats=self.stats,
            events=self._events if cfg.trace_events else None,
        )
        if self._late_on:
            self._repairs.late = self._late
        # Separate repair / NCF budgets and NAKer fairness (.budget, docs/security.md).
        self._budget = self._repairs.budget = SourceBudget(cfg, self.stats, now)
        self._spm = SpmSchedule(cfg, wire.SpmTemplate(sport, dport, self.gsi, self.nla), now)
        self._setup_fec()
        self._state = _OPEN
        self._rst = False
        self._linger_at: float | None = None
        self._linger = cfg.effective_linger
        self._now = now
        self._started = now
        self._meter = RateMeter(now)  # SPM + ODATA bytes per second, for the "last" rate

    def _setup_late_join(self, initial_sqn: int, now: float) -> None:
        """Late join (SourceConfig.late_join): OPT_JOIN on all data, OPT_SYN on the first."""
        cfg = self.config
        self._late = LateJoin(
            cfg.late_join,
            initial_sqn,
            cfg.window_secs,
            cfg.window_secs * cfg.window_advance_pct / 100.0,
            now,
        )
        self._late_on = self._late.enabled
        self._syn_sqn = initial_sqn if self._late_on else -1
        if self._late_on:
            self._join = True  # every unfragmented TPDU carries OPT_JOIN (see _queue)
            self._max_frag = cfg.max_tsdu_fragment - _LATE_FRAG_BYTES

    def _setup_fec(self) -> None:
        """FEC (docs/fec.md): parity in .fec; every SPM carries its OPT_PARITY_PRM."""
        cfg = self.config
        self._fec: SourceFec | None = None
        self._spm_fixed: tuple[wire.Option, ...] = ()
        if cfg.fec:
            from .fec import SourceFec

            fec = SourceFec(cfg, self._data, self.stats, self._bucket.try_consume,
                            self._events if cfg.trace_events else None, self.tsi)  # fmt: skip
            self._fec = fec
            self._spm_fixed = self._spm.options = (fec.spm_option,)
            self._repairs.parity = fec if fec.ondemand else None

    # -- application API ---------------------------------------------------------------------

    @property
    def state(self) -> SourceState:
        """Life-cycle state (a ``str`` enum: compares equal to 'open', 'closing', ...)."""
        return self._state

    @property
    def max_tsdu(self) -> int:
        """Largest message that goes out as one unfragmented ODATA (12 bytes less with
        ``options_on_all_data``)."""
        return self._max_tsdu

    @property
    def trail(self) -> int:
        """Trailing edge of the transmit window (wire, 32-bit)."""
        return self._txw.trail & SQN_MASK

    @property
    def lead(self) -> int:
        """Leading edge of the transmit window (wire, 32-bit)."""
        return self._txw.lead & SQN_MASK

    @property
    def trail64(self) -> int:
        """Trailing edge as an unwrapped counter (Windows' 64-bit TrailingEdgeSeqId)."""
        return self._txw.trail

    @property
    def lead64(self) -> int:
        """Leading edge as an unwrapped counter (Windows' 64-bit LeadingEdgeSeqId)."""
        return self._txw.lead

    @property
    def pending_bytes(self) -> int:
        """Bytes accepted by :meth:`send` and not yet sent."""
        return self._pending_bytes

    @property
    def window_bytes_free(self) -> int:
        """Free bytes in the transmit window."""
        return self._txw.bytes_free

    @property
    def outstanding_repairs(self) -> int:
        """RDATA queued and not yet sent (RM: NumOutstandingNaks)."""
        return len(self._repairs.queue)

    def send(self, data: bytes, now: float) -> int:
        """Queue one message; return the sequence number of its first TPDU (wire, 32-bit).

        Raises :class:`WouldBlock` if the send buffer cannot take it now (a message is taken
        whole or not at all; one larger than the buffer is taken when the buffer is empty),
        :class:`NotConnected` after :meth:`close`/:meth:`abort`, ``ValueError`` beyond
        ``max_apdu``.
        """
        if self._state is not _OPEN:
            raise NotConnected("session closed" if not self._rst else "session aborted")
        n = len(data)
        cfg = self.config
        if n > cfg.max_apdu:
            raise ValueError(f"message of {n} bytes exceeds max_apdu ({cfg.max_apdu})")
        if self._pending_bytes and self._pending_bytes + n > cfg.send_buffer_bytes:
            raise WouldBlock()
        self._now = now
        self._pending_bytes += n
        data = bytes(data)
        if n <= self._max_tsdu and not self._join:  # the common case: one slot, no options
            self._last_first = first = self._txw.push(data, wire.partial_sum(data))
            return first & SQN_MASK
        return self._queue(data, n) & SQN_MASK

    def send_many(self, messages: Sequence[bytes], now: float, start: int = 0) -> int:
        """Queue ``messages[start:]`` (each keeps its boundary) in one call, at one ``now``,
        as far as the send buffer takes them; returns the index after the last one taken
        (``len(messages)``: all).  :attr:`last_sqn` is then the first SQN of that one.

        The same rules as :meth:`send` per message; :class:`WouldBlock` only when not even
        ``messages[start]`` fits.  A message beyond ``max_apdu`` raises ``ValueError`` when
        reached (the ones before it stay queued).
        """
        if self._state is not _OPEN:
            raise NotConnected("session closed" if not self._rst else "session aborted")
        self._now = now
        cfg = self.config
        max_apdu, room = cfg.max_apdu, cfg.send_buffer_bytes
        plain = self._max_tsdu if not self._join else -1
        w = self._txw
        psum = wire.partial_sum
        pb = self._pending_bytes
        i, end = start, len(messages)
        try:
            while i < end:
                data = messages[i]
                n = len(data)
                if n > max_apdu:
                    raise ValueError(f"message of {n} bytes exceeds max_apdu ({max_apdu})")
                if pb and pb + n > room:
                    break
                data = bytes(data)
                if n <= plain:  # the common case, inline: one ring slot, no options
                    t = w.tail
                    if t - w.trail > w.mask:
                        w.grow()
                    j = t & w.mask
                    w.data[j] = data
                    w.psum[j] = psum(data)
                    w.opts[j] = b""
                    w.repairs[j] = 0
                    w.tail = t + 1
                    self._last_first = t
                else:
                    self._queue(data, n)
                pb += n
                i += 1
        finally:
            self._pending_bytes = pb
        if i == start < end:
            raise WouldBlock()
        return i

    @property
    def last_sqn(self) -> int:
        """First sequence number (wire, 32-bit) of the last message queued; -1 before any."""
        return self._last_first & SQN_MASK if self._last_first >= 0 else -1

    def _queue(self, data: bytes, n: int) -> int:
        """Put one message of ``n`` bytes in the ring (.txw); its first SQN (unbounded)."""
        w = self._txw
        if n <= self._max_tsdu:
            if not self._join:
                first = w.push(data, wire.partial_sum(data))
            else:  # late join's OPT_JOIN_MIN (OPT_SYN first), or options_on_all_data's own SQN
                join = self._late.join_min if self._late_on else w.tail
                first = w.push_options(data, None, join)
        else:
            first = w.tail
            fragments(w, data, self._max_frag, self._late.join_min if self._late_on else None)
        self._last_first = first
        return first

    def close(self, now: float, linger: float | None = None) -> None:
        """End the session gracefully: OPT_FIN, then linger answering NAKs (RFC 3208 §5.4).

        ``linger`` overrides the config's ``linger_secs`` for this session.
        """
        if self._state is not _OPEN:
            return
        if linger is not None:
            if linger < 0:
                raise ValueError("linger must be >= 0")
            self._linger = linger
        self._now = now
        self._state = _CLOSING
        w = self._txw
        queued = w.tail > w.lead + 1
        if queued and self.config.fin_on_last_data:
            w.set_fin(w.tail - 1)
        if not queued:
            self._start_linger(now)

    def abort(self, now: float) -> None:
        """Abort the session: drop queued data, send OPT_RST SPMs, stop answering NAKs."""
        if self._state is _CLOSED:
            return
        self._now = now
        self._rst = True
        self._txw.drop_queued()
        self._pending_bytes = 0
        self._repairs.abort()
        if self._fec is not None:
            self._fec.owed.clear()
        self._state = _CLOSING
        self._start_linger(now)

    def _start_linger(self, now: float) -> None:
        self._state = _LINGERING
        self._linger_at = now + self._linger
        # Only once the last data is out: a FIN SPM's lead is the session's last SQN.
        opts = (wire.OptRst(n=True),) if self._rst else (wire.OptFin(),)
        self._spm.linger(now, self.config.spm_close_burst, (*self._spm_fixed, *opts))

    # -- sans-I/O interface -------------------------------------------------------------------

    def next_event(self) -> Event | None:
        """The next event for the application, or None."""
        return self._events.popleft() if self._events else None

    def next_timer(self) -> float | None:
        """Absolute time at which :meth:`handle_timer` or :meth:`datagrams_to_send` has work."""
        if self._state is _CLOSED:
            return None
        spm = self._spm
        t = spm.next_deadline()
        for d in (self._txw.advance_at, self._linger_at):
            if d is not None and d < t:
                t = d
        if self._repairs.ncfs or spm.burst:
            return self._now
        ncf_at = self._budget.ncf_at(self._now)
        if ncf_at is not None and ncf_at < t:
            t = ncf_at
        w = self._txw
        fec_owed = self._fec is not None and self._fec.owed
        if (
            spm.due
            or self._repairs.queue
            or fec_owed
            or (w.tail > w.lead + 1 and w.has_room(w.next_len()))
        ):
            r = self._bucket.ready_at(self._now, self._wake_tokens)
            if r < t:
                t = r
        return t

    def handle_timer(self, now: float) -> None:
        """Run every timer that is due at ``now`` (early calls are harmless)."""
        if self._state is _CLOSED:
            return
        self._now = now
        self._spm.on_timer(now)
        adv = self._txw.advance_at
        if adv is not None and now >= adv:
            self._txw.advance(now)
            self._advanced(now)
        if self._linger_at is not None and now >= self._linger_at:
            self._finish()

    def _advanced(self, now: float) -> None:
        """The trailing edge moved: late join recomputes OPT_JOIN_MIN (.join)."""
        if self._late_on and self._late.step(self._txw, now):
            jm = self._late.join_min  # queued data carries the new OPT_JOIN_MIN
            w = self._txw
            for sqn in range(w.lead + 1, w.tail):
                w.set_join(sqn, jm)

    def receive(self, datagram: bytes, src: NLA, now: float, dst: NLA | None = None) -> None:
        """Take one PGM packet addressed to this host (NAK, NNAK, SPMR; others are ignored)."""
        if self._state is _CLOSED:
            return
        self._now = now
        if len(datagram) < wire.HEADER_SIZE:
            self.stats.malformed_packets += 1
            return
        if wire.peek_type(datagram) not in _UPSTREAM:
            # Our own multicast looped back, other sessions' data...: not for a source.
            self.stats.other_packets += 1
            return
        try:
            pkt = wire.parse(datagram)
        except wire.PacketError:
            self.stats.malformed_packets += 1
            return
        t = type(pkt)
        if t is wire.NAK:
            self._repairs.on_nak(pkt, src, self._txw)  # type: ignore[arg-type]
        elif t is wire.SPMR:
            if pkt.gsi == self.gsi and pkt.destination_port == self.sport:
                self.stats.spmrs_received += 1
                self._spm.request()
        elif t is wire.NNAK and pkt.gsi == self.gsi and pkt.destination_port == self.sport:
            self.stats.nnaks_received += 1

    def datagrams_to_send(self, now: float) -> list[Outgoing]:
        """Packets to transmit now, in order (NCFs, SPM bursts, then rate-limited traffic)."""
        if self._state is _CLOSED:
            return []
        self._now = now
        out: list[Outgoing] = []
        group = self.group
        if self._repairs.ncfs or self._budget.pending:
            ncfs = self._repairs.take_ncfs(now)
            out.extend((n, group, None) for n in ncfs)
            self.stats.ncf_packets_sent += len(ncfs)
        fec = self._fec
        if fec is None:
            w = self._txw
            if self._send_spms(now, out) and self._send_repairs(now, out) and w.tail > w.lead + 1:
                self._send_odata(now, out)
        elif (
            self._send_spms(now, out)
            and self._send_repairs(now, out)
            and fec.send_parity(now, self._txw, out, group)
            and (self._txw.tail > self._txw.lead + 1 or self._state is not _OPEN)
        ):
            # closing: a short last group still gets its pro-active parity (.fec)
            closing = self._state is not _OPEN and not self._rst
            send = lambda limit: self._send_odata(now, out, limit)  # noqa: E731
            # The queue as a live view of the ring (.txw): [0] is the next ODATA.
            queued = cast("deque[TxPacket]", self._txw.queued)
            fec.send_odata(queued, send, closing, now, self._txw, out, group)
        return out

    # -- the scheduler -------------------------------------------------------------------------

    def _send_spms(self, now: float, out: list[Outgoing]) -> bool:
        """The SPM burst owed (not rate-limited), then a due SPM under the token bucket; False
        when the bucket is empty."""
        spm = self._spm
        while spm.burst:
            spm.burst -= 1
            pkt = self._build_spm(now)
            self._spm_sent(pkt, now)
            out.append((pkt, self.group, None))
        if spm.due:
            pkt = self._build_spm(now)
            if not self._bucket.try_consume(len(pkt) + self._overhead, now):
                return False
            self._spm_sent(pkt, now)
            spm.due = False
            out.append((pkt, self.group, None))
        return True

    def _build_spm(self, now: float) -> bytes:
        """The SPM that would go out at ``now``, not yet counted as sent."""
        if self._late_on:  # RFC 3208 §9.5: OPT_JOIN on SPMs too
            opts = (wire.OptJoin(self._late.join_min & SQN_MASK),)
            return self._spm.build(self._txw.trail, self._txw.lead, opts)
        return self._spm.build(self._txw.trail, self._txw.lead)

    def _spm_sent(self, pkt: bytes, now: float) -> None:
        self._spm.sent(now)
        self.stats.spm_packets_sent += 1
        self.stats.total_bytes_sent += len(pkt)
        self._meter.add(len(pkt), now)

    # RDATA and ODATA, the batched transmit path (.transmit)
    _send_repairs = transmit.send_repairs
    _send_odata = transmit.send_odata
    _odata_run = transmit.odata_run

    def _finish(self) -> None:
        self._state = _CLOSED
        self._linger_at = None
        self._spm.stop()
        self._repairs.clear()
        self._txw.clear()
        self._events.append(SourceClosed(self.tsi))

    # -- statistics ------------------------------------------------------------------------------

    def rates_kbps(self, now: float) -> tuple[float, float]:
        """(overall, last-second) send rate in kbit/s; reading them changes nothing.

        Overall is over every byte sent (SPM + ODATA + RDATA) since the session started; the
        "last" figure is over the SPM + ODATA bytes of the last whole second (counted from the
        start) completed before ``now`` (Windows' RateKBitsPerSecLast; its
        INTERNAL_RATE_CALCULATION_FREQUENCY is unpublished).
        """
        elapsed = now - self._started
        overall = self.stats.total_bytes_sent * 8 / 1000 / elapsed if elapsed > 0 else 0.0
        return overall, self._meter.last_kbps(now)

    def info(self, now: float) -> SourceInfo:
        """A read-only snapshot of the session at ``now`` (see :class:`SourceInfo`)."""
        overall, last = self.rates_kbps(now)
        return SourceInfo(
            tsi=self.tsi,
            group=self.group,
            dport=self.dport,
            nla=self.nla,
            config=self.config,
            max_tsdu=self._max_tsdu,
            state=self._state,
            trail64=self._txw.trail,
            lead64=self._txw.lead,
            pending_bytes=self._pending_bytes,
            window_bytes_free=self._txw.bytes_free,
            outstanding_repairs=len(self._repairs.queue),
            stats=replace(self.stats),
            rate_kbps_overall=overall,
            rate_kbps_last=last,
            join_min64=self._late.join_min if self._late_on else None,
        )

    def stats_dict(self, now: float) -> dict[str, Any]:
        """All counters plus window edges and rates, for JSON output."""
        return info_dict(self.info(now))
