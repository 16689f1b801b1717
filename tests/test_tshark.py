"""Independent cross-check of the wire codec against Wireshark's PGM dissector (tshark).

Every packet type and every option the codec knows is built with :mod:`pgm.wire`, written to a
pcap (raw IP protocol 113 over IPv4 and IPv6, and some UDP-encapsulated, decoded with
``-d udp.port==N,pgm``), dissected once by ``tshark -T pdml`` with PGM, IPv4 and UDP checksum
validation on, and compared per packet and per option: ports, type, flags, GSI, TSDU length,
the body fields, NLAs (AFI and address), each option's type, length, position, E bit, byte 2
and its fields, the TSDU bytes; the PGM checksum must be "Good" and no expert info of warning or
error severity (nor ``_ws.malformed``) may appear.  Control frames with a broken PGM and a broken
IPv4 checksum prove that tshark's checks are really on.

Where Wireshark 4.0's dissector and the codec differ, the test checks what can be checked and
says so here (found with tshark 4.0.17; see also docs/protocol.md §6):

1. SPMR (type 0x0C) is not dissected at all: packet-pgm.c has no SPMR case, so the frame shows
   as "IPv4 ... PGM (113)" with the PGM bytes as ``data``.  RFC 3208 §13.6 / OpenPGM define
   SPMR = 0x0C; Wireshark is incomplete.  The test checks the bytes are handed over intact (and
   the header fields, should a later tshark dissect it).
2. OPT_NAK_BO_RNG: Wireshark labels the first 32-bit word "Min Back-off Interval"
   (``pgm.opts.nak_bo_rng.min_bo_ivl``) and the second "Max"; RFC 3208's figure and OpenPGM
   (``struct pgm_opt_nak_bo_rng``: max, then min) put the maximum first, as the codec does.
   The test compares the words by position, not by Wireshark's labels.
3. OPT_PARITY_PRM: Wireshark reads byte 3 in RFC order (P pro-active 0x02, O on-demand 0x01),
   the codec's default; OpenPGM swaps them (``OptParityPrm.make(openpgm=True)``), so Wireshark
   labels an OpenPGM pro-active-only option "On-demand".  Asserted as such.
4. Not dissected by Wireshark 4.0 beyond "Option: NAME, Length: N": OPT_CURR_TGSIZE
   ("CurrTgsiz"), OPT_SYN, OPT_FIN, OPT_RST, and, as "Unknown (0x..)", OPT_NBR_UNREACH (0x0b),
   OPT_PATH_NLA (0x0c), OPT_CR (0x10), OPT_CRQST (0x11).  For those the test checks the type,
   the length and the position Wireshark's option walk finds, and decodes the bytes Wireshark
   delimits with this file's own reading of the RFC figures.
5. OPT_PATH_NLA's layout cannot be confirmed by Wireshark (not dissected).  The codec follows
   RFC 3208's figure and OpenPGM (``struct pgm_opt_path_nla``: the bare address, no AFI; 8 bytes
   for IPv4, 20 for IPv6), and so does this test.
6. Naming quirks only: ODATA/RDATA sequence number and trail are ``pgm.spm.sqn`` /
   ``pgm.spm.trail``; OPT_PARITY_GRP's group number is ``pgm.opts.parity_prm.prm_grp``
   ("Transmission Group Size"); ``pgm.genopts.opx`` ("Option Extensibility Bits") is all of byte
   2, so it includes the F bits (and Wireshark names OPX 0x02 "Unknown": its DISCARD is 0x10);
   the ``*.res`` byte after it is byte 3 (U bit + option bits); the NAK list is shown as text
   ("List(62): 0x33 0x34 ..."); ``pgm.opts.ccdata.tstamp`` is a 16-bit field over 4 bytes.
7. The PGM checksum value is not readable: Wireshark 4.0 adds it as a 1-byte item named
   ``pgm.hdr.cksum.status`` ("Checksum Status: Unknown [correct]"); the real status item
   (show 1 = Good, 0 = Bad) is what the test checks.
"""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address, ip_address
from typing import Any

import pytest

from pgm import wire
from pgm.pcap import LINKTYPE_RAW, PcapWriter, pgm_ip_packet
from tests.conftest import require

pytestmark = pytest.mark.tshark

TSHARK = shutil.which("tshark")
UDP_PORTS = (3055, 3056)  # OpenPGM's UDP encapsulation defaults
SEV_WARNING = 0x00600000  # PI_WARN; PI_ERROR is 0x00800000


def _require_tshark() -> str:
    # Skips off-CI; in CI (PGM_CI=1) a missing tshark fails the test (tests/conftest.py).
    require(TSHARK is not None, "tshark not installed (apt-get install tshark)")
    assert TSHARK is not None
    return TSHARK


# -- the packets -----------------------------------------------------------------------------

