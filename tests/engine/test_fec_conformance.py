"""Engine conformance for FEC: OpenPGM's parity scripts (``openpgm/pgm/test/*parity*.pl``).

The same roles as :mod:`tests.engine.test_conformance` on :mod:`pgm.sim` with a virtual clock:
the real engine under test ("app") faces the scripted peer ("sim"), which sends packets built
with :mod:`pgm.wire` and :class:`pgm.fec.ReedSolomon` (the same code OpenPGM uses, docs/fec.md)
and records what it hears.  The scripts:

* ``on-demand_spm`` — an RS(255, 64) source's SPM carries OPT_PARITY_PRM with the on-demand bit
  (OpenPGM's value 0x02) and TG size 64;
* ``nak_parity`` — an RS(255, 4) source answers a parity NAK for one packet with a parity NCF and
  one parity RDATA (header flag PARITY), the code's parity 0 of that group;
* ``apdu_parity`` — a fragmented APDU with one fragment never arriving is rebuilt from parity
  (OPT_FRAGMENT FEC-encoded into the parity) and delivered whole;
* ``rdata_completion_parity`` — a receiver of an on-demand TGS-4 session NAKs a loss with a
  parity NAK; one parity RDATA over four 9-byte packets rebuilds it; five messages delivered;
* ``rdata_completion_parity_var_pktlen`` — the same with payloads of different lengths
  (VAR_PKTLEN: zero padding and the length appended in OpenPGM's host order, little-endian);
* ``odata_jump_parity`` — once data moves past a group with a hole, the receiver sends a parity
  NAK (count of missing packets), never a selective one.
"""

from __future__ import annotations

from pgm import wire
from pgm.engine import ReceiverConfig, SourceConfig
from pgm.fec import ReedSolomon
from pgm.sim import Link, drop_sqns
from pgm.wire.options import PARITY_PRM_OND_OPENPGM, PARITY_PRM_OND_RFC
from pgm.wire.parity import parity_nak_sqn, var_pktlen_pad
from tests.helpers.addresses import DPORT, GROUP, GSI, RCV_ADDR, SPORT, SRC_ADDR
from tests.helpers.benches import RxBench, TxBench
from tests.helpers.packets import data_packet, odata, spm
from tests.helpers.world import make_world, messages

K = 4


def fec_spm(spm_sqn: int, trail: int, lead: int, *, k: int = K, bits: int = 0x02) -> wire.SPM:
    """An SPM of the scripted source advertising parity (OpenPGM's on-demand bit by default)."""
    return spm(spm_sqn, trail, lead).replace(options=[wire.OptParityPrm(k, bits)])


def parity_rdata(sqn: int, trail: int, payload: bytes, var: bool = False) -> wire.RDATA:
    p = data_packet(wire.RDATA, sqn, trail, payload)
    assert isinstance(p, wire.RDATA)
    return p.replace(parity=True, var_pktlen=var)


def parity_nak(tg: int, count: int) -> wire.NAK:
    return wire.NAK(
        source_port=DPORT,
        destination_port=SPORT,
        gsi=GSI,
        nak_sqn=parity_nak_sqn(tg, count, K),
        source_nla=SRC_ADDR,
        group_nla=GROUP,
        parity=True,
    )


# ================================================================================================
# Source scripts
# ================================================================================================


def test_on_demand_spm() -> None:
    """on-demand_spm.pl (RFC 3208 §9.6 / Appendix A): an RS(255, 64) on-demand source's SPM
    has OPT_PARITY_PRM with the on-demand bit set in OpenPGM's order (0x02) and TGS 64."""
    bench = TxBench(SourceConfig(fec_group_size=64, fec_block_size=255, fec_ondemand=True))
    bench.net.run(until=0.5)
    spms = bench.out("SPM")
    assert len(spms) == 3
    for tx in spms:
        (prm,) = [o for o in tx.pkt.options if isinstance(o, wire.OptParityPrm)]
        assert (prm.tgs, prm.bits) == (64, PARITY_PRM_OND_OPENPGM)
        assert prm.modes(openpgm=True) == (False, True)
        assert tx.pkt.network, "OPT_PARITY_PRM is network significant"
    # The RFC bit order on request (fec_openpgm=False).
    rfc = TxBench(SourceConfig(fec_group_size=64, fec_ondemand=True, fec_openpgm=False))
    rfc.net.run(until=0.5)
    (prm,) = rfc.out("SPM")[0].pkt.options
    assert prm.bits == PARITY_PRM_OND_RFC


