"""The PGM receiver as a sans-I/O state machine (RFC 3208 §6): demultiplexing, caps, timers.

Theory of operation
-------------------
A :class:`Receiver` is bound to one group and data-destination port and tracks every source
session (TSI) it hears there, up to ``max_sessions``; the state of one is a
:class:`~.session.Session`.  Per session:

* **Window start** (RFC 3208 §6.1, OpenPGM rxw): the first packet defines it — an SPM starts
  delivery at its leading edge + 1 (earlier data is not asked for: a late joiner), a data packet
  at its own sequence number — or lower, at the source's OPT_JOIN_MIN, when the packet carries
  OPT_JOIN (late join, RFC 3208 §9.5; :mod:`.join`), and the gap up to it is NAKed.
  :class:`~pgm.engine.SessionStarted` says where it joined and what it knows it missed.
  Sequence numbers are unwrapped into unbounded integers against
  the leading edge (:func:`pgm.wire.sqn.sqn_unwrap`), so everything after that is plain
  comparisons.
* **The one receive path** (:meth:`Receiver.receive_many`): every ODATA/RDATA goes through
  it.  It reads the header flags — a PARITY packet (FEC, RFC 3208 §9) is counted and
  dropped, never delivered, until FEC exists — and takes the next in-order whole message of
  a known session straight to a :class:`~pgm.engine.DataReceived`; anything else goes to
  the general case.
* **Loss detection** (§6.3): a data packet beyond the leading edge, an SPM advertising a later
  leading edge, or an NCF for something not yet seen opens a NAK record for each missing
  sequence number.
* **NAK state machine** (§6.3): the table ``NAK_TRANSITIONS`` in :mod:`.nak` drives every
  record — back-off, NAK, NCF, repair, retries, suppression by NCFs and other receivers'
  multicast NAKs, the trailing edge passing, capacity cuts, the session's end.  No NAK is sent
  before an SPM told us where NAKs go; data from a source without an SPM triggers an SPMR
  (Appendix C) after a random ``spmr_bo_ivl`` wait, suppressed by another receiver's SPMR.
* **Delivery** (:mod:`.delivery`): contiguous data in order, whole messages (OPT_FRAGMENT
  reassembly); lost sequence numbers are reported as :class:`~pgm.engine.UnrecoverableLoss`
  where they fall in the stream.  Loss is never silent.
* **End**: OPT_FIN (on data or SPM) ends the session once everything up to its last sequence
  number is delivered or reported lost; OPT_RST ends it at once; silence for ``peer_expiry``
  expires it.  Each ends with a :class:`~pgm.engine.SessionEnded` (an
  :class:`~pgm.engine.EndReason`); the receiver remembers ``ended_memory`` ended sessions, their
  counters and edges only (:meth:`Receiver.session_info`).
* **Timers**: each session's earliest deadline (its NAK queues, its SPMR) sits once in one heap,
  expiry deadlines in another; stale entries are dropped when met.
"""

from __future__ import annotations

import os
import random
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable
from itertools import count

from ... import wire
from ...wire import NLA, TSI, as_nla
from ...wire.sqn import SQN_MASK, sqn_unwrap
from ..api import Outgoing
from ..config import HELD_PACKET_OVERHEAD, NAK_RECORD_OVERHEAD, ReceiverConfig
from ..errors import ConfigError
from ..events import (
    Event,
    LossReason,
    data_received,
)
from . import control, lifecycle, timers
from .delivery import Held, deliver
from .fec import ReceiverFec
from .guard import Guard, session_bytes
from .nak import NakInput, NakMachine
from .session import Session
from .stats import ReceiverStats, SessionInfo

__all__ = ["DecodeData", "Receiver"]

DecodeData = Callable[[bytes, bool], tuple[int, int, int, int, list[wire.Option], bytes]]
""":func:`pgm.wire.decode_data`'s signature: ``(datagram, verify) -> (type, flags, sqn, trail,
options, payload)``; what :meth:`Receiver.receive_many` decodes data with."""

