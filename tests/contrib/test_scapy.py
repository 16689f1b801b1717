"""pgm.contrib.scapy against pgm.wire, both ways, and against the golden OpenPGM vectors.

Every packet type and option (tests/helpers/wire_cases.py) is built with one codec and parsed
by the other: the fields and the bytes must be equal.  The OpenPGM captures
(tests/fixtures/openpgm/vectors.json) dissected by scapy give the fields pgm.wire parses.
scapy is a test dependency (the ``test`` extra); CI must run these tests.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from ipaddress import IPv4Address, IPv6Address
from pathlib import Path
from typing import Any

import pytest

from pgm import wire
from pgm.pcap import extract_pgm, read_pcap
from tests.conftest import require
from tests.helpers.wire_cases import CASES, Case

try:
    import scapy  # noqa: F401

    HAVE_SCAPY = True
except ImportError:  # pragma: no cover - off CI without the test extra
    HAVE_SCAPY = False

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "openpgm"
VECTORS: list[dict[str, Any]] = json.loads((FIXTURES / "vectors.json").read_text())

_COMMON = {f.name for f in dataclasses.fields(wire.Packet)}
_OPT_COMMON = {"opx", "f_bits", "u"}


@pytest.fixture(scope="module")
def sc() -> Any:
    require(HAVE_SCAPY, "scapy is not installed (pip install '.[test]')")
    from pgm.contrib import scapy as layers

    return layers


# -- one normal form for both codecs ---------------------------------------------------------


def _norm(v: Any) -> Any:
    if isinstance(v, IPv4Address | IPv6Address):
        return str(v)
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, list):
        return [_norm(x) for x in v]
    return v


def _wire_option(o: wire.Option) -> dict[str, Any]:
    d = {f.name: _norm(getattr(o, f.name)) for f in dataclasses.fields(o)}
    if isinstance(o, wire.UnknownOption):
        d["opt_type"] = d.pop("type")
    else:
        d["opt_type"] = o.TYPE
    return d


def wire_fields(p: wire.Packet) -> dict[str, Any]:
    """Header, body and options of a pgm.wire packet (as parsed: flags as on the wire)."""
    d: dict[str, Any] = {
        "sport": p.source_port,
        "dport": p.destination_port,
        "type": p.TYPE,
        "gsi": p.gsi,
        "parity": int(p.parity),
        "var_pktlen": int(p.var_pktlen),
        "network": int(bool(p.network)),
        "reserved_flags": p.reserved_flags >> 2,
        "chksum": p.checksum,
    }
    for f in dataclasses.fields(p):
        if f.name not in _COMMON:
            d[f.name] = _norm(getattr(p, f.name))
    d["options"] = [_wire_option(o) for o in p.options]
    return d


def scapy_fields(sc: Any, p: Any) -> dict[str, Any]:
    """The same view of a scapy PGM packet, with the names pgm.wire uses."""
    hdr = p[sc.PGM]
    body = hdr.payload
    d: dict[str, Any] = {
        "sport": hdr.sport,
        "dport": hdr.dport,
        "type": hdr.type,
        "gsi": hdr.gsi,
        "parity": hdr.parity,
        "var_pktlen": hdr.var_pktlen,
        "network": hdr.network,
        "reserved_flags": hdr.reserved_flags,
        "chksum": hdr.chksum,
    }
    cls = wire.PACKET_TYPES[hdr.type]
    for f in dataclasses.fields(cls):
        if f.name == "data":
            d["data"] = bytes(body.payload)
        elif f.name not in _COMMON:
            d[f.name] = getattr(body, f.name)
    d["options"] = [_scapy_option(o) for o in body.options]
    return d


def _scapy_option(o: Any) -> dict[str, Any]:
    d: dict[str, Any] = {"opt_type": o.opt_type, "opx": o.opx, "f_bits": o.f_bits << 2, "u": o.u}
    for name, _default in _option_fields(o).items():
        d[name] = getattr(o, name)
    return d


def _option_fields(o: Any) -> dict[str, Any]:
    """The body fields of a scapy option under their pgm.wire names."""
    skip = {"end", "opt_type", "len", "f_bits", "opx", "u", "res3", "reserved"}
    names = [f.name for f in o.fields_desc if f.name not in skip]
    if type(o).__name__ != "PGMOptUnknown":
        names = [n for n in names if n != "bits3"]
    return {n: None for n in names}


def scapy_from_wire(sc: Any, p: wire.Packet) -> Any:
    """Build the scapy packet with the fields of ``p`` (flags, lengths, checksum left to
    the layer unless ``p`` states them)."""
    opts = []
    for o in p.options:
        d = _wire_option(o)
        code = d.pop("opt_type")
        kw = {k: v for k, v in d.items() if k not in _OPT_COMMON}
        cls = sc.OPTION_CLASSES.get(code)
        if cls is None:
            cls, kw["opt_type"] = sc.PGMOptUnknown, code
        opts.append(cls(opx=o.opx, f_bits=o.f_bits >> 2, u=int(o.u), **kw))
    body_kw = {
        f.name: _norm(getattr(p, f.name))
        for f in dataclasses.fields(p)
        if f.name not in _COMMON and f.name != "data"
    }
    hdr = sc.PGM(
        sport=p.source_port,
        dport=p.destination_port,
        gsi=p.gsi,
        parity=int(p.parity),
        var_pktlen=int(p.var_pktlen),
        reserved_flags=p.reserved_flags >> 2,
        network=None if p.network is None else int(p.network),
    )
    pkt = hdr / sc.PACKET_CLASSES[p.TYPE](options=opts, **body_kw)
    if isinstance(p, wire.DataPacket):
        pkt = pkt / p.data
    return pkt


def _dissect(sc: Any, frame: bytes) -> Any:
    from scapy.layers.inet import IP
    from scapy.layers.inet6 import IPv6

    return IP(frame) if frame[0] >> 4 == 4 else IPv6(frame)


# -- the tests -------------------------------------------------------------------------------


def test_the_cases_use_every_packet_type_and_option(sc: Any) -> None:
    types = {c.pkt.TYPE for c in CASES}
    assert types == set(sc.PACKET_CLASSES) == set(wire.PACKET_TYPES)
    codes = {o.TYPE for c in CASES for o in c.pkt.options if not isinstance(o, wire.UnknownOption)}
    assert codes == set(sc.OPTION_CLASSES)
    assert any(isinstance(o, wire.UnknownOption) for c in CASES for o in c.pkt.options)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_wire_built_packets_dissect_in_scapy(sc: Any, case: Case) -> None:
    """pgm.wire builds, scapy dissects (bound to IP/IPv6 113 and the UDP ports)."""
    p = _dissect(sc, case.frame())
    assert sc.PGM in p, p.summary()
    assert scapy_fields(sc, p) == wire_fields(wire.parse(case.raw))
    assert bytes(p[sc.PGM]) == case.raw


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_scapy_built_packets_parse_in_wire(sc: Any, case: Case) -> None:
    """scapy builds (flags, lengths and checksum computed), pgm.wire parses."""
    raw = bytes(scapy_from_wire(sc, case.pkt))
    assert raw == case.raw
    assert wire_fields(wire.parse(raw)) == scapy_fields(sc, sc.PGM(raw))


@pytest.mark.parametrize("case", CASES[:3], ids=[c.id for c in CASES[:3]])
def test_scapy_builds_the_ip_and_udp_headers_too(sc: Any, case: Case) -> None:
    from scapy.layers.inet import IP, UDP

    pgm_part = scapy_from_wire(sc, case.pkt)
    ip = bytes(IP(src="192.0.2.10", dst="239.192.0.1") / pgm_part)
    assert ip[9] == 113
    got = extract_pgm(read_pcap_record(ip))
    assert got is not None and got[0] == case.raw
    udp = IP(bytes(IP(src="192.0.2.10", dst="239.192.0.1") / UDP() / pgm_part))
    assert udp[UDP].dport in (3055, 3056) and bytes(udp[sc.PGM]) == case.raw


def read_pcap_record(ip: bytes) -> Any:
    from pgm.pcap import LINKTYPE_RAW, PcapRecord

    return PcapRecord(0.0, LINKTYPE_RAW, ip)


def test_a_custom_udp_port_can_be_bound(sc: Any) -> None:
    from scapy.layers.inet import IP, UDP

    case = CASES[0]
    frame = bytes(IP(src="10.0.0.1", dst="239.192.0.1") / UDP(sport=7699, dport=7699) / case.raw)
    assert sc.PGM not in IP(frame)
    sc.bind_udp_port(7699)
    assert bytes(IP(frame)[sc.PGM]) == case.raw


def test_computed_fields_can_be_overridden_to_craft_bad_packets(sc: Any) -> None:
    good = scapy_from_wire(sc, CASES[0].pkt)
    bad = good.copy()
    bad[sc.PGM].chksum = 0x1234
    with pytest.raises(wire.BadChecksum):
        wire.parse(bytes(bad))
    short = good.copy()
    short[sc.PGM].tsdu_length = 3
    with pytest.raises(wire.BadLength):
        wire.parse(bytes(short))
    no_end = scapy_from_wire(sc, CASES[0].pkt)
    no_end[sc.PGMSPM].options[-1].end = 0
    with pytest.raises(wire.OptionChainError):
        wire.parse(bytes(no_end))


def test_a_packet_without_options_clears_present(sc: Any) -> None:
    raw = bytes(sc.PGM(sport=1, dport=2, gsi=b"abcdef") / sc.PGMODATA(data_sqn=9) / b"x")
    assert raw[5] == 0
    pkt = wire.parse(raw)
    assert isinstance(pkt, wire.ODATA) and (pkt.data_sqn, pkt.data) == (9, b"x")


def test_malformed_bytes_do_not_raise_under_ip(sc: Any) -> None:
    """Under IP, a PGM body scapy cannot dissect (bad AFI, broken chain) becomes Raw."""
    from scapy.layers.inet import IP

    raw = bytearray(CASES[0].raw)
    raw[28:30] = b"\x00\x09"  # SPM path NLA with AFI 9
    p = IP(bytes(IP(src="10.0.0.1", dst="239.192.0.1", proto=113) / bytes(raw)))
    assert bytes(p.payload) == bytes(raw)


@pytest.mark.parametrize("vec", VECTORS, ids=[v["name"] for v in VECTORS])
def test_golden_vectors_dissect_like_wire(sc: Any, vec: dict[str, Any]) -> None:
    raw = bytes.fromhex(vec["hex"])
    p = sc.PGM(raw)
    assert scapy_fields(sc, p) == wire_fields(wire.parse(raw))
    assert bytes(p) == raw
    rebuilt = p.copy()
    rebuilt.chksum = None
    assert bytes(rebuilt) == raw  # the checksum scapy computes is OpenPGM's


@pytest.mark.parametrize("name", ["openpgm-raw.pcap", "openpgm-udp.pcap", "zeromq-raw.pcap"])
def test_golden_pcaps_dissect_with_scapy(sc: Any, name: str) -> None:
    """Whole captured frames (Ethernet) dissect down to the PGM pgm.wire finds there."""
    from scapy.layers.l2 import Ether

    sc.bind_udp_port(7501)  # the UDP capture's encapsulation port
    n = 0
    for rec in read_pcap(FIXTURES / name):
        got = extract_pgm(rec, udp_ports={7501})
        if got is None:
            continue
        assert rec.linktype == 1
        frame = Ether(rec.data)
        assert sc.PGM in frame, frame.summary()
        assert bytes(frame[sc.PGM]) == got[0]
        assert scapy_fields(sc, frame) == wire_fields(wire.parse(got[0]))
        n += 1
    assert n >= 10


def test_pgm_never_imports_scapy_outside_contrib() -> None:
    code = (
        "import sys, pgm, pgm.wire, pgm.engine, pgm.sim, pgm.io, pgm.pcap, pgm.cli, "
        "pgm.cli.dump, pgm.sessions, pgm.rm, pgm.contrib\n"
        "from pgm.cli import main\n"
        "main(['dump', '--read', sys.argv[1], '--count', '3', '--quiet'])\n"
        "assert not any(m.split('.')[0] == 'scapy' for m in sys.modules), 'scapy imported'\n"
    )
    r = subprocess.run(
        [sys.executable, "-c", code, str(FIXTURES / "openpgm-raw.pcap")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    for path in (ROOT / "pgm").rglob("*.py"):
        if "contrib" in path.parts:
            continue
        text = path.read_text()
        assert "import scapy" not in text and "from scapy" not in text, path
