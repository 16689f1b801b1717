"""The source's transmit window (RFC 3208 §5.1, Appendix F): a ring of TPDU slots.

Theory of operation
-------------------
A message handed to :meth:`Source.send` becomes one TPDU when it fits ``max_tsdu``, else
:func:`fragments` of ``max_tsdu_fragment`` bytes with OPT_FRAGMENT (RFC 3208 §9: first
fragment's SQN, offset, APDU length).  Each TPDU keeps its payload, its option bytes and the
partial checksum of both (:func:`pgm.wire.payload_sum`), so ODATA and any number of RDATA of it
are built from a header sum alone.

Every TPDU lives in one slot of a preallocated ring of parallel lists (payload, partial sum,
option bytes, send time, repair count), indexed by ``sqn & mask``: no object per packet, no
dictionary or deque growing and shrinking per packet, and a released slot is simply reused.
Sequence numbers here are unbounded integers (they never wrap); only the wire reduces them mod
2**32.  Three edges split the ring::

    trail ........ lead | lead + 1 ........ tail - 1 | tail
    [ sent: the window ] [ queued: not yet ODATA    ] next SQN to assign

TXW_TRAIL and TXW_LEAD (``trail == lead + 1`` when the window is empty) are the RFC's edges; the
slots between ``lead`` and ``tail`` are the send queue.  The ring doubles when the queue and the
window together outgrow it (rare: its first size is what the byte caps imply for full-size
packets); the byte caps (``capacity``, the source's send buffer) bound it.  Options (fragments,
late join's OPT_JOIN, OPT_SYN, OPT_FIN) are the exception: their slots also keep the OPT_FRAGMENT
fields, the OPT_JOIN_MIN and the payload's own sum, so the chain can be rebuilt (``set_fin``,
``set_join``) without summing the payload again.  :class:`TxPacket` is a view of one slot, made
on demand for repairs and FEC, never per ODATA.

The window holds at most ``capacity`` payload bytes, so ODATA waits when it is full.  Its
trailing edge advances with time, as Windows does: every ``advance_step`` seconds the TPDUs sent
more than ``window_secs`` ago are released and TXW_TRAIL moves past them (Appendix F: "advance
with time").  Between two steps the window holds up to ``window_secs`` plus one step of data,
more than the byte cap ``rate × window_secs`` at the configured rate.  So a full window takes
its next step early (:meth:`TransmitWindow.step_early`): it releases what that step would
release (sent before ``advance_at - window_secs``) and the following step is one
``advance_step`` later.  A source sending at its rate then never waits for the clock, and every
TPDU stays repairable at least ``window_secs - advance_step``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import overload

from ... import wire

__all__ = ["TransmitWindow", "TxPacket", "fragments", "ring_size"]

_HDR = wire.DATA_HEADER_SIZE
_M = 0xFFFF
_partial_sum = wire.partial_sum
_data_options = wire.data_options
#: The ring's parallel lists and what a free slot holds.
_SLOT_LISTS: tuple[tuple[str, object], ...] = (
    ("data", None),
    ("psum", 0),
    ("opts", b""),
    ("frag", None),
    ("join", None),
    ("dsum", 0),
    ("sent", 0.0),
    ("repairs", 0),
)


def ring_size(packets: int, floor: int = 64, ceiling: int = 1 << 16) -> int:
    """The first ring size for about ``packets`` TPDUs: a power of two in [floor, ceiling]."""
    n = floor
    while n < packets and n < ceiling:
        n <<= 1
    return n


class TxPacket:
    """A view of the TPDU with sequence number ``sqn`` in a :class:`TransmitWindow` (valid
    while the window holds it)."""

    __slots__ = ("_i", "_w", "sqn")

    def __init__(self, window: TransmitWindow, sqn: int) -> None:
        self._w = window
        self._i = sqn & window.mask
        self.sqn = sqn
        """Sequence number (unbounded)."""

    @property
    def data(self) -> bytes:
        """The TSDU."""
        d = self._w.data[self._i]
        assert d is not None
        return d

    @property
    def psum(self) -> int:
        """Partial checksum of options and payload."""
        return self._w.psum[self._i]

    @property
    def opts(self) -> bytes:
        """The option chain (``b""``: none)."""
        return self._w.opts[self._i]

    @property
    def frag(self) -> tuple[int, int, int] | None:
        """OPT_FRAGMENT fields ``(first_sqn, offset, apdu_length)``, or None."""
        return self._w.frag[self._i] if self._w.opts[self._i] else None

    @property
    def join(self) -> int | None:
        """OPT_JOIN_MIN it carries, or None."""
        return self._w.join[self._i] if self._w.opts[self._i] else None

    @property
    def size(self) -> int:
        """PGM bytes on the wire (header, options, payload)."""
        return self._w.size_of(self._i)

    @property
    def sent_at(self) -> float:
        """When the ODATA went out."""
        return self._w.sent[self._i]

    @property
    def repairs(self) -> int:
        """RDATA sent for it so far."""
        return self._w.repairs[self._i]

    @repairs.setter
    def repairs(self, n: int) -> None:
        self._w.repairs[self._i] = n

    def set_join(self, join_min: int) -> None:
        """Carry OPT_JOIN_MIN ``join_min`` from now on (late join: the source's value moved)."""
        self._w.set_join(self.sqn, join_min)


class _Held:
    """The TPDUs the window holds (sent, not yet released), by sequence number."""

    __slots__ = ("_w",)

    def __init__(self, window: TransmitWindow) -> None:
        self._w = window

    def __len__(self) -> int:
        return self._w.lead - self._w.trail + 1

    def __contains__(self, sqn: object) -> bool:
        return isinstance(sqn, int) and self._w.trail <= sqn <= self._w.lead

    def __getitem__(self, sqn: int) -> TxPacket:
        if not self._w.trail <= sqn <= self._w.lead:
            raise KeyError(sqn)
        return TxPacket(self._w, sqn)

    def get(self, sqn: int) -> TxPacket | None:
        return self._w.get(sqn)


class _Queued(Sequence[TxPacket]):
    """The TPDUs queued and not yet sent, oldest first (a view: ``[0]`` is the next ODATA)."""

    __slots__ = ("_w",)

    def __init__(self, window: TransmitWindow) -> None:
        self._w = window

    def __len__(self) -> int:
        return self._w.tail - self._w.lead - 1

    def __bool__(self) -> bool:
        return self._w.tail > self._w.lead + 1

    @overload
    def __getitem__(self, i: int) -> TxPacket: ...
    @overload
    def __getitem__(self, i: slice) -> Sequence[TxPacket]: ...
    def __getitem__(self, i: int | slice) -> TxPacket | Sequence[TxPacket]:
        w = self._w
        if isinstance(i, slice):
            return [TxPacket(w, w.lead + 1 + k) for k in range(*i.indices(len(self)))]
        n = len(self)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError(i)
        return TxPacket(w, w.lead + 1 + i)


class TransmitWindow:
    """The ring: TPDUs sent as ODATA and still available for repair, then the send queue."""

    __slots__ = (
        "advance_at",
        "advance_step",
        "capacity",
        "data",
        "dsum",
        "fin_sqn",
        "frag",
        "join",
        "lead",
        "mask",
        "nbytes",
        "opts",
        "psum",
        "repairs",
        "sent",
        "syn_sqn",
        "tail",
        "trail",
        "window_secs",
    )

    def __init__(
        self,
        first_sqn: int,
        capacity: int,
        window_secs: float,
        advance_step: float,
        slots: int = 64,
    ) -> None:
        n = ring_size(slots)
        self.mask = n - 1
        """Ring size minus one (the size is a power of two)."""
        self.data: list[bytes | None] = [None] * n
        """Payload per slot (None: free)."""
        self.psum: list[int] = [0] * n
        """Partial checksum of options and payload per slot."""
        self.opts: list[bytes] = [b""] * n
        """Option chain per slot; ``frag``, ``join`` and ``dsum`` count only where it is set."""
        self.frag: list[tuple[int, int, int] | None] = [None] * n
        self.join: list[int | None] = [None] * n
        self.dsum: list[int] = [0] * n
        self.sent: list[float] = [0.0] * n
        """When each slot's ODATA went out."""
        self.repairs: list[int] = [0] * n
        """RDATA sent per slot."""
        self.nbytes = 0
        """Payload bytes held in the window (sent, not released)."""
        self.capacity = capacity
        """Most payload bytes it holds (``effective_window_bytes``)."""
        self.trail = first_sqn
        """TXW_TRAIL (unbounded)."""
        self.lead = first_sqn - 1
        """TXW_LEAD (unbounded); ``trail == lead + 1`` when empty."""
        self.tail = first_sqn
        """The next sequence number to assign; ``lead + 1 .. tail - 1`` are queued."""
        self.syn_sqn = -1
        """The TPDU that carries OPT_SYN (late join's first data), or -1."""
        self.fin_sqn = -1
        """The TPDU that carries OPT_FIN (the session's last data), or -1."""
        self.window_secs = window_secs
        """How long a TPDU stays."""
        self.advance_step = advance_step
        """How often the trailing edge moves (``window_advance_pct`` of ``window_secs``)."""
        self.advance_at: float | None = None
        """When it moves next; None while nothing is held."""

    # -- the queue side ------------------------------------------------------------------------

    def grow(self) -> None:
        """Double the ring (queue and window outgrew it), keeping every slot's contents."""
        old_mask = self.mask
        mask = old_mask * 2 + 1
        for name, fill in _SLOT_LISTS:
            old = getattr(self, name)
            new = [fill] * (mask + 1)
            for s in range(self.trail, self.tail):
                new[s & mask] = old[s & old_mask]
            setattr(self, name, new)
        self.mask = mask

    def push(self, data: bytes, psum: int) -> int:
        """Queue a TPDU without options (``psum``: its payload's partial sum); its SQN."""
        t = self.tail
        if t - self.trail > self.mask:
            self.grow()
        i = t & self.mask
        self.data[i] = data
        self.psum[i] = psum
        self.opts[i] = b""
        self.repairs[i] = 0
        self.tail = t + 1
        return t

    def push_options(self, data: bytes, frag: tuple[int, int, int] | None, join: int | None) -> int:
        """Queue a TPDU with options (OPT_FRAGMENT ``frag``, OPT_JOIN_MIN ``join``, OPT_SYN
        when its SQN is :attr:`syn_sqn`); its SQN."""
        t = self.tail
        if t - self.trail > self.mask:
            self.grow()
        i = t & self.mask
        self.data[i] = data
        self.frag[i] = frag
        self.join[i] = join
        self.dsum[i] = _partial_sum(data)
        self.repairs[i] = 0
        self.tail = t + 1
        self._build(t)
        return t

    def _build(self, sqn: int) -> None:
        i = sqn & self.mask
        opts = _data_options(
            fragment=self.frag[i],
            join=self.join[i],
            syn=sqn == self.syn_sqn,
            fin=sqn == self.fin_sqn,
        )
        self.opts[i] = opts
        self.psum[i] = (_partial_sum(opts) + self.dsum[i]) % _M if opts else self.dsum[i]

    def set_fin(self, sqn: int) -> None:
        """Mark ``sqn`` the session's last data: OPT_FIN (RFC 3208 §9)."""
        i = sqn & self.mask
        if not self.opts[i]:  # no options so far: its sum is the payload's alone
            self.dsum[i] = self.psum[i]
            self.frag[i] = self.join[i] = None
        self.fin_sqn = sqn
        self._build(sqn)

    def set_join(self, sqn: int, join_min: int) -> None:
        """Let ``sqn`` (which carries options) carry OPT_JOIN_MIN ``join_min`` from now on."""
        i = sqn & self.mask
        if self.opts[i] and self.join[i] != join_min:
            self.join[i] = join_min
            self._build(sqn)

    def drop_queued(self) -> None:
        """Forget the queued TPDUs (abort)."""
        for s in range(self.lead + 1, self.tail):
            self.data[s & self.mask] = None
        self.tail = self.lead + 1

    @property
    def queued(self) -> Sequence[TxPacket]:
        """The queued TPDUs, oldest first (views)."""
        return _Queued(self)

    def next_len(self) -> int:
        """Payload bytes of the next TPDU to send (the queue is not empty)."""
        d = self.data[(self.lead + 1) & self.mask]
        return len(d) if d is not None else 0

    # -- the window side -----------------------------------------------------------------------

    def size_of(self, i: int) -> int:
        """PGM bytes of slot ``i``'s packet (header, options, payload)."""
        d = self.data[i]
        return _HDR + len(self.opts[i]) + (len(d) if d is not None else 0)

    def has_room(self, nbytes: int) -> bool:
        """Whether a TPDU of ``nbytes`` fits now (an empty window takes anything), or the
        next step may be taken early to make room (:meth:`step_early`)."""
        if self.nbytes + nbytes <= self.capacity or self.lead < self.trail:
            return True
        adv = self.advance_at
        return adv is not None and self.sent[self.trail & self.mask] <= adv - self.window_secs

    @property
    def bytes_free(self) -> int:
        """Free payload bytes."""
        return max(0, self.capacity - self.nbytes)

    @property
    def packets(self) -> _Held:
        """The TPDUs held, by sequence number (``len``, ``[sqn]``, ``get``)."""
        return _Held(self)

    @property
    def order(self) -> Iterator[TxPacket]:
        """The TPDUs held, oldest first (views)."""
        return (TxPacket(self, s) for s in range(self.trail, self.lead + 1))

    def get(self, sqn: int) -> TxPacket | None:
        """The TPDU with unbounded sequence number ``sqn`` if the window still holds it."""
        return TxPacket(self, sqn) if self.trail <= sqn <= self.lead else None

    def held(self, sqn: int) -> bool:
        """Whether the window holds ``sqn`` (sent and not released)."""
        return self.trail <= sqn <= self.lead

    def added(self, nbytes: int, now: float) -> None:
        """The scheduler sent TPDUs of ``nbytes`` payload (``sent`` and ``lead`` set)."""
        self.nbytes += nbytes
        if self.advance_at is None:
            self.advance_at = now + self.advance_step

    def trail_after(self, horizon: float) -> int:
        """The trailing edge once everything sent at or before ``horizon`` is released."""
        s, lead, sent, mask = self.trail, self.lead, self.sent, self.mask
        while s <= lead and sent[s & mask] <= horizon:
            s += 1
        return s

    def advance(self, now: float) -> None:
        """Release TPDUs older than the window (RFC 3208 App. F: advance with time)."""
        self._release(now - self.window_secs)
        self.advance_at = now + self.advance_step if self.lead >= self.trail else None

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
            self.advance_at = now + self.advance_step if self.lead >= self.trail else None
        return freed

    def _release(self, horizon: float) -> None:
        s, lead, mask = self.trail, self.lead, self.mask
        data, sent = self.data, self.sent
        nbytes = self.nbytes
        while s <= lead:
            i = s & mask
            if sent[i] > horizon:
                break
            d = data[i]
            if d is not None:
                nbytes -= len(d)
            data[i] = None  # the payload's memory goes now, not when the slot is reused
            s += 1
        self.nbytes = nbytes
        self.trail = s

    def clear(self) -> None:
        """Drop everything (the session is over)."""
        for s in range(self.trail, self.tail):
            self.data[s & self.mask] = None
        self.tail = self.lead + 1
        self.nbytes = 0
        self.advance_at = None


def fragments(
    window: TransmitWindow, data: bytes, max_fragment: int, join: int | None = None
) -> int:
    """Queue a message too long for one TPDU: pieces of ``max_fragment`` bytes, each with
    OPT_FRAGMENT (RFC 3208 §9), and OPT_JOIN_MIN ``join`` when given (OPT_SYN where the
    window's :attr:`~TransmitWindow.syn_sqn` falls); returns how many."""
    first = window.tail
    n = len(data)
    for off in range(0, n, max_fragment):
        window.push_options(data[off : off + max_fragment], (first, off, n), join)
    return window.tail - first