GSI = bytes.fromhex("a1b2c3d4e5f6")
SRC4, GRP4, NE4 = IPv4Address("192.0.2.10"), IPv4Address("239.192.0.1"), IPv4Address("192.0.2.1")
SRC6, GRP6 = IPv6Address("2001:db8::10"), IPv6Address("ff0e::1:2")
NE6 = IPv6Address("2001:db8:0:1::1")
SP, DP = 40000, 7500  # data-source port, data-destination port

# PGMCC options (OpenPGM, not RFC 3208): the codec keeps them as UnknownOption.
CC_DATA = struct.pack(">IHH4s", 0x11223344, 1, 0, IPv4Address("192.0.2.77").packed)
CC_FEEDBACK = struct.pack(">IHH4s", 0x55667788, 1, 0x0123, IPv4Address("192.0.2.78").packed)


@dataclass
class Case:
    id: str
    pkt: wire.Packet
    v6: bool = False
    udp: tuple[int, int] | None = None

    @property
    def raw(self) -> bytes:
        return self.pkt.encode()

    def frame(self) -> bytes:
        down = not self.pkt.UPSTREAM
        s: IPv4Address | IPv6Address
        d: IPv4Address | IPv6Address
        if self.v6:
            s, d = (SRC6, GRP6) if down else (NE6, SRC6)
        else:
            s, d = (SRC4, GRP4) if down else (NE4, SRC4)
        return pgm_ip_packet(s, d, self.raw, udp_ports=self.udp)


def _down(cls: type[wire.Packet], **kw: Any) -> wire.Packet:
    return cls(source_port=SP, destination_port=DP, gsi=GSI, **kw)


def _up(cls: type[wire.Packet], **kw: Any) -> wire.Packet:
    return cls(source_port=DP, destination_port=SP, gsi=GSI, **kw)


NAK62 = [(1000 + 3 * i) & 0xFFFFFFFF for i in range(1, 63)]

