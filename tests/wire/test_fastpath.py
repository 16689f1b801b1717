"""The source's fast builders (pgm.wire.fastpath) write exactly what the general codec writes."""

from __future__ import annotations

from ipaddress import ip_address

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pgm import wire

u32 = st.integers(0, 0xFFFFFFFF)
GSI = bytes.fromhex("0a0b0c0d0e0f")


def _opts(
    fragment: tuple[int, int, int] | None,
    join: int | None,
    syn: bool,
    fin: bool,
    grp: int | None,
    tgs: int | None,
) -> list[wire.Option]:
    out: list[wire.Option] = []
    if fragment is not None:
        out.append(wire.OptFragment(*fragment))
    if join is not None:
        out.append(wire.OptJoin(join))
    if syn:
        out.append(wire.OptSyn())
    if fin:
        out.append(wire.OptFin())
    if grp is not None:
        out.append(wire.OptParityGrp(grp))
    if tgs is not None:
        out.append(wire.OptCurrTgsize(tgs))
    return out


@given(
    fragment=st.none() | st.tuples(u32, u32, u32),
    join=st.none() | u32,
    syn=st.booleans(),
    fin=st.booleans(),
    grp=st.none() | u32,
    tgs=st.none() | u32,
)
def test_data_options_equal_the_general_encoder(
    fragment: tuple[int, int, int] | None,
    join: int | None,
    syn: bool,
    fin: bool,
    grp: int | None,
    tgs: int | None,
) -> None:
    raw = wire.data_options(
        fragment=fragment, join=join, syn=syn, fin=fin, parity_grp=grp, curr_tgsize=tgs
    )
    assert raw == wire.encode_options(_opts(fragment, join, syn, fin, grp, tgs))


def test_data_options_reduce_sequence_numbers_to_32_bits() -> None:
    assert wire.data_options(fragment=((1 << 32) + 5, 0, 9)) == wire.data_options(
        fragment=(5, 0, 9)
    )
    assert wire.data_options(join=(1 << 32) + 7) == wire.data_options(join=7)


@pytest.mark.parametrize("cls", [wire.ODATA, wire.RDATA])
@given(
    sqn=u32,
    trail=u32,
    data=st.binary(max_size=1500),
    fragment=st.none() | st.tuples(u32, u32, u32),
    fin=st.booleans(),
    parity=st.booleans(),
    var_pktlen=st.booleans(),
)
def test_data_template_equals_the_packet_encoder(
    cls: type[wire.DataPacket],
    sqn: int,
    trail: int,
    data: bytes,
    fragment: tuple[int, int, int] | None,
    fin: bool,
    parity: bool,
    var_pktlen: bool,
) -> None:
    opts = _opts(fragment, None, False, fin, None, None)
    raw_opts = wire.data_options(fragment=fragment, fin=fin)
    flags = (wire.FLAG_PARITY if parity else 0) | (wire.FLAG_VAR_PKTLEN if var_pktlen else 0)
    tpl = wire.DataTemplate(40000, 7500, GSI)
    got = tpl.encode(cls.TYPE, sqn, trail, data, wire.payload_sum(data, raw_opts), raw_opts, flags)
    want = cls(
        source_port=40000,
        destination_port=7500,
        gsi=GSI,
        data_sqn=sqn,
        data_trail=trail,
        data=data,
        options=opts,
        parity=parity,
        var_pktlen=var_pktlen,
    ).encode()
    assert got == want
    assert wire.parse(got).data == data


def test_rdata_from_the_kept_sum_takes_unbounded_counters() -> None:
    tpl = wire.DataTemplate(1, 2, GSI)
    data = b"odd-length payload"
    ps = wire.payload_sum(data)
    a = tpl.encode(wire.TYPE_RDATA, (3 << 32) + 9, (3 << 32) + 1, data, ps)
    b = tpl.encode(wire.TYPE_RDATA, 9, 1, data, ps)
    assert a == b and wire.verify_checksum(a)
    pkt = wire.parse(a)
    assert type(pkt) is wire.RDATA and (pkt.data_sqn, pkt.data_trail) == (9, 1)


@given(
    spm_sqn=u32,
    trail=u32,
    lead=u32,
    nla=st.sampled_from([ip_address("10.1.2.3"), ip_address("fe80::1")]),
    which=st.sampled_from(["none", "fin", "rst", "prm"]),
)
def test_spm_template_equals_the_packet_encoder(
    spm_sqn: int, trail: int, lead: int, nla: wire.NLA, which: str
) -> None:
    opts: list[wire.Option] = {
        "none": [],
        "fin": [wire.OptFin()],
        "rst": [wire.OptRst(n=True)],
        "prm": [wire.OptParityPrm.make(8, proactive=False, ondemand=True)],
    }[which]
    tpl = wire.SpmTemplate(40000, 7500, GSI, nla)
    want = wire.SPM(
        source_port=40000,
        destination_port=7500,
        gsi=GSI,
        spm_sqn=spm_sqn,
        spm_trail=trail,
        spm_lead=lead,
        path_nla=nla,
        options=list(opts),
    ).encode()
    assert tpl.encode(spm_sqn, trail, lead, opts) == want
    # an empty window before sequence number 0 has lead -1: the unbounded counter is reduced
    assert tpl.encode(spm_sqn, 0, -1, opts) == tpl.encode(spm_sqn, 0, 0xFFFFFFFF, opts)


def test_option_flags() -> None:
    assert wire.option_flags([], wire.TYPE_SPM) == 0
    assert wire.option_flags([wire.OptFin()], wire.TYPE_SPM) == wire.FLAG_PRESENT
    prm = wire.OptParityPrm(8, 1)
    assert wire.option_flags([prm], wire.TYPE_SPM) == wire.FLAG_PRESENT | wire.FLAG_NETWORK
    tgs = [wire.OptCurrTgsize(3)]  # network significant except on ODATA (RFC 3208 §9)
    assert wire.option_flags(tgs, wire.TYPE_ODATA) == wire.FLAG_PRESENT
    assert wire.option_flags(tgs, wire.TYPE_RDATA) == wire.FLAG_PRESENT | wire.FLAG_NETWORK


@pytest.mark.parametrize("cls", [wire.NAK, wire.NNAK, wire.NCF])
@given(sqns=st.lists(u32, min_size=1, max_size=1 + wire.MAX_NAK_LIST), parity=st.booleans())
def test_encode_nak_list(cls: type[wire.NakPacket], sqns: list[int], parity: bool) -> None:
    src, grp = ip_address("10.0.0.1"), ip_address("239.1.1.1")
    raw = wire.encode_nak_list(
        cls,
        source_port=7500,
        destination_port=40000,
        gsi=GSI,
        sqns=sqns,
        source_nla=src,
        group_nla=grp,
        parity=parity,
    )
    pkt = wire.parse(raw)
    assert type(pkt) is cls and pkt.parity == parity
    lst = pkt.option(wire.OptNakList)
    assert [pkt.nak_sqn, *(lst.sqns if lst else [])] == sqns
    assert (pkt.source_nla, pkt.group_nla) == (src, grp)


def test_encode_nak_list_bounds() -> None:
    kw = {"source_port": 1, "destination_port": 2, "gsi": GSI}
    nlas = {"source_nla": ip_address("10.0.0.1"), "group_nla": ip_address("239.1.1.1")}
    for bad in ([], list(range(2 + wire.MAX_NAK_LIST))):
        with pytest.raises(ValueError):
            wire.encode_nak_list(wire.NAK, sqns=bad, **kw, **nlas)  # type: ignore[arg-type]
