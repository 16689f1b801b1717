"""Events the engine hands to the application: plain, immutable data.

Drain them with ``engine.next_event()`` until it returns ``None``.  Sequence numbers in events
are the 32-bit numbers seen on the wire.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum

from ..wire import NLA, TSI

__all__ = [
    "DataReceived",
    "EndReason",
    "Event",
    "LossReason",
    "NakReceived",
    "NakSent",
    "NcfReceived",
    "RepairSent",
    "SessionEnded",
    "SessionStarted",
    "SourceClosed",
    "UnrecoverableLoss",
]


class _StrEnum(str, Enum):
    """An Enum whose members are their string values: they compare equal to, format as and
    serialise (JSON) as the plain strings earlier versions used ("fin", "retries", ...)."""

    def __str__(self) -> str:
        return str(self.value)

    def __format__(self, spec: str) -> str:
        return format(str(self.value), spec)


class EndReason(_StrEnum):
    """Why a receiver's session ended (:attr:`SessionEnded.reason`)."""

    FIN = "fin"
    """Graceful end (OPT_FIN, RFC 3208 §9.6): everything up to the last sequence number was
    delivered or reported lost."""
    RST = "rst"
    """The source aborted the session (OPT_RST, RFC 3208 §9.7)."""
    EXPIRED = "expired"
    """Nothing heard from the source for longer than ``peer_expiry``."""


class LossReason(_StrEnum):
    """Why sequence numbers were given up (:attr:`UnrecoverableLoss.reason`)."""

    RETRIES = "retries"
    """NCF or data retries exhausted (RFC 3208 §6.3)."""
    WINDOW = "window"
    """The source's trailing edge passed them: it can no longer repair them."""
    CAPACITY = "capacity"
    """A configured cap (``max_pending_naks``) forced them out."""
    FRAGMENT = "fragment"
    """Part of a message whose other fragments were lost."""
    RST = "rst"
    """Still missing when the source aborted the session."""
    EXPIRED = "expired"
    """Still missing when the session expired."""


@dataclass(frozen=True, slots=True)
class Event:
    """Base class of every engine event."""


@dataclass(frozen=True, slots=True)
class SessionStarted(Event):
    """A receiver heard a new source session."""

    tsi: TSI
    """The session."""
    source: NLA
    """IP address the session's packets come from."""
    # The facts below do not take part in comparisons: an event built from (tsi, source)
    # alone, as before they existed, still equals the engine's.
    first_sqn: int = field(default=0, compare=False)
    """The first sequence number of the stream the application sees (delivered or reported
    lost): the first data packet's, or an SPM's leading edge + 1 (RFC 3208 §6.1), or lower,
    the source's OPT_JOIN_MIN, when it offers late join (§9.5; see :attr:`join_min`).
    As a 64-bit number this is the wire number; later 64-bit numbers count on past 2**32."""
    ended_when_heard: bool = field(default=False, compare=False)
    """The first packet heard was an SPM with OPT_FIN or OPT_RST: the source had already
    finished (a lingering earlier transfer), so nothing will be delivered; a
    :class:`SessionEnded` follows at once."""
    syn: bool = field(default=False, compare=False)
    """The first packet was the session's first data (OPT_SYN, RFC 3208 §9.6) at
    :attr:`first_sqn`.  (OPT_SYN may also come later, by repair: see
    :attr:`SessionInfo.syn_seen <pgm.engine.receiver.stats.SessionInfo.syn_seen>`.)"""
    missed: tuple[int, int] | None = field(default=None, compare=False)
    """``(first, last)`` wire numbers known to exist before :attr:`first_sqn` — from the source's
    trailing edge — and never to be delivered: the receiver joined late.  None when nothing is
    known missed.  :attr:`first_sqn` is lower than the first packet's when the source offered
    late join (OPT_JOIN, §9.5) and the receiver NAKs back to it."""
    join_min: int | None = field(default=None, compare=False)
    """OPT_JOIN_MIN of the first packet (wire number), or None without OPT_JOIN."""


