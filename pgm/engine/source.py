"""The PGM source (sender) as a sans-I/O state machine (RFC 3208 §5, §6.1).

Theory of operation
-------------------
The application hands messages (APDUs) to :meth:`Source.send`.  Each is cut into TSDUs
(OPT_FRAGMENT when it does not fit one packet), given consecutive sequence numbers — ODATA is
numbered from 0 like OpenPGM, wrapping mod 2**32 — and queued.  :meth:`Source.datagrams_to_send`
releases packets in priority order (RFC 3208 §5.1.1): NCFs at once, then the start/close SPM
bursts (not rate-limited, as OpenPGM), then, under the token bucket, SPMs, RDATA and ODATA.
Sent ODATA enters the transmit window, whose trailing edge advances with time in steps of
``window_advance_pct`` of ``window_secs`` (Windows' model).  Every SPM, ODATA and RDATA carries
the current trailing edge.

A NAK that matches this session exactly (OpenPGM's rules, pgm-notes §3.2: ports swapped, our GSI,
source NLA = our path NLA, group NLA = our group) is answered at once with an NCF for the
requested sequence numbers still in the window, and RDATA for each of them is queued; requests
for a sequence number already queued merge.  Out-of-window requests get nothing and are
counted.

Internally sequence numbers are unbounded integers (a 64-bit counter, never wrapping), so the
window is plain integer arithmetic; they are reduced mod 2**32 only on the wire, and wire
numbers coming in are unwrapped against the window with circular arithmetic (``pgm.wire.sqn``).

SPMs: a burst of ``spm_burst`` at start, heartbeats after data on the ``spm_heartbeats``
schedule (reset by every ODATA/RDATA), ambient SPMs every ``spm_ambient_ivl``, and one at once
for each SPMR.  :meth:`close` puts OPT_FIN on the last data still queued and on every SPM after
it, keeps answering NAKs for ``linger_secs``, then emits :class:`SourceClosed`.  :meth:`abort`
sends SPMs with OPT_RST instead and stops answering NAKs.
"""

from __future__ import annotations

import os
import random
import struct
from collections import deque
from dataclasses import dataclass, fields, replace
from enum import Enum
from ipaddress import IPv6Address
from typing import Any

from .. import wire
from ..wire import NLA, TSI, as_nla
from ..wire.checksum import _mod, partial_sum
from .api import Outgoing
from .config import SourceConfig
from .errors import ConfigError, NotConnected, WouldBlock
from .events import Event, NakReceived, RepairSent, SourceClosed
from .rate import RateMeter, TokenBucket

__all__ = ["Outgoing", "Source", "SourceInfo", "SourceState", "SourceStats"]

_M32 = 0xFFFFFFFF
_UPSTREAM = frozenset((wire.TYPE_NAK, wire.TYPE_NNAK, wire.TYPE_SPMR))
_DATA_HDR = struct.Struct(">HHBBH6sHII")
_FRAG = struct.Struct(">BBBBIII")
_JOIN = struct.Struct(">BBBBI")
_OPTLEN = struct.Struct(">BBH")


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
    naks_out_of_window: int = 0
    """Requests for sequence numbers never sent (ahead of the leading edge)."""
    naks_rejected: int = 0
    """NAKs for this TSI with a wrong source/group NLA (OpenPGM drops these too)."""
    naks_ignored: int = 0
    """NAKs that are not for this session (other GSI or ports), or parity NAKs without FEC."""
    naks_dropped: int = 0
    """Requests dropped because the repair queue was full (``max_repair_queue``)."""
    nnaks_received: int = 0
    """Null NAKs heard."""
    spmrs_received: int = 0
    """SPM requests answered."""
    malformed_packets: int = 0
    """Packets that failed to parse (checksum, lengths, ...)."""
    other_packets: int = 0
    """Packets that are not for a source (downstream types, e.g. our own looped back)."""


