"""Packets as OpenPGM's ``sim.c`` builds them, from the conformance scene's addresses.

Theory of operation
-------------------
Each builder returns a :mod:`pgm.wire` packet object with the scene's ports, GSI and NLAs
(:mod:`tests.helpers.addresses`) filled in, so a test names only the sequence numbers and
payload.  Downstream packets (SPM, ODATA, RDATA, NCF) go from ``SPORT`` to ``DPORT``; upstream
ones (NAK, SPMR) swap the ports, as RFC 3208 §8 requires.  Lists of more than one sequence
number travel in OPT_NAK_LIST (RFC 3208 §9.3).
"""

from __future__ import annotations

from collections.abc import Sequence

from pgm import wire
from pgm.wire import NLA
from tests.helpers.addresses import DPORT, GROUP, GSI, SPORT, SRC_ADDR


def spm(spm_sqn: int, trail: int, lead: int, path: NLA = SRC_ADDR) -> wire.SPM:
    return wire.SPM(
        source_port=SPORT,
        destination_port=DPORT,
        gsi=GSI,
        spm_sqn=spm_sqn,
        spm_trail=trail,
        spm_lead=lead,
        path_nla=path,
    )


def data_packet(kind: type[wire.DataPacket], sqn: int, trail: int, data: bytes) -> wire.DataPacket:
    return kind(
        source_port=SPORT,
        destination_port=DPORT,
        gsi=GSI,
        data_sqn=sqn,
        data_trail=trail,
        data=data,
    )


def odata(sqn: int, trail: int, data: bytes) -> wire.DataPacket:
    return data_packet(wire.ODATA, sqn, trail, data)


def rdata(sqn: int, trail: int, data: bytes) -> wire.DataPacket:
    return data_packet(wire.RDATA, sqn, trail, data)


def nak_list_options(more: Sequence[int]) -> list[wire.Option]:
    """OPT_NAK_LIST for the sequence numbers after the first (none if there are none)."""
    return [wire.OptNakList(list(more))] if more else []


def _nak_shaped(
    kind: type[wire.NakPacket], ports: tuple[int, int], gsi: bytes, sqns: Sequence[int],
    source_nla: NLA, group_nla: NLA,
) -> wire.NakPacket:  # fmt: skip
    """A NAK, NNAK or NCF: the first sequence number in the header, the rest in OPT_NAK_LIST."""
    return kind(
        source_port=ports[0],
        destination_port=ports[1],
        gsi=gsi,
        nak_sqn=sqns[0],
        source_nla=source_nla,
        group_nla=group_nla,
        options=nak_list_options(sqns[1:]),
    )


def ncf(sqn: int, *more: int) -> wire.NCF:
    """The source's NCF for ``sqn`` (and ``more``), downstream to the group."""
    pkt = _nak_shaped(wire.NCF, (SPORT, DPORT), GSI, (sqn, *more), SRC_ADDR, GROUP)
    assert isinstance(pkt, wire.NCF)
    return pkt


def nak(
    sqn: int, *more: int, source_nla: NLA = SRC_ADDR, group_nla: NLA = GROUP, gsi: bytes = GSI
) -> wire.NAK:
    """A receiver's NAK for ``sqn`` (and ``more``), upstream: the ports swapped."""
    pkt = _nak_shaped(wire.NAK, (DPORT, SPORT), gsi, (sqn, *more), source_nla, group_nla)
    assert isinstance(pkt, wire.NAK)
    return pkt


def spmr(gsi: bytes = GSI) -> wire.SPMR:
    return wire.SPMR(source_port=DPORT, destination_port=SPORT, gsi=gsi)