def test_nak_parity() -> None:
    """nak_parity.pl (RFC 3208 Appendix A): a parity NAK for one packet of group 0 of an
    RS(255, 4) source draws a parity NCF at once and one parity RDATA: SQN = TG | 0, flag
    PARITY, the code's parity 0 over the group's four payloads."""
    bench = TxBench(SourceConfig(fec_group_size=4, fec_ondemand=True, window_secs=60.0))
    msgs = [b"ringo000", b"ichigo00", b"momo0000", b"yakitori"]
    bench.send(1.0, *msgs)
    bench.inject(2.0, parity_nak(0, 1))
    bench.net.run(until=3.0)
    assert [tx.pkt.data_sqn for tx in bench.out("ODATA")] == [0, 1, 2, 3]
    (ncf,) = bench.out("NCF")
    assert ncf.time == 2.0 and ncf.pkt.parity and ncf.pkt.nak_sqn == 0 and ncf.dst == GROUP
    (rd,) = bench.out("RDATA")
    assert rd.pkt.parity and not rd.pkt.var_pktlen and rd.pkt.data_sqn == 0
    assert rd.pkt.data == ReedSolomon(4).encode(msgs, 0) == bytes.fromhex("4c338d49a3738b09")
    st = bench.source.stats
    assert (st.parity_naks_received, st.parity_packets_sent, st.repair_packets_sent) == (1, 1, 0)
    # A second NAK for the same group gets a fresh index (parity 1), never parity 0 again.
    bench.inject(4.0, parity_nak(0, 1))
    bench.net.run(until=5.0)
    second = bench.out("RDATA")[1]
    assert second.pkt.data_sqn == 1 and second.pkt.data == ReedSolomon(4).encode(msgs, 1)


def test_parity_nak_without_on_demand_is_dropped() -> None:
    """OpenPGM: a parity NAK to a source without on-demand parity gets no NCF (counted)."""
    bench = TxBench(SourceConfig(fec_group_size=4, fec_proactive=1, window_secs=60.0))
    bench.send(1.0, b"a" * 8, b"b" * 8, b"c" * 8, b"d" * 8)
    bench.inject(2.0, parity_nak(0, 1))
    bench.net.run(until=3.0)
    assert not bench.out("NCF")
    assert bench.source.stats.naks_ignored == 1


def test_apdu_parity() -> None:
    """apdu_parity.pl (RFC 3208 Appendix A): a 6000-byte APDU (fragments with OPT_FRAGMENT)
    whose second fragment never arrives is rebuilt from on-demand parity, the fragment's
    OPT_FRAGMENT FEC-encoded into the parity, and delivered whole."""
    cfg = SourceConfig(fec_group_size=K, fec_ondemand=True, rate_bps=10_000_000, linger_secs=5)
    w = make_world(1, seed=1, source_config=cfg)
    w.net.set_link(w.src_node, w.rx_nodes[0], Link(drop=drop_sqns([1])))
    apdu = messages(7, 1, 6000)[0] * 2
    apdu = apdu[:6000]
    w.send_all([apdu, b"tail-1", b"tail-2", b"tail-3"])
    w.run_until_ended(30.0)
    assert [e.data for e in w.delivered(0)] == [apdu, b"tail-1", b"tail-2", b"tail-3"]
    assert not w.losses(0)
    (tsi,) = w.receivers[0].ended_sessions
    st = w.receivers[0].ended_sessions[tsi].stats
    assert st.packets_recovered_by_parity == 1 and st.parity_naks_sent == 1
    assert st.selective_naks_sent == 0
    parity = [p for _, p in w.packets(w.src_node, "RDATA") if p.parity]
    assert len(parity) == 1
    (frag,) = [o for o in parity[0].options if isinstance(o, wire.OptFragment)]
    assert frag.encoded


