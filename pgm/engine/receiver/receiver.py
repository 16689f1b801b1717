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

import heapq
import os
import random
from collections import OrderedDict, deque
from collections.abc import Iterable
from itertools import count

from ... import wire
from ...wire import NLA, TSI, as_nla
from ...wire.sqn import SQN_MASK, sqn_unwrap
from ..api import Outgoing
from ..config import HELD_PACKET_OVERHEAD, NAK_RECORD_OVERHEAD, ReceiverConfig
from ..errors import ConfigError
from ..events import (
    EndReason,
    Event,
    LossReason,
    NakSent,
    NcfReceived,
    SessionEnded,
    data_received,
)
from .delivery import Held, deliver
from .fec import ReceiverFec
from .guard import Guard, session_bytes
from .join import open_join_gap, read_options, start_session
from .nak import NakInput, NakMachine, NakRecord, NakState, NakTimer
from .session import Session
from .stats import ReceiverStats, SessionInfo

__all__ = ["Receiver"]

_ODATA = wire.TYPE_ODATA
_RDATA = wire.TYPE_RDATA
_PARITY = wire.FLAG_PARITY
_OPT_JOIN = wire.OptJoin


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
        self._guard = Guard(self.config)  # what is believed of unauthenticated sources
        self._max_window = self.config.max_window_sqns
        self._verify = self.config.verify_checksum
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
                self._settle(s)
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
        self._tick(now)
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
                self._settle(s)
        e = self._expiry
        while e and e[0][0] <= now:
            _, _, s = heapq.heappop(e)
            if s.ended:
                continue
            if s.last_heard + self.config.peer_expiry <= now:
                self._end(s, EndReason.EXPIRED, now)
            else:
                self._push_expiry(s)

    def receive_many(self, items: Iterable[tuple[bytes, NLA, NLA | None]], now: float) -> None:
        """Take a batch of ``(datagram, src, dst)`` heard at ``now`` (the I/O drivers drain a
        socket into one batch); the same as :meth:`receive` on each, in order.

        This loop is the one receive path of data: every ODATA/RDATA is decoded here without
        building an object, a parity packet is dropped, and the next in-order whole message of
        a known session is delivered at once; anything else goes to :meth:`_on_data`.  It is
        written inline, with its lookups hoisted out of the loop, because it runs per packet.
        """
        self._tick(now)
        decode = wire.decode_data
        verify = self._verify
        dport_b = self._dport_b
        sessions_get = self.sessions.get
        append = self._events.append  # the queue take_events() hands over, never mid-batch
        make = data_received
        dst_ok = self._dst_ok
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
                if flags & _PARITY and not any(datagram[0:4]):
                    # OpenPGM accommodation: its parity packets carry no ports (docs/fec.md).
                    self._fec.portless(datagram, tbyte, flags, sqn32, opts, payload, now)
                    continue
                self.stats.wrong_port += 1
                continue
            key = (datagram[8:14], datagram[0] << 8 | datagram[1])
            s = sessions_get(key)  # type: ignore[call-overload]
            if flags & _PARITY:
                if s is not None and s.fec is not None and s.started:
                    s.last_heard = now
                    self._fec.on_parity(s, datagram, tbyte, flags, sqn32, opts, payload, now)
                else:
                    self._drop_parity(s, now)
                continue
            if s is None:
                if (sqn32 - trail32) & SQN_MASK >= 0x7FFFFFFF:
                    self.stats.suspect_packets += 1  # TRAIL ahead of SQN (OpenPGM drops it)
                    continue
                s = self._session(TSI(*key), src, now, create=True)
                if s is None:
                    continue
                self._start_with_data(s, sqn32, trail32, opts, now)
            else:
                s.last_heard = now
            st = s.stats
            st.total_bytes_received += len(datagram)
            if s.fec is not None:  # FEC: keep the packet for its group (docs/fec.md)
                self._fec.keep(s, sqn32, opts, payload)
                if s.ended:
                    continue
            ref = s.lead
            if trail32 != s.trail & SQN_MASK:
                trail = sqn_unwrap(trail32, ref)
                if trail > s.trail:
                    if not self._guard.trail_ok(s, sqn_unwrap(sqn32, ref), trail, now):
                        continue  # TRAIL ahead of SQN or of the plausible edge (.guard)
                    self._advance_trail(s, trail, now)
                    if s.ended:
                        continue
            if (
                (sqn32 - ref) & SQN_MASK == 1
                and ref + 1 == s.next
                and (not opts or (len(opts) == 1 and type(opts[0]) is _OPT_JOIN))
                and not s.buf
            ):
                # In order, whole (OPT_JOIN alone changes nothing once started), nothing held:
                # deliver at once.
                s.lead = ref + 1
                s.next = ref + 2
                if tbyte == _RDATA:
                    st.rdata_packets_received += 1
                else:
                    st.odata_packets_received += 1
                st.data_bytes_received += len(payload)
                st.apdus_delivered += 1
                append(make(s.tsi, payload, sqn32))
                if s.fin is not None:
                    self._fin_progress(s, ref + 1, now)
                continue
            self._on_data(s, sqn_unwrap(sqn32, ref), tbyte == _RDATA, opts, payload, now)

    def receive(self, datagram: bytes, src: NLA, now: float, dst: NLA | None = None) -> None:
        """Take one PGM packet heard on the group (or unicast to this host)."""
        self.receive_many(((datagram, src, dst),), now)

    # -- data that is not the fast path ---------------------------------------------------------

    def _drop_parity(self, s: Session | None, now: float) -> None:
        # RFC 3208 §9: a parity packet (FEC) is no data: it must never be delivered.  One of a
        # session whose SPM advertised no FEC (or not yet started) is counted and dropped.
        self.stats.parity_packets_ignored += 1
        if s is not None:
            s.last_heard = now
            s.stats.parity_packets_ignored += 1

    def _start_with_data(
        self, s: Session, sqn32: int, trail32: int, opts: list[wire.Option], now: float
    ) -> None:
        # RFC 3208 §6.1 / OpenPGM: the first data packet starts the window at its SQN, or
        # lower with late join (OPT_JOIN, §9.5; .join): the gap up to it is then NAKed.
        s.lead = sqn32 - 1  # unwrap reference
        join32, syn = read_options(opts) if opts else (None, False)
        self._start(s, sqn32, s.unwrap(trail32), join=join32, syn=syn)
        if s.next < sqn32:
            # Late join before any SPM: NAK the history only once an SPM says where to, all
            # at once (ask for it now), not record by record as unanswered NAKs time out.
            s.join_gap = sqn32
            s.lead = sqn32 - 1
            s.spmr_at = now
            self._settle(s)
            return
        if not s.have_spm and s.spmr_at is None:
            # App. C: ask for an SPM (we need its path NLA to NAK) after a random wait.
            s.spmr_at = now + self.rng.random() * self.config.spmr_bo_ivl
            self._settle(s)

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
            rx = Held(data, first, frag.offset, frag.apdu_length)
            head_apdu = first == s.next
        else:
            rx = Held(data, -1, 0, n)
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
        if fin and guard.fin(s, sqn, None, now):
            self._send_spmr(s)  # ask the source whether it really finished
        s.sample_window()
        s.buf[sqn] = rx
        s.buf_bytes += n
        self._deliver(s)
        self._settle(s)

    # -- other packets ------------------------------------------------------------------------

    def _dst_allowed(self, dst: NLA) -> bool:
        """A packet addressed to ``dst`` (not the cached group object) is for us: our group,
        or unicast; other groups are counted."""
        if dst == self.group:
            self._dst_ok = dst  # the transport tends to pass the same object every time
            return True
        if dst.is_multicast:
            self.stats.wrong_group += 1
            return False
        return True

    def _other(self, datagram: bytes, src: NLA, now: float, dst: NLA | None) -> None:
        """Every packet that is not ODATA/RDATA."""
        try:
            pkt = wire.parse(datagram, verify=self._verify)
        except wire.PacketError:
            self.stats.malformed_packets += 1
            return
        t = type(pkt)
        if t is wire.SPM or t is wire.NCF:
            if pkt.destination_port != self.dport:
                self.stats.wrong_port += 1
                return
            s = self._session(pkt.tsi, src, now, create=t is wire.SPM)
            if s is None:
                return
            if t is wire.SPM:
                self._on_spm(s, pkt, len(datagram), now)  # type: ignore[arg-type]
            else:
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
                    self._settle(s)
            else:
                self._on_peer_nak(s, pkt, now)  # type: ignore[arg-type]

    def _on_spm(self, s: Session, spm: wire.SPM, size: int, now: float) -> None:
        st = s.stats
        if not self._spm_plausible(s, spm, now):
            return
        st.spms_received += 1
        st.total_bytes_received += size
        s.have_spm = True
        s.spm_sqn = spm.spm_sqn
        self._guard.spm_believed(s, spm.path_nla, now)
        s.spmr_at = None
        rst = fin = False
        for o in spm.options:
            if type(o) is wire.OptRst:
                rst = True
            elif type(o) is wire.OptFin:
                fin = True
            elif type(o) is wire.OptParityPrm:
                self._fec.on_spm(s, o)
        if not s.started:
            # First packet is an SPM: start after its leading edge (RFC 3208 §6.1, OpenPGM).
            s.lead = spm.spm_lead
            lead = spm.spm_lead
            join32 = None if fin or rst else read_options(spm.options)[0]
            self._start(s, lead + 1, s.unwrap(spm.spm_trail), fin or rst, join32)
            if s.next <= lead:  # late join (.join): NAK back to the join point
                self._naks.open_gap(s, s.next, lead + 1, now)
                s.lead = lead
        else:
            lead = s.unwrap(spm.spm_lead)
            self._advance_trail(s, s.unwrap(spm.spm_trail), now)
            if s.ended:
                return
            if s.join_gap is not None:
                open_join_gap(s, self._naks, now)
            if lead > s.lead and lead - s.next < self._max_window and self._gap_room(s, lead):
                # The source has sent data we never saw: NAK it (RFC 3208 §6.3).
                self._naks.open_gap(s, s.lead + 1, lead + 1, now)
                s.lead = lead
        if rst:
            half = s.fin_at is not None and now >= s.fin_at - self.config.fin_confirm / 2
            if s.fin is not None and s.next > s.fin and half:
                # Everything up to a FIN that stood half its confirmation time uncontradicted
                # is here: an RST after it (a lingering source giving up) ends it as FIN.
                self._end(s, EndReason.FIN, now)
                return
            s.rst = True
            self._end(s, EndReason.RST, now)
            return
        if fin:
            if s.started and s.next - 1 <= lead < s.lead:
                self._guard.roll_back(s, lead)  # beyond the source's last: never sent
            if self._guard.fin(s, max(s.lead, lead), spm.spm_sqn, now):
                self._send_spmr(s)  # ask the source whether it really finished
        elif s.fin is not None:
            self._guard.fin_contradicted(s)  # a newer SPM without FIN: the source goes on
        self._deliver(s)
        if not s.ended:
            self._settle(s)

    def _spm_plausible(self, s: Session, spm: wire.SPM, now: float) -> bool:
        """RFC 3208 §6.2: SPMs out of sequence are discarded; so are SPMs whose sequence or
        edges the source has not shown plausible (.guard), counted suspect."""
        guard = self._guard
        if not guard.nla_ok(s, spm.path_nla, now):  # damped (RFC 3208 §10)
            return False
        if s.have_spm and not guard.spm_sqn_ok(s, spm.spm_sqn):
            return False
        if ((spm.spm_lead + 1 - spm.spm_trail) & SQN_MASK) >= 0x7FFFFFFF:
            s.stats.suspect_packets += 1  # trail beyond lead + 1
            return False
        if s.started:
            lead = s.unwrap(spm.spm_lead)
            if lead > s.lead + 1 and not guard.lead_ok(s, lead, now):
                return False
        return True

    def _gap_room(self, s: Session, upto: int) -> bool:
        """May NAK records for (lead, upto] be made (the memory budget, .guard)?"""
        gap = min(upto - s.lead, self.config.max_pending_naks)
        return self._guard.room(s, gap * NAK_RECORD_OVERHEAD, False, self.sessions)  # type: ignore[arg-type]

    def _fin_progress(self, s: Session, sqn: int, now: float) -> None:
        """In-order data at ``sqn`` of a session with a FIN: beyond it the FIN was false
        (.guard); at it the session may end."""
        if s.fin is not None and sqn > s.fin:
            self._guard.fin_contradicted(s)
        elif s.fin is not None and s.next > s.fin:
            self._fin_reached(s, now)

    def _fin_reached(self, s: Session, now: float) -> None:
        """Everything up to the FIN is done: end once the FIN is confirmed (``fin_confirm``
        without contradiction, .guard), else wait for that timer."""
        if s.fin_at is None or now >= s.fin_at:
            s.fin_at = None
            self._end(s, EndReason.FIN, now)
        else:
            self._settle(s)

    @staticmethod
    def _listed(pkt: wire.NCF | wire.NAK) -> list[int]:
        """The sequence numbers an NCF or NAK names: its own and its OPT_NAK_LIST's."""
        sqns = [pkt.nak_sqn]
        lst = pkt.option(wire.OptNakList)
        if lst is not None:
            sqns.extend(lst.sqns)
        return sqns

    def _on_ncf(self, s: Session, ncf: wire.NCF, now: float) -> None:
        s.stats.ncfs_received += 1
        sqns = self._listed(ncf)
        if self.config.trace_events:
            self._events.append(NcfReceived(s.tsi, tuple(sqns)))
        if not s.started or ncf.parity:
            if ncf.parity and s.started:
                self._fec.on_parity_ncf(s, sqns, now)
                self._settle(s)
            return
        for s32 in sqns:
            sqn = s.unwrap(s32)
            if sqn < s.next or sqn in s.buf:
                continue  # RFC 3208 §6.3: NCFs for received or passed data are ignored
            if sqn > s.lead:
                if sqn - s.next >= self._max_window or not self._guard.lead_ok(s, sqn, now):
                    continue
                # An NCF beyond the lead extends the window (OpenPGM).
                if sqn > s.lead + 1:
                    self._naks.open_gap(s, s.lead + 1, sqn, now)
                s.lead = sqn
                s.naks[sqn] = NakRecord(NakState.BACK_OFF, 0.0, NakTimer.NONE)
                s.lost.pop(sqn, None)
            self._naks.apply(s, sqn, NakInput.NCF, now)
        self._settle(s)

    def _on_peer_nak(self, s: Session, nak_pkt: wire.NAK, now: float) -> None:
        if nak_pkt.parity or not s.started:
            return
        ok = self._guard.peer_nak_ok  # suppression is bounded (.guard)
        for s32 in self._listed(nak_pkt):
            sqn = s.unwrap(s32)
            if ok(s, sqn):
                self._naks.apply(s, sqn, NakInput.PEER_NAK, now)
        self._settle(s)

    # -- sessions -----------------------------------------------------------------------------

    def _tick(self, now: float) -> None:
        self._now = now
        if now >= self._rate_tick:
            # About once a second: close each session's rate interval (read-only statistics).
            self._rate_tick = now + 1.0
            tick = self._guard.tick
            for s in self.sessions.values():
                s.sample_rate(now)
                tick(s, now)

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
        cfg = self.config
        if (cfg.only_tsi is not None and tsi != cfg.only_tsi) or (
            cfg.only_source is not None and src != cfg.only_source
        ):
            self.stats.sessions_not_chosen += 1  # pinned to another session (security.md)
            return None
        if len(self.sessions) >= self.config.max_sessions:
            self.stats.sessions_rejected += 1
            return None
        s = Session(tsi, src, now)
        self.sessions[tsi] = s
        self.stats.sessions_started += 1
        self._push_expiry(s)
        return s

    def _start(
        self,
        s: Session,
        heard: int,
        trail: int,
        ended: bool = False,
        join: int | None = None,
        syn: bool = False,
    ) -> None:
        """The session's first packet sets its window (RFC 3208 §6.1) at ``heard``, or lower
        at the source's OPT_JOIN_MIN ``join`` (wire; .join); announce where it joined."""
        self._events.append(start_session(s, heard, trail, ended, join, syn, self.config))

    def _push_expiry(self, s: Session) -> None:
        heapq.heappush(self._expiry, (s.last_heard + self.config.peer_expiry, next(self._seq), s))

    def _settle(self, s: Session) -> None:
        """Send the NAKs the table's rows queued, and make sure the session's earliest deadline
        is in the timer heap (once)."""
        if s.nak_queue:
            self._send_naks(s)
        d = s.next_deadline()
        if d is not None and d != s.sched:
            heapq.heappush(self._timers, (d, next(self._seq), s))
            s.sched = d

    def _end(self, s: Session, reason: EndReason, now: float) -> None:
        if s.ended:
            return
        if reason is not EndReason.FIN and s.started and s.next <= s.lead:
            # Whatever was still missing or undelivered will never come: say so.
            s.lost_below = s.lead + 1
            s.below_reason = LossReason(reason.value)
            self._deliver(s, final=True)
        self._naks.end(s, now)
        s.close(reason, now)
        del self.sessions[s.tsi]
        self._ended[s.tsi] = now
        self.ended_sessions[s.tsi] = s
        while len(self._ended) > self.config.ended_memory:
            self._ended.popitem(last=False)
        while len(self.ended_sessions) > self.config.ended_memory:
            self.ended_sessions.popitem(last=False)
        self.stats.sessions_ended += 1
        self._events.append(SessionEnded(s.tsi, reason))

    # -- window, NAKs, delivery --------------------------------------------------------------

    def _spmr_retry(self) -> float:
        return max(1.0, 4 * self.config.spmr_bo_ivl)

    def _run_session_timers(self, s: Session, now: float) -> None:
        # Without an SPM there is nowhere to send a NAK (RFC 3208 §6.3: no NAKs before an SPM);
        # SEND_NAK then treats it as sent and unanswered, so the SPMR has NAK_RPT_IVL per retry
        # to bring the SPM in before the gap is given up.
        self._naks.run_timers(s, now)
        if s.nak_queue:
            self._send_naks(s)
        if s.spmr_at is not None and s.spmr_at <= now:
            if s.have_spm:
                s.spmr_at = None
            else:
                self._send_spmr(s)
                s.spmr_at = now + self._spmr_retry()
        if s.fin_at is not None and s.fin_at <= now:
            s.fin_at = None  # the FIN stood its confirmation time (.guard)
            if s.fin is not None and s.next > s.fin:
                self._end(s, EndReason.FIN, now)

    def _send_naks(self, s: Session) -> None:
        """NAK (lists) for the numbers the rows queued, at most 1 + 62 per packet (§9.2)."""
        sqns = sorted(s.nak_queue)
        s.nak_queue.clear()
        dst = s.nak_dst
        if dst is None:
            return
        if s.fec is not None:
            sqns = self._fec.naks(s, sqns, dst)
        st = s.stats
        for i in range(0, len(sqns), 1 + wire.MAX_NAK_LIST):
            chunk = [q & SQN_MASK for q in sqns[i : i + 1 + wire.MAX_NAK_LIST]]
            pkt = wire.NAK(
                source_port=self.dport,
                destination_port=s.tsi.source_port,
                gsi=s.tsi.gsi,
                nak_sqn=chunk[0],
                source_nla=dst,
                group_nla=self.group,
                options=[wire.OptNakList(chunk[1:])] if len(chunk) > 1 else [],
            ).encode()
            self._out.append((pkt, dst, None))
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
