"""The source's separate budgets for repairs and NCFs, and per-NAKer fairness (docs/security.md).

Theory of operation
-------------------
Anyone in the group can NAK, so NAKs must not be able to starve new data or make the source
flood the group (RFC 3208 §5.2: a source SHOULD detect NAK storms and rate-limit NCFs).  Besides
the session's token bucket (``rate_bps``, which every ODATA, RDATA and SPM takes from), a
:class:`SourceBudget` keeps:

* **a repair bucket** at ``repair_share`` of the rate: while new data is waiting and the window
  has room for it, RDATA leaves only when this bucket is not in debt, so ODATA keeps at least
  ``1 - repair_share`` of the rate however many NAKs arrive; with no new data waiting, repairs
  may use the whole rate;
* **an NCF bucket** at ``ncf_share`` of the rate, outside the main one (NCFs go first, as
  §5.3 asks): confirmations wait in one ordered set, so the same number asked for by many NAKs
  is confirmed once, and leave as NCF lists (up to 63 numbers each) as the bucket allows;
* **per-NAKer fairness**: each repair queued belongs to the NAKer (by source address, at most
  ``max_nakers`` remembered, least recently heard forgotten) that asked for it first, and the
  queue is served round-robin over the NAKers with repairs waiting (:meth:`next_repair`), so a
  member NAKing as fast as it can gets one RDATA in k when k members wait, never all of them.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Callable

from ...wire import MAX_NAK_LIST, NLA
from ..config import SourceConfig
from ..rate import TokenBucket
from .stats import SourceStats

__all__ = ["SourceBudget"]

#: Bytes an NCF list of ``n`` numbers costs on the wire (PGM header, NCF body with IPv4 NLAs,
#: OPT_LENGTH and OPT_NAK_LIST), for the NCF budget.
_NCF_BASE = 16 + 20 + 4 + 4


def _bucket(rate: float, cfg: SourceConfig, now: float) -> TokenBucket:
    """A bucket of ``rate`` bytes per second as deep as the main one (at least one MTU)."""
    return TokenBucket(rate, max(cfg.mtu, rate * cfg.burst_secs), now)


class SourceBudget:
    """Repair and NCF budgets and NAKer fairness of one source session (see the docstring)."""

    def __init__(self, cfg: SourceConfig, stats: SourceStats, now: float) -> None:
        rate = cfg.rate_bps / 8
        self._overhead = cfg.header_overhead
        self.repair = _bucket(rate * cfg.repair_share, cfg, now)
        self.ncf = _bucket(rate * cfg.ncf_share, cfg, now)
        self._nakers: OrderedDict[NLA, deque[int]] = OrderedDict()
        self._turn: deque[deque[int]] = deque()  # NAKers with repairs waiting, in turn
        self._max_nakers = cfg.max_nakers
        self._stats = stats
        self.pending: dict[int, None] = {}
        """Wire numbers confirmed but not yet sent in an NCF, in order."""

    # -- NAKers ----------------------------------------------------------------------------------

    def naker(self, src: NLA) -> deque[int]:
        """The repairs NAKer ``src`` has queued (the caller appends what it adds)."""
        mine = self._nakers.get(src)
        if mine is None:
            mine = self._nakers[src] = deque()
            if len(self._nakers) > self._max_nakers:
                self._nakers.popitem(last=False)  # its entries are served in queue order
        else:
            self._nakers.move_to_end(src)
        if not mine:
            self._turn.append(mine)
        return mine

    def next_repair(self, queue: dict[int, None]) -> int:
        """The next queued repair to send, round-robin over NAKers (``queue`` not empty)."""
        turn = self._turn
        while turn:
            mine = turn.popleft()
            while mine and mine[0] not in queue:
                mine.popleft()  # sent or passed by the trail meanwhile
            if mine:
                turn.append(mine)  # its next turn comes after the others'
                return mine[0]  # left in place: if not sent now (no tokens) it goes next time
        return next(iter(queue))

    # -- NCFs ------------------------------------------------------------------------------------

    def confirm(self, sqns: list[int]) -> None:
        """Owe an NCF for wire numbers ``sqns`` (merged with those already owed)."""
        pending = self.pending
        for q in sqns:
            if q in pending:
                self._stats.ncfs_merged += 1
            else:
                pending[q] = None

    def take_ncfs(self, now: float, encode: Callable[[list[int]], bytes]) -> list[bytes]:
        """The NCF lists the NCF budget allows now."""
        out: list[bytes] = []
        pending = self.pending
        while pending:
            it = iter(pending)
            chunk = [next(it) for _ in range(min(len(pending), 1 + MAX_NAK_LIST))]
            if not self.ncf.try_consume(_NCF_BASE + 4 * len(chunk) + self._overhead, now):
                break
            for q in chunk:
                del pending[q]
            out.append(encode(chunk))
        return out

    def ncf_at(self, now: float) -> float | None:
        """When an owed NCF may go (None: none owed)."""
        return self.ncf.ready_at(now) if self.pending else None

    # -- repairs ---------------------------------------------------------------------------------

    def repair_ok(self, now: float) -> bool:
        """May an RDATA go while new data waits (the repair bucket is not in debt)?"""
        return self.repair.ready_at(now) <= now
