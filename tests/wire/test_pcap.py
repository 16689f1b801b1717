"""Unit tests for pgm.pcap: pcap write/read, IPv4/IPv6/UDP framing and checksums, extract_pgm."""

from __future__ import annotations

import io
import struct
from ipaddress import IPv4Address, IPv6Address
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pgm import pcap, wire
from pgm.pcap import (
    LINKTYPE_ETHERNET,
    LINKTYPE_IPV4,
    LINKTYPE_IPV6,
    LINKTYPE_LINUX_SLL,
    LINKTYPE_LINUX_SLL2,
    LINKTYPE_NULL,
    LINKTYPE_RAW,
    PcapRecord,
    PcapWriter,
    extract_pgm,
    ipv4_packet,
    ipv6_packet,
    pgm_ip_packet,
    read_pcap,
    udp_datagram,
)
from tests.wire.test_wire import rfc1071

SRC4, DST4 = "192.0.2.1", "239.192.0.1"
SRC6, DST6 = "2001:db8::1", "ff0e::1"
PGM = wire.ODATA(
    source_port=40000,
    destination_port=7500,
    gsi=b"\x01\x02\x03\x04\x05\x06",
    data_sqn=7,
    data_trail=1,
    data=b"hello, odd length",
).encode()


ref_checksum = rfc1071  # textbook RFC 1071, shared with the codec's tests


def ref_udp_checksum(src: str, dst: str, udp: bytes) -> int:
    """UDP checksum over the RFC 768 / RFC 8200 §8.1 pseudo-header, the field taken as 0."""
    zeroed = udp[:6] + b"\0\0" + udp[8:]
    if ":" in src:
        pseudo = (
            IPv6Address(src).packed
            + IPv6Address(dst).packed
            + struct.pack("!I", len(udp))
            + b"\0\0\0\x11"
        )
    else:
        pseudo = (
            IPv4Address(src).packed
            + IPv4Address(dst).packed
            + b"\0\x11"
            + struct.pack("!H", len(udp))
        )
    c = ref_checksum(pseudo + zeroed)
    return c or 0xFFFF


# -- pcap files ----------------------------------------------------------------------------------


def test_round_trip_path(tmp_path: Path) -> None:
    f = tmp_path / "x.pcap"
    frames = [pgm_ip_packet(SRC4, DST4, PGM), pgm_ip_packet(SRC6, DST6, PGM), b""]
    with PcapWriter(f) as w:
        for i, fr in enumerate(frames):
            w.write(fr, ts=1_700_000_000.25 + i)
    recs = list(read_pcap(f))
    assert [r.data for r in recs] == frames
    assert [r.linktype for r in recs] == [LINKTYPE_RAW] * 3
    assert [r.ts for r in recs] == pytest.approx([1_700_000_000.25 + i for i in range(3)], abs=1e-6)
    head = f.read_bytes()[:24]
    assert struct.unpack("<IHHiIII", head) == (0xA1B2C3D4, 2, 4, 0, 0, 262144, LINKTYPE_RAW)


def test_round_trip_fileobj_linktype_and_default_ts() -> None:
    buf = io.BytesIO()
    w = PcapWriter(buf, LINKTYPE_ETHERNET)
    w.write(b"\xaa" * 60)
    w.close()
    w.close()  # idempotent
    assert not buf.closed  # a caller's file object is flushed, not closed
    with pytest.raises(ValueError):
        w.write(b"x")
    (rec,) = read_pcap(io.BytesIO(buf.getvalue()))
    assert rec.linktype == LINKTYPE_ETHERNET and rec.data == b"\xaa" * 60
    assert rec.ts > 1_600_000_000


def test_microsecond_rounding_carries() -> None:
    buf = io.BytesIO()
    with PcapWriter(buf) as w:
        w.write(b"a", ts=5.9999999)
    sec, usec = struct.unpack_from("<II", buf.getvalue(), 24)
    assert (sec, usec) == (6, 0)


def test_nanosecond_writer() -> None:
    buf = io.BytesIO()
    with PcapWriter(buf, nanosecond=True) as w:
        w.write(b"abc", ts=12.000000123)
    data = buf.getvalue()
    assert struct.unpack_from("<I", data)[0] == 0xA1B23C4D
    assert struct.unpack_from("<II", data, 24) == (12, 123)
    (rec,) = read_pcap(io.BytesIO(data))
    assert rec.ts == pytest.approx(12.000000123, abs=1e-9)