CASES = [
    Case(
        "spm-v4-all-spm-options",
        _down(
            wire.SPM,
            spm_sqn=17,
            spm_trail=0x7FFFFFF0,
            spm_lead=0x80000005,
            path_nla=SRC4,
            options=[
                wire.OptParityPrm.make(16, proactive=True, ondemand=True),
                wire.OptJoin(0x7FFFFFF2),
                wire.OptNakBoIvl(50_000, 3),
                wire.OptNakBoRng(2_000_000, 10_000),
                wire.OptCurrTgsize(11),
                wire.OptNbrUnreach(),
                wire.OptCrqst(lpr=wire.options.CR_L | wire.options.CR_P | wire.options.CR_R),
                wire.OptFin(),
                wire.OptRst(n=True, error_code=0x2A),
            ],
        ),
    ),
    Case(
        "spm-v6-openpgm-parity",
        _down(
            wire.SPM,
            spm_sqn=0xFFFFFFFF,
            spm_trail=1,
            spm_lead=0,
            path_nla=SRC6,
            options=[
                wire.OptParityPrm.make(8, proactive=True, ondemand=False, openpgm=True),
                wire.OptRst(n=False, error_code=7),
            ],
        ),
        v6=True,
    ),
    Case(
        "spm-empty-window",
        _down(wire.SPM, spm_sqn=0, spm_trail=0, spm_lead=0xFFFFFFFF, path_nla=SRC4),
    ),
    Case(
        "spm-opx-and-u",
        _down(
            wire.SPM,
            spm_sqn=5,
            path_nla=SRC4,
            options=[
                wire.OptJoin(9, opx=wire.OPX_INVALIDATE, u=True),
                wire.OptNakBoIvl(1, 0, opx=wire.OPX_DISCARD),
                wire.OptParityPrm.make(4, proactive=False, ondemand=True),
            ],
        ),
    ),
    Case(
        "poll-v4",
        _down(
            wire.POLL,
            poll_sqn=77,
            poll_round=2,
            poll_s_type=0,
            path_nla=NE4,
            poll_bo_ivl=250_000,
            poll_rand=b"\x12\x34\x56\x78",
            poll_mask=0xFFFF0000,
            options=[wire.OptNakBoIvl(30_000, 77)],
        ),
    ),
    Case(
        "poll-v6-dlr",
        _down(
            wire.POLL,
            poll_sqn=1,
            poll_round=0xFFFF,
            poll_s_type=1,
            path_nla=NE6,
            poll_bo_ivl=1,
            poll_rand=b"\xde\xad\xbe\xef",
            poll_mask=0xFFFFFFFF,
        ),
        v6=True,
    ),
    Case(
        "polr-v4-redirect",
        _up(
            wire.POLR,
            polr_sqn=77,
            polr_round=2,
            parity=True,
            options=[wire.OptRedirect(dlr_nla=NE4)],
        ),
    ),
    Case(
        "polr-v6-redirect",
        _up(wire.POLR, polr_sqn=1, polr_round=0xFFFF, options=[wire.OptRedirect(dlr_nla=NE6)]),
        v6=True,
    ),
    Case(
        "odata-plain",
        _down(wire.ODATA, data_sqn=0xFFFFFFFF, data_trail=0xFFFFFFF0, data=b"plain data\x00\xff"),
    ),
    Case(
        "odata-fragment-syn-join",
        _down(
            wire.ODATA,
            data_sqn=1000,
            data_trail=990,
            data=b"x" * 37,
            options=[wire.OptFragment(999, 1400, 3000), wire.OptSyn(), wire.OptJoin(990)],
        ),
    ),
    Case(
        "odata-fin-curr-tgsize",
        _down(  # CURR_TGSIZE is not network-significant on ODATA
            wire.ODATA,
            data_sqn=1005,
            data_trail=990,
            data=b"last",
            options=[wire.OptCurrTgsize(6), wire.OptFin()],
        ),
    ),
    Case(
        "odata-parity-varlen",
        _down(
            wire.ODATA,
            data_sqn=0x1008,
            data_trail=990,
            data=b"\x00" * 19 + b"\x13\x00",
            parity=True,
            var_pktlen=True,
            options=[
                wire.OptFragment(999, 0, 3000, f_bits=0x08),
                wire.OptParityGrp(1),
                wire.OptSyn(u=True),
            ],
        ),
    ),
    Case(
        "odata-pgmcc-data",
        _down(
            wire.ODATA,
            data_sqn=7,
            data_trail=1,
            data=b"cc",
            options=[wire.UnknownOption(0x12, CC_DATA)],
        ),
    ),
    Case(
        "rdata-parity-grp-tgsize",
        _down(
            wire.RDATA,
            data_sqn=0x100F,
            data_trail=0x1000,
            data=b"p" * 8,
            parity=True,
            options=[wire.OptParityGrp(3), wire.OptCurrTgsize(5)],
        ),
    ),
    Case("rdata-v6", _down(wire.RDATA, data_sqn=42, data_trail=40, data=b"repair"), v6=True),
    Case(
        "nak-v4-list62-cr",
        _up(
            wire.NAK,
            nak_sqn=1000,
            source_nla=SRC4,
            group_nla=GRP4,
            options=[
                wire.OptNakList(NAK62),
                wire.OptCr(
                    lpr=wire.options.CR_L,
                    lead_sqn=1200,
                    ne_wl=10,
                    ne_wp=20,
                    rx_wp=30,
                    worst_nla=IPv4Address("192.0.2.99"),
                ),
            ],
        ),
    ),
    Case("nak-mixed-src4-grp6", _up(wire.NAK, nak_sqn=5, source_nla=SRC4, group_nla=GRP6)),
    Case(
        "nak-mixed-src6-grp4-cr6",
        _up(
            wire.NAK,
            nak_sqn=6,
            source_nla=SRC6,
            group_nla=GRP4,
            options=[
                wire.OptCr(
                    lpr=wire.options.CR_R,
                    lead_sqn=9,
                    ne_wl=1,
                    ne_wp=2,
                    rx_wp=3,
                    worst_nla=IPv6Address("2001:db8::99"),
                )
            ],
        ),
        v6=True,
    ),
    Case(
        "nak-parity",
        _up(
            wire.NAK,
            nak_sqn=0x1003,
            source_nla=SRC4,
            group_nla=GRP4,
            parity=True,
            options=[wire.OptNakList([0x1013, 0x1023])],
        ),
    ),
    Case(
        "nnak",
        _up(
            wire.NNAK,
            nak_sqn=11,
            source_nla=SRC4,
            group_nla=GRP4,
            options=[wire.OptNakList([12, 13, 14])],
        ),
    ),
    Case(
        "ncf-v4-path-nla",
        _down(
            wire.NCF,
            nak_sqn=1000,
            source_nla=SRC4,
            group_nla=GRP4,
            options=[
                wire.OptNakList([1001, 1002, 1003, 1004, 1005]),
                wire.OptPathNla(path_nla=NE4),
                wire.OptNakBoIvl(40_000, 0),
                wire.OptNbrUnreach(),
            ],
        ),
    ),
    Case(
        "ncf-v6",
        _down(
            wire.NCF,
            nak_sqn=3,
            source_nla=SRC6,
            group_nla=GRP6,
            options=[wire.OptPathNla(path_nla=NE6)],
        ),
        v6=True,
    ),
    Case("spmr", _up(wire.SPMR)),
    Case(
        "ack-pgmcc-feedback",
        _up(
            wire.ACK,
            ack_rx_max=0x12345678,
            ack_bitmap=0x80000001,
            options=[wire.UnknownOption(0x13, CC_FEEDBACK)],
        ),
    ),
    # UDP encapsulation (OpenPGM's default ports, decoded with -d udp.port==N,pgm)
    Case(
        "udp4-odata-fragment",
        _down(
            wire.ODATA,
            data_sqn=3,
            data_trail=1,
            data=b"over udp",
            options=[wire.OptFragment(3, 0, 8)],
        ),
        udp=(3056, 3056),
    ),
    Case(
        "udp4-nak-list",
        _up(
            wire.NAK, nak_sqn=3, source_nla=SRC4, group_nla=GRP4, options=[wire.OptNakList([4, 5])]
        ),
        udp=(3055, 3055),
    ),
    Case(
        "udp6-spm",
        _down(
            wire.SPM,
            spm_sqn=2,
            spm_trail=1,
            spm_lead=3,
            path_nla=SRC6,
            options=[wire.OptNakBoRng(500, 50)],
        ),
        v6=True,
        udp=(3056, 3056),
    ),
    Case(
        "udp6-ncf-mixed",
        _down(wire.NCF, nak_sqn=3, source_nla=SRC6, group_nla=GRP4, options=[wire.OptNakList([4])]),
        v6=True,
        udp=(3056, 3056),
    ),
]


