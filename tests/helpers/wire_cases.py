"""One of every PGM packet type and option, as frames a dissector can read.

Theory of operation
-------------------
:data:`CASES` lists packets built with :mod:`pgm.wire` that between them use every packet type
and every option class the codec knows (IPv4 and IPv6 NLAs, raw IP and UDP encapsulation, the
limits such as a 62-entry NAK list); :meth:`Case.frame` wraps one in an IP (and UDP) header
with addresses fitting its direction, for a pcap.  tests/wire/test_tshark.py hands them to Wireshark
and compares its dissection with :mod:`tests.helpers.rfc_layout`.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address
from typing import Any

from pgm import wire
from pgm.pcap import pgm_ip_packet

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


def down(cls: type[wire.Packet], **kw: Any) -> wire.Packet:
    return cls(source_port=SP, destination_port=DP, gsi=GSI, **kw)


def up(cls: type[wire.Packet], **kw: Any) -> wire.Packet:
    return cls(source_port=DP, destination_port=SP, gsi=GSI, **kw)


NAK62 = [(1000 + 3 * i) & 0xFFFFFFFF for i in range(1, 63)]

CASES = [
    Case(
        "spm-v4-all-spm-options",
        down(
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
        down(
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
        down(wire.SPM, spm_sqn=0, spm_trail=0, spm_lead=0xFFFFFFFF, path_nla=SRC4),
    ),
    Case(
        "spm-opx-and-u",
        down(
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
        down(
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
        down(
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
        up(
            wire.POLR,
            polr_sqn=77,
            polr_round=2,
            parity=True,
            options=[wire.OptRedirect(dlr_nla=NE4)],
        ),
    ),
    Case(
        "polr-v6-redirect",
        up(wire.POLR, polr_sqn=1, polr_round=0xFFFF, options=[wire.OptRedirect(dlr_nla=NE6)]),
        v6=True,
    ),
    Case(
        "odata-plain",
        down(wire.ODATA, data_sqn=0xFFFFFFFF, data_trail=0xFFFFFFF0, data=b"plain data\x00\xff"),
    ),
    Case(
        "odata-fragment-syn-join",
        down(
            wire.ODATA,
            data_sqn=1000,
            data_trail=990,
            data=b"x" * 37,
            options=[wire.OptFragment(999, 1400, 3000), wire.OptSyn(), wire.OptJoin(990)],
        ),
    ),
    Case(
        "odata-fin-curr-tgsize",
        down(  # CURR_TGSIZE is not network-significant on ODATA
            wire.ODATA,
            data_sqn=1005,
            data_trail=990,
            data=b"last",
            options=[wire.OptCurrTgsize(6), wire.OptFin()],
        ),
    ),
    Case(
        "odata-parity-varlen",
        down(
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
        down(
            wire.ODATA,
            data_sqn=7,
            data_trail=1,
            data=b"cc",
            options=[wire.UnknownOption(0x12, CC_DATA)],
        ),
    ),
    Case(
        "rdata-parity-grp-tgsize",
        down(
            wire.RDATA,
            data_sqn=0x100F,
            data_trail=0x1000,
            data=b"p" * 8,
            parity=True,
            options=[wire.OptParityGrp(3), wire.OptCurrTgsize(5)],
        ),
    ),
    Case("rdata-v6", down(wire.RDATA, data_sqn=42, data_trail=40, data=b"repair"), v6=True),
    Case(
        "nak-v4-list62-cr",
        up(
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
    Case("nak-mixed-src4-grp6", up(wire.NAK, nak_sqn=5, source_nla=SRC4, group_nla=GRP6)),
    Case(
        "nak-mixed-src6-grp4-cr6",
        up(
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
        up(
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
        up(
            wire.NNAK,
            nak_sqn=11,
            source_nla=SRC4,
            group_nla=GRP4,
            options=[wire.OptNakList([12, 13, 14])],
        ),
    ),
    Case(
        "ncf-v4-path-nla",
        down(
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
        down(
            wire.NCF,
            nak_sqn=3,
            source_nla=SRC6,
            group_nla=GRP6,
            options=[wire.OptPathNla(path_nla=NE6)],
        ),
        v6=True,
    ),
    Case("spmr", up(wire.SPMR)),
    Case(
        "ack-pgmcc-feedback",
        up(
            wire.ACK,
            ack_rx_max=0x12345678,
            ack_bitmap=0x80000001,
            options=[wire.UnknownOption(0x13, CC_FEEDBACK)],
        ),
    ),
    # UDP encapsulation (OpenPGM's default ports, decoded with -d udp.port==N,pgm)
    Case(
        "udp4-odata-fragment",
        down(
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
        up(wire.NAK, nak_sqn=3, source_nla=SRC4, group_nla=GRP4, options=[wire.OptNakList([4, 5])]),
        udp=(3055, 3055),
    ),
    Case(
        "udp6-spm",
        down(
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
        down(wire.NCF, nak_sqn=3, source_nla=SRC6, group_nla=GRP4, options=[wire.OptNakList([4])]),
        v6=True,
        udp=(3056, 3056),
    ),
]
