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
  §5.3 asks): confirmations wait in one ordered set per kind, selective and parity (on-demand
  FEC, docs/fec.md; a parity NCF carries the PARITY flag, so the two never share a list), so
  the same number asked for by many NAKs is confirmed once, and leave as NCF lists (up to 63
  numbers each) as the bucket allows, the two kinds taking turns so neither starves the other;
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
        self.selective: dict[int, None] = {}
        """Wire numbers confirmed but not yet sent in an NCF, in order."""
        self.parity: dict[int, None] = {}
        """Parity NAK numbers (TG | count - 1) confirmed but not yet sent, in order."""

    @property
    def pending(self) -> bool:
        """Are NCFs owed (either kind)?"""
        return bool(self.selective or self.parity)

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

    def confirm(self, sqns: list[int], parity: bool = False) -> None:
        """Owe an NCF for wire numbers ``sqns`` (merged with those already owed); ``parity``:
        numbers of parity NAKs, confirmed by parity NCFs."""
        pending = self.parity if parity else self.selective
        for q in sqns:
            if q in pending:
                self._stats.ncfs_merged += 1
            else:
                pending[q] = None

    def take_ncfs(self, now: float, encode: Callable[[list[int], bool], bytes]) -> list[bytes]:
        """The NCF lists the NCF budget allows now, selective and parity in turn
        (``encode(numbers, parity)`` builds one)."""
        out: list[bytes] = []
        kinds = ((self.selective, False), (self.parity, True))
        more = True
        while more:
            more = False
            for pending, parity in kinds:
                if not pending:
                    continue
                it = iter(pending)
                chunk = [next(it) for _ in range(min(len(pending), 1 + MAX_NAK_LIST))]
                if not self.ncf.try_consume(_NCF_BASE + 4 * len(chunk) + self._overhead, now):
                    return out
                for q in chunk:
                    del pending[q]
                out.append(encode(chunk, parity))
                more = True
        return out

    def clear(self) -> None:
        """Forget the NCFs owed (abort, end of session)."""
        self.selective.clear()
        self.parity.clear()

    def ncf_at(self, now: float) -> float | None:
        """When an owed NCF may go (None: none owed)."""
        return self.ncf.ready_at(now) if self.pending else None

    # -- repairs ---------------------------------------------------------------------------------

    def repair_ok(self, now: float) -> bool:
        """May an RDATA go while new data waits (the repair bucket is not in debt)?"""
        return self.repair.ready_at(now) <= now