@pytest.mark.parametrize("order", ["<", ">"])
@pytest.mark.parametrize(
    ("magic", "frac", "want"),
    [
        (0xA1B2C3D4, 500_000, 100.5),
        (0xA1B23C4D, 250_000_000, 100.25),
    ],
)
def test_read_both_byte_orders_and_resolutions(
    order: str, magic: int, frac: int, want: float
) -> None:
    link = LINKTYPE_LINUX_SLL2 | 0x10000000  # FCS bits in the high nibble are ignored
    raw = struct.pack(order + "IHHiIII", magic, 2, 4, 0, 0, 65535, link)
    raw += struct.pack(order + "IIII", 100, frac, 3, 1500) + b"xyz"
    raw += struct.pack(order + "IIII", 101, 0, 0, 0)
    recs = list(read_pcap(io.BytesIO(raw)))
    assert [(r.linktype, r.data) for r in recs] == [
        (LINKTYPE_LINUX_SLL2, b"xyz"),
        (LINKTYPE_LINUX_SLL2, b""),
    ]
    assert [r.ts for r in recs] == pytest.approx([want, 101.0], abs=1e-9)


def test_pcapng_rejected_with_editcap_hint(tmp_path: Path) -> None:
    f = tmp_path / "x.pcapng"
    # Section Header Block: type, length, byte-order magic, version 1.0, section length -1
    f.write_bytes(struct.pack("<IIIHHqI", 0x0A0D0D0A, 28, 0x1A2B3C4D, 1, 0, -1, 28))
    with pytest.raises(ValueError, match=r"pcapng.*editcap -F pcap"):
        list(read_pcap(f))


@pytest.mark.parametrize(
    ("raw", "msg"),
    [
        (b"\x00\x01\x02\x03" + bytes(20), "unknown magic"),
        (b"\xd4", "shorter"),
        (struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 101) + bytes(10), "record header"),
        (
            struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 101)
            + struct.pack("<IIII", 0, 0, 10, 10)
            + b"short",
            "inside a record",
        ),
    ],
)
def test_bad_files(raw: bytes, msg: str) -> None:
    with pytest.raises(ValueError, match=msg):
        list(read_pcap(io.BytesIO(raw)))


# -- checksums and headers -----------------------------------------------------------------------


def test_inet_checksum_known_vector() -> None:
    # The classic IPv4 header example (checksum field zeroed): checksum 0xb861.
    hdr = bytes.fromhex("450000730000400040110000c0a80001c0a800c7")
    assert pcap.inet_checksum(hdr) == 0xB861 == ref_checksum(hdr)
    assert pcap.inet_checksum(b"") == 0xFFFF == ref_checksum(b"")


@given(st.binary(max_size=300))
def test_inet_checksum_matches_reference(data: bytes) -> None:
    assert pcap.inet_checksum(data) == ref_checksum(data)


v4s = st.builds(IPv4Address, st.integers(0, 2**32 - 1))
v6s = st.builds(IPv6Address, st.integers(0, 2**128 - 1))


@given(
    v4s,
    v4s,
    st.integers(0, 255),
    st.binary(max_size=200),
    st.integers(0, 255),
    st.booleans(),
    st.integers(0, 0xFFFF),
)
def test_ipv4_header(
    src: IPv4Address, dst: IPv4Address, proto: int, payload: bytes, ttl: int, ra: bool, ident: int
) -> None:
    pkt = ipv4_packet(src, dst, proto, payload, ttl, ident=ident, router_alert=ra)
    ihl = 24 if ra else 20
    hdr = pkt[:ihl]
    assert pkt[ihl:] == payload
    assert hdr[0] == 0x40 | ihl // 4
    assert struct.unpack("!H", hdr[2:4])[0] == len(pkt)
    assert struct.unpack("!H", hdr[4:6])[0] == ident
    assert (hdr[6], hdr[7], hdr[8], hdr[9]) == (0, 0, ttl, proto)
    assert hdr[12:16] == src.packed and hdr[16:20] == dst.packed
    assert ref_checksum(hdr) == 0  # a correct header sums to 0xFFFF
    assert struct.unpack("!H", hdr[10:12])[0] == ref_checksum(hdr[:10] + b"\0\0" + hdr[12:])
    if ra:
        assert hdr[20:24] == b"\x94\x04\x00\x00"  # RFC 2113 Router Alert


def test_ipv4_rejects_v6_and_oversize() -> None:
    with pytest.raises(ValueError):
        ipv4_packet(SRC6, DST4, 113, b"")
    with pytest.raises(ValueError):
        ipv4_packet(SRC4, DST4, 113, bytes(65536))