def _covered() -> None:
    """Guard: every packet type and every option class of the codec appears above."""
    types = {type(c.pkt) for c in CASES}
    missing = set(wire.PACKET_TYPES.values()) - types
    assert not missing, f"packet types not cross-checked: {missing}"
    opts = {type(o) for c in CASES for o in c.pkt.options}
    missing_o = {c for c in RFC_OPTIONS} - opts
    assert not missing_o, f"options not cross-checked: {missing_o}"
    assert any(
        len(o.sqns) == 62 for c in CASES for o in c.pkt.options if isinstance(o, wire.OptNakList)
    )


# -- what the RFC says, written down independently of the codec -------------------------------


def _nla_len(a: IPv4Address | IPv6Address | None) -> int:
    assert a is not None
    return 4 + (4 if a.version == 4 else 16)


# class: (type code, Wireshark 4.0 label, network-significant per RFC 3208 §9)
RFC_OPTIONS: dict[type[wire.Option], tuple[int, str, bool]] = {
    wire.OptFragment: (0x01, "Fragment", False),
    wire.OptNakList: (0x02, "NakList", True),
    wire.OptJoin: (0x03, "Join", False),
    wire.OptNakBoIvl: (0x04, "NakBackOffIvl", True),
    wire.OptNakBoRng: (0x05, "NakBackOffRng", True),
    wire.OptRedirect: (0x07, "ReDirect", True),
    wire.OptParityPrm: (0x08, "ParityPrm", True),
    wire.OptParityGrp: (0x09, "ParityGrp", False),
    wire.OptCurrTgsize: (0x0A, "CurrTgsiz", True),  # ... except on ODATA
    wire.OptNbrUnreach: (0x0B, "Unknown (0x0b)", True),
    wire.OptPathNla: (0x0C, "Unknown (0x0c)", True),
    wire.OptSyn: (0x0D, "Syn", False),
    wire.OptFin: (0x0E, "Fin", False),
    wire.OptRst: (0x0F, "Rst", False),
    wire.OptCr: (0x10, "Unknown (0x10)", True),
    wire.OptCrqst: (0x11, "Unknown (0x11)", True),
}
PGMCC_LABELS = {0x12: "CcData", 0x13: "CcFeedBack"}


def _opt_type(o: wire.Option) -> int:
    if isinstance(o, wire.UnknownOption):
        return o.type
    return RFC_OPTIONS[type(o)][0]


def _opt_len(o: wire.Option) -> int:
    """Option length from RFC 3208 §9's figures."""
    if isinstance(o, wire.OptFragment):
        return 16  # the figure's 16 (the text's "12" is an erratum)
    if isinstance(o, wire.OptNakList):
        return 4 + 4 * len(o.sqns)
    if isinstance(o, wire.OptNakBoIvl | wire.OptNakBoRng):
        return 12
    if isinstance(o, wire.OptJoin | wire.OptParityPrm | wire.OptParityGrp | wire.OptCurrTgsize):
        return 8
    if isinstance(o, wire.OptRedirect):
        return 4 + _nla_len(o.dlr_nla)
    if isinstance(o, wire.OptPathNla):
        return 4 + len(o.path_nla.packed)  # bare address, no AFI
    if isinstance(o, wire.OptCr):
        return 4 + 12 + _nla_len(o.worst_nla)
    if isinstance(o, wire.UnknownOption):
        return 4 + len(o.body)
    return 4  # NBR_UNREACH, SYN, FIN, RST, CRQST


def _netsig(o: wire.Option, ptype: int) -> bool:
    if isinstance(o, wire.UnknownOption):
        return False
    if isinstance(o, wire.OptCurrTgsize):
        return ptype != wire.TYPE_ODATA
    return RFC_OPTIONS[type(o)][2]