class SourceState(str, Enum):
    """Where a source session is in its life (RFC 3208 §5.4 for the close).

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


class _Tx:
    """One TPDU in the send queue or the transmit window."""

    __slots__ = ("data", "fin", "frag", "join", "opts", "psum", "repairs", "sent_at", "sqn")

    def __init__(
        self, sqn: int, data: bytes, frag: tuple[int, int, int] | None, join: bool = False
    ) -> None:
        self.sqn = sqn
        self.data = data
        self.frag = frag  # (first_sqn64, offset, apdu_length) or None
        self.join = join  # OPT_JOIN when there is no OPT_FRAGMENT (options_on_all_data)
        self.fin = False
        self.sent_at = 0.0
        self.repairs = 0
        if frag is None and not join:
            # The common case inlined: no options, so the checksum part is the data's alone.
            n = len(data)
            self.opts = b""
            self.psum = _mod(int.from_bytes(data, "big") << (8 if n & 1 else 0), n + 1)
        else:
            self._build()

    def _build(self) -> None:
        opts = b""
        if self.frag is not None or self.fin or self.join:
            parts = []
            if self.frag is not None:
                first, off, total = self.frag
                parts.append([0x01, 16, first & _M32, off, total])
            elif self.join:
                # OpenPGM accommodation: options_on_all_data (SourceConfig) - OPT_JOIN with
                # OPT_JOIN_MIN = this packet's own SQN, so that the packet carries options.
                parts.append([0x03, 8, self.sqn & _M32])
            if self.fin:
                parts.append([0x0E, 4])
            parts[-1][0] |= 0x80  # OPT_END on the last option
            body = b"".join(
                _FRAG.pack(p[0], 16, 0, 0, p[2], p[3], p[4])
                if len(p) == 5
                else _JOIN.pack(p[0], 8, 0, 0, p[2])
                if len(p) == 3
                else bytes((p[0], 4, 0, 0))
                for p in parts
            )
            opts = _OPTLEN.pack(0, 4, 4 + len(body)) + body
        self.opts = opts
        # Options (a multiple of 4 bytes) follow the 24-byte header, so both pieces start at an
        # even offset and their one's complement sums simply add (pgm.wire.checksum).
        self.psum = (partial_sum(opts) + partial_sum(self.data)) % 0xFFFF

    def set_fin(self) -> None:
        self.fin = True
        self._build()


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
        if not self.group.is_multicast:
            raise ConfigError(f"{self.group} is not a multicast group")
        if isinstance(self.group, IPv6Address) != (cfg.ip_version == 6):
            raise ConfigError("config.ip_version does not match the group's address family")
        self.rng = rng if rng is not None else random.Random(os.urandom(16))
        if not 0 < dport < 65536:
            raise ConfigError(f"bad destination port {dport}")
        self.dport = dport
        if sport is None:
            sport = dport
            while sport == dport:
                sport = self.rng.randrange(1024, 65536)
        self.sport = sport
        self.gsi = gsi if gsi is not None else self.rng.randbytes(6)
        if len(self.gsi) != 6:
            raise ConfigError("gsi must be 6 bytes")
        self.tsi = TSI(self.gsi, sport)
        self.stats = SourceStats()

        self._overhead = cfg.header_overhead
        # OpenPGM accommodation: options_on_all_data (SourceConfig) - OPT_LENGTH + OPT_JOIN on
        # every packet without OPT_FRAGMENT, 12 bytes less room for an unfragmented message.
        self._join = cfg.options_on_all_data
        self._max_tsdu = cfg.max_tsdu - (12 if self._join else 0)
        self._max_frag = cfg.max_tsdu_fragment
        self._window_bytes = cfg.effective_window_bytes
        self._bucket = TokenBucket(
            cfg.rate_bps / 8, max(cfg.mtu, cfg.rate_bps / 8 * cfg.burst_secs), now
        )
        # Constant part of the data header's one's complement sum: ports and GSI.
        g = self.gsi
        self._hsum_const = (
            sport + dport + (g[0] << 8 | g[1]) + (g[2] << 8 | g[3]) + (g[4] << 8 | g[5])
        )

        initial_sqn &= _M32
        self._next_sqn = initial_sqn  # next SQN to assign (unbounded)
        self._trail = initial_sqn  # TXW_TRAIL (unbounded)
        self._lead = initial_sqn - 1  # TXW_LEAD; trail == lead + 1 means empty
        self._txw: dict[int, _Tx] = {}
        self._txw_order: deque[_Tx] = deque()
        self._txw_bytes = 0
        self._pending: deque[_Tx] = deque()
        self._pending_bytes = 0
        self._repairs: dict[int, None] = {}
        self._ncfs: list[bytes] = []
        self._events: deque[Event] = deque()

        self._spm_sqn = 0
        self._spm_due = 0  # rate-limited SPMs owed
        self._spm_burst = cfg.spm_burst  # immediate (unlimited) SPMs owed
        self._ambient_at = now + cfg.spm_ambient_ivl
        self._hb_at: float | None = None
        self._hb_idx = 0
        self._adv_step = cfg.window_secs * cfg.window_advance_pct / 100.0
        self._advance_at: float | None = None
        self._state = SourceState.OPEN
        self._rst = False
        self._linger_at: float | None = None
        self._linger = cfg.effective_linger
        self._now = now
        self._started = now
        self._meter = RateMeter(now)  # SPM + ODATA bytes per second, for the "last" rate

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
        return self._trail & _M32

    @property
    def lead(self) -> int:
        """Leading edge of the transmit window (wire, 32-bit)."""
        return self._lead & _M32

    @property
    def trail64(self) -> int:
        """Trailing edge as an unwrapped counter (Windows' 64-bit TrailingEdgeSeqId)."""
        return self._trail

    @property
    def lead64(self) -> int:
        """Leading edge as an unwrapped counter (Windows' 64-bit LeadingEdgeSeqId)."""
        return self._lead

    @property
    def pending_bytes(self) -> int:
        """Bytes accepted by :meth:`send` and not yet sent."""
        return self._pending_bytes

    @property
    def window_bytes_free(self) -> int:
        """Free bytes in the transmit window."""
        return max(0, self._window_bytes - self._txw_bytes)

    @property
    def outstanding_repairs(self) -> int:
        """RDATA queued and not yet sent (RM: NumOutstandingNaks)."""
        return len(self._repairs)

    def send(self, data: bytes, now: float) -> int:
        """Queue one message; return the sequence number of its first TPDU (wire, 32-bit).

        Raises :class:`WouldBlock` if the send buffer cannot take it now (a message is taken
        whole or not at all; one larger than the buffer is taken when the buffer is empty),
        :class:`NotConnected` after :meth:`close`/:meth:`abort`, ``ValueError`` beyond
        ``max_apdu``.
        """
        if self._state is not SourceState.OPEN:
            raise NotConnected("session closed" if not self._rst else "session aborted")
        n = len(data)
        cfg = self.config
        if n > cfg.max_apdu:
            raise ValueError(f"message of {n} bytes exceeds max_apdu ({cfg.max_apdu})")
        if self._pending_bytes and self._pending_bytes + n > cfg.send_buffer_bytes:
            raise WouldBlock()
        self._now = now
        data = bytes(data)
        first = self._next_sqn
        if n <= self._max_tsdu:
            self._pending.append(_Tx(first, data, None, self._join))
            self._next_sqn = first + 1
        else:
            step = self._max_frag
            sqn = first
            for off in range(0, n, step):
                self._pending.append(_Tx(sqn, data[off : off + step], (first, off, n)))
                sqn += 1
            self._next_sqn = sqn
        self._pending_bytes += n
        return first & _M32

    def close(self, now: float, linger: float | None = None) -> None:
        """End the session gracefully: OPT_FIN, then linger answering NAKs (RFC 3208 §5.4).

        ``linger`` overrides the config's ``linger_secs`` for this session.
        """
        if self._state is not SourceState.OPEN:
            return
        if linger is not None:
            if linger < 0:
                raise ValueError("linger must be >= 0")
            self._linger = linger
        self._now = now
        self._state = SourceState.CLOSING
        if self._pending and self.config.fin_on_last_data:
            self._pending[-1].set_fin()
        if not self._pending:
            self._start_linger(now)

    def abort(self, now: float) -> None:
        """Abort the session: drop queued data, send OPT_RST SPMs, stop answering NAKs."""
        if self._state is SourceState.CLOSED:
            return
        self._now = now
        self._rst = True
        self._pending.clear()
        self._pending_bytes = 0
        self._repairs.clear()
        self._state = SourceState.CLOSING
        self._start_linger(now)

    def _start_linger(self, now: float) -> None:
        self._state = SourceState.LINGERING
        self._spm_burst += self.config.spm_close_burst
        self._linger_at = now + self._linger
        self._hb_idx = 0
        self._hb_at = now + self.config.spm_heartbeats[0] if self.config.spm_heartbeats else None

    # -- sans-I/O interface -------------------------------------------------------------------

    def next_event(self) -> Event | None:
        """The next event for the application, or None."""
        return self._events.popleft() if self._events else None

    def next_timer(self) -> float | None:
        """Absolute time at which :meth:`handle_timer` or :meth:`datagrams_to_send` has work."""
        if self._state is SourceState.CLOSED:
            return None
        t = self._ambient_at
        for d in (self._hb_at, self._advance_at, self._linger_at):
            if d is not None and d < t:
                t = d
        if self._ncfs or self._spm_burst:
            return self._now
        if self._spm_due or self._repairs or (self._pending and self._window_has_room()):
            r = self._bucket.ready_at(self._now)
            if r < t:
                t = r
        return t

    def handle_timer(self, now: float) -> None:
        """Run every timer that is due at ``now`` (early calls are harmless)."""
        if self._state is SourceState.CLOSED:
            return
        self._now = now
        if now >= self._ambient_at:
            self._spm_due = 1
            self._ambient_at = now + self.config.spm_ambient_ivl
        if self._hb_at is not None and now >= self._hb_at:
            self._spm_due = 1
            self._hb_idx += 1
            hb = self.config.spm_heartbeats
            self._hb_at = now + hb[self._hb_idx] if self._hb_idx < len(hb) else None
        if self._advance_at is not None and now >= self._advance_at:
            self._advance_trail(now)
        if self._linger_at is not None and now >= self._linger_at:
            self._finish()

    def receive(self, datagram: bytes, src: NLA, now: float, dst: NLA | None = None) -> None:
        """Take one PGM packet addressed to this host (NAK, NNAK, SPMR; others are ignored)."""
        if self._state is SourceState.CLOSED:
            return
        self._now = now
        if len(datagram) < 16:
            self.stats.malformed_packets += 1
            return
        if datagram[4] not in _UPSTREAM:
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
            self._on_nak(pkt, src, now)  # type: ignore[arg-type]
        elif t is wire.SPMR:
            if pkt.gsi == self.gsi and pkt.destination_port == self.sport:
                self.stats.spmrs_received += 1
                self._spm_due = 1  # RFC 3208 §13.6 / OpenPGM: answer with an SPM at once
        elif t is wire.NNAK and pkt.gsi == self.gsi and pkt.destination_port == self.sport:
            self.stats.nnaks_received += 1

    def datagrams_to_send(self, now: float) -> list[Outgoing]:
        """Packets to transmit now, in order (NCFs, SPM bursts, then rate-limited traffic)."""
        if self._state is SourceState.CLOSED:
            return []
        self._now = now
        out: list[Outgoing] = []
        group = self.group
        if self._ncfs:
            out.extend((n, group, None) for n in self._ncfs)
            self.stats.ncf_packets_sent += len(self._ncfs)
            self._ncfs.clear()
        while self._spm_burst:
            self._spm_burst -= 1
            out.append((self._build_spm(now), group, None))
        bucket = self._bucket
        overhead = self._overhead
        if self._spm_due:
            pkt = self._build_spm(now, count=False)
            if not bucket.try_consume(len(pkt) + overhead, now):
                return out
            self._count_spm(pkt, now)
            self._spm_due = 0
            out.append((pkt, group, None))
        st = self.stats
        repairs = self._repairs
        while repairs:
            sqn = next(iter(repairs))
            tx = self._txw.get(sqn)
            if tx is None:  # the trail passed it while queued
                del repairs[sqn]
                continue
            size = 24 + len(tx.opts) + len(tx.data)
            if not bucket.try_consume(size + overhead, now):
                return out
            del repairs[sqn]
            out.append((self._build_data(tx, 0x05), group, None))
            tx.repairs += 1
            st.repair_packets_sent += 1
            st.total_bytes_sent += size
            self._data_sent(now)
            if self.config.trace_events:
                self._events.append(RepairSent(self.tsi, sqn & _M32))
        pend = self._pending
        if not pend:
            return out
        # ODATA, the bulk: a tight loop with the bookkeeping summed up afterwards.
        txw = self._txw
        order = self._txw_order
        wbytes = self._window_bytes
        txw_bytes = self._txw_bytes
        build = self._build_data
        consume = bucket.try_consume
        count = data_bytes = wire_bytes = 0
        tx = None
        while pend:
            tx = pend[0]
            n = len(tx.data)
            if txw_bytes + n > wbytes and txw:
                break  # window full: wait for the trailing edge to advance
            size = 24 + len(tx.opts) + n
            if not consume(size + overhead, now):
                break
            pend.popleft()
            tx.sent_at = now
            txw[tx.sqn] = tx
            order.append(tx)
            txw_bytes += n
            out.append((build(tx, 0x04), group, None))
            count += 1
            data_bytes += n
            wire_bytes += size
            self._lead = tx.sqn
        if count:
            self._txw_bytes = txw_bytes
            self._pending_bytes -= data_bytes
            st.odata_packets_sent += count
            st.data_bytes_sent += data_bytes
            st.total_bytes_sent += wire_bytes
            self._meter.add(wire_bytes, now)
            self._data_sent(now)
            if self._advance_at is None:
                self._advance_at = now + self._adv_step
            if self._state is SourceState.CLOSING and not pend:
                self._start_linger(now)
        return out

    # -- internals -----------------------------------------------------------------------------

    def _window_has_room(self) -> bool:
        return self._txw_bytes + len(self._pending[0].data) <= self._window_bytes or not self._txw

    def _data_sent(self, now: float) -> None:
        # Each ODATA/RDATA restarts the heartbeat walk (OpenPGM, pgm-notes §3.2).
        hb = self.config.spm_heartbeats
        if hb:
            self._hb_idx = 0
            self._hb_at = now + hb[0]

    def _build_data(self, tx: _Tx, type_: int) -> bytes:
        sqn = tx.sqn & _M32
        trail = self._trail & _M32
        data = tx.data
        opts = tx.opts
        flags = 0x01 if opts else 0
        tlen = len(data)
        s = (
            self._hsum_const
            + (type_ << 8 | flags)
            + tlen
            + (sqn >> 16)
            + (sqn & 0xFFFF)
            + (trail >> 16)
            + (trail & 0xFFFF)
            + tx.psum
        ) % 0xFFFF
        cs = 0xFFFF - s if s else 0xFFFF
        hdr = _DATA_HDR.pack(self.sport, self.dport, type_, flags, cs, self.gsi, tlen, sqn, trail)
        return hdr + opts + data if opts else hdr + data

    def _build_spm(self, now: float, count: bool = True) -> bytes:
        opts: list[wire.Option] = []
        if self._rst:
            opts.append(wire.OptRst(n=True))
        elif self._state is SourceState.LINGERING:
            # Only once the last data is out: a FIN SPM's lead is the session's last SQN.
            opts.append(wire.OptFin())
        pkt = wire.SPM(
            source_port=self.sport,
            destination_port=self.dport,
            gsi=self.gsi,
            spm_sqn=self._spm_sqn,
            spm_trail=self._trail & _M32,
            spm_lead=self._lead & _M32,
            path_nla=self.nla,
            options=opts,
        ).encode()
        if count:
            self._count_spm(pkt, now)
        return pkt

    def _count_spm(self, pkt: bytes, now: float) -> None:
        self._spm_sqn = (self._spm_sqn + 1) & _M32
        self.stats.spm_packets_sent += 1
        self.stats.total_bytes_sent += len(pkt)
        self._meter.add(len(pkt), now)
        self._ambient_at = now + self.config.spm_ambient_ivl

    def _advance_trail(self, now: float) -> None:
        """Release packets older than the window (RFC 3208 App. F: advance with time)."""
        horizon = now - self.config.window_secs
        order = self._txw_order
        while order and order[0].sent_at <= horizon:
            tx = order.popleft()
            del self._txw[tx.sqn]
            self._txw_bytes -= len(tx.data)
            self._trail = tx.sqn + 1
        self._advance_at = now + self._adv_step if order else None

    def _unwrap(self, s32: int) -> int:
        """Unbounded SQN nearest the window for a wire SQN (circular arithmetic)."""
        ref = self._lead
        d = (s32 - ref) & _M32
        if d >= 0x80000000:
            d -= 0x100000000
        return ref + d

    def _on_nak(self, nak: wire.NAK, src: NLA, now: float) -> None:
        st = self.stats
        # OpenPGM's acceptance rules (pgm-notes §3.2): ports swapped, our GSI ...
        if (
            nak.gsi != self.gsi
            or nak.destination_port != self.sport
            or nak.source_port != self.dport
        ):
            st.naks_ignored += 1
            return
        # ... and the NLAs must name this source's path NLA and group exactly.
        if nak.source_nla != self.nla or nak.group_nla != self.group:
            st.naks_rejected += 1
            return
        if nak.parity:  # no FEC on this session: OpenPGM drops parity NAKs without an NCF
            st.naks_ignored += 1
            return
        if self._rst:
            return  # OPT_RST with N: NAKs are no longer answered
        sqns = [nak.nak_sqn]
        lst = nak.option(wire.OptNakList)
        if lst is not None:
            sqns.extend(lst.sqns)
        st.naks_received += len(sqns)
        if self.config.trace_events:
            self._events.append(NakReceived(self.tsi, tuple(sqns), src))
        confirm: list[int] = []
        repairs = self._repairs
        cap = self.config.max_repair_queue
        for s32 in sqns:
            s = self._unwrap(s32)
            if s < self._trail:
                st.naks_received_too_late += 1
                continue
            if s > self._lead:
                st.naks_out_of_window += 1
                continue
            confirm.append(s32)
            if s in repairs:
                st.naks_merged += 1
                continue
            if self._txw[s].repairs:
                st.naks_after_rdata += 1
            if len(repairs) >= cap:
                st.naks_dropped += 1
                continue
            repairs[s] = None
        if confirm:
            # RFC 3208 §5.3: an NCF at once, echoing the request (NAK list included).
            self._ncfs.append(
                wire.NCF(
                    source_port=self.sport,
                    destination_port=self.dport,
                    gsi=self.gsi,
                    nak_sqn=confirm[0],
                    source_nla=self.nla,
                    group_nla=self.group,
                    options=[wire.OptNakList(confirm[1:])] if len(confirm) > 1 else [],
                ).encode()
            )

    def _finish(self) -> None:
        self._state = SourceState.CLOSED
        self._linger_at = None
        self._hb_at = None
        self._advance_at = None
        self._repairs.clear()
        self._ncfs.clear()
        self._txw.clear()
        self._txw_order.clear()
        self._txw_bytes = 0
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
            trail64=self._trail,
            lead64=self._lead,
            pending_bytes=self._pending_bytes,
            window_bytes_free=self.window_bytes_free,
            outstanding_repairs=len(self._repairs),
            stats=replace(self.stats),
            rate_kbps_overall=overall,
            rate_kbps_last=last,
        )

    def stats_dict(self, now: float) -> dict[str, Any]:
        """All counters plus window edges and rates, for JSON output."""
        d: dict[str, Any] = {f.name: getattr(self.stats, f.name) for f in fields(self.stats)}
        overall, last = self.rates_kbps(now)
        d.update(
            trail=self._trail,
            lead=self._lead,
            outstanding_repairs=len(self._repairs),
            window_bytes_free=self.window_bytes_free,
            rate_kbps_overall=overall,
            rate_kbps_last=last,
        )
        return d
