"""Control packets of the receiver: SPM, NCF and overheard NAK/SPMR in, NAK and SPMR out.

Theory of operation
-------------------
Every packet that is not ODATA/RDATA leaves :meth:`Receiver.receive_many` for
:func:`other`, which parses it into an object (these are rare: no fast path) for
:func:`dispatch`.
An SPM (RFC 3208 §6.2) is first checked for plausibility (sequence, edges, path NLA; .guard),
then sets where NAKs go, may start the session, moves the trailing edge, opens a gap up to
its leading edge (§6.3) and carries OPT_FIN / OPT_RST / OPT_PARITY_PRM.  An NCF (§6.3)
drives the named records' NAK state machine (:mod:`.nak`), opening the window beyond the
lead where it names more.  Another receiver's multicast NAK or SPMR suppresses ours (§6.3,
App. C).  The outgoing side packs queued sequence numbers into NAKs with OPT_NAK_LIST (§9.2)
and sends SPMRs.  Plain functions taking the :class:`~.receiver.Receiver`, bound as its methods.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ... import wire
from ...wire import NLA
from ...wire.sqn import SQN_HALF, SQN_MASK, SQN_MODULUS, sqn_unwrap
from ..events import EndReason, NakSent, NcfReceived
from .guard import ProbeInput
from .join import open_join_gap, read_options
from .nak import NakInput, NakRecord, NakState, NakTimer
from .session import Session

if TYPE_CHECKING:
    from .receiver import Receiver

__all__ = [
    "dispatch",
    "dst_allowed",
    "listed",
    "ncf_extends",
    "on_ncf",
    "on_peer_nak",
    "on_spm",
    "other",
    "send_naks",
    "send_spmr",
    "spm_plausible",
]


# -- other packets ------------------------------------------------------------------------


def dst_allowed(r: Receiver, dst: NLA) -> bool:
    """A packet addressed to ``dst`` (not the cached group object) is for us: our group,
    or unicast; other groups are counted."""
    if dst == r.group:
        r._dst_ok = dst  # the transport tends to pass the same object every time
        return True
    if dst.is_multicast:
        r.stats.wrong_group += 1
        return False
    return True


def other(r: Receiver, datagram: bytes, src: NLA, now: float, dst: NLA | None) -> None:
    """Every packet that is not ODATA/RDATA."""
    try:
        pkt = wire.parse(datagram, verify=r._verify)
    except wire.PacketError:
        r.stats.malformed_packets += 1
        return
    dispatch(r, pkt, len(datagram), src, now, dst)


def dispatch(
    r: Receiver, pkt: wire.Packet, size: int, src: NLA, now: float, dst: NLA | None
) -> None:
    """A parsed packet that is not ODATA/RDATA (``size``: its length on the wire); also
    :meth:`Receiver.receive_packet`'s way in.  Reads ``pkt``, never changes it."""
    t = type(pkt)
    if t is wire.SPM or t is wire.NCF:
        if pkt.destination_port != r.dport:
            r.stats.wrong_port += 1
            return
        s = r._session(pkt.tsi, src, now, create=t is wire.SPM)
        if s is None:
            return
        if t is wire.SPM:
            r._on_spm(s, pkt, size, now)  # type: ignore[arg-type]
        else:
            r._on_ncf(s, pkt, now)  # type: ignore[arg-type]
    elif t is wire.SPMR or t is wire.NAK:
        # Upstream packets we overhear: another receiver's multicast SPMR or NAK suppresses
        # ours (RFC 3208 App. C, §6.3).  Unicast ones are for the source, not us.
        if dst is None or not dst.is_multicast or pkt.source_port != r.dport:
            return
        s = r._session(pkt.tsi, src, now, create=False)
        if s is None:
            return
        if t is wire.SPMR:
            if s.spmr_at is not None:
                s.spmr_at = now + r._spmr_retry()
            r._guard.probe(s, ProbeInput.PEER_SPMR, now)  # defers a FIN probe (.guard)
            r._settle(s)
        else:
            r._on_peer_nak(s, pkt, now)  # type: ignore[arg-type]