# ================================================================================================
# Receiver scripts
# ================================================================================================


def _completion(payloads: list[bytes], var: bool, portless: bool = False) -> None:
    cfg = ReceiverConfig(nak_bo_ivl=0.05, nak_bo_min=0.002)
    bench = RxBench(cfg)
    bench.inject(1.0, fec_spm(1, 0, 0xFFFFFFFF))
    for i, p in enumerate(payloads):
        if i != 2:
            bench.inject(2.0 + i / 100, odata(i, 0, p))
    bench.run(2.03 + cfg.nak_bo_ivl + 0.001)  # ODATA 3 at 2.03 closed the group
    (nak,) = bench.upstream("NAK")
    # One parity NAK, count 1 (SQN = TG 0 | 0), unicast to the SPM path NLA; no selective NAK.
    assert nak.pkt.parity and nak.pkt.nak_sqn == 0 and nak.dst == SRC_ADDR
    assert nak.pkt.source_nla == SRC_ADDR and nak.pkt.group_nla == GROUP
    assert (nak.pkt.source_port, nak.pkt.destination_port) == (DPORT, SPORT)
    blocks = (
        [var_pktlen_pad(p, max(map(len, payloads[:4]))) for p in payloads[:4]]
        if var
        else (payloads[:4])
    )
    parity = parity_rdata(0, 0, ReedSolomon(K).encode(blocks, 0), var)
    if portless:  # OpenPGM 5.3 never writes the ports into its parity header
        parity = parity.replace(source_port=0, destination_port=0)
    bench.inject(2.1, parity)
    bench.run(3.0)
    got = [(sqn, data) for _, sqn, data in bench.delivered()]
    assert got == list(enumerate(payloads))
    st = bench.receiver.sessions[next(iter(bench.receiver.sessions))].stats
    assert (st.parity_packets_received, st.packets_recovered_by_parity) == (1, 1)
    assert (st.parity_naks_sent, st.selective_naks_sent) == (1, 0)


def test_rdata_completion_parity() -> None:
    """rdata_completion_parity.pl (RFC 3208 Appendix A): TGS 4 on demand, ODATA 2 lost: the
    receiver sends a parity NAK; one parity RDATA over the four 9-byte packets rebuilds it and
    the five messages are delivered in order."""
    payloads = [b"ringo%04d" % i for i in range(5)]
    assert {len(p) for p in payloads} == {9}
    _completion(payloads, var=False)


def test_rdata_completion_parity_var_pktlen() -> None:
    """rdata_completion_parity_var_pktlen.pl: the same with payloads of different lengths: the
    parity is over the payloads zero-padded to the longest, each followed by its length in 2
    bytes in OpenPGM's host order (little-endian), and carries VAR_PKTLEN."""
    _completion([b"ringo", b"ichigo", b"momo-no-hana", b"yakitori", b"anzu"], var=True)


def test_openpgm_parity_without_ports_is_taken() -> None:
    """OpenPGM accommodation (docs/fec.md): libpgm 5.3 sends parity RDATA with source and
    destination port 0; it is matched to the FEC session of its GSI and used."""
    _completion([b"ringo%04d" % i for i in range(5)], var=False, portless=True)


def test_odata_jump_parity() -> None:
    """odata_jump_parity.pl (RFC 3208 Appendix A): with on-demand parity advertised, a hole in
    a group is NAKed with a parity NAK (count = packets missing) once data moves on to the next
    group, never with a selective NAK."""
    cfg = ReceiverConfig(nak_bo_ivl=0.05, nak_bo_min=0.002)
    bench = RxBench(cfg)
    bench.inject(1.0, fec_spm(1, 0, 0xFFFFFFFF))
    bench.inject(2.0, odata(0, 0, b"ringo"))
    bench.inject(2.01, odata(1, 0, b"ichigo"))
    bench.inject(3.0, odata(4, 0, b"yakitori"))  # 2 and 3 never come
    bench.run(3.0 + cfg.nak_bo_ivl + 0.001)
    (nak,) = bench.upstream("NAK")
    assert nak.pkt.parity and nak.pkt.nak_sqn == parity_nak_sqn(0, 2, K) == 1
    assert 3.0 + cfg.nak_bo_min <= nak.time <= 3.0 + cfg.nak_bo_ivl + 1e-9
    # The leading group (4 ..) is still open: nothing NAKed for it, nothing selective at all.
    assert all(tx.pkt.parity for tx in bench.upstream("NAK"))