def test_ipv6_header() -> None:
    pkt = ipv6_packet(SRC6, DST6, 113, b"abc", 7, traffic_class=0xB8, flow_label=0x12345)
    first, plen, nh, hl = struct.unpack_from("!IHBB", pkt)
    assert first == (6 << 28) | (0xB8 << 20) | 0x12345
    assert (plen, nh, hl) == (3, 113, 7)
    assert pkt[8:24] == IPv6Address(SRC6).packed and pkt[24:40] == IPv6Address(DST6).packed
    assert pkt[40:] == b"abc"
    with pytest.raises(ValueError):
        ipv6_packet(SRC4, DST6, 113, b"")


@given(
    st.one_of(st.tuples(v4s, v4s), st.tuples(v6s, v6s)),
    st.integers(0, 0xFFFF),
    st.integers(0, 0xFFFF),
    st.binary(max_size=200),
)
def test_udp_checksum_matches_reference(
    addrs: tuple[IPv4Address, IPv4Address] | tuple[IPv6Address, IPv6Address],
    sport: int,
    dport: int,
    payload: bytes,
) -> None:
    src, dst = str(addrs[0]), str(addrs[1])
    udp = udp_datagram(src, dst, sport, dport, payload)
    assert struct.unpack_from("!HHH", udp) == (sport, dport, 8 + len(payload))
    assert udp[8:] == payload
    assert struct.unpack_from("!H", udp, 6)[0] == ref_udp_checksum(src, dst, udp)


@pytest.mark.parametrize(("src", "dst"), [(SRC4, DST4), (SRC6, DST6)])
def test_udp_zero_checksum_sent_as_ffff(src: str, dst: str) -> None:
    # Choose the 2-byte payload that makes the computed checksum 0: it must go out as 0xFFFF.
    c = struct.unpack_from("!H", udp_datagram(src, dst, 1, 2, b"\0\0"), 6)[0]
    udp = udp_datagram(src, dst, 1, 2, struct.pack("!H", c))
    assert struct.unpack_from("!H", udp, 6)[0] == 0xFFFF
    with pytest.raises(ValueError):
        udp_datagram(SRC4, DST6, 1, 2, b"")


# -- extract_pgm ----------------------------------------------------------------------------------


def rec(data: bytes, linktype: int = LINKTYPE_RAW) -> PcapRecord:
    return PcapRecord(1.0, linktype, data)


def test_extract_raw_ipv4() -> None:
    got = extract_pgm(rec(ipv4_packet(SRC4, DST4, 113, PGM, 16)))
    assert got is not None
    pkt, meta = got
    assert pkt == PGM
    back = wire.parse(pkt)
    assert isinstance(back, wire.ODATA) and back.data == b"hello, odd length"
    assert meta == {
        "ts": 1.0,
        "linktype": LINKTYPE_RAW,
        "ip_version": 4,
        "src": SRC4,
        "dst": DST4,
        "ttl": 16,
        "transport": "ip",
        "sport": None,
        "dport": None,
        "truncated": False,
    }


def test_extract_raw_ipv4_router_alert() -> None:
    got = extract_pgm(rec(ipv4_packet(SRC4, DST4, 113, PGM, router_alert=True)))
    assert got is not None and got[0] == PGM


def test_extract_raw_ipv6_with_hop_by_hop() -> None:
    # Hop-by-hop header carrying Router Alert (RFC 2711) + PadN, then PGM.
    hbh = bytes([113, 0, 0x05, 0x02, 0x00, 0x00, 0x01, 0x00])
    got = extract_pgm(rec(ipv6_packet(SRC6, DST6, 0, hbh + PGM, 3), LINKTYPE_IPV6))
    assert got is not None
    pkt, meta = got
    assert pkt == PGM
    assert (meta["ip_version"], meta["src"], meta["dst"], meta["ttl"]) == (6, SRC6, DST6, 3)
    assert meta["transport"] == "ip"


@pytest.mark.parametrize(("src", "dst"), [(SRC4, DST4), (SRC6, DST6)])
def test_extract_udp(src: str, dst: str) -> None:
    frame = pgm_ip_packet(src, dst, PGM, udp_ports=(3055, 3056))
    got = extract_pgm(rec(frame))
    assert got is not None
    pkt, meta = got
    assert pkt == PGM
    assert (meta["transport"], meta["sport"], meta["dport"]) == ("udp", 3055, 3056)
    # Other ports: not PGM unless asked for.
    other = pgm_ip_packet(src, dst, PGM, udp_ports=(5000, 7500))
    assert extract_pgm(rec(other)) is None
    got = extract_pgm(rec(other), udp_ports={7500})
    assert got is not None and got[0] == PGM