def _body_len(p: wire.Packet) -> int:
    """Bytes between the 16-byte header and the options (RFC 3208 §8)."""
    if isinstance(p, wire.SPM):
        return 12 + _nla_len(p.path_nla)
    if isinstance(p, wire.POLL):
        return 8 + _nla_len(p.path_nla) + 12
    if isinstance(p, wire.POLR | wire.DataPacket | wire.ACK):
        return 8
    if isinstance(p, wire.NakPacket):
        return 4 + _nla_len(p.source_nla) + _nla_len(p.group_nla)
    return 0  # SPMR


def _byte3(o: wire.Option) -> int:
    """Byte 3 as RFC 3208 §9 lays it out: U (0x80) and the option-specific bits."""
    bits = 0
    if isinstance(o, wire.OptParityPrm):
        bits = o.bits
    elif isinstance(o, wire.OptRst):
        bits = (0x40 if o.n else 0) | o.error_code
    elif isinstance(o, wire.OptCr | wire.OptCrqst):
        bits = o.lpr
    elif isinstance(o, wire.UnknownOption):
        bits = o.bits3
    return (0x80 if o.u else 0) | bits


def _rfc_nla(b: bytes) -> IPv4Address | IPv6Address:
    afi, res = struct.unpack_from(">HH", b)
    assert res == 0
    assert (afi, len(b)) in ((1, 8), (2, 20)), f"bad NLA {b.hex()}"
    return ip_address(b[4:])


def _check_undissected(o: wire.Option, raw: bytes) -> None:
    """Decode the bytes of an option Wireshark does not dissect, per the RFC figure."""
    body = raw[4:]
    if isinstance(o, wire.OptCurrTgsize):
        assert struct.unpack(">I", body) == (o.tgsize,)
    elif isinstance(o, wire.OptPathNla):
        assert ip_address(body) == o.path_nla
    elif isinstance(o, wire.OptCr):
        lead, wl, wp, rp, res = struct.unpack_from(">IHHHH", body)
        assert (lead, wl, wp, rp, res) == (o.lead_sqn, o.ne_wl, o.ne_wp, o.rx_wp, 0)
        assert _rfc_nla(body[12:]) == o.worst_nla
    else:  # NBR_UNREACH, SYN, FIN, RST, CRQST: header only, bits in byte 3
        assert body == b""
    assert raw[3] == _byte3(o)


# -- running tshark and reading its PDML ------------------------------------------------------


@dataclass
class Dissection:
    packets: list[ET.Element]
    controls: list[ET.Element]


@pytest.fixture(scope="module")
def dissection(tmp_path_factory: pytest.TempPathFactory) -> Dissection:
    tshark = _require_tshark()
    _covered()
    tmp = tmp_path_factory.mktemp("tshark")
    pcap = tmp / "pgm-all.pcap"
    # Controls: a PGM checksum off by one bit, and an IPv4 header checksum off by one bit.
    bad_pgm = bytearray(CASES[0].raw)
    bad_pgm[-1] ^= 0x01
    bad_ip = bytearray(CASES[2].frame())
    bad_ip[10] ^= 0x01
    with PcapWriter(pcap, LINKTYPE_RAW) as w:
        for i, case in enumerate(CASES):
            w.write(case.frame(), ts=1_700_000_000 + i / 1000)
        w.write(pgm_ip_packet(SRC4, GRP4, bytes(bad_pgm)), ts=1_700_000_001)
        w.write(bytes(bad_ip), ts=1_700_000_002)
    cmd = [
        tshark,
        "-n",
        "-r",
        str(pcap),
        "-T",
        "pdml",
        "-o",
        "pgm.check_checksum:TRUE",
        "-o",
        "ip.check_checksum:TRUE",
        "-o",
        "udp.check_checksum:TRUE",
    ]
    for port in UDP_PORTS:
        cmd += ["-d", f"udp.port=={port},pgm"]
    env = dict(os.environ, HOME=str(tmp), XDG_CONFIG_HOME=str(tmp))  # no personal profile
    res = subprocess.run(cmd, capture_output=True, env=env, timeout=60, check=False)
    assert res.returncode == 0, f"{' '.join(cmd)} failed: {res.stderr.decode(errors='replace')}"
    packets = ET.fromstring(res.stdout).findall("packet")
    assert len(packets) == len(CASES) + 2
    return Dissection(packets[: len(CASES)], packets[len(CASES) :])


def _proto(pkt: ET.Element, name: str) -> ET.Element | None:
    return next((p for p in pkt.iter("proto") if p.get("name") == name), None)


def _all(elem: ET.Element, name: str) -> list[ET.Element]:
    return [f for f in elem.iter("field") if f.get("name") == name]