def on_spm(r: Receiver, s: Session, spm: wire.SPM, size: int, now: float) -> None:
    st = s.stats
    if not r._spm_plausible(s, spm, now):
        return
    st.spms_received += 1
    st.total_bytes_received += size
    s.have_spm = True
    s.spm_sqn = spm.spm_sqn
    r._guard.spm_believed(s, spm.path_nla, now)
    s.spmr_at = None
    rst = fin = False
    for o in spm.options:
        if type(o) is wire.OptRst:
            rst = True
        elif type(o) is wire.OptFin:
            fin = True
        elif type(o) is wire.OptParityPrm:
            r._fec.on_spm(s, o)
    if not s.started:
        # First packet is an SPM: start after its leading edge (RFC 3208 §6.1, OpenPGM).
        s.lead = spm.spm_lead
        lead = spm.spm_lead
        join32 = None if fin or rst else read_options(spm.options)[0]
        r._start(s, lead + 1, s.unwrap(spm.spm_trail), fin or rst, join32)
        if s.next <= lead:  # late join (.join): NAK back to the join point
            r._naks.open_gap(s, s.next, lead + 1, now)
            s.lead = lead
    else:
        lead = s.unwrap(spm.spm_lead)
        r._advance_trail(s, s.unwrap(spm.spm_trail), now)
        if s.ended:
            return
        if s.join_gap is not None:
            open_join_gap(s, r._naks, now)
        if lead > s.lead and lead - s.next < r._max_window and r._gap_room(s, lead):
            # The source has sent data we never saw: NAK it (RFC 3208 §6.3).
            r._naks.open_gap(s, s.lead + 1, lead + 1, now)
            s.lead = lead
    if rst:
        half = s.fin_at is not None and now >= s.fin_at - r.config.fin_confirm / 2
        if s.fin is not None and s.next > s.fin and half:
            # Everything up to a FIN that stood half its confirmation time uncontradicted
            # is here: an RST after it (a lingering source giving up) ends it as FIN.
            r._end(s, EndReason.FIN, now)
            return
        s.rst = True
        r._end(s, EndReason.RST, now)
        return
    if fin:
        if s.started and s.next - 1 <= lead < s.lead:
            r._guard.roll_back(s, lead)  # beyond the source's last: never sent
        r._guard.fin(s, max(s.lead, lead), spm.spm_sqn, now)  # probed by an SPMR (.guard)
    elif s.fin is not None:
        r._guard.fin_contradicted(s)  # a newer SPM without FIN: the source goes on
    r._deliver(s)
    if not s.ended:
        r._settle(s)


def spm_plausible(r: Receiver, s: Session, spm: wire.SPM, now: float) -> bool:
    """RFC 3208 §6.2: SPMs out of sequence are discarded; so are SPMs whose sequence or
    edges the source has not shown plausible (.guard), counted suspect."""
    guard = r._guard
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


def listed(pkt: wire.NCF | wire.NAK) -> list[int]:
    """The sequence numbers an NCF or NAK names: its own and its OPT_NAK_LIST's."""
    sqns = [pkt.nak_sqn]
    lst = pkt.option(wire.OptNakList)
    if lst is not None:
        sqns.extend(lst.sqns)
    return sqns