def test_extract_link_layers() -> None:
    ip4 = ipv4_packet(SRC4, DST4, 113, PGM)
    ip6 = ipv6_packet(SRC6, DST6, 113, PGM)
    eth = bytes(6) + bytes(range(6))
    cases = [
        (LINKTYPE_IPV4, ip4),
        (LINKTYPE_ETHERNET, eth + b"\x08\x00" + ip4 + b"\0" * 7),  # with trailer padding
        (LINKTYPE_ETHERNET, eth + b"\x81\x00\x00\x05\x86\xdd" + ip6),  # 802.1Q tag
        (LINKTYPE_LINUX_SLL, struct.pack("!HHH8sH", 4, 1, 6, bytes(8), 0x0800) + ip4),
        (LINKTYPE_LINUX_SLL2, struct.pack("!HHIHBB8s", 0x86DD, 0, 2, 1, 4, 6, bytes(8)) + ip6),
        (LINKTYPE_NULL, struct.pack("<I", 2) + ip4),
        (LINKTYPE_NULL, struct.pack(">I", 30) + ip6),
    ]
    for lt, frame in cases:
        got = extract_pgm(rec(frame, lt))
        assert got is not None, lt
        assert got[0] == PGM, lt
        assert got[1]["linktype"] == lt


@pytest.mark.parametrize(
    "frame",
    [
        pytest.param(b"", id="empty"),
        pytest.param(ipv4_packet(SRC4, DST4, 6, PGM), id="tcp"),
        pytest.param(ipv4_packet(SRC4, DST4, 113, PGM)[:19], id="short-ipv4"),
        pytest.param(b"\x50" + bytes(40), id="ip-version-5"),
        pytest.param(bytes(6) + bytes(6) + b"\x08\x06" + bytes(28), id="ethernet-arp"),
    ],
)
def test_extract_not_pgm(frame: bytes) -> None:
    lt = LINKTYPE_ETHERNET if frame[12:14] == b"\x08\x06" else LINKTYPE_RAW
    assert extract_pgm(rec(frame, lt)) is None


def test_extract_skips_fragments() -> None:
    ip = bytearray(ipv4_packet(SRC4, DST4, 113, PGM))
    ip[6] |= 0x20  # More Fragments
    assert extract_pgm(rec(bytes(ip))) is None
    frag6 = bytes([113, 0]) + struct.pack("!HI", (1 << 3) | 1, 99)  # offset 1, M=1
    assert extract_pgm(rec(ipv6_packet(SRC6, DST6, 44, frag6 + PGM))) is None
    atomic = bytes([113, 0]) + struct.pack("!HI", 0, 99)  # RFC 6946 atomic fragment
    got = extract_pgm(rec(ipv6_packet(SRC6, DST6, 44, atomic + PGM)))
    assert got is not None and got[0] == PGM


def test_extract_truncated_capture() -> None:
    frame = pgm_ip_packet(SRC4, DST4, PGM)
    got = extract_pgm(rec(frame[:-5]))
    assert got is not None
    assert got[0] == PGM[:-5] and got[1]["truncated"]
    udp = pgm_ip_packet(SRC6, DST6, PGM, udp_ports=(3056, 3056))
    got = extract_pgm(rec(udp[:-1]))
    assert got is not None
    assert got[0] == PGM[:-1] and got[1]["truncated"]


def test_write_read_extract_end_to_end(tmp_path: Path) -> None:
    f = tmp_path / "e2e.pcap"
    pkts = [
        wire.SPM(
            source_port=1,
            destination_port=7500,
            gsi=b"abcdef",
            spm_sqn=i,
            path_nla=IPv4Address(SRC4),
        ).encode()
        for i in range(5)
    ]
    with PcapWriter(f) as w:
        for i, p in enumerate(pkts):
            udp = (3056, 3056) if i % 2 else None
            w.write(
                pgm_ip_packet(SRC4 if i < 3 else SRC6, DST4 if i < 3 else DST6, p, udp_ports=udp),
                ts=float(i),
            )
    out = [extract_pgm(r) for r in read_pcap(f)]
    assert [o[0] for o in out if o] == pkts
    assert [o[1]["transport"] for o in out if o] == ["ip", "udp", "ip", "udp", "ip"]
    assert [o[1]["ip_version"] for o in out if o] == [4, 4, 4, 6, 6]
