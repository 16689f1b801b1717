"""The source's transmit window (RFC 3208 §5.1, Appendix F) and the TPDUs it holds.

Theory of operation
-------------------
A message handed to :meth:`Source.send` becomes one TPDU when it fits ``max_tsdu``, else
:func:`fragments` of ``max_tsdu_fragment`` bytes with OPT_FRAGMENT (RFC 3208 §9: first
fragment's SQN, offset, APDU length).  Each :class:`TxPacket` keeps its payload, its
option bytes and the partial checksum of both (:func:`pgm.wire.payload_sum`), so ODATA and any
number of RDATA of it are built from a header sum alone.

Once sent as ODATA a TPDU enters the :class:`TransmitWindow`, the repair store.  Sequence
numbers here are unbounded integers (they never wrap); only the wire reduces them mod 2**32.
The window holds at most ``capacity`` payload bytes, so ODATA waits when it is full.  Its
trailing edge advances with time, as Windows does: every ``advance_step`` seconds the TPDUs sent
more than ``window_secs`` ago are released and TXW_TRAIL moves past them (Appendix F: "advance
with time").  TXW_LEAD is the last SQN sent; ``trail == lead + 1`` means empty.

Between two steps the window holds up to ``window_secs`` plus one step of data, more than the
byte cap ``rate × window_secs`` at the configured rate.  So a full window takes its next step
early (:meth:`TransmitWindow.step_early`): it releases what that step would release (sent
before ``advance_at - window_secs``) and the following step is one ``advance_step`` later.  A
source sending at its rate then never waits for the clock, and every TPDU stays repairable at
least ``window_secs - advance_step``.
"""

from __future__ import annotations

from collections import deque

from ... import wire
from ...wire import partial_sum

__all__ = ["TransmitWindow", "TxPacket", "fragments"]

_HDR = wire.DATA_HEADER_SIZE


class TxPacket:
    """One TPDU in the send queue or the transmit window."""

    __slots__ = (
        "data",
        "fin",
        "frag",
        "join",
        "opts",
        "psum",
        "repairs",
        "sent_at",
        "size",
        "sqn",
        "syn",
    )

    def __init__(
        self,
        sqn: int,
        data: bytes,
        frag: tuple[int, int, int] | None,
        join: int | None = None,
        syn: bool = False,
    ) -> None:
        self.sqn = sqn
        """Sequence number (unbounded)."""
        self.data = data
        """The TSDU."""
        self.frag = frag
        """OPT_FRAGMENT fields ``(first_sqn, offset, apdu_length)``, or None."""
        self.join = join
        """OPT_JOIN_MIN it carries (unbounded; late join, or ``options_on_all_data``), or None."""
        self.syn = syn
        """OPT_SYN: the session's first data (RFC 3208 §9.6)."""
        self.fin = False
        """OPT_FIN: the session's last data (set by :meth:`set_fin`)."""
        self.sent_at = 0.0
        """When the ODATA went out."""
        self.repairs = 0
        """RDATA sent for it so far."""
        if frag is None and join is None and not syn:
            # The common case: no options, so the checksum part is the payload's alone.
            self.opts = b""
            self.psum = partial_sum(data)
            self.size = _HDR + len(data)
        else:
            self._build()

    def _build(self) -> None:
        self.opts = opts = wire.data_options(
            fragment=self.frag, join=self.join, syn=self.syn, fin=self.fin
        )
        self.psum = wire.payload_sum(self.data, opts)
        self.size = _HDR + len(opts) + len(self.data)

    def set_fin(self) -> None:
        """Mark it the session's last data: OPT_FIN (RFC 3208 §9)."""
        self.fin = True
        self._build()

    def set_join(self, join_min: int) -> None:
        """Carry OPT_JOIN_MIN ``join_min`` from now on (late join: the source's value moved)."""
        if self.join != join_min:
            self.join = join_min
            self._build()


