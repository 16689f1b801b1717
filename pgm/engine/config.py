"""Configuration of the engine: one dataclass per side, real units, documented defaults.

Times are seconds, sizes bytes, rates bits per second.  Every queue and table the engine fills
has its cap here.  Defaults follow OpenPGM as ZeroMQ configures it (docs/protocol.md §12)
unless a field says otherwise; the Windows-style facade translates RM_* options onto these
fields.  Both configs are frozen and validated when built: derive a variant with
:func:`dataclasses.replace`, which validates it again.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..wire import NLA, TSI
from .errors import ConfigError

__all__ = ["IP4_HEADER", "IP6_HEADER", "UDP_HEADER", "ReceiverConfig", "SourceConfig"]

IP4_HEADER = 20
IP6_HEADER = 40
UDP_HEADER = 8
PGM_HEADER = 16
DATA_BODY = 8  # SQN + TRAIL
OPT_LENGTH_SIZE = 4
OPT_FRAGMENT_SIZE = 16
#: Room FEC keeps free in every TPDU so its parity fits the MTU too (docs/fec.md): the 2-byte
#: VAR_PKTLEN length, OPT_LENGTH, OPT_PARITY_GRP and OPT_CURR_TGSIZE.
FEC_ROOM = 2 + 4 + 8 + 8
OPT_JOIN_SIZE = 8
OPT_SYN_SIZE = 4
#: Largest ``SourceConfig.late_join``: Windows' RM_LATEJOIN accepts 0-75 percent.
MAX_LATE_JOIN = 75

#: Memory the receiver counts per held data packet besides its payload, and per NAK record
#: (docs/security.md): the engine's own accounting (``Receiver.held_bytes``), not RSS.
HELD_PACKET_OVERHEAD = 160
NAK_RECORD_OVERHEAD = 200

#: OpenPGM's heartbeat SPM schedule after data (docs/protocol.md §12): 100 ms ×4, 1.3, 7, 16,
#: 25, 30 s.
OPENPGM_HEARTBEATS = (0.1, 0.1, 0.1, 0.1, 1.3, 7.0, 16.0, 25.0, 30.0)


def _positive(name: str, value: float) -> None:
    if not value > 0:
        raise ConfigError(f"{name} must be > 0, not {value!r}")


def _check_fec(c: SourceConfig) -> None:
    """RM_FEC_INFO's rules (docs/fec.md): k a power of two, k < n <= 255, pro-active <= n - k,
    and at least one mode."""
    k, n = c.fec_group_size, c.fec_block_size
    if k == 0:
        if c.fec_proactive or c.fec_ondemand:
            raise ConfigError("fec_proactive / fec_ondemand need fec_group_size (k)")
        return
    if not 2 <= k <= 128 or k & (k - 1):
        raise ConfigError(f"fec_group_size must be a power of two in 2..128, not {k}")
    if not k < n <= 255:
        raise ConfigError(f"fec_block_size must be in {k + 1}..255 (above k = {k}), not {n}")
    if not 0 <= c.fec_proactive <= n - k:
        raise ConfigError(f"fec_proactive must be in 0..{n - k} (n - k), not {c.fec_proactive}")
    if not c.fec_proactive and not c.fec_ondemand:
        raise ConfigError("FEC needs fec_proactive > 0 or fec_ondemand (or both)")


@dataclass(frozen=True)
class SourceConfig:
    """How a :class:`~pgm.engine.Source` sends.

    The transmit window is sized like Windows' ``RM_SEND_WINDOW``: ``window_bytes`` =
    ``rate_bps`` × ``window_secs`` / 8 when left at 0.  Its trailing edge advances with time, in
    steps of ``window_advance_pct`` of the window (Windows' default 15 %).
    """

    rate_bps: int = 10_000_000
    """Token-bucket rate over ODATA + RDATA + SPM, counted with IP (and UDP) headers."""
    window_secs: float = 10.0
    """How long sent data stays repairable (TXW_SECS)."""
    window_bytes: int = 0
    """Byte cap of the transmit window; 0 = ``rate_bps * window_secs / 8``."""
    window_advance_pct: float = 15.0
    """Trailing-edge advance step, percent of ``window_secs`` (RM_SEND_WINDOW_ADV_RATE)."""
    mtu: int = 1500
    """Largest TPDU including the IP header (and UDP header when encapsulated), as OpenPGM."""
    ip_version: int = 4
    """4 or 6: decides the IP header size in the TSDU and rate arithmetic."""
    udp_encapsulation: bool = False
    """PGM over UDP (8 more header bytes per packet)."""
    burst_secs: float = 0.001
    """Token-bucket depth in seconds of rate (at least one MTU), as OpenPGM's 1 ms bucket."""
    spm_ambient_ivl: float = 30.0
    """Ambient SPM interval (OpenPGM/ZeroMQ: 30 s)."""
    spm_heartbeats: tuple[float, ...] = OPENPGM_HEARTBEATS
    """Heartbeat SPM intervals after each data packet (OpenPGM's schedule)."""
    spm_burst: int = 3
    """SPMs sent at once when the session starts (OpenPGM's ``pgm_connect`` sends 3)."""
    spm_close_burst: int = 3
    """SPMs with OPT_FIN sent at once when the session closes (OpenPGM sends 3)."""
    linger_secs: float | None = None
    """After close, keep answering NAKs and sending FIN SPMs this long; None = window_secs."""
    send_buffer_bytes: int = 8 * 1024 * 1024
    """Cap on data accepted by :meth:`Source.send` but not yet sent as ODATA."""
    max_apdu: int = 16 * 1024 * 1024
    """Largest message (APDU) :meth:`Source.send` accepts.  OpenPGM receivers accept at most
    65535 bytes and 16 fragments; stay below that when they listen."""
    max_repair_queue: int = 65536
    """Cap on RDATA waiting to be sent; NAKs beyond it are counted and dropped."""
    fin_on_last_data: bool = True
    """Put OPT_FIN on the last data packet when :meth:`Source.close` finds data still queued."""
    options_on_all_data: bool = False
    """OpenPGM accommodation: give every ODATA/RDATA options, OPT_JOIN (OPT_JOIN_MIN = the
    packet's own sequence number, what a late joiner assumes anyway) where it has no other, at
    12 bytes per unfragmented packet.  An OpenPGM 5.3 receiver that discards a packet with
    options (e.g. a repair of a fragment it already has, common with several receivers) parses
    every later packet *without* options with that packet's stale OPT_FRAGMENT and drops it,
    repairs included, until a packet with options comes.  Turn this on when OpenPGM receivers
    (not ZeroMQ, which never fragments) share a session with fragmented messages
    (docs/interop.md)."""
    late_join: float = 0.0
    """Late join (Windows' RM_LATEJOIN): the percentage, 0 to 75, of the current window a
    receiver that joins mid-session may NAK for.  Above 0, every SPM, ODATA and RDATA carries
    OPT_JOIN (RFC 3208 §9.5) with the lowest such sequence number, the first data carries
    OPT_SYN (§9.6), and NAKs below OPT_JOIN_MIN are refused and counted
    (``naks_below_join_min``); each message then has 16 bytes less room (docs/engine.md)."""
    trace_events: bool = False
    """Also emit research events (NakReceived, RepairSent)."""
    repair_share: float = 0.5
    """Hostile peers (docs/security.md): while new data waits to go, RDATA may take at most this
    share of ``rate_bps``, so ODATA keeps ``1 - repair_share`` however many NAKs arrive."""
    ncf_share: float = 0.05
    """NCFs have their own budget, this share of ``rate_bps`` (RFC 3208 §5.2: rate-limit NCFs);
    confirmations waiting for it are merged into NCF lists."""
    max_nakers: int = 1024
    """Cap on NAKers whose repairs are served round-robin (docs/security.md); the least
    recently heard is forgotten first (its repairs are then served in queue order)."""
    fec_group_size: int = 0
    """FEC (RFC 3208 Appendix A, docs/fec.md): transmission-group size k, a power of two in
    2..128 (RM_FEC_INFO.FECGroupSize); 0 = no FEC."""
    fec_block_size: int = 255
    """FEC block size n > k, at most 255: k data + up to n - k parity packets per group
    (RM_FEC_INFO.FECBlockSize)."""
    fec_proactive: int = 0
    """Parity packets sent unasked after every group, 0..n-k (FECProActivePackets)."""
    fec_ondemand: bool = False
    """Answer parity NAKs with fresh parity (fFECOnDemandParityEnabled)."""
    fec_openpgm: bool = True
    """Speak OpenPGM's FEC dialect (default): OPT_PARITY_PRM with pro-active 0x01 / on-demand
    0x02 and pro-active parity sent as RDATA.  False: RFC 3208's figure (0x02 / 0x01) and
    pro-active parity as ODATA (docs/fec.md)."""

    def __post_init__(self) -> None:
        _check_fec(self)
        _positive("rate_bps", self.rate_bps)
        _positive("window_secs", self.window_secs)
        if self.window_bytes < 0:
            raise ConfigError("window_bytes must be >= 0")
        if not 0 < self.window_advance_pct <= 100:
            raise ConfigError("window_advance_pct must be in (0, 100]")
        if self.ip_version not in (4, 6):
            raise ConfigError("ip_version must be 4 or 6")
        if self.max_tsdu_fragment < 1:
            raise ConfigError(f"mtu {self.mtu} leaves no room for data")
        _positive("spm_ambient_ivl", self.spm_ambient_ivl)
        if any(h <= 0 for h in self.spm_heartbeats):
            raise ConfigError("spm_heartbeats must be positive intervals")
        if self.spm_burst < 1 or self.spm_close_burst < 1:
            raise ConfigError("spm_burst and spm_close_burst must be >= 1")
        _positive("send_buffer_bytes", self.send_buffer_bytes)
        _positive("max_apdu", self.max_apdu)
        _positive("max_repair_queue", self.max_repair_queue)
        if not 0 <= self.late_join <= MAX_LATE_JOIN:
            raise ConfigError(f"late_join must be in [0, {MAX_LATE_JOIN}] percent")
        for name in ("repair_share", "ncf_share"):
            if not 0 < getattr(self, name) <= 1:
                raise ConfigError(f"{name} must be in (0, 1], not {getattr(self, name)!r}")
        if self.max_nakers < 1:
            raise ConfigError("max_nakers must be >= 1")

    @property
    def header_overhead(self) -> int:
        """IP (+UDP) header bytes per packet."""
        ip = IP4_HEADER if self.ip_version == 4 else IP6_HEADER
        return ip + (UDP_HEADER if self.udp_encapsulation else 0)

    @property
    def max_tsdu(self) -> int:
        """Largest TSDU in one unfragmented ODATA: the MTU less the IP (and UDP) header, the
        PGM header and the data body (RFC 3208 §8), as OpenPGM computes it; with FEC
        ``FEC_ROOM`` bytes less, so parity packets fit the MTU too."""
        room = FEC_ROOM if self.fec_group_size else 0
        return self.mtu - self.header_overhead - PGM_HEADER - DATA_BODY - room

    @property
    def max_tsdu_fragment(self) -> int:
        """Largest TSDU in an ODATA carrying OPT_LENGTH + OPT_FRAGMENT."""
        return self.max_tsdu - OPT_LENGTH_SIZE - OPT_FRAGMENT_SIZE

    @property
    def max_message_tsdu(self) -> int:
        """Largest message sent as one unfragmented ODATA with the options this configuration
        puts on every packet (:attr:`Source.max_tsdu <pgm.engine.Source.max_tsdu>`):
        ``max_tsdu`` less OPT_LENGTH + OPT_JOIN (+ OPT_SYN room with ``late_join``)."""
        if self.late_join:
            return self.max_tsdu - OPT_LENGTH_SIZE - OPT_JOIN_SIZE - OPT_SYN_SIZE
        if self.options_on_all_data:
            return self.max_tsdu - OPT_LENGTH_SIZE - OPT_JOIN_SIZE
        return self.max_tsdu

    @property
    def effective_window_bytes(self) -> int:
        """The window's byte cap (``window_bytes`` or derived from rate × time)."""
        return self.window_bytes or max(self.mtu, int(self.rate_bps * self.window_secs / 8))

    @property
    def fec(self) -> bool:
        """Whether the session uses FEC (``fec_group_size`` set)."""
        return self.fec_group_size > 0

    @property
    def effective_linger(self) -> float:
        """Linger time after close."""
        return self.window_secs if self.linger_secs is None else self.linger_secs


@dataclass(frozen=True)
class ReceiverConfig:
    """How a :class:`~pgm.engine.Receiver` detects and repairs loss (RFC 3208 §6.3).

    NAK timing defaults are OpenPGM's as ZeroMQ sets them: back-off 50 ms, repeat 200 ms,
    RDATA wait 200 ms, 50 NCF and 50 data retries.
    """

    nak_bo_ivl: float = 0.050
    """NAK_BO_IVL: the random back-off before a NAK is drawn from [nak_bo_min, nak_bo_ivl]."""
    nak_bo_min: float = 0.002
    """Lower bound of the back-off: reordering shorter than this never causes a NAK.
    (OpenPGM draws from [1 µs, NAK_BO_IVL]; a small floor spares the source needless NCFs.)"""
    nak_rpt_ivl: float = 0.200
    """NAK_RPT_IVL: how long to wait for an NCF after a NAK."""
    nak_rdata_ivl: float = 0.200
    """NAK_RDATA_IVL: how long to wait for RDATA after an NCF."""
    nak_ncf_retries: int = 50
    """NAK_NCF_RETRIES: NAKs without an NCF before the data is declared lost."""
    nak_data_retries: int = 50
    """NAK_DATA_RETRIES: NCF'd waits without data before the data is declared lost."""
    adaptive_nak_timers: bool = False
    """True: wait for an NCF / RDATA as long as this source's measured answers take (smoothed,
    plus four deviations, doubled per retry), at most ``nak_rpt_ivl`` / ``nak_rdata_ivl`` - for
    a few receivers of a source that answers at once; with many receivers sharing a
    rate-limited source it NAKs more (docs/engine.md).  False (default): the fixed intervals,
    as OpenPGM (pgm.engine.receiver.rtt)."""
    nak_timer_floor: float = 0.020
    """The shortest adaptive wait (seconds)."""
    spmr_bo_ivl: float = 0.250
    """SPMR_BO_IVL: random wait before asking a new source for an SPM (RFC 3208 App. C)."""
    spmr_multicast: bool = True
    """Also multicast the SPMR with TTL 1 so other receivers can suppress theirs (OpenPGM does)."""
    peer_expiry: float = 300.0
    """A session silent this long is ended (OpenPGM/ZeroMQ: 300 s)."""
    max_sessions: int = 256
    """Cap on concurrent sessions; packets of further ones are counted and dropped."""
    max_buffer_bytes: int = 32 * 1024 * 1024
    """Cap per session on bytes held out of order or awaiting reassembly."""
    max_pending_naks: int = 16384
    """Cap per session on sequence numbers being repaired; older gaps beyond it are lost."""
    max_window_sqns: int = 1 << 20
    """Data this far ahead of the delivery point is out of window and dropped (RXW_SQNS)."""
    max_apdu: int = 16 * 1024 * 1024
    """Largest APDU reassembled; bigger ones are dropped and reported lost."""
    ended_memory: int = 1024
    """How many ended sessions are remembered so their stragglers don't start a new one."""
    verify_checksum: bool = True
    """Check the PGM checksum of every packet (RFC 3208 §8).  Over UDP encapsulation the UDP
    checksum, which the kernel verifies, already covers the same bytes; turning this off there
    saves about a third of the receive cost per packet.  Never turn it off on raw IP."""
    join_history: int | None = None
    """How much history a late joiner asks for when the source offers it (OPT_JOIN, RFC 3208
    §9.5): None = all that is offered (back to OPT_JOIN_MIN), 0 = none (start at the first
    packet heard, as without OPT_JOIN), N = at most N sequence numbers before it."""
    trace_events: bool = False
    """Also emit research events (NakSent, NcfReceived)."""
    fin_confirm: float = 0.3
    """Hostile peers (docs/security.md): a FIN ends the session only after this long without
    contradiction (data beyond it, or a newer SPM without FIN), the source asked by an SPMR;
    an RST after half of it, with everything up to the FIN delivered, ends it as FIN."""
    lead_jump_sqns: int = 256
    """The leading edge may jump at least this far ahead of delivery (see ``lead_jump_secs``);
    packets claiming more are suspect: counted, dropped, no loss declared."""
    lead_jump_secs: float = 2.0
    """... or this many seconds of the session's peak packet rate, whichever is more."""
    lead_rate_floor: float = 100.0
    """The plausible edge grows by this many sequence numbers per second (plus twice the peak
    rate) while delivery does not move: an outage is caught up with, a forged jump is not."""
    max_spm_sqn_jump: int = 256
    """SPMs further ahead than this in SPM sequence are suspect; three consecutive SPMs behind
    the believed sequence resynchronise it (the believed one was forged)."""
    path_nla_damping: float = 60.0
    """A new SPM path NLA (where NAKs go) is adopted only once no SPM with the current one has
    been heard for this long (RFC 3208 §10: damp path NLA changes)."""
    only_tsi: TSI | None = None
    """Session choice (docs/security.md): follow only this TSI; packets of other sessions
    never start one (counted ``sessions_not_chosen``)."""
    only_source: NLA | None = None
    """Follow only sessions whose first packet came from this address (``pgm recv --source``)."""
    max_total_bytes: int = 256 * 1024 * 1024
    """Memory budget of all sessions together: held data, per packet overhead and NAK records
    (``Receiver.held_bytes``); beyond it a session over its fair share is refused more."""

    def __post_init__(self) -> None:
        for name in (
            "nak_bo_ivl",
            "nak_rpt_ivl",
            "nak_rdata_ivl",
            "nak_timer_floor",
            "spmr_bo_ivl",
            "peer_expiry",
        ):
            _positive(name, getattr(self, name))
        if not 0 <= self.nak_bo_min <= self.nak_bo_ivl:
            raise ConfigError("nak_bo_min must be in [0, nak_bo_ivl]")
        for name in (
            "nak_ncf_retries",
            "nak_data_retries",
            "max_sessions",
            "max_buffer_bytes",
            "max_pending_naks",
            "max_window_sqns",
            "max_apdu",
        ):
            if getattr(self, name) < (0 if name.endswith("retries") else 1):
                raise ConfigError(f"{name} out of range: {getattr(self, name)!r}")
        if self.max_window_sqns >= 1 << 31:
            raise ConfigError("max_window_sqns must be below 2**31 (RFC 3208 §6)")
        if self.join_history is not None and self.join_history < 0:
            raise ConfigError(f"join_history must be None or >= 0, not {self.join_history!r}")
        for name in ("fin_confirm", "lead_jump_secs", "path_nla_damping"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must be >= 0, not {getattr(self, name)!r}")
        for name in ("lead_jump_sqns", "max_spm_sqn_jump", "max_total_bytes"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, not {getattr(self, name)!r}")
        _positive("lead_rate_floor", self.lead_rate_floor)