def _one(elem: ET.Element, name: str) -> ET.Element:
    found = _all(elem, name)
    assert len(found) == 1, f"expected one {name!r} in the dissection, found {len(found)}"
    return found[0]


def _num(elem: ET.Element, name: str) -> int:
    return int(_one(elem, name).get("show", ""), 0)


def _addr(
    elem: ET.Element,
    prefix: str,
    afi_field: str,
    want: IPv4Address | IPv6Address,
    base: int,
    off: int,
) -> None:
    """An NLA: AFI (1/2), reserved 0, and the address, at PGM offset ``off``."""
    assert _num(elem, afi_field) == (1 if want.version == 4 else 2)
    assert int(_one(elem, afi_field).get("pos", "")) == base + off
    f = _one(elem, f"{prefix}.ipv{want.version}")
    assert ip_address(f.get("show", "")) == want
    assert int(f.get("pos", "")) == base + off + 4


def _severity_problems(pkt: ET.Element) -> list[str]:
    bad = []
    for ex in _all(pkt, "_ws.expert"):
        sev = int(_one(ex, "_ws.expert.severity").get("show", "0"))
        if sev >= SEV_WARNING:
            bad.append(ex.get("showname", "?"))
    if _proto(pkt, "_ws.malformed") is not None or _all(pkt, "_ws.malformed"):
        bad.append("_ws.malformed")
    return bad


# -- the tests -----------------------------------------------------------------------------------


@pytest.mark.parametrize("idx", range(len(CASES)), ids=[c.id for c in CASES])
def test_tshark_agrees(dissection: Dissection, idx: int) -> None:
    case = CASES[idx]
    p, raw = case.pkt, case.raw
    frame = dissection.packets[idx]

    assert _severity_problems(frame) == []
    ip = _proto(frame, "ipv6" if case.v6 else "ip")
    assert ip is not None
    if not case.v6:
        assert _num(ip, "ip.checksum.status") == 1, "IPv4 header checksum (pgm.pcap) not good"
    if case.udp:
        udp = _proto(frame, "udp")
        assert udp is not None
        assert _num(udp, "udp.checksum.status") == 1, "UDP checksum (pgm.pcap) not good"
        assert (_num(udp, "udp.srcport"), _num(udp, "udp.dstport")) == case.udp
    else:
        assert _num(ip, "ipv6.nxt" if case.v6 else "ip.proto") == 113

    pgm = _proto(frame, "pgm")
    if isinstance(p, wire.SPMR) and pgm is None:
        # Discrepancy 1: Wireshark 4.0 does not dissect SPMR; the bytes must still be ours.
        assert bytes.fromhex(_one(frame, "data.data").get("value", "")) == raw
        return
    assert pgm is not None, "tshark did not dissect the frame as PGM"
    base = int(pgm.get("pos", ""))
    assert int(pgm.get("size", "")) == len(raw)

    # Common header (RFC 3208 §8)
    assert _num(pgm, "pgm.hdr.sport") == p.source_port
    assert _num(pgm, "pgm.hdr.dport") == p.destination_port
    assert _num(pgm, "pgm.hdr.type") == p.TYPE
    assert f"Type: {p.NAME} " in _one(pgm, "pgm.hdr.type").get("showname", "")
    assert bytes.fromhex(_one(pgm, "pgm.hdr.gsi").get("value", "")) == p.gsi
    tsdu = len(p.data) if isinstance(p, wire.DataPacket) else 0
    assert _num(pgm, "pgm.hdr.tsdulen") == tsdu
    want_net = any(_netsig(o, p.TYPE) for o in p.options)
    flags = {
        "pgm.hdr.opts.opt": bool(p.options),
        "pgm.hdr.opts.netsig": want_net,
        "pgm.hdr.opts.varlen": p.var_pktlen,
        "pgm.hdr.opts.parity": p.parity,
    }
    assert {k: bool(_num(pgm, k)) for k in flags} == flags
    # Checksum (discrepancy 7: only the status item is usable)
    status = [
        int(f.get("show", "")) for f in _all(pgm, "pgm.hdr.cksum.status") if f.get("size") == "0"
    ]
    assert status == [1], "tshark does not find the PGM checksum correct"

    # Body
    if isinstance(p, wire.SPM):
        assert _num(pgm, "pgm.spm.sqn") == p.spm_sqn
        assert _num(pgm, "pgm.spm.trail") == p.spm_trail
        assert _num(pgm, "pgm.spm.lead") == p.spm_lead
        _addr(pgm, "pgm.spm.path", "pgm.spm.pathafi", p.path_nla, base, 28)
    elif isinstance(p, wire.POLL):
        assert _num(pgm, "pgm.poll.sqn") == p.poll_sqn
        assert _num(pgm, "pgm.poll.round") == p.poll_round
        assert _num(pgm, "pgm.poll.subtype") == p.poll_s_type
        _addr(pgm, "pgm.poll.path", "pgm.poll.pathafi", p.path_nla, base, 24)
        assert _num(pgm, "pgm.poll.backoff_ivl") == p.poll_bo_ivl
        assert _num(pgm, "pgm.poll.rand_str") == int.from_bytes(p.poll_rand, "big")
        assert _num(pgm, "pgm.poll.matching_bmask") == p.poll_mask
    elif isinstance(p, wire.POLR):
        assert _num(pgm, "pgm.polr.sqn") == p.polr_sqn
        assert _num(pgm, "pgm.polr.round") == p.polr_round
        assert _num(pgm, "pgm.polr.res") == 0
    elif isinstance(p, wire.DataPacket):  # discrepancy 6: SPM field names
        assert _num(pgm, "pgm.spm.sqn") == p.data_sqn
        assert _num(pgm, "pgm.spm.trail") == p.data_trail
    elif isinstance(p, wire.NakPacket):
        assert _num(pgm, "pgm.nak.sqn") == p.nak_sqn
        _addr(pgm, "pgm.nak.src", "pgm.nak.srcafi", p.source_nla, base, 20)
        _addr(pgm, "pgm.nak.grp", "pgm.nak.grpafi", p.group_nla, base, 20 + _nla_len(p.source_nla))
    elif isinstance(p, wire.ACK):
        assert _num(pgm, "pgm.ack.maxsqn") == p.ack_rx_max
        assert _num(pgm, "pgm.ack.bitmap") == p.ack_bitmap

    # Options
    opt_off = 16 + _body_len(p)
    containers = [
        f
        for f in pgm.iter("field")
        if re.fullmatch(r"\w+ Options \(Total Length \d+\)", f.get("show", ""))
    ]
    if not p.options:
        assert containers == []
    else:
        assert len(containers) == 1
        c = containers[0]
        total = 4 + sum(_opt_len(o) for o in p.options)
        assert int(c.get("pos", "")) == base + opt_off
        assert _num(c, "pgm.opts.type") == 0
        assert _num(c, "pgm.opts.len") == 4
        assert _num(c, "pgm.opts.tlen") == total
        items = [f for f in c if f.get("show", "").startswith("Option: ")]
        assert len(items) == len(p.options)
        pos = opt_off + 4
        for i, (o, item) in enumerate(zip(p.options, items, strict=True)):
            _check_option(o, item, base, pos, last=i == len(p.options) - 1, raw=raw)
            pos += _opt_len(o)
        opt_off = pos

    # TSDU
    if tsdu:
        assert isinstance(p, wire.DataPacket)
        assert opt_off + tsdu == len(raw)
        data = _one(frame, "data.data")
        assert int(data.get("pos", "")) == base + opt_off
        assert bytes.fromhex(data.get("value", "")) == p.data


