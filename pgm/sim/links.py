"""Link conditions and scripted drop rules for the simulated network.

Theory of operation
-------------------
A :class:`Link` is an immutable, validated description of one directed path between two nodes
(or the default for all of them): random ``loss``, ``delay`` plus uniform ``jitter``,
``duplicate`` copies, reordering (a copy held back by ``reorder_delay`` with probability
``reorder``), a partition (``up=False``) and an optional scripted ``drop`` predicate.
The network (:mod:`pgm.sim.network`) looks the link up per copy and applies, in order: link
down -> scripted ``drop`` -> random loss -> duplication -> delay, jitter and reordering.  Every
random draw comes from the network's seeded RNG, so a run is reproducible.

A drop predicate is a plain function of the packet bytes returning True to drop.  The factories
here (:func:`drop_sqns`, :func:`drop_types`, :func:`drop_all`) read only the PGM type byte
(RFC 3208 §8) unless the type matches, and parse the packet only then, so scripted loss costs
nothing on packets it does not target.  A predicate is evaluated once per datagram per Link
object (see :mod:`pgm.sim.network`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from ..wire import PACKET_TYPES, OptNakList, Packet, PacketError, parse

__all__ = ["PERFECT", "DropPredicate", "Link", "drop_all", "drop_sqns", "drop_types", "type_code"]

DropPredicate = Callable[[bytes], bool]
"""A scripted drop rule: called with the packet bytes, returns True to drop that copy."""

_TYPE_CODES: dict[str, int] = {cls.NAME: code for code, cls in PACKET_TYPES.items()}
TYPE_OFFSET = 4
"""Offset of the type byte in the PGM header (RFC 3208 §8)."""


def _check_probability(name: str, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"Link.{name} must be a probability in [0, 1], not {value!r}")


@dataclass(frozen=True, slots=True)
class Link:
    """Conditions on a directed link between two nodes (or the default for all links)."""

    loss: float = 0.0
    """Probability that a copy is lost (drawn per copy from the network's seeded RNG)."""
    delay: float = 0.0
    """One-way delay in seconds."""
    jitter: float = 0.0
    """Extra delay drawn uniformly from ``[0, jitter)`` per copy; reorders packets."""
    duplicate: float = 0.0
    """Probability that a delivered datagram arrives twice (each copy gets its own jitter)."""
    reorder: float = 0.0
    """Probability that a copy is held back by a further ``reorder_delay`` (reordering)."""
    reorder_delay: float = 0.0
    """Extra delay, seconds, of a copy held back by ``reorder``."""
    drop: DropPredicate | None = None
    """Scripted drop rule on the packet bytes (see :func:`drop_sqns`); once per datagram."""
    up: bool = True
    """``False`` models a partition: everything on this link is dropped."""

    def __post_init__(self) -> None:
        _check_probability("loss", self.loss)
        _check_probability("duplicate", self.duplicate)
        _check_probability("reorder", self.reorder)
        delays = (
            ("delay", self.delay),
            ("jitter", self.jitter),
            ("reorder_delay", self.reorder_delay),
        )
        for name, value in delays:
            if not (value >= 0.0 and math.isfinite(value)):
                raise ValueError(f"Link.{name} must be a finite number >= 0, not {value!r}")


PERFECT = Link()
"""No loss, no delay: the initial :attr:`Network.default_link`."""


def type_code(name: str) -> int:
    """The PGM type code of a type name (``"NAK"``, ``"odata"``...); ValueError if unknown."""
    try:
        return _TYPE_CODES[name.upper()]
    except KeyError:
        known = ", ".join(sorted(_TYPE_CODES))
        raise ValueError(f"unknown PGM packet type {name!r} (known: {known})") from None


def _sqns_of(pkt: Packet) -> list[int]:
    """The sequence numbers a packet is about: data SQN, NAK/NCF SQN plus its NAK list, SPM SQN."""
    sqn = getattr(pkt, "data_sqn", None)
    if sqn is not None:
        return [sqn]
    sqn = getattr(pkt, "nak_sqn", None)
    if sqn is not None:
        sqns = [sqn]
        opt = pkt.option(OptNakList)
        if opt is not None:
            sqns.extend(opt.sqns)
        return sqns
    sqn = getattr(pkt, "spm_sqn", None)
    return [] if sqn is None else [sqn]


def drop_sqns(
    sqns: Iterable[int], types: Iterable[str] = ("ODATA",), times: int = 1
) -> DropPredicate:
    """Drop packets of ``types`` that carry one of ``sqns``, up to ``times`` times per SQN.

    The SQN is ``data_sqn`` for ODATA/RDATA, ``nak_sqn`` plus OPT_NAK_LIST for NAK/NNAK/NCF, and
    ``spm_sqn`` for SPM.  A packet is dropped if any SQN it carries still has budget; each such
    SQN is then charged once.  ``drop_sqns([3])`` loses the first ODATA 3 and lets its second
    transmission through.
    """
    if times < 1:
        raise ValueError(f"times must be >= 1, not {times}")
    codes = frozenset(type_code(t) for t in types)
    budget = dict.fromkeys(sqns, times)

    def predicate(data: bytes) -> bool:
        if not budget or len(data) <= TYPE_OFFSET or data[TYPE_OFFSET] not in codes:
            return False
        try:
            pkt = parse(data, verify=False)
        except PacketError:
            return False
        hit = False
        for sqn in _sqns_of(pkt):
            left = budget.get(sqn)
            if left is not None:
                hit = True
                if left <= 1:
                    del budget[sqn]
                else:
                    budget[sqn] = left - 1
        return hit

    return predicate


def drop_types(*names: str) -> DropPredicate:
    """Drop every packet whose type is one of ``names`` (e.g. ``drop_types("NCF", "RDATA")``)."""
    codes = frozenset(type_code(n) for n in names)

    def predicate(data: bytes) -> bool:
        return len(data) > TYPE_OFFSET and data[TYPE_OFFSET] in codes

    return predicate


def drop_all() -> DropPredicate:
    """Drop everything (a one-way partition that still goes through the drop-rule path)."""

    def predicate(data: bytes) -> bool:
        return True

    return predicate
