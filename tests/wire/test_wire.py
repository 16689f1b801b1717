"""The wire codec: checksum, sequence arithmetic, every packet and option, hostile input."""

from __future__ import annotations

import random
import struct
from ipaddress import IPv4Address, IPv6Address, ip_address

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from pgm import wire
from tests.helpers.strategies import OPTION_STRATEGIES, PACKET_STRATEGIES, packets

GSI = bytes.fromhex("0a0b0c0d0e0f")


def rfc1071(data: bytes) -> int:
    """Straightforward RFC 1071 Internet checksum (the reference the fast one must equal)."""
    if len(data) % 2:
        data += b"\0"
    total = 0
    for i in range(0, len(data), 2):
        total += (data[i] << 8) | data[i + 1]
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def fix_checksum(raw: bytes | bytearray) -> bytes:
    """Recompute the PGM checksum of ``raw`` (for crafting packets that pass the checksum)."""
    buf = bytearray(raw)
    if len(buf) >= 8:
        buf[6:8] = b"\0\0"
        struct.pack_into(">H", buf, 6, wire.checksum(buf))
    return bytes(buf)


# -- checksum --


@given(st.binary(max_size=3000))
@example(b"")
@example(b"\xff\xff")
@example(b"\x00\x00\x00")
@example(b"\xff\xff" * 700)
def test_checksum_equals_rfc1071_reference(data: bytes) -> None:
    ref = rfc1071(data)
    expected = ref if ref != 0 else 0xFFFF  # RFC 3208 §8: a computed 0 is sent as 0xFFFF
    assert wire.checksum(data) == expected


