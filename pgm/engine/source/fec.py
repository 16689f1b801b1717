"""The source's forward error correction: parity packets (RFC 3208 Appendix A, docs/fec.md).

Theory of operation
-------------------
With ``fec_group_size`` k set, the sequence space is cut into transmission groups (TG) of k
packets aligned on multiples of k (:mod:`pgm.wire.parity`).  This module adds three things to
the source:

* **OPT_PARITY_PRM** on every SPM (TG size and the pro-active / on-demand bits, in OpenPGM's
  bit order by default, ``fec_openpgm``).
* **Pro-active parity.**  :meth:`SourceFec.send_odata` hands ODATA to the scheduler one TG at a
  time; when a TG's last packet is out, ``fec_proactive`` parity packets of it are queued and go
  out before the next TG's data.  A session closing in the middle of a TG gets parity for that
  short TG too, with OPT_CURR_TGSIZE (missing packets count as empty ones).
* **On-demand parity.**  A parity NAK asks for ``count`` packets of a TG (SQN = TG | count - 1).
  It is confirmed by a parity NCF at once; when ``count`` exceeds what is still queued for that
  TG the difference is queued.  Every parity packet uses a fresh index j (row k + j of the
  code), so it repairs *any* missing packet of the group at every receiver; indices wrap after
  n - k (then they repeat).

Parity goes out under the token bucket after selective RDATA and before ODATA.  On-demand
parity is repair: it is charged to the repair budget (:mod:`.budget`) and, while new data
waits and fits the window, waits whenever that budget is in debt, so a flood of parity NAKs
leaves ODATA its ``1 - repair_share`` as a flood of selective NAKs does (docs/security.md).
A group's pro-active parity goes right after its last ODATA, ahead of on-demand parity. A
parity packet is built from the TG's TPDUs in the transmit window: payloads of unequal length
are zero-padded to the longest and followed by their length (VAR_PKTLEN, 2 bytes in OpenPGM's
host order, little-endian); OPT_FRAGMENT is FEC-encoded over the 13 bytes after each option's
first three (RFC 3208 Appendix A: the U bit marks a packet without the option), F bit set. A TG
whose data left the window is skipped. Parity SQN = TG | (j mod k), OPT_PARITY_GRP j div k from
j = k.
"""

from __future__ import annotations

import struct
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

from ... import wire
from ...fec import ReedSolomon
from ...wire import SQN_MASK
from ...wire.optbase import OPT_END, OPT_F_OPENPGM, OPT_F_RFC, OPT_U
from ...wire.parity import parity_packet_sqn, split_parity_nak, var_pktlen_pad
from ..config import SourceConfig
from ..events import Event, NakReceived
from .stats import SourceStats
from .txw import TransmitWindow, TxPacket

if TYPE_CHECKING:
    from .budget import SourceBudget

__all__ = ["SourceFec", "encoded_option_block", "parity_options"]

_U32x3 = struct.Struct(">III")
#: 13 FEC-encoded bytes of OPT_FRAGMENT: byte 3 (U bit) and the 12-byte body.
_OPT_BLOCK = 13
_NULL_OPT = bytes([OPT_U]) + bytes(12)


def encoded_option_block(frag: tuple[int, int, int] | None) -> bytes:
    """The 13 bytes of a packet's OPT_FRAGMENT that parity encodes (a null one with U set when
    the packet has none; RFC 3208 Appendix A)."""
    if frag is None:
        return _NULL_OPT
    first, off, length = frag
    return b"\x00" + _U32x3.pack(first & SQN_MASK, off, length)


def parity_options(
    enc_frag: bytes | None, grp: int | None, tgsize: int | None, f_bit: int
) -> bytes:
    """Option chain of a parity packet: OPT_LENGTH, the encoded OPT_FRAGMENT (``enc_frag``, 13
    bytes, F bit ``f_bit``), OPT_PARITY_GRP and OPT_CURR_TGSIZE; ``b""`` when none applies."""
    parts: list[bytes] = []
    if enc_frag is not None:
        parts.append(bytes([wire.OptFragment.TYPE, 16, f_bit]) + enc_frag)
    if grp is not None:
        parts.append(wire.OptParityGrp(grp).encode(False))
    if tgsize is not None:
        parts.append(wire.OptCurrTgsize(tgsize).encode(False))
    if not parts:
        return b""
    last = bytearray(parts[-1])
    last[0] |= OPT_END
    parts[-1] = bytes(last)
    total = 4 + sum(len(p) for p in parts)
    return bytes([0, 4]) + total.to_bytes(2, "big") + b"".join(parts)


