"""``sim.c`` for the conformance tests: a scripted engine that injects packets and records.

Theory of operation
-------------------
:class:`Peer` implements the engine protocol :mod:`pgm.sim` drives (``receive``,
``handle_timer``, ``datagrams_to_send``, ``next_timer``, ``next_event``) without any protocol
logic of its own.  A test appends datagrams to :attr:`Peer.out` (through a bench's ``inject``) and
the network sends them at that virtual time; everything the peer hears is parsed (checksum
verified) and kept in :attr:`Peer.heard`.  An optional *responder* answers what it hears, e.g. a
NAK with an NCF or an SPMR with an SPM.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pgm import wire
from pgm.wire import NLA
from tests.helpers.addresses import Datagram

Responder = Callable[[wire.Packet, NLA, "NLA | None", float], list[Datagram]]


class Peer:
    """``sim.c``: sends scripted packets, records everything it hears, may answer some."""

    def __init__(self, responder: Responder | None = None) -> None:
        self.out: list[Datagram] = []
        self.heard: list[tuple[float, Any, NLA, NLA | None]] = []
        self.responder = responder

    def receive(self, datagram: bytes, src: NLA, now: float, dst: NLA | None = None) -> None:
        pkt = wire.parse(datagram)  # checksum verified: a bad one fails the test here
        self.heard.append((now, pkt, src, dst))
        if self.responder is not None:
            self.out.extend(self.responder(pkt, src, dst, now))

    def handle_timer(self, now: float) -> None:
        pass

    def datagrams_to_send(self, now: float) -> list[Datagram]:
        out, self.out = self.out, []
        return out

    def next_timer(self) -> float | None:
        return None

    def next_event(self) -> object | None:
        return None

    def heard_types(self, name: str) -> list[tuple[float, Any, NLA, NLA | None]]:
        return [h for h in self.heard if name == h[1].NAME]