def test_parity_ncf_with_a_smaller_count_does_not_suppress() -> None:
    """RFC 3208 Appendix A: a parity NCF suppresses our parity NAK only if its count is at least
    ours; a larger count confirms (the numbers then wait for data)."""
    cfg = ReceiverConfig(nak_bo_ivl=0.05, nak_bo_min=0.04)
    bench = RxBench(cfg)
    bench.inject(1.0, fec_spm(1, 0, 0xFFFFFFFF))
    bench.inject(2.0, odata(0, 0, b"ringo"))
    bench.inject(3.0, odata(4, 0, b"yakitori"))  # 1, 2, 3 missing: count 3
    ncf1 = wire.NCF(
        source_port=SPORT, destination_port=DPORT, gsi=GSI, nak_sqn=parity_nak_sqn(0, 1, K),
        source_nla=SRC_ADDR, group_nla=GROUP, parity=True,
    )  # fmt: skip
    bench.inject(3.01, ncf1)
    bench.run(3.1)
    (nak,) = bench.upstream("NAK")
    assert nak.pkt.parity and nak.pkt.nak_sqn == parity_nak_sqn(0, 3, K)
    bench2 = RxBench(cfg)
    bench2.inject(1.0, fec_spm(1, 0, 0xFFFFFFFF))
    bench2.inject(2.0, odata(0, 0, b"ringo"))
    bench2.inject(3.0, odata(4, 0, b"yakitori"))
    bench2.inject(3.01, ncf1.replace(nak_sqn=parity_nak_sqn(0, 4, K)))
    bench2.run(3.1)
    assert not bench2.upstream("NAK")
    assert RCV_ADDR  # the receiver under test is at RCV_ADDR (unicast NAKs only)


def test_fewer_parity_packets_than_asked_are_asked_for_again() -> None:
    """OpenPGM answers a parity NAK for two packets with one parity packet: the receiver waits
    ``nak_rdata_ivl`` for the rest, then NAKs again for what it still needs (count 1), and the
    second parity packet completes the group."""
    cfg = ReceiverConfig(nak_bo_ivl=0.05, nak_bo_min=0.002, nak_rdata_ivl=0.2)
    bench = RxBench(cfg)
    payloads = [b"ringo%04d" % i for i in range(5)]
    bench.inject(1.0, fec_spm(1, 0, 0xFFFFFFFF))
    for i in (0, 3, 4):  # 1 and 2 lost: the group needs two
        bench.inject(2.0 + i / 100, odata(i, 0, payloads[i]))
    bench.run(2.03 + cfg.nak_bo_ivl + 0.001)
    (first,) = bench.upstream("NAK")
    assert first.pkt.parity and first.pkt.nak_sqn == parity_nak_sqn(0, 2, K)
    ncf2 = wire.NCF(
        source_port=SPORT, destination_port=DPORT, gsi=GSI, nak_sqn=first.pkt.nak_sqn,
        source_nla=SRC_ADDR, group_nla=GROUP, parity=True,
    )  # fmt: skip
    rs = ReedSolomon(K)
    bench.inject(2.1, ncf2)
    bench.inject(2.1, parity_rdata(0, 0, rs.encode(payloads[:4], 0)))  # one of the two
    bench.run(2.1 + cfg.nak_rdata_ivl + cfg.nak_bo_ivl + 0.01)
    again = bench.upstream("NAK")[1:]
    assert again and all(tx.pkt.parity for tx in again)
    assert again[0].pkt.nak_sqn == parity_nak_sqn(0, 1, K), "asks only for what it still needs"
    assert again[0].time >= 2.1 + cfg.nak_rdata_ivl
    bench.inject(3.0, parity_rdata(1, 0, rs.encode(payloads[:4], 1)))
    bench.run(3.1)
    assert [data for _, _, data in bench.delivered()] == payloads