class SourceFec:
    """Parity state of one source session (see the module docstring)."""

    __slots__ = (
        "_consume",
        "_events",
        "_overhead",
        "_partial_done",
        "_pro_type",
        "_queued",
        "_rs",
        "_stats",
        "_template",
        "_tsi",
        "budget",
        "k",
        "ondemand",
        "owed",
        "proactive",
        "spm_option",
        "used",
        "width",
    )

    def __init__(
        self,
        config: SourceConfig,
        template: wire.DataTemplate,
        stats: SourceStats,
        consume: Callable[[int, float], bool],
        events: deque[Event] | None,
        tsi: wire.TSI,
    ) -> None:
        self.k = k = config.fec_group_size
        self.width = config.fec_block_size - k
        """Parity indices available per TG (n - k)."""
        self.proactive = config.fec_proactive
        self.ondemand = config.fec_ondemand
        self._rs = ReedSolomon(k, config.fec_block_size)
        self._template = template
        self._stats = stats
        self._consume = consume
        self._overhead = config.header_overhead
        self._events = events
        self._tsi = tsi
        openpgm = config.fec_openpgm
        # OpenPGM sends pro-active parity as RDATA; RFC 3208 Appendix A says ODATA.
        self._pro_type = wire.TYPE_RDATA if openpgm else wire.TYPE_ODATA
        self.spm_option = wire.OptParityPrm.make(
            k, proactive=self.proactive > 0, ondemand=self.ondemand, openpgm=openpgm
        )
        """OPT_PARITY_PRM, on every SPM."""
        self.owed: dict[int, list[int]] = {}
        """TG (unbounded) -> [pro-active owed, on-demand owed], in the order they fell due."""
        self.used: dict[int, int] = {}
        """TG -> parity indices used so far (the next one is fresh)."""
        self._partial_done = -1
        self._queued: deque[TxPacket] = deque()  # the source's data waiting (send_odata's)
        self.budget: SourceBudget | None = None
        """The repair budget on-demand parity keeps to (the first parity NAK brings it)."""

    # -- ODATA in TG steps, pro-active parity --------------------------------------------------

    def send_odata(
        self,
        pending: deque[TxPacket],
        send: Callable[[int], int],
        closing: bool,
        now: float,
        window: TransmitWindow,
        out: list[tuple[bytes, wire.NLA, int | None]],
        group: wire.NLA,
    ) -> None:
        """ODATA up to each TG's end (``send(limit)`` sends at most ``limit`` and returns how
        many went), the TG's pro-active parity after it, until the bucket or window stops."""
        k = self.k
        self._queued = pending
        while pending:
            first = pending[0].sqn
            limit = k - (first & (k - 1))
            n = send(limit)
            if n < limit:
                break
            if self.proactive:
                tg = first + limit - k
                self._owe(tg, self.proactive, 0)
                if not self._send_proactive(tg, now, window, out, group):
                    return
                if not self.send_parity(now, window, out, group):
                    return
        if closing and not pending and self.proactive:
            lead = window.lead
            tg = lead & ~(k - 1)
            if (lead + 1) & (k - 1) and tg != self._partial_done and tg >= window.trail:
                self._partial_done = tg  # a short last TG: its parity with OPT_CURR_TGSIZE
                self._owe(tg, self.proactive, 0)
                self.send_parity(now, window, out, group)

    def _owe(self, tg: int, pro: int, ond: int) -> None:
        o = self.owed.get(tg)
        if o is None:
            self.owed[tg] = [pro, ond]
        else:
            o[0] += pro
            o[1] += ond

    # -- on-demand parity ----------------------------------------------------------------------

    def on_parity_nak(
        self,
        sqns: list[int],
        src: wire.NLA,
        window: TransmitWindow,
        budget: SourceBudget | None = None,
    ) -> list[int]:
        """A parity NAK (its SQNs, each TG | count - 1): queue the parity owed, to go within
        ``budget`` (.budget); return the SQNs to confirm with a parity NCF (all of them: an
        NCF also answers repeats)."""
        self.budget = budget
        st = self._stats
        st.parity_naks_received += len(sqns)
        if self._events is not None:
            self._events.append(NakReceived(self._tsi, tuple(sqns), src))
        confirm: list[int] = []
        for s32 in sqns:
            tg32, count = split_parity_nak(s32, self.k)
            tg = wire.sqn_unwrap(tg32, window.lead)
            if tg < window.trail:
                st.naks_received_too_late += 1
                continue
            if tg > window.lead:
                st.naks_out_of_window += 1
                continue
            confirm.append(s32)
            o = self.owed.get(tg)
            queued = o[1] if o is not None else 0
            if count > queued:
                self._owe(tg, 0, count - queued)
            else:
                st.naks_merged += 1
        return confirm

    # -- building and sending --------------------------------------------------------------------

    def send_parity(
        self,
        now: float,
        window: TransmitWindow,
        out: list[tuple[bytes, wire.NLA, int | None]],
        group: wire.NLA,
    ) -> bool:
        """Send owed parity under the token bucket; False when the bucket ran dry.  On-demand
        parity waits while new data does and the repair budget is in debt (True: ODATA next)."""
        owed = self.owed
        budget = self.budget
        queued = self._queued
        while owed:
            tg = next(iter(owed))
            o = owed[tg]
            if (
                not o[0]
                and budget is not None
                and queued
                and not budget.repair_ok(now)
                and window.has_room(len(queued[0].data))
            ):
                return True  # on-demand parity keeps to the repair share (.budget)
            sent = self._send_one(tg, o, now, window, out, group)
            if sent is False:
                return False
        if len(self.used) > 2 * max(1, len(window.packets)) // self.k + 64:
            self.forget(window.trail)
        return True

    def _send_proactive(
        self,
        tg: int,
        now: float,
        window: TransmitWindow,
        out: list[tuple[bytes, wire.NLA, int | None]],
        group: wire.NLA,
    ) -> bool:
        """The pro-active parity owed for group ``tg``, now; False when the bucket ran dry."""
        o = self.owed.get(tg)
        while o is not None and o[0] > 0:
            sent = self._send_one(tg, o, now, window, out, group)
            if sent is False:
                return False
            if sent is None:
                break
        return True

    def _send_one(
        self,
        tg: int,
        o: list[int],
        now: float,
        window: TransmitWindow,
        out: list[tuple[bytes, wire.NLA, int | None]],
        group: wire.NLA,
    ) -> bool | None:
        """One parity packet owed ``o`` of group ``tg``: True sent, False the bucket is dry,
        None nothing (more) to send for it (the entry is dropped)."""
        if o[0] + o[1] <= 0:
            del self.owed[tg]
            return None
        j = self.used.get(tg, 0)
        pkt = self.build(tg, j, window, wire.TYPE_RDATA if not o[0] else self._pro_type)
        if pkt is None:  # its data left the window
            del self.owed[tg]
            self.used.pop(tg, None)
            return None
        size = len(pkt) + self._overhead
        if not self._consume(size, now):
            return False
        st = self._stats
        self.used[tg] = j + 1
        if o[0]:
            o[0] -= 1
            st.proactive_parity_sent += 1
        else:
            o[1] -= 1
            if self.budget is not None:
                self.budget.repair.try_consume(size, now)  # repair, charged as RDATA is
        st.parity_packets_sent += 1
        st.total_bytes_sent += len(pkt)
        out.append((pkt, group, None))
        if o[0] + o[1] <= 0:
            del self.owed[tg]
        return True

    def forget(self, trail: int) -> None:
        """Drop the index counters of TGs behind the trailing edge (bounded state)."""
        for tg in [t for t in self.used if t + self.k <= trail]:
            del self.used[tg]

    def build(self, tg: int, j: int, window: TransmitWindow, type_: int) -> bytes | None:
        """Parity packet ``j`` of TG ``tg`` (``type_`` ODATA or RDATA), or None when its data
        is no longer in the window."""
        k = self.k
        tpdus: list[TxPacket] = []
        for i in range(k):
            tx = window.get(tg + i)
            if tx is None:
                if tg + i <= window.lead or not tpdus:
                    return None
                break
            tpdus.append(tx)
        size = len(tpdus)
        lens = [len(tx.data) for tx in tpdus]
        longest = max(lens)
        var = size < k or min(lens) != longest
        if var:
            blocks = [var_pktlen_pad(tx.data, longest) for tx in tpdus]
            blocks += [bytes(longest + 2)] * (k - size)
        else:
            blocks = [tx.data for tx in tpdus]
        idx = j % self.width
        payload = self._rs.encode(blocks, idx)
        enc: bytes | None = None
        if any(tx.frag is not None for tx in tpdus):
            opt_blocks = [encoded_option_block(tx.frag) for tx in tpdus]
            opt_blocks += [_NULL_OPT] * (k - size)
            enc = self._rs.encode(opt_blocks, idx)
        sqn, grp = parity_packet_sqn(tg, idx, k)
        f_bit = OPT_F_OPENPGM if self._pro_type == wire.TYPE_RDATA else OPT_F_RFC
        opts = parity_options(enc, grp, size if size < k else None, f_bit)
        flags = wire.FLAG_PARITY | (wire.FLAG_VAR_PKTLEN if var else 0)
        if size < k:
            flags |= wire.FLAG_NETWORK  # OPT_CURR_TGSIZE is network significant on parity
        psum = wire.payload_sum(payload, opts)
        return self._template.encode(type_, sqn, window.trail, payload, psum, opts, flags)