def _check_option(
    o: wire.Option, item: ET.Element, base: int, off: int, *, last: bool, raw: bytes
) -> None:
    typ, length = _opt_type(o), _opt_len(o)
    label = PGMCC_LABELS[typ] if isinstance(o, wire.UnknownOption) else RFC_OPTIONS[type(o)][1]
    where = f"{type(o).__name__} at PGM offset {off}"
    assert item.get("show") == f"Option: {label}, Length: {length}", where
    assert int(item.get("pos", "")) == base + off, where
    assert int(item.get("size", "")) == length, where
    opt_raw = raw[off : off + length]
    assert bytes.fromhex(item.get("value", "")) == opt_raw, where
    b2 = (o.f_bits & 0xFC) | o.opx
    sub = list(item)
    if not sub:  # discrepancy 4: not dissected; read it ourselves from the delimited bytes
        assert opt_raw[0] == typ | (0x80 if last else 0), where
        assert opt_raw[2] == b2, where
        _check_undissected(o, opt_raw)
        return
    assert _num(item, "pgm.genopts.end") == int(last), where
    assert _num(item, "pgm.genopts.type") == typ, where
    assert _num(item, "pgm.genopts.len") == length, where
    assert _num(item, "pgm.genopts.opx") == b2, where  # discrepancy 6: all of byte 2
    fields = {f.get("name", ""): f for f in item}

    def n(name: str) -> int:
        return int(fields[name].get("show", ""), 0)

    def at(name: str) -> int:
        return int(fields[name].get("pos", "")) - base - off

    if isinstance(o, wire.OptFragment):
        assert n("pgm.opts.fragment.res") == _byte3(o)
        assert n("pgm.opts.fragment.first_sqn") == o.first_sqn
        assert n("pgm.opts.fragment.fragment_offset") == o.offset
        assert n("pgm.opts.fragment.total_length") == o.apdu_length
    elif isinstance(o, wire.OptNakList):
        assert n("pgm.opts.nak.op") == _byte3(o)
        lists = _all(item, "pgm.opts.nak.list")
        m = re.match(r"List\((\d+)\):", lists[0].get("showname", ""))
        assert m and int(m.group(1)) == len(o.sqns)
        shown = [
            int(t, 16)
            for f in lists
            for t in re.findall(r"0x[0-9a-f]+", f.get("showname", "").split(":", 1)[1])
        ]
        assert shown == o.sqns
        assert b"".join(bytes.fromhex(f.get("value", "")) for f in lists) == struct.pack(
            f">{len(o.sqns)}I", *o.sqns
        )
    elif isinstance(o, wire.OptJoin):
        assert n("pgm.opts.join.res") == _byte3(o)
        assert n("pgm.opts.join.min_join") == o.join_min
    elif isinstance(o, wire.OptNakBoIvl):
        assert n("pgm.opts.nak_bo_ivl.res") == _byte3(o)
        assert n("pgm.opts.nak_bo_ivl.bo_ivl") == o.bo_ivl
        assert n("pgm.opts.nak_bo_ivl.bo_ivl_sqn") == o.bo_ivl_sqn
    elif isinstance(o, wire.OptNakBoRng):
        # Discrepancy 2: by position -- RFC/OpenPGM: max at +4, min at +8; Wireshark labels
        # +4 "min_bo_ivl".
        words = {
            at(k): n(k)
            for k in ("pgm.opts.nak_bo_rng.min_bo_ivl", "pgm.opts.nak_bo_rng.max_bo_ivl")
        }
        assert words == {4: o.max_bo_ivl, 8: o.min_bo_ivl}
        assert at("pgm.opts.nak_bo_rng.min_bo_ivl") == 4  # Wireshark's (wrong) label
    elif isinstance(o, wire.OptRedirect):
        assert o.dlr_nla is not None
        assert n("pgm.opts.redirect.res") == _byte3(o)
        assert n("pgm.opts.redirect.afi") == (1 if o.dlr_nla.version == 4 else 2)
        assert n("pgm.opts.redirect.res2") == 0
        dlr = f"pgm.opts.redirect.dlr.ipv{o.dlr_nla.version}"
        assert ip_address(fields[dlr].get("show", "")) == o.dlr_nla
        assert at(dlr) == 8
    elif isinstance(o, wire.OptParityPrm):
        assert n("pgm.opts.parity_prm.op") == _byte3(o)
        assert n("pgm.opts.parity_prm.prm_grp") == o.tgs
        # Discrepancy 3: Wireshark names the bits in RFC order.
        label = fields["pgm.opts.parity_prm.op"].get("showname", "")
        pro, ond = o.modes()  # RFC order
        assert ("Pro-active" in label, "On-demand" in label) == (pro, ond), label
    elif isinstance(o, wire.OptParityGrp):  # discrepancy 6: PARITY_PRM's field names
        assert n("pgm.opts.parity_prm.op") == _byte3(o)
        assert n("pgm.opts.parity_prm.prm_grp") == o.prm_group
    elif isinstance(o, wire.UnknownOption) and typ in PGMCC_LABELS:
        tstamp, afi, x, acker = struct.unpack(">IHH4s", o.body)
        assert n("pgm.opts.ccdata.res") == _byte3(o)
        assert int(fields["pgm.opts.ccdata.tstamp"].get("value", ""), 16) == tstamp
        assert n("pgm.opts.ccdata.afi") == afi
        other = "pgm.opts.ccdata.res2" if typ == 0x12 else "pgm.opts.ccdata.lossrate"
        assert n(other) == x
        assert ip_address(fields["pgm.opts.ccdata.acker.ipv4"].get("show", "")) == ip_address(acker)
    else:
        raise AssertionError(f"{where}: dissected by Wireshark but not checked here: {fields}")


def test_tshark_catches_corruption(dissection: Dissection) -> None:
    """The checks above are live: tshark flags a 1-bit PGM and a 1-bit IPv4 checksum error."""
    bad_pgm, bad_ip = dissection.controls
    pgm = _proto(bad_pgm, "pgm")
    assert pgm is not None
    status = [
        int(f.get("show", "")) for f in _all(pgm, "pgm.hdr.cksum.status") if f.get("size") == "0"
    ]
    assert status == [0]
    assert _all(bad_pgm, "pgm.bad_checksum")
    assert _severity_problems(bad_pgm)
    ip = _proto(bad_ip, "ip")
    assert ip is not None
    assert _num(ip, "ip.checksum.status") == 0
    assert _severity_problems(bad_ip)


def test_codec_reads_back_every_case() -> None:
    """Sanity: what was handed to tshark is what the codec itself parses back."""
    for case in CASES:
        back = wire.parse(case.raw)
        assert back.encode() == case.raw, case.id
        assert type(back) is type(case.pkt)
