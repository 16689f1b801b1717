"""Assertions on one traced packet: type, ports, GSI, NLAs, destination, sequence numbers.

Theory of operation
-------------------
Each check takes a :class:`~tests.helpers.trace.Tx` and states everything the conformance scripts
expect of that packet in the scene of :mod:`tests.helpers.addresses`: a NAK is unicast to the SPM
path NLA with the ports swapped and the NLAs echoed (RFC 3208 §9.3); NCF, ODATA, RDATA and SPM
are multicast to the group with the session's ports and GSI; a list NCF carries OPT_NAK_LIST with
the PRESENT and NETWORK option flags set, as OpenPGM sends it (docs/protocol.md).
"""

from __future__ import annotations

from collections.abc import Sequence

from pgm import wire
from pgm.wire import NLA
from tests.helpers.addresses import DPORT, GROUP, GSI, SPORT, SRC_ADDR
from tests.helpers.trace import Tx


def check_nak(tx: Tx, sqns: Sequence[int], path: NLA = SRC_ADDR) -> None:
    """A selective NAK for ``sqns``, unicast to the SPM path NLA, ports swapped, NLAs echoed."""
    p = tx.pkt
    assert type(p) is wire.NAK, f"expected a NAK, got {p!r}"
    assert tx.dst == path, f"NAK sent to {tx.dst}, not to the SPM path NLA {path}"
    assert tx.ttl is None
    assert (p.source_port, p.destination_port, p.gsi) == (DPORT, SPORT, GSI)
    assert (p.source_nla, p.group_nla) == (path, GROUP)
    assert not p.parity
    got = [p.nak_sqn] + (p.option(wire.OptNakList).sqns if p.option(wire.OptNakList) else [])
    assert got == list(sqns), f"NAK requests {got}, expected {list(sqns)}"


def check_ncf(tx: Tx, sqns: Sequence[int]) -> None:
    """An NCF for ``sqns``, multicast to the group, downstream ports, source/group NLAs."""
    p = tx.pkt
    assert type(p) is wire.NCF, f"expected an NCF, got {p!r}"
    assert tx.dst == GROUP and tx.ttl is None
    assert (p.source_port, p.destination_port, p.gsi) == (SPORT, DPORT, GSI)
    assert (p.source_nla, p.group_nla) == (SRC_ADDR, GROUP)
    assert not p.parity
    lst = p.option(wire.OptNakList)
    assert [p.nak_sqn] + (lst.sqns if lst else []) == list(sqns)
    flags = tx.raw[5]
    if len(sqns) > 1:
        assert flags == wire.FLAG_PRESENT | wire.FLAG_NETWORK, f"NCF flags {flags:#04x}"
    else:
        assert flags == 0 and p.options == [], f"NCF flags {flags:#04x}, options {p.options}"


def check_data(tx: Tx, kind: type[wire.DataPacket], sqn: int, trail: int, data: bytes) -> None:
    p = tx.pkt
    assert type(p) is kind, f"expected {kind.NAME}, got {p!r}"
    assert tx.dst == GROUP and tx.ttl is None
    assert (p.source_port, p.destination_port, p.gsi) == (SPORT, DPORT, GSI)
    assert (p.data_sqn, p.data_trail, p.data) == (sqn, trail, data)
    assert p.options == [] and tx.raw[5] == 0


def check_spm(tx: Tx, spm_sqn: int, trail: int, lead: int) -> None:
    p = tx.pkt
    assert type(p) is wire.SPM, f"expected an SPM, got {p!r}"
    assert tx.dst == GROUP and tx.ttl is None
    assert (p.source_port, p.destination_port, p.gsi) == (SPORT, DPORT, GSI)
    assert (p.spm_sqn, p.spm_trail, p.spm_lead) == (spm_sqn, trail, lead), (
        f"SPM sqn/trail/lead {(p.spm_sqn, p.spm_trail, p.spm_lead)}, "
        f"expected {(spm_sqn, trail, lead)}"
    )
    assert p.path_nla == SRC_ADDR and p.options == []
