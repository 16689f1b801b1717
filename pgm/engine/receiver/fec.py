"""The receiver's forward error correction (RFC 3208 Appendix A, docs/fec.md).

Theory of operation
-------------------
A session uses FEC once its source's SPM advertised OPT_PARITY_PRM (no receiver option: the
receiver follows the source).  Then, per transmission group (TG, ``k`` packets aligned on a
multiple of ``k``), a :class:`Group` keeps every data packet seen and every parity packet, until
the group is complete or delivery has passed it.  Whenever a group holds ``k`` packets of any
kind and misses data, the missing packets are decoded (:class:`pgm.fec.ReedSolomon`) and handed
to the receiver as repairs, so they are delivered in order like RDATA (counted in
``packets_recovered_by_parity``).  A parity packet also tells how far the group goes: its
missing data is opened as loss at once.

NAKs (the receiver's NAK machine decides *when*; this module decides *what*, in
:meth:`ReceiverFec.naks`):

* a **closed** group (its last packet, a later packet or a parity packet was seen) needs
  ``missing - parity held`` more packets: with on-demand parity advertised that is one parity
  NAK (SQN = TG | count - 1); otherwise a selective NAK for that many of the missing numbers
  (any ``k`` packets rebuild the group);
* the **leading, open** group is not NAKed on the first expiry (its pro-active parity or the
  group's end is still to come); when the NAK falls due again it goes out selectively (the RFC
  permits selective NAKs there), so a stalled source still gets its repairs asked for;
* a parity NCF with a count at least our need confirms all of that group's numbers (they wait
  for data); a smaller one does not (we NAK our own count).  A source that answers with fewer
  packets than asked (OpenPGM sends one for a count of two) is NAKed again for the remainder
  when the wait for data runs out;
* a group whose parity NAKs went unconfirmed twice is NAKed selectively from then on: the
  source may not do on-demand parity after all (the single OPT_PARITY_PRM bit is read the
  OpenPGM way — pro-active 0x01, on-demand 0x02 — until a parity packet arrives as ODATA, the
  RFC's pro-active form, which switches the session to the RFC bit order).

A parity packet of a session without FEC is counted and dropped.  Bad parity (lengths that do
not fit, a decode that fails) is counted in ``parity_decode_failures`` and the group is left to
ordinary repair.  State is bounded: at most :data:`MAX_GROUPS` groups per session.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from ... import wire
from ...fec import FecError, ReedSolomon
from ...wire.optbase import OPT_END, OPT_U
from ...wire.options import (
    PARITY_PRM_OND_OPENPGM,
    PARITY_PRM_OND_RFC,
    PARITY_PRM_PRO_OPENPGM,
    PARITY_PRM_PRO_RFC,
)
from ...wire.parity import parity_nak_sqn, var_pktlen_pad, var_pktlen_unpad
from ...wire.sqn import SQN_MASK, sqn_unwrap
from .nak import NakInput

if TYPE_CHECKING:
    from ...wire import NLA
    from .receiver import Receiver
    from .session import Session

__all__ = ["MAX_GROUPS", "Group", "ReceiverFec", "SessionFec"]

#: Most transmission groups one session keeps packets of.
MAX_GROUPS = 4096
_U32x3 = struct.Struct(">III")
_NULL_OPT = bytes([OPT_U]) + bytes(12)
_FRAG = wire.OptFragment.TYPE


class Group:
    """Packets of one transmission group: data by index, parity by parity index."""

    __slots__ = ("data", "parity", "size")

    def __init__(self, k: int) -> None:
        self.data: dict[int, tuple[bytes, bytes | None]] = {}
        """index -> (TSDU, the 13 OPT_FRAGMENT bytes parity encodes, or None)."""
        self.parity: dict[int, tuple[bytes, bytes | None, bool]] = {}
        """parity index -> (payload, encoded OPT_FRAGMENT bytes or None, VAR_PKTLEN)."""
        self.size = k
        """Packets in the group (OPT_CURR_TGSIZE for a short last group)."""


class SessionFec:
    """FEC state of one receive session (from its source's OPT_PARITY_PRM)."""

    __slots__ = ("bits", "groups", "k", "ondemand", "proactive", "rfc", "rs")

    def __init__(self, k: int, bits: int) -> None:
        self.k = k
        self.rs = ReedSolomon(k)
        self.bits = bits
        self.rfc = False
        self.ondemand = self.proactive = False
        self.read_bits()
        self.groups: dict[int, Group] = {}
        """TG (unbounded) -> its packets, oldest first."""

    def read_bits(self) -> None:
        """Decode the P/O bits in the bit order currently believed (OpenPGM's by default)."""
        pro, ond = (
            (PARITY_PRM_PRO_RFC, PARITY_PRM_OND_RFC)
            if self.rfc
            else (PARITY_PRM_PRO_OPENPGM, PARITY_PRM_OND_OPENPGM)
        )
        self.proactive = bool(self.bits & pro)
        self.ondemand = bool(self.bits & ond)

    def group(self, tg: int, next_: int) -> Group:
        """The group of ``tg`` (created; groups delivery has passed are dropped then)."""
        g = self.groups.get(tg)
        if g is None:
            groups = self.groups
            k = self.k
            for old in [t for t in groups if t + k <= next_]:
                del groups[old]
            while len(groups) >= MAX_GROUPS:
                del groups[next(iter(groups))]
            g = groups[tg] = Group(k)
        return g


def _frag_block(opts: list[wire.Option]) -> bytes | None:
    for o in opts:
        if type(o) is wire.OptFragment:
            return b"\x00" + _U32x3.pack(o.first_sqn, o.offset, o.apdu_length)
    return None


def _raw_option(datagram: bytes, code: int) -> bytes | None:
    """The 13 bytes after the first three of option ``code`` in a data packet, read raw (an
    FEC-encoded option's byte 3 is code, not flags)."""
    if not datagram[5] & wire.FLAG_PRESENT or len(datagram) < 28:
        return None
    end = 24 + (datagram[26] << 8 | datagram[27])
    off = 28
    while off + 2 <= min(end, len(datagram)):
        t, length = datagram[off], datagram[off + 1]
        if length < 4:
            return None
        if t & 0x7F == code and length == 16 and off + 16 <= len(datagram):
            return bytes(datagram[off + 3 : off + 16])
        if t & OPT_END:
            return None
        off += length
    return None


class ReceiverFec:
    """FEC for all sessions of one :class:`~pgm.engine.Receiver` (see the module docstring)."""

    def __init__(self, receiver: Receiver) -> None:
        self.r = receiver

    # -- session parameters ----------------------------------------------------------------------

    def on_spm(self, s: Session, prm: wire.OptParityPrm) -> None:
        """An SPM advertised OPT_PARITY_PRM: start (or update) FEC for the session."""
        k = prm.tgs
        if k < 2 or k > 128 or k & (k - 1) or not prm.bits & 0x03:
            s.stats.parity_decode_failures += 1  # implausible: no FEC (OpenPGM rejects it too)
            return
        f = s.fec
        if f is None or f.k != k:
            s.fec = SessionFec(k, prm.bits & 0x03)
        elif f.bits != prm.bits & 0x03:
            f.bits = prm.bits & 0x03
            f.read_bits()

    # -- data and parity --------------------------------------------------------------------------

    def keep(self, s: Session, sqn32: int, opts: list[wire.Option], payload: bytes) -> None:
        """A data packet of an FEC session: remember it in its group; decode if that completes
        what the group needs."""
        f = s.fec
        assert f is not None
        sqn = sqn_unwrap(sqn32, s.lead)
        if sqn < s.next:
            return
        k = f.k
        tg = sqn & ~(k - 1)
        g = f.group(tg, s.next)
        i = sqn - tg
        if i in g.data:
            return
        g.data[i] = (payload, _frag_block(opts) if opts else None)
        if len(g.data) >= g.size:
            del f.groups[tg]  # complete: nothing to decode
        elif g.parity and len(g.data) + len(g.parity) + k - g.size >= k:
            self._decode(s, f, tg, g)

    def on_parity(
        self, s: Session, datagram: bytes, tbyte: int, flags: int, sqn32: int,
        opts: list[wire.Option], payload: bytes, now: float,
    ) -> None:  # fmt: skip
        """A parity packet (header flag PARITY) of a known session with FEC."""
        f = s.fec
        assert f is not None
        st = s.stats
        st.parity_packets_received += 1
        st.total_bytes_received += len(datagram)
        if tbyte == wire.TYPE_ODATA and not f.rfc:
            f.rfc = True  # pro-active parity as ODATA: the RFC's form, so its bit order too
            f.read_bits()
        k = f.k
        sqn = sqn_unwrap(sqn32, s.lead)
        tg = sqn & ~(k - 1)
        if tg + k <= s.next:
            return  # delivery has passed the group
        j = sqn - tg
        size = k
        for o in opts:
            t = type(o)
            if t is wire.OptParityGrp:
                j += o.prm_group * k  # type: ignore[attr-defined]
            elif t is wire.OptCurrTgsize:
                size = o.tgsize  # type: ignore[attr-defined]
        if not 1 <= size <= k or j >= 255 - k:
            st.parity_decode_failures += 1
            return
        g = f.group(tg, s.next)
        if j in g.parity:
            return
        g.size = min(g.size, size)
        enc = _raw_option(datagram, _FRAG) if flags & wire.FLAG_PRESENT else None
        g.parity[j] = (payload, enc, bool(flags & wire.FLAG_VAR_PKTLEN))
        self._extend(s, tg + g.size - 1, now)
        if len(g.data) < g.size and len(g.data) + len(g.parity) + k - g.size >= k:
            self._decode(s, f, tg, g)

    def _extend(self, s: Session, last: int, now: float) -> None:
        """Parity shows the group reaches ``last``: open what is beyond the lead as loss."""
        r = self.r
        if last > s.lead and last - s.next < r.config.max_window_sqns:
            r._naks.open_gap(s, s.lead + 1, last + 1, now)
            s.lead = last
            r._settle(s)

    def _decode(self, s: Session, f: SessionFec, tg: int, g: Group) -> None:
        """Rebuild the group's missing data and hand it to the receiver as repairs."""
        k = f.k
        st = s.stats
        try:
            plen = len(next(iter(g.parity.values()))[0])
            var = any(v for _, _, v in g.parity.values())
            frag = any(e is not None for _, e, _ in g.parity.values())
            if any(len(p) != plen for p, _, _ in g.parity.values()):
                raise FecError("parity packets of unequal length")
            if not frag and any(b is not None for _, b in g.data.values()):
                raise FecError("data carry OPT_FRAGMENT, the parity encodes none")
            blocks: dict[int, bytes] = {}
            oblocks: dict[int, bytes] = {}
            for i, (p, b) in g.data.items():
                blocks[i] = var_pktlen_pad(p, plen - 2) if var else p
                if len(blocks[i]) != plen:
                    raise FecError("a data packet does not fit the parity length")
                oblocks[i] = b if b is not None else _NULL_OPT
            for i in range(g.size, k):  # a short group: the absent packets are empty
                blocks[i] = bytes(plen)
                oblocks[i] = _NULL_OPT
            for j, (p, e, _) in g.parity.items():
                blocks[k + j] = p
                oblocks[k + j] = e if e is not None else _NULL_OPT
            data = f.rs.decode(blocks, plen)
            odata = f.rs.decode(oblocks, 13) if frag else None
            out: list[tuple[int, list[wire.Option], bytes]] = []
            for i in range(g.size):
                if i in g.data:
                    continue
                payload = var_pktlen_unpad(data[i]) if var else data[i]
                opts: list[wire.Option] = []
                if odata is not None and not odata[i][0] & OPT_U:
                    a, b_, c = _U32x3.unpack(odata[i][1:])
                    opts.append(wire.OptFragment(a, b_, c))
                out.append((tg + i, opts, payload))
        except (FecError, wire.PacketError, ValueError):
            st.parity_decode_failures += 1
            del f.groups[tg]
            return
        del f.groups[tg]
        r = self.r
        now = r._now
        for sqn, opts, payload in out:
            if sqn < s.next or sqn in s.buf:
                continue
            st.packets_recovered_by_parity += 1
            r._on_data(s, sqn, True, opts, payload, now)
            if s.ended:
                return

    # -- NAKs -------------------------------------------------------------------------------------

    def need(self, s: Session, f: SessionFec, tg: int) -> int:
        """Packets group ``tg`` still needs (missing data less parity held)."""
        g = f.groups.get(tg)
        if g is None:
            return f.k
        return max(0, g.size - len(g.data) - len(g.parity))

    def naks(self, s: Session, sqns: list[int], dst: NLA) -> list[int]:
        """Of the numbers the NAK machine wants NAKed now, send parity NAKs for closed groups
        (on-demand) and return the numbers to NAK selectively."""
        f = s.fec
        assert f is not None
        k = f.k
        by_tg: dict[int, list[int]] = {}
        for q in sqns:
            by_tg.setdefault(q & ~(k - 1), []).append(q)
        selective: list[int] = []
        parity: list[int] = []
        for tg, qs in by_tg.items():
            recs = [s.naks[q] for q in qs if q in s.naks]
            retried = max((rec.ncf_retries for rec in recs), default=0)
            closed = s.lead >= tg + k - 1 or bool(tg in f.groups and f.groups[tg].parity)
            if not closed:
                if retried:
                    selective.extend(qs)  # the leading group, asked again: selectively
                continue
            need = self.need(s, f, tg)
            if need == 0:
                continue
            if f.ondemand and retried < 2:
                parity.append(parity_nak_sqn(tg & SQN_MASK, need, k))
            else:
                selective.extend(qs[:need])
        if parity:
            self._send_parity_naks(s, sorted(parity), dst)
        return selective

    def _send_parity_naks(self, s: Session, sqns: list[int], dst: NLA) -> None:
        r = self.r
        st = s.stats
        for i in range(0, len(sqns), 1 + wire.MAX_NAK_LIST):
            chunk = sqns[i : i + 1 + wire.MAX_NAK_LIST]
            pkt = wire.encode_nak_list(
                wire.NAK,
                source_port=r.dport,
                destination_port=s.tsi.source_port,
                gsi=s.tsi.gsi,
                sqns=chunk,
                source_nla=dst,
                group_nla=r.group,
                parity=True,
            )
            r._out.append((pkt, dst, None))
            st.nak_packets_sent += 1
            st.parity_naks_sent += len(chunk)

    def on_parity_ncf(self, s: Session, sqns: list[int], now: float) -> None:
        """A parity NCF: confirm the groups whose count covers what we need."""
        f = s.fec
        if f is None:
            return
        k = f.k
        apply = self.r._naks.apply
        for s32 in sqns:
            tg = sqn_unwrap(s32, s.lead) & ~(k - 1)
            count = (s32 & (k - 1)) + 1
            if count < self.need(s, f, tg):
                continue
            for q in [q for q in s.naks if tg <= q < tg + k]:
                apply(s, q, NakInput.NCF, now)

    def portless(
        self, datagram: bytes, tbyte: int, flags: int, sqn32: int, opts: list[wire.Option],
        payload: bytes, now: float,
    ) -> None:  # fmt: skip
        """A parity packet with source and destination port 0, as OpenPGM 5.3 sends them (its
        parity header never gets the ports): it belongs to the FEC session of its GSI when
        exactly one has that GSI; otherwise it is counted and dropped."""
        gsi = datagram[8:14]
        found = [s for s in self.r.sessions.values() if s.tsi.gsi == gsi and s.fec is not None]
        if len(found) != 1 or not found[0].started:
            self.r.stats.parity_packets_ignored += 1
            return
        s = found[0]
        s.last_heard = now
        self.on_parity(s, datagram, tbyte, flags, sqn32, opts, payload, now)