@given(st.binary(max_size=1500))
def test_checksum_of_packet_verifies_and_detects_single_bit_flips(data: bytes) -> None:
    pkt = wire.ODATA(source_port=1, destination_port=2, gsi=GSI, data=data).encode()
    assert wire.verify_checksum(pkt)
    assert wire.checksum(pkt[:6] + b"\0\0" + pkt[8:]) == struct.unpack(">H", pkt[6:8])[0]
    i = random.Random(len(data)).randrange(len(pkt) * 8)
    flipped = bytearray(pkt)
    flipped[i // 8] ^= 1 << (i % 8)
    assert not wire.verify_checksum(flipped)


@given(st.binary(max_size=200).map(lambda b: b[: len(b) & ~1]), st.binary(max_size=200))
def test_partial_sums_add_for_even_aligned_pieces(a: bytes, b: bytes) -> None:
    whole = wire.checksum(a + b)
    assert wire.checksum(a, pre=wire.partial_sum(b)) == whole
    assert (
        wire.checksum(b"", pre=wire.checksum_add(wire.partial_sum(a), wire.partial_sum(b))) == whole
    )


def test_checksum_zero_result_is_sent_as_ffff() -> None:
    # A packet whose one's complement sum is 0xFFFF: its complement, 0, goes out as 0xFFFF.
    raw = bytearray(wire.SPMR(source_port=0, destination_port=0, gsi=bytes(6)).encode())
    # craft: choose a GSI word so that the sum of all words is 0xFFFF
    raw[6:8] = b"\0\0"
    words = sum(struct.unpack(f">{len(raw) // 2}H", raw))
    raw[8:10] = struct.pack(">H", (0xFFFF - words % 0xFFFF) % 0xFFFF or 0xFFFF)
    assert rfc1071(bytes(raw)) == 0
    assert wire.checksum(bytes(raw)) == 0xFFFF
    raw[6:8] = b"\xff\xff"
    assert wire.verify_checksum(raw)
    assert isinstance(wire.parse(bytes(raw)), wire.SPMR)


# -- sequence numbers --


def test_sqn_wraparound() -> None:
    top = 0xFFFFFFFF
    assert wire.sqn_lt(top, 0)
    assert wire.sqn_gt(0, top)
    assert wire.sqn_lt(top - 5, 3)
    assert wire.sqn_le(3, 3) and wire.sqn_ge(3, 3)
    assert not wire.sqn_lt(3, 3) and not wire.sqn_gt(3, 3)
    assert wire.sqn_distance(top - 1, 2) == 4
    assert wire.sqn_add(top, 1) == 0
    assert wire.sqn_add(0, -1) == top
    assert wire.sqn_max(top, 1) == 1 and wire.sqn_min(top, 1) == top
    # half the circle apart: the first counts as earlier in both directions, as in OpenPGM
    assert wire.sqn_lt(0, 1 << 31)


@given(wire_a=st.integers(0, 0xFFFFFFFF), step=st.integers(1, (1 << 31) - 1))
def test_sqn_order_is_consistent_across_the_circle(wire_a: int, step: int) -> None:
    b = wire.sqn_add(wire_a, step)
    assert wire.sqn_lt(wire_a, b) and wire.sqn_le(wire_a, b)
    assert wire.sqn_gt(b, wire_a) and wire.sqn_ge(b, wire_a)
    assert not wire.sqn_lt(b, wire_a) and not wire.sqn_gt(wire_a, b)
    assert wire.sqn_distance(wire_a, b) == step
    assert wire.sqn_max(wire_a, b) == b and wire.sqn_min(b, wire_a) == wire_a


def test_sqn_unwrap_near_the_reference() -> None:
    assert wire.sqn_unwrap(0, -1) == 0  # an empty window before sequence number 0
    assert wire.sqn_unwrap(0xFFFFFFFF, -1) == -1
    assert wire.sqn_unwrap(0, 0xFFFFFFFF) == 1 << 32  # forward across the wrap
    assert wire.sqn_unwrap(0xFFFFFFFE, 1 << 32) == (1 << 32) - 2  # backward across it
    assert wire.sqn_unwrap(5, 5 << 32) == (5 << 32) + 5


@given(ref=st.integers(-1, 1 << 40), delta=st.integers(-(1 << 31), (1 << 31) - 1))
def test_sqn_unwrap_inverts_the_mask(ref: int, delta: int) -> None:
    s = ref + delta
    assert wire.sqn_unwrap(s & wire.SQN_MASK, ref) == s


# -- round trips --


def _nak_lists_fit(pkt: wire.Packet) -> bool:
    """RFC 3208 §9: all OPT_NAK_LISTs of a packet together list at most 62 sequence numbers
    (the decoder rejects more, so such a packet has no round trip)."""
    n = sum(len(o.sqns) for o in pkt.options if isinstance(o, wire.OptNakList))
    return n <= wire.MAX_NAK_LIST


@pytest.mark.parametrize("name", sorted(PACKET_STRATEGIES))
@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_round_trip_every_packet_type(name: str, data: st.DataObject) -> None:
    pkt = data.draw(PACKET_STRATEGIES[name].filter(_nak_lists_fit))
    raw = pkt.encode()
    back = wire.parse(raw)
    assert type(back) is type(pkt)
    assert back.encode() == raw
    # every field but the derived/recorded ones comes back equal
    expect = pkt.replace(checksum=back.checksum, network=back.network)
    assert back == expect
    assert back.checksum == struct.unpack(">H", raw[6:8])[0] != 0


@pytest.mark.parametrize("name", sorted(OPTION_STRATEGIES))
@settings(max_examples=40)
@given(data=st.data())
def test_round_trip_every_option(name: str, data: st.DataObject) -> None:
    opt = data.draw(OPTION_STRATEGIES[name])
    for pkt in (
        wire.ODATA(source_port=1, destination_port=2, gsi=GSI, data=b"xyz", options=[opt]),
        wire.NAK(
            source_port=2,
            destination_port=1,
            gsi=GSI,
            options=[wire.OptSyn(), opt],
            source_nla=IPv4Address("10.0.0.1"),
            group_nla=IPv6Address("ff08::1"),
        ),
    ):
        raw = pkt.encode()
        back = wire.parse(raw)
        assert back.options == pkt.options
        assert back.encode() == raw


def test_known_layouts_byte_for_byte() -> None:
    spm = wire.SPM(
        source_port=0x1234,
        destination_port=7500,
        gsi=GSI,
        spm_sqn=1,
        spm_trail=0,
        spm_lead=0xFFFFFFFF,
        path_nla=IPv4Address("10.1.2.3"),
    ).encode()
    assert spm[:6] == bytes.fromhex("1234 1d4c 00 00")
    assert spm[8:16] == GSI + b"\0\0"
    assert spm[16:] == bytes.fromhex("00000001 00000000 ffffffff 0001 0000 0a010203")
    odata = wire.ODATA(
        source_port=1,
        destination_port=2,
        gsi=GSI,
        data_sqn=7,
        data_trail=3,
        data=b"ab",
        options=[wire.OptFragment(7, 0, 2)],
    ).encode()
    assert odata[4:6] == b"\x04\x01"  # type ODATA, flags PRESENT (0x01)
    assert odata[14:16] == b"\x00\x02"  # TSDU length
    assert odata[16:24] == bytes.fromhex("00000007 00000003")
    # OPT_LENGTH (total 20) then OPT_FRAGMENT|OPT_END, 16 bytes
    assert odata[24:28] == bytes.fromhex("00 04 00 14")
    assert odata[28:44] == bytes.fromhex("81 10 00 00 00000007 00000000 00000002")
    assert odata[44:] == b"ab"
    nak = wire.NAK(
        source_port=7500,
        destination_port=0x1234,
        gsi=GSI,
        nak_sqn=5,
        source_nla=IPv4Address("10.0.0.1"),
        group_nla=IPv6Address("ff08::1"),
        options=[wire.OptNakList([6, 7])],
        parity=True,
    ).encode()
    assert nak[4:6] == b"\x08\x83"  # NAK; PARITY 0x80 | NETWORK 0x02 | PRESENT 0x01
    assert nak[16:20] == b"\0\0\0\5"
    assert nak[20:28] == bytes.fromhex("0001 0000 0a000001")
    assert nak[28:48] == bytes.fromhex("0002 0000") + ip_address("ff08::1").packed
    assert nak[48:] == bytes.fromhex("00 04 00 10  82 0c 00 00 00000006 00000007")


def test_openpgm_bit_dialects() -> None:
    rfc = wire.OptParityPrm.make(8, proactive=True, ondemand=False)
    opg = wire.OptParityPrm.make(8, proactive=True, ondemand=False, openpgm=True)
    assert rfc.bits == 0x02 and opg.bits == 0x01
    assert opg.modes(openpgm=True) == (True, False)
    assert opg.modes() == (False, True)  # the same byte read the RFC way
    for f in (0x04, 0x08):
        o = wire.OptFragment(1, 2, 3, f_bits=f, u=True)
        back = wire.parse(
            wire.RDATA(source_port=1, destination_port=2, gsi=GSI, options=[o]).encode()
        ).options[0]
        assert back.encoded and back.u and back.f_bits == f


def test_tsi_direction() -> None:
    odata = wire.ODATA(source_port=40000, destination_port=7500, gsi=GSI)
    nak = wire.NAK(source_port=7500, destination_port=40000, gsi=GSI)
    assert odata.tsi == nak.tsi == wire.TSI(GSI, 40000)
    assert str(odata.tsi) == "10.11.12.13.14.15.40000"


# -- hostile input --


def _odata(**kw: object) -> bytes:
    fields: dict[str, object] = {
        "source_port": 1,
        "destination_port": 2,
        "gsi": GSI,
        "data_sqn": 9,
        "data": b"hello",
    }
    fields.update(kw)
    return wire.ODATA(**fields).encode()  # type: ignore[arg-type]


def _nak(**kw: object) -> bytes:
    fields: dict[str, object] = {
        "source_port": 2,
        "destination_port": 1,
        "gsi": GSI,
        "nak_sqn": 9,
        "source_nla": IPv4Address("10.0.0.1"),
        "group_nla": IPv4Address("239.192.0.1"),
    }
    fields.update(kw)
    return wire.NAK(**fields).encode()  # type: ignore[arg-type]


def _patch(raw: bytes, off: int, new: bytes, fix: bool = True) -> bytes:
    b = bytearray(raw)
    b[off : off + len(new)] = new
    return fix_checksum(b) if fix else bytes(b)


def _nak_list_of(*counts: int) -> bytes:
    """A NAK carrying one OPT_NAK_LIST per count, hand-assembled (the encoder refuses > 62).

    One option's 1-byte length caps it at 62 entries, so a longer list needs two options.
    """
    body = bytearray(_nak())
    opts = b""
    sqn = 0
    for i, n in enumerate(counts):
        last = 0x80 if i == len(counts) - 1 else 0
        opts += bytes([0x02 | last, 4 + 4 * n, 0, 0])
        opts += b"".join(struct.pack(">I", sqn + j) for j in range(n))
        sqn += n
    body[5] = 0x03
    body += struct.pack(">BBH", 0, 4, 4 + len(opts)) + opts
    return fix_checksum(body)


HOSTILE: list[tuple[str, bytes, type[wire.PacketError]]] = [
    ("empty", b"", wire.TruncatedPacket),
    ("short header", _odata()[:15], wire.TruncatedPacket),
    ("version 1", _patch(_odata(), 4, b"\x44"), wire.BadVersion),
    ("unknown type 0x03", _patch(_odata(), 4, b"\x03"), wire.UnknownPacketType),
    ("reserved type bits", _patch(_odata(), 4, b"\x14"), wire.UnknownPacketType),
    ("bad checksum", _patch(_odata(), 6, b"\x12\x34", fix=False), wire.BadChecksum),
    ("ODATA without checksum", _patch(_odata(), 6, b"\0\0", fix=False), wire.MissingChecksum),
    (
        "RDATA without checksum",
        _patch(_patch(_odata(), 4, b"\x05"), 6, b"\0\0", fix=False),
        wire.MissingChecksum,
    ),
    ("TSDU longer than datagram", _patch(_odata(), 14, b"\x00\x06"), wire.BadLength),
    ("TSDU shorter than datagram", _patch(_odata(), 14, b"\x00\x04"), wire.BadLength),
    ("ODATA body truncated", fix_checksum(_odata(data=b"")[:20]), wire.TruncatedPacket),
    (
        "SPM with TSDU length",
        _patch(wire.SPM(source_port=1, destination_port=2, gsi=GSI).encode(), 14, b"\0\1"),
        wire.BadLength,
    ),
    (
        "SPM trailing junk",
        fix_checksum(wire.SPM(source_port=1, destination_port=2, gsi=GSI).encode() + b"\0\0"),
        wire.BadLength,
    ),
    (
        "bad AFI in SPM",
        _patch(wire.SPM(source_port=1, destination_port=2, gsi=GSI).encode(), 28, b"\0\3"),
        wire.BadAFI,
    ),
    ("bad AFI in NAK group NLA", _patch(_nak(), 28, b"\x00\x07"), wire.BadAFI),
    ("NAK truncated inside NLA", fix_checksum(_nak()[:30]), wire.TruncatedPacket),
    (
        "IPv6 NLA truncated",
        fix_checksum(_nak(group_nla=IPv6Address("ff08::1"))[:40]),
        wire.TruncatedPacket,
    ),
    ("PRESENT without options", _patch(_nak(), 5, b"\x01"), wire.TruncatedPacket),
    (
        "first option is not OPT_LENGTH",
        _patch(_odata(options=[wire.OptFin()]), 24, b"\x01"),
        wire.OptionChainError,
    ),
    (
        "OPT_LENGTH length 0",
        _patch(_odata(options=[wire.OptFin()]), 25, b"\x00"),
        wire.OptionChainError,
    ),
    (
        "options total overruns datagram",
        _patch(_odata(options=[wire.OptFin()]), 26, b"\x01\x00"),
        wire.TruncatedPacket,
    ),
    (
        "option length 0 (loop)",
        _patch(_odata(options=[wire.OptSyn(), wire.OptFin()]), 29, b"\x00"),
        wire.OptionChainError,
    ),
    (
        "option overruns option area",
        _patch(_odata(options=[wire.OptSyn(), wire.OptFin()]), 29, b"\x40"),
        wire.OptionChainError,
    ),
    ("no OPT_END", _patch(_odata(options=[wire.OptFin()]), 28, b"\x0e"), wire.OptionChainError),
    (
        "OPT_END before total",
        _patch(_odata(options=[wire.OptSyn(), wire.OptFin()]), 28, b"\x8d"),
        wire.OptionChainError,
    ),
    (
        "OPT_FRAGMENT wrong length",
        fix_checksum(_patch(_odata(options=[wire.OptFragment(1, 2, 3)]), 29, b"\x0c")),
        wire.BadOption,
    ),
    ("NAK lists totalling 63", _nak_list_of(31, 32), wire.NakListTooLong),
    ("NAK list length byte not 4+4N", _patch(_nak_list_of(3), 41, b"\x0f"), wire.BadOption),
    (
        "unknown option says discard",
        _patch(_odata(options=[wire.OptFin()]), 28, b"\xa0\x04\x02\x00"),
        wire.OptionDiscarded,
    ),
    (
        "unknown option with reserved OPX",
        _patch(_odata(options=[wire.OptFin()]), 28, b"\xa0\x04\x03\x00"),
        wire.BadOption,
    ),
    (
        "OPT_LENGTH twice",
        _patch(_odata(options=[wire.OptSyn(), wire.OptFin()]), 28, b"\x00"),
        wire.OptionChainError,
    ),
]


@pytest.mark.parametrize(("what", "raw", "error"), HOSTILE, ids=[h[0] for h in HOSTILE])
def test_hostile_input_raises_the_specific_error(
    what: str, raw: bytes, error: type[wire.PacketError]
) -> None:
    with pytest.raises(error) as info:
        wire.parse(raw)
    assert isinstance(info.value, wire.PacketError)
    assert info.value.reason  # carries a human-readable reason


def test_nak_list_of_62_is_fine_and_encoder_refuses_63() -> None:
    assert wire.parse(_nak_list_of(62)).options[0].sqns == list(range(62))
    assert sum(len(o.sqns) for o in wire.parse(_nak_list_of(30, 32)).options) == 62
    with pytest.raises(wire.NakListTooLong):
        _nak(options=[wire.OptNakList(list(range(63)))])
    with pytest.raises(wire.OptionChainError):
        _odata(options=[wire.OptSyn()] * 17)


def test_too_many_options_on_the_wire() -> None:
    ok = _odata(options=[wire.OptSyn()] * 16)
    assert len(wire.parse(ok).options) == 16
    raw = bytearray(ok)
    # hand-append a 17th: raise OPT_LENGTH's total, clear the old END, add a SYN|END
    raw[27] += 4
    end_at = 24 + 4 + 15 * 4
    raw[end_at] &= 0x7F
    raw[24 + 4 + 16 * 4 : 24 + 4 + 16 * 4] = b"\x8d\x04\x00\x00"
    with pytest.raises(wire.OptionChainError):
        wire.parse(fix_checksum(raw))


def test_unknown_options_ignored_or_invalidated_per_opx() -> None:
    base = _odata(options=[wire.OptSyn(), wire.OptFin()])
    ignored = wire.parse(_patch(base, 28, b"\x20\x04\x00\x00"))
    assert ignored.options[0] == wire.UnknownOption(0x20, b"")
    invalidated = wire.parse(_patch(base, 28, b"\x20\x04\x01\x00"))
    assert isinstance(invalidated.options[0], wire.UnknownOption)
    assert invalidated.options[0].type == 0x7F  # RFC 3208 §9: retyped to OPT_INVALID
    assert invalidated.data == b"hello"


def test_zero_checksum_accepted_on_control_packets_and_verify_off() -> None:
    nak = _patch(_nak(), 6, b"\0\0", fix=False)
    assert wire.parse(nak).checksum == 0
    bad = _patch(_odata(), 6, b"\x12\x34", fix=False)
    assert wire.parse(bad, verify=False).data == b"hello"


# -- fuzzing: nothing but PacketError may escape --


def _parse_only_packet_errors(raw: bytes) -> wire.Packet | None:
    try:
        pkt = wire.parse(raw)
    except wire.PacketError:
        return None
    # whatever parses must re-encode, and re-parse to the same bytes
    again = pkt.encode()
    assert wire.parse(again).encode() == again
    return pkt


@settings(max_examples=800)
@given(st.binary(max_size=300))
def test_random_bytes_raise_only_packet_errors(raw: bytes) -> None:
    _parse_only_packet_errors(raw)
    _parse_only_packet_errors(fix_checksum(raw))


@settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow])
@given(
    packets,
    st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), min_size=1, max_size=6),
    st.integers(0, 3),
)
def test_mutated_valid_packets_raise_only_packet_errors(
    pkt: wire.Packet, edits: list[tuple[int, int]], cut: int
) -> None:
    raw = bytearray(pkt.encode())
    for pos, val in edits:
        raw[pos % len(raw)] = val
    if cut:
        del raw[-cut:]
    _parse_only_packet_errors(bytes(raw))
    _parse_only_packet_errors(fix_checksum(raw))  # so the structure checks get exercised