_ODATA = wire.TYPE_ODATA
_RDATA = wire.TYPE_RDATA
_PARITY = wire.FLAG_PARITY
_OPT_JOIN = wire.OptJoin
_HELD = HELD_PACKET_OVERHEAD


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
        self._naks = NakMachine(self.config, self.rng)
        self._fec = ReceiverFec(self)  # FEC (docs/fec.md)
        self._guard = Guard(self.config, self.rng)  # what is believed of unauthenticated sources
        self._max_window = self.config.max_window_sqns
        self._verify = self.config.verify_checksum
        # How receive_many decodes ODATA/RDATA: wire.decode_data, or a drop-in that returns
        # the same tuple (the simulator decodes a multicast once for all its receivers).
        self._decode: DecodeData = wire.decode_data
        self._dst_ok: object = self.group
        self._dport_b = dport.to_bytes(2, "big")
        self._rate_tick = now + 1.0  # next time to sample the sessions' receive rates

    # -- sans-I/O interface -------------------------------------------------------------------

    def session_info(self, tsi: TSI, now: float | None = None) -> SessionInfo | None:
        """A read-only snapshot of session ``tsi`` (live, or ended and still remembered, up to
        ``ended_memory``), or None.  ``now`` (default: the time of the latest call into the
        receiver) dates the rates of a live session."""
        s = self.sessions.get(tsi) or self.ended_sessions.get(tsi)
        if s is None:
            return None
        return s.info(self._now if now is None else now)

    def held_bytes(self) -> int:
        """Memory held for all live sessions by the engine's own accounting: payload held,
        ``HELD_PACKET_OVERHEAD`` per held packet, ``NAK_RECORD_OVERHEAD`` per NAK record
        (capped by ``max_total_bytes``, docs/security.md)."""
        return sum(session_bytes(s) for s in self.sessions.values())

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

    # -- bound from the modules that hold them (see their docstrings) -------------------------

    next_timer = timers.next_timer
    handle_timer = timers.handle_timer
    _tick = timers.tick
    _push_expiry = timers.push_expiry
    _settle = timers.settle
    _spmr_retry = timers.spmr_retry
    _run_session_timers = timers.run_session_timers
    _dst_allowed = control.dst_allowed
    _other = control.other
    _on_spm = control.on_spm
    _spm_plausible = control.spm_plausible
    _on_ncf = control.on_ncf
    _on_peer_nak = control.on_peer_nak
    _send_naks = control.send_naks
    _send_spmr = control.send_spmr
    _data_session = lifecycle.data_session
    _session = lifecycle.session
    _start = lifecycle.start
    _end = lifecycle.end
    _start_with_data = lifecycle.start_with_data
    _fin_progress = lifecycle.fin_progress
    _fin_reached = lifecycle.fin_reached

    def receive_many(self, items: Iterable[tuple[bytes, NLA, NLA | None]], now: float) -> None:
        """Take a batch of ``(datagram, src, dst)`` heard at ``now``; the same as :meth:`receive`
        on each, in order.  The one receive path of data: ODATA/RDATA decoded without an object,
        the next in-order whole message of a known session delivered at once, the rest to
        :meth:`_on_data`.  Inline, lookups hoisted, because it runs per packet; rare branches
        (other packets, wrong port, parity, a new session) are calls."""
        self._tick(now)
        decode = self._decode
        verify = self._verify
        dport_b = self._dport_b
        sessions_get = self.sessions.get
        append = self._events.append  # the queue take_events() hands over, never mid-batch
        make = data_received
        dst_ok = self._dst_ok
        max_window = self._max_window
        for datagram, src, dst in items:
            if dst is not dst_ok and dst is not None:
                if not self._dst_allowed(dst):
                    continue
                dst_ok = self._dst_ok
            tbyte = datagram[4] if len(datagram) > 4 else -1
            if tbyte != _ODATA and tbyte != _RDATA:
                self._other(datagram, src, now, dst)
                continue
            try:
                tbyte, flags, sqn32, trail32, opts, payload = decode(datagram, verify)
            except wire.PacketError:
                self.stats.malformed_packets += 1
                continue
            if datagram[2:4] != dport_b:
                self._wrong_port(datagram, tbyte, flags, sqn32, opts, payload, now)
                continue
            key = (datagram[8:14], datagram[0] << 8 | datagram[1])
            s = sessions_get(key)  # type: ignore[call-overload]
            if flags & _PARITY:
                self._parity(s, datagram, tbyte, flags, sqn32, opts, payload, now)
                continue
            if s is None:
                s = self._data_session(key, src, sqn32, trail32, opts, now)
                if s is None:
                    continue
            else:
                s.last_heard = now
            st = s.stats
            st.total_bytes_received += len(datagram)
            if s.fec is not None:  # FEC: keep the packet for its group (docs/fec.md)
                self._fec.keep(s, sqn32, opts, payload)
                if s.ended:
                    continue
            ref = s.lead
            if trail32 != s.trail & SQN_MASK and not self._trail_moved(s, trail32, sqn32, now):
                continue
            if (sqn32 - ref) & SQN_MASK == 1 and (
                not opts or (len(opts) == 1 and type(opts[0]) is _OPT_JOIN)
            ):
                # In order and whole (OPT_JOIN alone changes nothing once started).
                if ref + 1 == s.next and not s.buf:  # nothing held: deliver at once
                    s.lead = ref + 1
                    s.next = ref + 2
                    st.data_bytes_received += len(payload)
                    st.apdus_delivered += 1
                    append(make(s.tsi, payload, sqn32))
                elif not s.frag_pos and s.fin is None and ref + 1 - s.next < max_window:
                    if not self._hold_next(s, payload):  # behind a gap: held
                        continue
                else:
                    self._on_data(s, ref + 1, tbyte == _RDATA, opts, payload, now)
                    continue
                if tbyte == _RDATA:
                    st.rdata_packets_received += 1
                else:
                    st.odata_packets_received += 1
                if s.fin is not None:
                    self._fin_progress(s, ref + 1, now)
                continue
            self._on_data(s, sqn_unwrap(sqn32, ref), tbyte == _RDATA, opts, payload, now)

    def _hold_next(self, s: Session, payload: bytes) -> bool:
        """Hold a whole message heard in order behind a gap (the common case under loss):
        no NAK record, timer or delivery can change, delivery waits at ``next``; False if the
        memory budget refuses it (.guard counts that)."""
        n = len(payload)
        if not self._guard.room(s, n + _HELD, False, self.sessions):  # type: ignore[arg-type]
            return False
        s.lead += 1
        s.sample_window()
        s.buf[s.lead] = (payload, -1, 0, n)
        s.buf_bytes += n
        return True

    def _trail_moved(self, s: Session, trail32: int, sqn32: int, now: float) -> bool:
        """A data packet's TRAIL differs from the session's: advance it if plausible; False if
        the packet must be dropped (TRAIL implausible, .guard) or the session ended."""
        ref = s.lead
        trail = sqn_unwrap(trail32, ref)
        if trail > s.trail:
            if not self._guard.trail_ok(s, sqn_unwrap(sqn32, ref), trail, now):
                return False  # TRAIL ahead of SQN or of the plausible edge (.guard)
            self._advance_trail(s, trail, now)
            if s.ended:
                return False
        return True

    def receive(self, datagram: bytes, src: NLA, now: float, dst: NLA | None = None) -> None:
        """Take one PGM packet heard on the group (or unicast to this host)."""
        self.receive_many(((datagram, src, dst),), now)

    def receive_packet(
        self, pkt: wire.Packet, size: int, src: NLA, now: float, dst: NLA | None = None
    ) -> None:
        """Take one control packet (SPM, NCF, NAK, SPMR...: not ODATA/RDATA, which go through
        :meth:`receive`) that the caller already parsed — and verified, if it wants checksums
        checked — from a datagram of ``size`` bytes.  After the parse, the same path as
        :meth:`receive`; ``pkt`` is only read, so one object may go to many receivers (the
        simulator parses a multicast once for all of them)."""
        if type(pkt) is wire.ODATA or type(pkt) is wire.RDATA:
            raise ValueError("receive_packet takes control packets; ODATA/RDATA go to receive()")
        self._tick(now)
        if dst is not None and dst is not self._dst_ok and not self._dst_allowed(dst):
            return
        control.dispatch(self, pkt, size, src, now, dst)

    # -- data that is not the fast path ---------------------------------------------------------

    def _wrong_port(
        self,
        datagram: bytes,
        tbyte: int,
        flags: int,
        sqn32: int,
        opts: list[wire.Option],
        payload: bytes,
        now: float,
    ) -> None:
        """Data not for our port: counted, unless a portless parity packet."""
        if flags & _PARITY and not any(datagram[0:4]):
            # OpenPGM accommodation: its parity packets carry no ports (docs/fec.md).
            self._fec.portless(datagram, tbyte, flags, sqn32, opts, payload, now)
            return
        self.stats.wrong_port += 1

    def _parity(
        self,
        s: Session | None,
        datagram: bytes,
        tbyte: int,
        flags: int,
        sqn32: int,
        opts: list[wire.Option],
        payload: bytes,
        now: float,
    ) -> None:
        """A parity packet (FEC, docs/fec.md): to the session's FEC, or counted and dropped."""
        if s is not None and s.fec is not None and s.started:
            s.last_heard = now
            self._fec.on_parity(s, datagram, tbyte, flags, sqn32, opts, payload, now)
        else:
            self._drop_parity(s, now)

    def _drop_parity(self, s: Session | None, now: float) -> None:
        # RFC 3208 §9: a parity packet (FEC) is no data: it must never be delivered.  One of a
        # session whose SPM advertised no FEC (or not yet started) is counted and dropped.
        self.stats.parity_packets_ignored += 1
        if s is not None:
            s.last_heard = now
            s.stats.parity_packets_ignored += 1

    def _on_data(
        self, s: Session, sqn: int, rdata: bool, opts: list[wire.Option], data: bytes, now: float
    ) -> None:
        """Data that is not the next in-order whole message: hold it, open gaps, deliver."""
        st = s.stats
        if sqn < s.next or sqn in s.buf:
            st.duplicate_data_packets += 1
            return
        if sqn - s.next >= self._max_window:
            st.out_of_window += 1
            return
        guard = self._guard
        if sqn > s.lead + 1 and not guard.lead_ok(s, sqn, now):
            return  # one packet may not open a gap the source never showed (.guard)
        frag: wire.OptFragment | None = None
        fin = False
        for o in opts:
            t = type(o)
            if t is wire.OptFragment:
                frag = o  # type: ignore[assignment]
            elif t is wire.OptFin:
                fin = True
            elif t is wire.OptSyn and sqn == s.first:
                s.syn = True  # RFC 3208 §9.6: the session's first data: none was missed
                s.missed = None
        n = len(data)
        if frag is not None:
            first = s.unwrap(frag.first_sqn)
            if not guard.fragment_ok(s, sqn, first, frag, n):
                return
            if frag.apdu_length > self.config.max_apdu:
                data, n = b"", 0  # kept as a marker only: delivery reports the message lost
            rx: Held = (data, first, frag.offset, frag.apdu_length)
            head_apdu = first == s.next
        else:
            rx = (data, -1, 0, n)
            head_apdu = sqn == s.next
        gap = min(sqn - s.lead - 1, self.config.max_pending_naks) if sqn > s.lead + 1 else 0
        need = n + HELD_PACKET_OVERHEAD + gap * NAK_RECORD_OVERHEAD
        if not guard.room(s, need, head_apdu, self.sessions):  # type: ignore[arg-type]
            return
        if s.fin is not None and sqn > s.fin:
            guard.fin_contradicted(s)  # the source sent on after its "FIN"
        if sqn > s.lead:
            if sqn > s.lead + 1:
                self._naks.open_gap(s, s.lead + 1, sqn, now)
            s.lead = sqn
        else:
            self._naks.apply(s, sqn, NakInput.DATA, now)
        if rdata:
            st.rdata_packets_received += 1
        else:
            st.odata_packets_received += 1
        if fin:
            guard.fin(s, sqn, None, now)  # probed by an SPMR after a back-off (.guard)
        s.sample_window()
        s.buf[sqn] = rx
        s.buf_bytes += n
        self._deliver(s)
        self._settle(s)

    def _gap_room(self, s: Session, upto: int) -> bool:
        """May NAK records for (lead, upto] be made (the memory budget, .guard)?"""
        gap = min(upto - s.lead, self.config.max_pending_naks)
        return self._guard.room(s, gap * NAK_RECORD_OVERHEAD, False, self.sessions)  # type: ignore[arg-type]

    def _advance_trail(self, s: Session, trail: int, now: float) -> None:
        """The source's trailing edge moved: anything missing below it is lost (RFC 3208 §6.3)."""
        if trail <= s.trail:
            return
        if trail - s.trail >= 1 << 31:
            return  # implausible jump (OpenPGM ignores these too)
        s.trail = trail
        if trail > s.lost_below:
            s.lost_below = trail
            s.below_reason = LossReason.WINDOW
            if trail > s.lead + 1:
                s.lead = trail - 1
            self._naks.apply_below(s, trail, NakInput.TRAIL_PASSED, now)
            self._deliver(s)

    def _deliver(self, s: Session, final: bool = False) -> None:
        """Deliver what is contiguous (:func:`.delivery.deliver`); end the session once its FIN
        is reached."""
        if deliver(s, self._events, self.config.max_apdu) and not s.ended and not final:
            self._fin_reached(s, self._now)