def on_ncf(r: Receiver, s: Session, ncf: wire.NCF, now: float) -> None:
    s.stats.ncfs_received += 1
    sqns = listed(ncf)
    if r.config.trace_events:
        r._events.append(NcfReceived(s.tsi, tuple(sqns)))
    if not s.started or ncf.parity:
        if ncf.parity and s.started:
            r._fec.on_parity_ncf(s, sqns, now)
            r._settle(s)
        return
    # A number at or below the lead does something only if it has a NAK record (without
    # one, LOST or DONE, the table's NCF row does nothing), and a receiver has records for
    # few of the numbers a long NCF list names: those cost one subtraction and a test.
    naks = s.naks
    lead = s.lead
    lead32 = lead & SQN_MASK
    if not naks:  # only numbers beyond the lead can act (records are made above it)
        sqns = [q for q in sqns if 0 < ((q - lead32) & SQN_MASK) < SQN_HALF]
    for s32 in sqns:
        d = (s32 - lead32) & SQN_MASK  # s.unwrap(s32) is lead + d, or lead + d - 2**32
        if d == 0 or d >= SQN_HALF:
            if not naks:
                continue
            sqn = lead + d - SQN_MODULUS if d else lead
            if sqn not in naks or sqn < s.next or sqn in s.buf:
                continue  # RFC 3208 §6.3: NCFs for received or passed data are ignored
        else:
            sqn = lead + d
            if sqn in s.buf or not ncf_extends(r, s, sqn, now):
                continue
            lead = s.lead
            lead32 = lead & SQN_MASK
        r._naks.apply(s, sqn, NakInput.NCF, now)
    r._settle(s)


def ncf_extends(r: Receiver, s: Session, sqn: int, now: float) -> bool:
    """An NCF for ``sqn`` beyond the lead extends the window to it (OpenPGM), with a
    BACK_OFF record for it, if the window and the plausible lead (.guard) allow."""
    if sqn - s.next >= r._max_window or not r._guard.lead_ok(s, sqn, now):
        return False
    if sqn > s.lead + 1:
        r._naks.open_gap(s, s.lead + 1, sqn, now)
    s.lead = sqn
    s.naks[sqn] = NakRecord(NakState.BACK_OFF, 0.0, NakTimer.NONE)
    s.lost.pop(sqn, None)
    return True


def on_peer_nak(r: Receiver, s: Session, nak_pkt: wire.NAK, now: float) -> None:
    s.stats.peer_naks_received += 1
    if nak_pkt.parity or not s.started:
        return
    naks = s.naks
    if naks:  # without a record a number does nothing (the cap counts only records)
        ok = r._guard.peer_nak_ok  # suppression is bounded (.guard)
        lead = s.lead
        for s32 in listed(nak_pkt):
            sqn = sqn_unwrap(s32, lead)
            if sqn in naks and ok(s, sqn):
                r._naks.apply(s, sqn, NakInput.PEER_NAK, now)
    r._settle(s)


def send_naks(r: Receiver, s: Session) -> None:
    """NAK (lists) for the numbers the rows queued, at most 1 + 62 per packet (§9.2)."""
    sqns = sorted(s.nak_queue)
    s.nak_queue.clear()
    dst = s.nak_dst
    if dst is None:
        return
    if s.fec is not None:
        sqns = r._fec.naks(s, sqns, dst)
    st = s.stats
    for i in range(0, len(sqns), 1 + wire.MAX_NAK_LIST):
        chunk = [q & SQN_MASK for q in sqns[i : i + 1 + wire.MAX_NAK_LIST]]
        pkt = wire.NAK(
            source_port=r.dport,
            destination_port=s.tsi.source_port,
            gsi=s.tsi.gsi,
            nak_sqn=chunk[0],
            source_nla=dst,
            group_nla=r.group,
            options=[wire.OptNakList(chunk[1:])] if len(chunk) > 1 else [],
        ).encode()
        r._out.append((pkt, dst, None))
        st.nak_packets_sent += 1
        st.selective_naks_sent += len(chunk)
        if r.config.trace_events:
            r._events.append(NakSent(s.tsi, tuple(chunk)))


def send_spmr(r: Receiver, s: Session) -> None:
    pkt = wire.SPMR(source_port=r.dport, destination_port=s.tsi.source_port, gsi=s.tsi.gsi).encode()
    if r.config.spmr_multicast:
        r._out.append((pkt, r.group, 1))  # TTL 1: for the other receivers here
    r._out.append((pkt, s.source, None))
    s.stats.spmrs_sent += 1