@dataclass(frozen=True, slots=True)
class DataReceived(Event):
    """One whole message (APDU), delivered in order."""

    tsi: TSI
    """The session it belongs to."""
    data: bytes
    """The message bytes (fragments already reassembled)."""
    sqn: int
    """Sequence number of its first (or only) TPDU."""


@dataclass(frozen=True, slots=True)
class UnrecoverableLoss(Event):
    """Data that will never arrive: retries exhausted, or the source's window moved past it.

    Delivery continues after the gap.  A message with any lost fragment is reported here as a
    whole (its range covers all its fragments that were not delivered).
    """

    tsi: TSI
    """The session."""
    first: int
    """First lost sequence number."""
    last: int
    """Last lost sequence number (inclusive)."""
    reason: LossReason
    """'retries' (NCF/data retries exhausted), 'window' (the trailing edge passed it),
    'capacity' (a configured cap forced it out), 'fragment' (part of a message was lost), or
    'rst' / 'expired' (still missing when the session ended so); a :class:`LossReason`, equal
    to those strings."""

    @property
    def count(self) -> int:
        """How many sequence numbers were lost."""
        return ((self.last - self.first) & 0xFFFFFFFF) + 1


@dataclass(frozen=True, slots=True)
class SessionEnded(Event):
    """A receiver's session is over; no more events for its TSI follow."""

    tsi: TSI
    """The session."""
    reason: EndReason
    """'fin' (graceful end, all data delivered or reported lost), 'rst' (the source aborted),
    or 'expired' (silent for longer than the peer expiry); an :class:`EndReason`, equal to
    those strings."""


@dataclass(frozen=True, slots=True)
class SourceClosed(Event):
    """A source finished lingering after close (or abort); it sends nothing more."""

    tsi: TSI
    """The session."""


@dataclass(frozen=True, slots=True)
class NakSent(Event):
    """Research trace: a receiver sent a NAK."""

    tsi: TSI
    """The session."""
    sqns: tuple[int, ...]
    """Sequence numbers requested."""


@dataclass(frozen=True, slots=True)
class NcfReceived(Event):
    """Research trace: a receiver heard an NCF."""

    tsi: TSI
    """The session."""
    sqns: tuple[int, ...]
    """Sequence numbers confirmed."""


@dataclass(frozen=True, slots=True)
class NakReceived(Event):
    """Research trace: a source accepted a NAK."""

    tsi: TSI
    """The session."""
    sqns: tuple[int, ...]
    """Sequence numbers requested."""
    source: NLA
    """Who sent it."""


@dataclass(frozen=True, slots=True)
class RepairSent(Event):
    """Research trace: a source sent RDATA."""

    tsi: TSI
    """The session."""
    sqn: int
    """The repaired sequence number."""


def _fast_data_received() -> Callable[[TSI, bytes, int], DataReceived]:
    """Build :class:`DataReceived` without the frozen-dataclass ``__init__`` (3x faster).

    The receiver creates one per message on its hot path; this sets the three slots through
    their descriptors, which is what the generated ``__init__`` does less directly.  The
    result is an ordinary frozen ``DataReceived``.
    """
    new = object.__new__
    set_tsi = DataReceived.tsi.__set__  # type: ignore[attr-defined,misc]
    set_data = DataReceived.data.__set__  # type: ignore[attr-defined,misc]
    set_sqn = DataReceived.sqn.__set__  # type: ignore[attr-defined,misc]

    def make(tsi: TSI, data: bytes, sqn: int) -> DataReceived:
        o = new(DataReceived)
        set_tsi(o, tsi)
        set_data(o, data)
        set_sqn(o, sqn)
        return o

    return make


#: ``data_received(tsi, data, sqn)`` -> DataReceived, for hot paths.
data_received = _fast_data_received()
