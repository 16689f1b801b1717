"""Golden vectors: packets captured from real OpenPGM (libpgm 5.3 and ZeroMQ pgm://).

tests/fixtures/openpgm/README.md says how they were produced (capture.py, two network
namespaces, nftables loss).  The codec must parse every one with the fields the capture
recorded (decoded independently of the codec by capture.py) and rebuild it byte for byte.
"""

from __future__ import annotations

import json
from ipaddress import ip_address
from pathlib import Path
from typing import Any

import pytest

from pgm import wire
from pgm.pcap import extract_pgm, read_pcap

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "openpgm"
VECTORS: list[dict[str, Any]] = json.loads((FIXTURES / "vectors.json").read_text())

OPTION_NAMES = {
    wire.OptFragment: "OPT_FRAGMENT",
    wire.OptNakList: "OPT_NAK_LIST",
    wire.OptFin: "OPT_FIN",
    wire.OptSyn: "OPT_SYN",
    wire.OptJoin: "OPT_JOIN",
    wire.OptParityPrm: "OPT_PARITY_PRM",
}


def test_the_vectors_cover_what_the_issue_names() -> None:
    have = {(v["type"], tuple(v["options"]), v["transport"]) for v in VECTORS}
    for typ in ("SPM", "ODATA", "NCF", "RDATA", "NAK", "SPMR"):
        assert any(t == typ and tr == "raw" for t, _, tr in have), typ
        assert any(t == typ and tr == "udp" for t, _, tr in have), typ
    assert ("ODATA", ("OPT_FRAGMENT",), "raw") in have
    assert ("NAK", ("OPT_NAK_LIST",), "raw") in have
    assert ("NCF", ("OPT_NAK_LIST",), "raw") in have
    assert ("SPM", ("OPT_FIN",), "raw") in have


@pytest.mark.parametrize("vec", VECTORS, ids=[v["name"] for v in VECTORS])
def test_parse_and_rebuild_byte_for_byte(vec: dict[str, Any]) -> None:
    raw = bytes.fromhex(vec["hex"])
    pkt = wire.parse(raw)
    f = vec["fields"]
    assert pkt.NAME == vec["type"] == f["type_name"]
    assert (pkt.source_port, pkt.destination_port) == (f["sport"], f["dport"])
    assert pkt.gsi.hex() == f["gsi"]
    assert pkt.checksum == f["checksum"]
    assert [OPTION_NAMES[type(o)] for o in pkt.options] == vec["options"]
    if isinstance(pkt, wire.SPM):
        assert (pkt.spm_sqn, pkt.spm_trail, pkt.spm_lead) == (f["spm_sqn"], f["trail"], f["lead"])
        assert pkt.path_nla == ip_address(f["path_nla"]["addr"])
    elif isinstance(pkt, wire.DataPacket):
        assert (pkt.data_sqn, pkt.data_trail) == (f["sqn"], f["trail"])
        assert len(pkt.data) == f["tsdu_length"]
        frag = pkt.option(wire.OptFragment)
        if frag is not None:
            assert frag.apdu_length > len(pkt.data)
            assert frag.offset + len(pkt.data) <= frag.apdu_length
    elif isinstance(pkt, wire.NakPacket):
        assert pkt.nak_sqn == f["sqn"]
        assert pkt.source_nla == ip_address(f["source_nla"]["addr"])
        assert pkt.group_nla == ip_address(f["group_nla"]["addr"])
        lst = pkt.option(wire.OptNakList)
        if lst is not None:
            assert lst.sqns == sorted(lst.sqns) and pkt.nak_sqn < lst.sqns[0]
    assert pkt.encode() == raw  # rebuilt byte for byte, checksum included


@pytest.mark.parametrize("name", ["openpgm-raw.pcap", "openpgm-udp.pcap", "zeromq-raw.pcap"])
def test_every_pgm_packet_in_the_captures_parses(name: str) -> None:
    n = 0
    for rec in read_pcap(FIXTURES / name):
        got = extract_pgm(rec, udp_ports={7500, 3055, 3056} | set(range(7500, 7600)))
        if got is None:
            continue
        raw, _meta = got
        pkt = wire.parse(raw)
        assert pkt.encode() == raw
        n += 1
    assert n >= 5