def fragments(
    first: int, data: bytes, max_fragment: int, join: int | None = None, syn: bool = False
) -> list[TxPacket]:
    """The TPDUs of a message too long for one, numbered from ``first``: pieces of
    ``max_fragment`` bytes, each with OPT_FRAGMENT (RFC 3208 §9), and OPT_JOIN_MIN ``join``
    when given; ``syn`` puts OPT_SYN on the first."""
    n = len(data)
    return [
        TxPacket(first + i, data[off : off + max_fragment], (first, off, n), join, syn and not i)
        for i, off in enumerate(range(0, n, max_fragment))
    ]


class TransmitWindow:
    """TPDUs sent as ODATA and still available for repair, oldest first."""

    __slots__ = (
        "advance_at",
        "advance_step",
        "capacity",
        "lead",
        "nbytes",
        "order",
        "packets",
        "trail",
        "window_secs",
    )

    def __init__(
        self, first_sqn: int, capacity: int, window_secs: float, advance_step: float
    ) -> None:
        self.packets: dict[int, TxPacket] = {}
        """By sequence number."""
        self.order: deque[TxPacket] = deque()
        """In the order sent (= sequence order)."""
        self.nbytes = 0
        """Payload bytes held."""
        self.capacity = capacity
        """Most payload bytes it holds (``effective_window_bytes``)."""
        self.trail = first_sqn
        """TXW_TRAIL (unbounded)."""
        self.lead = first_sqn - 1
        """TXW_LEAD (unbounded); ``trail == lead + 1`` when empty."""
        self.window_secs = window_secs
        """How long a TPDU stays."""
        self.advance_step = advance_step
        """How often the trailing edge moves (``window_advance_pct`` of ``window_secs``)."""
        self.advance_at: float | None = None
        """When it moves next; None while nothing is held."""

    def has_room(self, nbytes: int) -> bool:
        """Whether a TPDU of ``nbytes`` fits now (an empty window takes anything), or the
        next step may be taken early to make room (:meth:`step_early`)."""
        if self.nbytes + nbytes <= self.capacity or not self.packets:
            return True
        adv = self.advance_at
        return adv is not None and self.order[0].sent_at <= adv - self.window_secs

    @property
    def bytes_free(self) -> int:
        """Free payload bytes."""
        return max(0, self.capacity - self.nbytes)

    def get(self, sqn: int) -> TxPacket | None:
        """The TPDU with unbounded sequence number ``sqn`` if the window still holds it."""
        return self.packets.get(sqn)

    def added(self, nbytes: int, now: float) -> None:
        """The scheduler put TPDUs of ``nbytes`` payload in (``packets``/``order``/``lead``)."""
        self.nbytes += nbytes
        if self.advance_at is None:
            self.advance_at = now + self.advance_step

    def advance(self, now: float) -> None:
        """Release TPDUs older than the window (RFC 3208 App. F: advance with time)."""
        self._release(now - self.window_secs)
        self.advance_at = now + self.advance_step if self.order else None

    def step_early(self, now: float) -> int:
        """The window is full: take the next step now, releasing what it would release (sent
        before ``advance_at - window_secs``); the step after is ``advance_step`` from now.
        Returns the payload bytes freed (0: nothing was old enough, wait for the clock)."""
        adv = self.advance_at
        if adv is None:
            return 0
        before = self.nbytes
        self._release(adv - self.window_secs)
        freed = before - self.nbytes
        if freed:
            self.advance_at = now + self.advance_step if self.order else None
        return freed

    def _release(self, horizon: float) -> None:
        order = self.order
        packets = self.packets
        while order and order[0].sent_at <= horizon:
            tx = order.popleft()
            del packets[tx.sqn]
            self.nbytes -= len(tx.data)
            self.trail = tx.sqn + 1

    def clear(self) -> None:
        """Drop everything (the session is over)."""
        self.packets.clear()
        self.order.clear()
        self.nbytes = 0
        self.advance_at = None
