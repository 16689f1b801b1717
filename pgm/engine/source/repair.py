"""How the source answers NAKs: NCFs and the repair queue (RFC 3208 §5.2, §5.3).

Theory of operation
-------------------
A NAK names one sequence number, plus up to 62 more in OPT_NAK_LIST.  It is accepted only when
it matches this session exactly, by OpenPGM's rules (docs/protocol.md §12): ports swapped, our GSI,
and its source NLA and group NLA naming our path NLA and group.  A parity NAK is dropped (no FEC
on this session, as OpenPGM without FEC), and after an abort (OPT_RST with N) nothing is
answered.

Each requested wire number is unwrapped against the window's leading edge
(:func:`pgm.wire.sqn_unwrap`) and then sorted:

* behind the trailing edge — too late, counted (RM: NaksReceivedTooLate);
* with late join on, below OPT_JOIN_MIN (:mod:`.join`'s floor) — not offered: refused without
  an NCF and counted (``naks_below_join_min``);
* ahead of the leading edge — never sent, counted;
* in the window — confirmed, and queued for RDATA unless already queued (the requests merge)
  or the queue is full (``max_repair_queue``).

§5.3: the NCF goes out before any RDATA and echoes the confirmed numbers (NAK list included).
Every NCF, selective or parity (on-demand FEC), is owed to the source's NCF budget
(:mod:`.budget`), which merges repeats and sends them as its ``ncf_share`` allows.  The queue
keeps arrival order; the scheduler sends its RDATA under the token bucket ahead of new ODATA
(§5.1.1), skipping entries the trailing edge has passed meanwhile.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

from ... import wire
from ..events import Event, NakReceived
from .join import LateJoin
from .stats import SourceStats
from .txw import TransmitWindow

if TYPE_CHECKING:
    from .budget import SourceBudget
    from .fec import SourceFec

__all__ = ["RepairQueue"]


class RepairQueue:
    """NAK acceptance, pending NCFs and the RDATA queue of one source session."""

    __slots__ = (
        "_cap",
        "_dport",
        "_events",
        "_group",
        "_gsi",
        "_nla",
        "_sport",
        "_stats",
        "_tsi",
        "answering",
        "budget",
        "late",
        "ncfs",
        "parity",
        "queue",
    )

    def __init__(
        self,
        *,
        tsi: wire.TSI,
        dport: int,
        nla: wire.NLA,
        group: wire.NLA,
        cap: int,
        stats: SourceStats,
        events: deque[Event] | None,
    ) -> None:
        self._gsi = tsi.gsi
        self._sport = tsi.source_port
        self._dport = dport
        self._nla = nla
        self._group = group
        self._cap = cap
        self._stats = stats
        self._events = events
        self._tsi = tsi
        self.queue: dict[int, None] = {}
        """Unbounded sequence numbers owed an RDATA, in arrival order."""
        self.ncfs: list[bytes] = []
        """NCFs to send at once."""
        self.answering = True
        """False after an abort: NAKs are no longer answered (OPT_RST with N)."""
        self.parity: SourceFec | None = None
        """On-demand FEC (docs/fec.md): parity NAKs go to it; None drops them."""
        self.late: LateJoin | None = None
        """Late join (the source sets it when on): NAKs below its floor are refused."""
        self.budget: SourceBudget | None = None
        """NCF budget and NAKer fairness (.budget, docs/security.md); the source sets it."""

    def on_nak(self, nak: wire.NAK, src: wire.NLA, window: TransmitWindow) -> None:
        """Take one parsed NAK from ``src``: count it, confirm it, queue its repairs."""
        st = self._stats
        # OpenPGM's acceptance rules (docs/protocol.md §12): ports swapped, our GSI ...
        if (
            nak.gsi != self._gsi
            or nak.destination_port != self._sport
            or nak.source_port != self._dport
        ):
            st.naks_ignored += 1
            return
        # ... and the NLAs must name this source's path NLA and group exactly.
        if nak.source_nla != self._nla or nak.group_nla != self._group:
            st.naks_rejected += 1
            return
        if nak.parity and self.parity is None:
            # No on-demand FEC on this session: OpenPGM drops parity NAKs without an NCF.
            st.naks_ignored += 1
            return
        if not self.answering:
            return
        sqns = [nak.nak_sqn]
        lst = nak.option(wire.OptNakList)
        if lst is not None:
            sqns.extend(lst.sqns)
        if nak.parity and self.parity is not None:
            confirm = self.parity.on_parity_nak(sqns, src, window, self.budget)
            self._confirm(confirm, parity=True)
            return
        st.naks_received += len(sqns)
        if self._events is not None:
            self._events.append(NakReceived(self._tsi, tuple(sqns), src))
        budget = self.budget
        mine = None if budget is None else budget.naker(src)  # served in turn (.budget)
        self._confirm(self._queue(sqns, window, mine))

    def _confirm(self, confirm: list[int], parity: bool = False) -> None:
        """Owe an NCF (parity or selective) for ``confirm``: merged, sent as the NCF budget
        allows (.budget); at once without a budget."""
        if not confirm:
            return
        if self.budget is not None:
            self.budget.confirm(confirm, parity)
        else:
            self.ncfs.append(self._ncf(confirm, parity))

    def _queue(
        self, sqns: list[int], window: TransmitWindow, added: deque[int] | None = None
    ) -> list[int]:
        """Sort requested wire numbers into too late / out of window / queued; return those
        to confirm."""
        st = self._stats
        confirm: list[int] = []
        queue = self.queue
        trail, lead = window.trail, window.lead
        floor = trail if self.late is None else self.late.floor
        for s32 in sqns:
            s = wire.sqn_unwrap(s32, lead)
            if s < floor:
                if s < trail:
                    st.naks_received_too_late += 1
                else:  # RFC 3208 §9.5: below OPT_JOIN_MIN, not offered (.join)
                    st.naks_below_join_min += 1
                continue
            if s > lead:
                st.naks_out_of_window += 1
                continue
            confirm.append(s32)
            if s in queue:
                st.naks_merged += 1
                continue
            if window.packets[s].repairs:
                st.naks_after_rdata += 1
            if len(queue) >= self._cap:
                st.naks_dropped += 1
                continue
            queue[s] = None
            if added is not None:
                added.append(s)
        return confirm

    def _ncf(self, confirm: list[int], parity: bool = False) -> bytes:
        # RFC 3208 §5.3: an NCF at once, echoing the request (NAK list included).
        return wire.encode_nak_list(
            wire.NCF,
            source_port=self._sport,
            destination_port=self._dport,
            gsi=self._gsi,
            sqns=confirm,
            source_nla=self._nla,
            group_nla=self._group,
            parity=parity,
        )

    def next_repair(self) -> int:
        """The next repair to send (the queue is not empty): round-robin over NAKers."""
        if self.budget is None:
            return next(iter(self.queue))
        return self.budget.next_repair(self.queue)

    def take_ncfs(self, now: float = 0.0) -> list[bytes]:
        """The NCFs to send now (the list is emptied; owed ones as the budget allows)."""
        out = self.ncfs
        self.ncfs = []
        budget = self.budget
        if budget is not None and budget.pending:
            out.extend(budget.take_ncfs(now, self._ncf))
        return out

    def abort(self) -> None:
        """The session was aborted: drop the queued repairs and answer no more NAKs."""
        self.answering = False
        self.queue.clear()

    def clear(self) -> None:
        """Forget everything queued (abort, end of session)."""
        self.queue.clear()
        self.ncfs.clear()
        if self.budget is not None:
            self.budget.clear()
