"""Engine conformance: one test per OpenPGM conformance script (``openpgm/pgm/test/*.pl``).

OpenPGM checks its stack with Perl scripts that drive three hosts: ``app`` (the PGM socket under
test), ``sim`` (``sim.c``, a hand-crafted peer that sends ``net send spm|odata|rdata|ncf|nak|spmr``
packets) and ``mon`` (a sniffer).  Here the same roles run on :mod:`pgm.sim` with a virtual clock:

* ``app`` is a real :class:`~pgm.engine.Source` or :class:`~pgm.engine.Receiver`;
* ``sim`` is :class:`Peer`, a scripted engine that injects packets built with :mod:`pgm.wire`
  at exact virtual times, records what it hears (checksums verified) and can answer NAKs with
  NCFs or SPMRs with SPMs;
* ``mon`` is the network trace: every datagram with its send time, destination and TTL.

Every test states exact expectations on the packets (type, SQNs, NAK lists, ports, GSI, NLAs,
destination: NAKs unicast to the SPM path NLA, NCF/RDATA/SPM/ODATA multicast to the group) and
on their timing, with tolerances derived from the configured intervals only (a NAK leaves
``t0 + back-off`` with ``nak_bo_min <= back-off <= nak_bo_ivl``; retries follow
``nak_rpt_ivl`` / ``nak_rdata_ivl`` plus a fresh back-off).  Everything is seeded and virtual.

Where RFC 3208 and OpenPGM differ the engine's documented choice is tested:

* heartbeat SPMs follow OpenPGM's fixed schedule (``OPENPGM_HEARTBEATS``: 100 ms ×4, 1.3 s, 7,
  16, 25, 30 s), not the RFC's IHB_MIN doubling to IHB_MAX;
* an SPMR is answered at once, one SPM per SPMR (OpenPGM), without the RFC's "at most once per
  IHB_MIN" limit;
* NAKs are accepted only with OpenPGM's strict matching (ports swapped, own GSI, source NLA = own
  path NLA, group NLA = own group); list NCFs carry OPT_NAK_LIST with PRESENT|NETWORK;
* the first packet defines the receive window (an SPM: lead + 1; data: its SQN), OpenPGM's late
  join; the NAK back-off is uniform over [nak_bo_min, nak_bo_ivl] (OpenPGM: [1 µs, NAK_BO_IVL]);
* the source's token bucket may go into debt by one packet (``pgm.engine.rate``), so a window of
  ``d`` seconds carries at most ``rate·d + bucket + one TPDU`` bytes.

The FEC scripts (``on-demand_spm``, ``nak_parity``, ``apdu_parity``,
``rdata_completion_parity``, ``rdata_completion_parity_var_pktlen``, ``odata_jump_parity``) are
in :mod:`tests.engine.test_fec_conformance`.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from itertools import accumulate, pairwise

from pgm import wire
from pgm.engine import (
    DataReceived,
    Receiver,
    ReceiverConfig,
    SessionStarted,
    Source,
    SourceConfig,
    UnrecoverableLoss,
)
from pgm.engine.config import IP4_HEADER, OPENPGM_HEARTBEATS
from pgm.sim import Network
from pgm.wire import NLA
from tests.helpers.addresses import (
    DPORT,
    EMPTY_LEAD,
    GROUP,
    GSI,
    OTHER_GROUP,
    OTHER_GSI,
    OTHER_RCV_ADDR,
    RCV_ADDR,
    ROUTER_ADDR,
    SESSION,
    SPORT,
    SRC_ADDR,
    Datagram,
)
from tests.helpers.benches import RxBench, TxBench
from tests.helpers.checks import check_data, check_nak, check_ncf, check_spm
from tests.helpers.packets import data_packet, nak, ncf, odata, rdata, spm, spmr
from tests.helpers.peer import Peer
from tests.helpers.trace import Tx, sent, within

# Common receiver scenario of the 6.3 scripts: SPM (trail 90001, lead 90000) at 1 s, ODATA 90001
# at 3 s, then ODATA 90003 at T_GAP leaves 90002 missing.
T_SPM, T_FIRST, T_GAP = 1.0, 3.0, 5.0


def jump_scenario(bench: RxBench, kind: type[wire.DataPacket] = wire.ODATA) -> None:
    bench.inject(T_SPM, spm(3200, 90001, 90000))
    bench.inject(T_FIRST, odata(90001, 90001, b"ringo"))
    bench.inject(T_GAP, data_packet(kind, 90003, 90001, b"ichigo"))


# ================================================================================================
# Source scripts
# ================================================================================================


def test_spm() -> None:
    """spm.pl (RFC 3208 §5.1.4): "a connected source emits an SPM".

    OpenPGM's ``pgm_connect`` sends 3 SPMs at once (trail 0 / lead 2**32-1 before data); with no
    data the next is the ambient SPM ``spm_ambient_ivl`` later.
    """
    bench = TxBench(SourceConfig(window_secs=60.0, spm_ambient_ivl=30.0))
    bench.net.run(until=29.999)
    out = bench.out()
    assert [tx.time for tx in out] == [0.0, 0.0, 0.0]
    for i, tx in enumerate(out):
        check_spm(tx, i, 0, EMPTY_LEAD)
    assert [(t, p.spm_sqn, src) for t, p, src, _ in bench.sim.heard] == [
        (0.0, 0, SRC_ADDR),
        (0.0, 1, SRC_ADDR),
        (0.0, 2, SRC_ADDR),
    ]
    bench.net.run(until=30.0)
    out = bench.out()
    assert len(out) == 4, "the ambient SPM is due exactly spm_ambient_ivl after the last SPM"
    within(out[3].time, 30.0, 30.0, "ambient SPM")
    check_spm(out[3], 3, 0, EMPTY_LEAD)
    assert bench.source.stats.spm_packets_sent == 4


def test_ambient_spm() -> None:
    """ambient_spm.pl (RFC 3208 §5.1.4): "with data every 50 ms an SPM still appears within
    45 s".

    Data every 50 ms keeps restarting the heartbeat walk (first heartbeat after 100 ms), so the
    only SPM during the stream is the ambient one, ``spm_ambient_ivl`` (30 s) after the connect
    burst; it carries the lead of the ODATA sent just before it.
    """
    bench = TxBench(SourceConfig(window_secs=60.0, spm_ambient_ivl=30.0))
    for k in range(1, 901):  # 0.05 s ... 45.0 s
        bench.send(k / 20, b"ringo")
    bench.net.run(until=45.0)
    out = bench.out()
    odatas = [tx for tx in out if tx.pkt.NAME == "ODATA"]
    assert [tx.pkt.data_sqn for tx in odatas] == list(range(900))
    for k, tx in enumerate(odatas, start=1):
        within(tx.time, k / 20, k / 20, f"ODATA {k - 1}")
    spms = [(i, tx) for i, tx in enumerate(out) if tx.pkt.NAME == "SPM" and tx.time > 0]
    assert len(spms) == 1, f"expected one ambient SPM in (0, 45] s, got {[t.time for _, t in spms]}"
    i, amb = spms[0]
    within(amb.time, 30.0, 30.0, "ambient SPM")
    last_odata = max(tx.pkt.data_sqn for tx in out[:i] if tx.pkt.NAME == "ODATA")
    check_spm(amb, 3, 0, last_odata)
    # every SPM/ODATA carries the current trail: it never moves backwards
    trails = [tx.pkt.spm_trail if tx.pkt.NAME == "SPM" else tx.pkt.data_trail for tx in out]
    assert trails == sorted(trails)


def test_heartbeat_spm() -> None:
    """heartbeat_spm.pl (RFC 3208 §5.1.5): "after one ODATA, 4 SPMs each < 5 s apart".

    The engine follows OpenPGM's heartbeat schedule after each data packet: 0.1, 0.1, 0.1, 0.1,
    1.3, 7, 16, 25, 30 s (not the RFC's doubling).  The SPM trail moves to lead + 1 once the
    ODATA has left the transmit window (``window_secs`` plus one advance step).
    """
    cfg = SourceConfig(window_secs=10.0, spm_ambient_ivl=30.0)
    bench = TxBench(cfg)
    bench.send(1.0, b"ringo")
    bench.net.run(until=100.0)
    (od,) = bench.out("ODATA")
    within(od.time, 1.0, 1.0, "ODATA")
    check_data(od, wire.ODATA, 0, 0, b"ringo")
    hb = [tx for tx in bench.out("SPM") if tx.time > 0]
    expected = list(accumulate(OPENPGM_HEARTBEATS, initial=1.0))[1:]
    assert len(hb) == len(expected), f"heartbeats at {[tx.time for tx in hb]}"
    for tx, t in zip(hb, expected, strict=True):
        within(tx.time, t, t, "heartbeat SPM")
    # the OpenPGM check: four consecutive SPMs, each less than 5 s after the previous packet
    prev = od.time
    for tx in hb[:4]:
        assert tx.time - prev < 5.0
        prev = tx.time
    step = cfg.window_secs * cfg.window_advance_pct / 100
    for n, tx in enumerate(hb, start=3):
        if tx.time < 1.0 + cfg.window_secs:
            check_spm(tx, n, 0, 0)
        elif tx.time > 1.0 + cfg.window_secs + step:
            check_spm(tx, n, 1, 0)  # empty window: TRAIL = LEAD + 1
        else:
            raise AssertionError(f"heartbeat schedule put an SPM at {tx.time} (ambiguous trail)")


def test_odata() -> None:
    """odata.pl (RFC 3208 §3.6.2.1 / §5): "a send produces ODATA".

    One message is one ODATA, sent at once to the group: SQN 0 (OpenPGM numbers from 0), trail 0,
    our ports and GSI, no options, valid checksum.
    """
    bench = TxBench()
    bench.send(1.0, b"ringo")
    bench.net.run(until=1.05)
    assert bench.first_sqns == [0]
    (tx,) = bench.out("ODATA")
    within(tx.time, 1.0, 1.0, "ODATA")
    check_data(tx, wire.ODATA, 0, 0, b"ringo")
    heard = bench.sim.heard_types("ODATA")
    assert [(t, p.data_sqn, p.data, src, dst) for t, p, src, dst in heard] == [
        (1.0, 0, b"ringo", SRC_ADDR, GROUP)
    ]
    assert bench.source.stats.odata_packets_sent == 1
    assert bench.source.stats.data_bytes_sent == 5


def test_odata_number() -> None:
    """odata_number.pl (RFC 3208 §5.1.1): "1000 sends → SQNs 0…999".

    ODATA sequence numbers increase by one per TPDU, starting at 0, in send order.
    """
    bench = TxBench()
    payloads = [b"ringo%d" % i for i in range(1000)]
    bench.send(1.0, *payloads)
    bench.net.run(until=3.0)
    assert bench.first_sqns == list(range(1000))
    out = bench.out("ODATA")
    assert [tx.pkt.data_sqn for tx in out] == list(range(1000))
    for i, tx in enumerate(out):
        check_data(tx, wire.ODATA, i, 0, payloads[i])
    times = [tx.time for tx in out]
    assert times == sorted(times) and times[0] == 1.0
    assert [p.data_sqn for _, p, _, _ in bench.sim.heard_types("ODATA")] == list(range(1000))


def test_odata_rate() -> None:
    """odata_rate.pl (RFC 3208 §5.1.1, TXW_MAX_RTE): "TXW_MAX_RTE 1500 B/s → observed < 1650 B/s
    (IP bytes)".

    50 messages of 500 bytes are queued at once.  Everything the rate limiter governs (ODATA and
    heartbeat SPMs; the connect burst is not limited, as in OpenPGM) is counted with its IP
    header.  The bucket holds ``max(MTU, rate × burst_secs)`` = 1500 bytes and may go one packet
    into debt, so any window of ``d`` seconds carries at most ``rate·d + bucket + one TPDU``;
    over the whole run the rate stays below OpenPGM's 1650 B/s and the limiter is
    work-conserving (at least ``rate·d`` while backlogged).
    """
    rate = 1500  # bytes per second
    cfg = SourceConfig(rate_bps=rate * 8, window_secs=120.0, mtu=1500)
    bucket = max(cfg.mtu, rate * cfg.burst_secs)
    bench = TxBench(cfg)
    payload = b"ringo" * 100
    bench.send(1.0, *([payload] * 50))
    bench.net.run(until=60.0)
    limited = [tx for tx in bench.out() if tx.time >= 1.0]
    odatas = [tx for tx in limited if tx.pkt.NAME == "ODATA"]
    assert [tx.pkt.data_sqn for tx in odatas] == list(range(50))
    costs = [len(tx.raw) + IP4_HEADER for tx in limited]
    biggest = max(costs)
    assert biggest == 24 + 500 + IP4_HEADER
    times = [tx.time for tx in limited]
    # token-bucket bound over every window [t_i, t_j] of sends
    for i in range(len(limited)):
        total = 0
        for j in range(i, len(limited)):
            total += costs[j]
            d = times[j] - times[i]
            assert total <= rate * d + bucket + biggest + 1e-6, (
                f"{total} bytes in [{times[i]:.4f}, {times[j]:.4f}] exceeds "
                f"rate·d + bucket + one TPDU = {rate * d + bucket + biggest:.1f}"
            )
    t_last = odatas[-1].time
    sent_bytes = sum(c for tx, c in zip(limited, costs, strict=True) if tx.time <= t_last)
    elapsed = t_last - 1.0
    assert sent_bytes / elapsed < 1650, f"observed {sent_bytes / elapsed:.1f} B/s"
    odata_bytes = sum(len(tx.raw) + IP4_HEADER for tx in odatas)
    assert odata_bytes / elapsed < rate
    assert sent_bytes >= rate * elapsed, "the limiter must not idle while data is queued"


def test_nak() -> None:
    """nak.pl (RFC 3208 §5.3): "NAK → RDATA".

    A NAK for an SQN in the transmit window is answered with RDATA at once (the rate limiter has
    room): same SQN, the stored payload, the current trail, multicast to the group.  Like ODATA,
    the RDATA restarts the heartbeat schedule (OpenPGM; docs/protocol.md §8).
    """
    bench = TxBench()
    msgs = [b"ringo" * 200, b"ichigo" * 200, b"momo" * 200]
    bench.send(1.0, *msgs)
    bench.inject(2.0, nak(1))
    bench.net.run(until=4.0)
    assert [tx.pkt.data_sqn for tx in bench.out("ODATA")] == [0, 1, 2]
    (rd,) = bench.out("RDATA")
    within(rd.time, 2.0, 2.0, "RDATA")
    check_data(rd, wire.RDATA, 1, 0, msgs[1])
    # OpenPGM: the RDATA restarts the heartbeat walk (the 2.7 s heartbeat moves to 2.1 s ...)
    hb = [tx for tx in bench.out("SPM") if tx.time > 1.5]
    expected = list(accumulate(OPENPGM_HEARTBEATS[:5], initial=2.0))[1:]
    assert len(hb) == len(expected), f"SPMs after the RDATA at {[tx.time for tx in hb]}"
    for n, (tx, t) in enumerate(zip(hb, expected, strict=True), start=7):
        within(tx.time, t, t, "heartbeat after RDATA")
        check_spm(tx, n, 0, 2)
    st = bench.source.stats
    assert (st.naks_received, st.repair_packets_sent, st.naks_rejected) == (1, 1, 0)
    assert [(t, p.data_sqn) for t, p, _, _ in bench.sim.heard_types("RDATA")] == [(2.0, 1)]


def test_ncf() -> None:
    """ncf.pl (RFC 3208 §5.2/§5.3): "NAK → NCF".

    The NCF is multicast at the instant the NAK arrives, before the RDATA, echoing the SQN with
    the source's path NLA and group.  OpenPGM's acceptance rules: a NAK naming another group or
    another source NLA, or another GSI, gets nothing.
    """
    bench = TxBench()
    bench.send(1.0, b"ringo", b"ichigo", b"momo")
    bench.inject(2.0, nak(1))
    bench.inject(3.0, nak(1, group_nla=OTHER_GROUP))
    bench.inject(3.1, nak(1, source_nla=RCV_ADDR))
    bench.inject(3.2, nak(1, gsi=OTHER_GSI))
    bench.net.run(until=4.0)
    (nc,) = bench.out("NCF")
    within(nc.time, 2.0, 2.0, "NCF")
    check_ncf(nc, [1])
    types = [tx.pkt.NAME for tx in bench.out() if tx.time == 2.0]
    assert types == ["NCF", "RDATA"], f"NCF must precede the RDATA: {types}"
    st = bench.source.stats
    assert (st.ncf_packets_sent, st.repair_packets_sent) == (1, 1)
    assert (st.naks_rejected, st.naks_ignored) == (2, 1)


def test_nak_list() -> None:
    """nak_list.pl (RFC 3208 §9.3, OPT_NAK_LIST): "NAK 0 + list [1,2] → 3 RDATA"."""
    bench = TxBench()
    msgs = [b"ringo", b"ichigo", b"momo"]
    bench.send(1.0, *msgs)
    bench.inject(2.0, nak(0, 1, 2))
    bench.net.run(until=3.0)
    rds = bench.out("RDATA")
    assert len(rds) == 3
    for sqn, tx in enumerate(rds):
        within(tx.time, 2.0, 2.0, f"RDATA {sqn}")
        check_data(tx, wire.RDATA, sqn, 0, msgs[sqn])
    (nc,) = bench.out("NCF")
    check_ncf(nc, [0, 1, 2])
    assert bench.source.stats.naks_received == 3


def test_ncf_list() -> None:
    """ncf_list.pl (RFC 3208 §9.3): "NAK 1 + [2,3] → NCF SQN 1 with list [2,3]".

    The NCF echoes the NAK list in OPT_NAK_LIST with header flags PRESENT|NETWORK (OpenPGM).
    """
    bench = TxBench()
    msgs = [b"ringo", b"ichigo", b"momo", b"budo"]
    bench.send(1.0, *msgs)
    bench.inject(2.0, nak(1, 2, 3))
    bench.net.run(until=3.0)
    (nc,) = bench.out("NCF")
    within(nc.time, 2.0, 2.0, "NCF")
    check_ncf(nc, [1, 2, 3])
    assert nc.pkt.network is True
    assert [tx.pkt.data_sqn for tx in bench.out("RDATA")] == [1, 2, 3]
    (heard,) = bench.sim.heard_types("NCF")
    assert heard[1].option(wire.OptNakList).sqns == [2, 3]


def test_nak_repeat() -> None:
    """nak_repeat.pl (RFC 3208 §5.3): "1000 repeated NAKs → 1000 RDATA".

    NAKs for SQN 2, 10 ms apart: each arrives after the previous repair left, so none merge and
    every one gets its own NCF and RDATA at the instant it arrives.
    """
    bench = TxBench()
    msgs = [b"ringo" * 200, b"ichigo" * 200, b"momo" * 200]
    bench.send(1.0, *msgs)
    when = [2.0 + i / 100 for i in range(1000)]
    for t in when:
        bench.inject(t, nak(2))
    bench.net.run(until=13.0)
    rds = bench.out("RDATA")
    ncfs = bench.out("NCF")
    assert len(rds) == 1000 and len(ncfs) == 1000
    for t, rd, nc in zip(when, rds, ncfs, strict=True):
        within(rd.time, t, t, "RDATA")
        within(nc.time, t, t, "NCF")
        check_data(rd, wire.RDATA, 2, 0, msgs[2])
        check_ncf(nc, [2])
    st = bench.source.stats
    assert (st.naks_received, st.repair_packets_sent) == (1000, 1000)
    assert (st.naks_after_rdata, st.naks_merged) == (999, 0)


def test_apdu() -> None:
    """apdu (RFC 3208 §6.1, OPT_FRAGMENT §9): "5000-byte fragmented APDU reassembled".

    The source cuts 5000 bytes into TSDUs of ``mtu − 20 − 24 − 20`` = 1436 bytes (OpenPGM's
    arithmetic), each ODATA carrying OPT_LENGTH + OPT_FRAGMENT (first SQN 0, offset, length
    5000) with only the PRESENT flag; a receiver delivers one 5000-byte message, SQN 0.
    """
    net = Network(seed=0)
    source = Source(
        SourceConfig(window_secs=60.0),
        group=GROUP,
        nla=SRC_ADDR,
        dport=DPORT,
        sport=SPORT,
        gsi=GSI,
        rng=random.Random(1),
    )
    receiver = Receiver(ReceiverConfig(), group=GROUP, dport=DPORT, rng=random.Random(2))
    snode = net.add_node(source, SRC_ADDR, name="app")
    rnode = net.add_node(receiver, RCV_ADDR, groups=[GROUP], name="rcv")
    apdu = bytes(random.Random(5000).randbytes(5000))

    def go() -> None:
        assert source.send(apdu, net.now) == 0
        snode.poke()

    net.call_at(1.0, go)
    net.run(until=5.0)
    frag = 1500 - IP4_HEADER - 24 - 20
    assert source.config.max_tsdu_fragment == frag == 1436
    out = sent(net, snode, "ODATA")
    assert [tx.pkt.data_sqn for tx in out] == [0, 1, 2, 3]
    # paced by the token bucket (full at 1 s, may go one packet into debt): packet k leaves
    # when the bucket is no longer in debt, at 1 s + max(0, bytes before it - bucket) / rate
    rate = source.config.rate_bps / 8
    bucket = max(source.config.mtu, rate * source.config.burst_secs)
    costs = [len(tx.raw) + IP4_HEADER for tx in out]
    for k, tx in enumerate(out):
        t = 1.0 + max(0.0, sum(costs[:k]) - bucket) / rate
        within(tx.time, t, t, f"fragment {k}")
    for i, tx in enumerate(out):
        p = tx.pkt
        assert tx.dst == GROUP and tx.ttl is None
        assert tx.raw[5] == wire.FLAG_PRESENT
        assert p.options == [wire.OptFragment(0, i * frag, 5000)]
        assert p.data == apdu[i * frag : (i + 1) * frag]
        assert len(tx.raw) + IP4_HEADER <= 1500
    assert [len(tx.pkt.data) for tx in out] == [1436, 1436, 1436, 692]
    data = [ev for ev in rnode.events if isinstance(ev, DataReceived)]
    assert data == [DataReceived(SESSION, apdu, 0)]
    assert sent(net, rnode) == [], "nothing lost: the receiver must not NAK or SPMR"


# ================================================================================================
# Receiver scripts
# ================================================================================================


def test_odata_reception() -> None:
    """odata_reception (RFC 3208 §6.1): "first packet ODATA (no SPM) delivered, then next".

    The first data packet starts the window at its own SQN (OpenPGM) and is delivered at once;
    the next one follows.  No NAK is ever sent.
    """
    bench = RxBench()
    bench.inject(1.0, odata(90001, 90001, b"ringo"))
    bench.inject(2.0, odata(90002, 90001, b"ichigo"))
    bench.run(10.0)
    assert bench.events[0] == (1.0, SessionStarted(SESSION, SRC_ADDR))
    assert bench.delivered() == [(1.0, 90001, b"ringo"), (2.0, 90002, b"ichigo")]
    assert bench.upstream("NAK") == []
    assert bench.receiver.sessions[SESSION].stats.odata_packets_received == 2


def test_rdata_reception() -> None:
    """rdata_reception (RFC 3208 §6.1): "first packet RDATA delivered, then ODATA"."""
    bench = RxBench()
    bench.inject(1.0, rdata(90001, 90001, b"ringo"))
    bench.inject(2.0, odata(90002, 90001, b"ichigo"))
    bench.run(10.0)
    assert bench.delivered() == [(1.0, 90001, b"ringo"), (2.0, 90002, b"ichigo")]
    assert bench.upstream("NAK") == []
    st = bench.receiver.sessions[SESSION].stats
    assert (st.rdata_packets_received, st.odata_packets_received) == (1, 1)


def test_spm_reception() -> None:
    """spm_reception.pl (RFC 3208 §6.1): "SPM (trail 90001, lead 90000) then ODATA 90001 →
    delivered, no NAK".

    An SPM as first packet starts the window at its lead + 1; no NAK within 2 s of it, the
    ODATA is delivered at once, and with the SPM known no SPMR is sent either.
    """
    bench = RxBench()
    bench.inject(1.0, spm(1, 90001, 90000))
    bench.run(3.0)
    assert bench.upstream() == []
    bench.inject(3.0, odata(90001, 90000, b"ichigo"))
    bench.run(10.0)
    assert bench.delivered() == [(3.0, 90001, b"ichigo")]
    assert bench.upstream() == [], "nothing upstream: no NAK, no SPMR"


def test_spm_jump() -> None:
    """spm_jump.pl (RFC 3208 §6.2): "SPM with lower SPM_SQN but higher lead ignored: no NAK".

    SPM 3200 (trail 90001, lead 90000), then SPM 20 advertising lead 90005: out of sequence,
    discarded, so no NAK in the 10 s after either.
    """
    bench = RxBench()
    bench.inject(1.0, spm(3200, 90001, 90000))
    bench.run(11.0)
    assert bench.upstream("NAK") == []
    bench.inject(11.0, spm(20, 90001, 90005))
    bench.run(21.0)
    assert bench.upstream() == []
    s = bench.receiver.sessions[SESSION]
    assert (s.stats.spms_received, s.stats.spms_out_of_sequence) == (1, 1)
    assert s.naks == {}


def test_spm_jump2() -> None:
    """spm_jump2.pl (RFC 3208 §6.3): "in-sequence SPM lead past receiver's lead → NAK".

    SPM 3200 (trail 90001, lead 90000), then SPM 3201 with lead 90001: 90001 was never seen, so
    it is NAKed after one back-off.  The SPM path NLA names an upstream PGM hop (10.0.0.254):
    the NAK goes there (not to the IP source of the SPMs) and echoes it as source NLA.
    """
    cfg = ReceiverConfig()
    bench = RxBench(cfg)
    router = Peer()
    router_node = bench.net.add_node(router, ROUTER_ADDR, name="router")
    bench.inject(1.0, spm(3200, 90001, 90000, path=ROUTER_ADDR))
    bench.run(11.0)
    assert bench.upstream("NAK") == []
    bench.inject(11.0, spm(3201, 90001, 90001, path=ROUTER_ADDR))
    bench.run(11.0 + cfg.nak_bo_ivl + cfg.nak_rpt_ivl / 2)
    (n,) = bench.upstream("NAK")
    within(n.time, 11.0 + cfg.nak_bo_min, 11.0 + cfg.nak_bo_ivl, "NAK")
    check_nak(n, [90001], path=ROUTER_ADDR)
    assert [(t, p.nak_sqn) for t, p, _, _ in router.heard] == [(n.time, 90001)]
    assert bench.sim.heard_types("NAK") == []
    assert router_node.received == 1


def _check_jump(kind: type[wire.DataPacket]) -> None:
    """Shared body of odata_jump / rdata_jump: a gap → NAK for the hole, then NAK retries."""
    cfg = ReceiverConfig()
    bench = RxBench(cfg)
    jump_scenario(bench, kind)
    bench.run(T_GAP)
    assert bench.upstream() == [], "no NAK (nor SPMR) before the gap"
    horizon = T_GAP + 2.0
    bench.run(horizon)
    assert bench.delivered() == [(T_FIRST, 90001, b"ringo")]
    naks = bench.upstream("NAK")
    assert bench.upstream() == naks, "only NAKs go upstream"
    assert naks, "the hole at 90002 must be NAKed"
    within(naks[0].time, T_GAP + cfg.nak_bo_min, T_GAP + cfg.nak_bo_ivl, "first NAK")
    for a, b in pairwise(naks):
        # no NCF comes: WAIT_NCF expires after nak_rpt_ivl, then a fresh back-off
        within(
            b.time,
            a.time + cfg.nak_rpt_ivl + cfg.nak_bo_min,
            a.time + cfg.nak_rpt_ivl + cfg.nak_bo_ivl,
            "repeated NAK",
        )
    assert len(naks) >= int(2.0 / (cfg.nak_rpt_ivl + cfg.nak_bo_ivl))
    for n in naks:
        check_nak(n, [90002])
    assert [t for t, _, _, _ in bench.sim.heard_types("NAK")] == [n.time for n in naks]


def test_odata_jump() -> None:
    """odata_jump.pl (RFC 3208 §6.3): "ODATA gap → NAK for the hole".

    SPM 3200 (trail 90001, lead 90000), ODATA 90001, ODATA 90003: a selective NAK for 90002,
    unicast to the SPM path NLA, ``nak_bo_min..nak_bo_ivl`` after the gap was seen; unanswered,
    it is repeated every ``nak_rpt_ivl`` plus a fresh back-off.
    """
    _check_jump(wire.ODATA)


def test_rdata_jump() -> None:
    """rdata_jump (RFC 3208 §6.3): "RDATA beyond lead → NAK for the hole"."""
    _check_jump(wire.RDATA)


def _check_completion(kind: type[wire.DataPacket]) -> None:
    cfg = ReceiverConfig()
    bench = RxBench(cfg)
    jump_scenario(bench)
    t_fix = T_GAP + cfg.nak_bo_ivl + 0.01  # after the first NAK, before any repeat
    assert t_fix < T_GAP + cfg.nak_bo_min + cfg.nak_rpt_ivl
    bench.run(t_fix - 0.001)
    (n,) = bench.upstream("NAK")
    within(n.time, T_GAP + cfg.nak_bo_min, T_GAP + cfg.nak_bo_ivl, "NAK")
    check_nak(n, [90002])
    bench.inject(t_fix, data_packet(kind, 90002, 90001, b"momo"))
    bench.run(t_fix + 10.0)
    assert bench.delivered() == [
        (T_FIRST, 90001, b"ringo"),
        (t_fix, 90002, b"momo"),
        (t_fix, 90003, b"ichigo"),
    ]
    assert bench.upstream("NAK") == [n], "the repair ends recovery: no further NAK"
    s = bench.receiver.sessions[SESSION]
    assert s.naks == {} and s.stats.lost_sqns == 0
    assert not any(isinstance(ev, UnrecoverableLoss) for _, ev in bench.events)


def test_odata_completion() -> None:
    """odata_completion.pl (RFC 3208 §6.3): "ODATA for the NAKed SQN completes; both delivered in
    order" (90002 then the held 90003, at the instant the repair arrives)."""
    _check_completion(wire.ODATA)


def test_rdata_completion() -> None:
    """rdata_completion.pl (RFC 3208 §6.3): "same via RDATA"."""
    _check_completion(wire.RDATA)


def _suppression_bench(cfg: ReceiverConfig, ncfs: Sequence[wire.NCF]) -> tuple[RxBench, float]:
    """OpenPGM's two-run script: a normal gap (90002) repaired, then ODATA 90005 at 7 s with
    ``ncfs`` heard at the same instant.  Returns the bench and the normal back-off."""
    bench = RxBench(cfg)
    jump_scenario(bench)
    t_fix = T_GAP + cfg.nak_bo_ivl + 0.01
    bench.inject(t_fix, odata(90002, 90001, b"momo"))
    bench.inject(7.0, odata(90005, 90001, b"anzu"))
    for p in ncfs:
        bench.inject(7.0, p)
    bench.run(7.0)
    (first,) = bench.upstream("NAK")
    check_nak(first, [90002])
    return bench, first.time - T_GAP


def test_ncf_suppression() -> None:
    """ncf_suppression.pl (RFC 3208 §6.3): "NCF heard during back-off makes the NAK come later
    than the normal back-off".

    The NCF for 90004 arrives while its NAK is backing off: BACK-OFF → WAIT_DATA.  Only when
    ``nak_rdata_ivl`` passes without RDATA does a fresh back-off start, so the NAK leaves
    ``nak_rdata_ivl + [nak_bo_min, nak_bo_ivl]`` after the NCF, later than any normal back-off.
    """
    cfg = ReceiverConfig(nak_bo_ivl=0.05, nak_bo_min=0.002, nak_rpt_ivl=0.3, nak_rdata_ivl=0.2)
    bench, normal = _suppression_bench(cfg, [ncf(90004)])
    within(normal, cfg.nak_bo_min, cfg.nak_bo_ivl, "normal back-off")
    bench.run(7.0 + cfg.nak_rdata_ivl + cfg.nak_bo_ivl + 0.001)
    naks = bench.upstream("NAK")[1:]
    assert len(naks) == 1, f"expected one NAK for 90004, got {[n.time for n in naks]}"
    (n,) = naks
    check_nak(n, [90004])
    within(
        n.time,
        7.0 + cfg.nak_rdata_ivl + cfg.nak_bo_min,
        7.0 + cfg.nak_rdata_ivl + cfg.nak_bo_ivl,
        "suppressed NAK",
    )
    assert n.time - 7.0 > normal
    assert n.time - 7.0 > cfg.nak_bo_ivl, "later than any normal back-off"


def test_outofwindow_ncf() -> None:
    """outofwindow_ncf.pl (RFC 3208 §6.3): "NCF for an already repaired SQN leaves another SQN's
    back-off unchanged (±100 ms)".

    After 90002 was repaired, ODATA 90005 opens a NAK for 90004; NCFs heard at that instant for
    90002 (already delivered) and 90000 (behind the window) are discarded.  The NAK for 90004
    leaves exactly when it does in an identical run without those NCFs (same seed), within the
    normal back-off, and OpenPGM's ±100 ms check against the first back-off holds.
    """
    cfg = ReceiverConfig()
    bench, normal = _suppression_bench(cfg, [ncf(90002), ncf(90000)])
    control, control_normal = _suppression_bench(cfg, [])
    horizon = 7.0 + cfg.nak_bo_ivl + 0.001
    bench.run(horizon)
    control.run(horizon)
    naks = bench.upstream("NAK")[1:]
    ctl = control.upstream("NAK")[1:]
    assert len(naks) == 1 and len(ctl) == 1
    check_nak(naks[0], [90004])
    within(naks[0].time, 7.0 + cfg.nak_bo_min, 7.0 + cfg.nak_bo_ivl, "NAK for 90004")
    assert naks[0].time == ctl[0].time, "the out-of-window NCFs changed the back-off"
    assert normal == control_normal
    assert abs((naks[0].time - 7.0) - normal) < 0.100
    s = bench.receiver.sessions[SESSION]
    assert s.stats.ncfs_received == 2
    assert sorted(s.naks) == [90004]


def _cancellation(answer_naks: bool) -> tuple[RxBench, ReceiverConfig, list[Tx]]:
    cfg = ReceiverConfig(
        nak_bo_ivl=0.05,
        nak_bo_min=0.002,
        nak_rpt_ivl=0.3,
        nak_rdata_ivl=0.7,
        nak_ncf_retries=2,
        nak_data_retries=2,
    )

    def answer(pkt: wire.Packet, src: NLA, dst: NLA | None, now: float) -> list[Datagram]:
        if answer_naks and type(pkt) is wire.NAK:
            lst = pkt.option(wire.OptNakList)
            return [(ncf(pkt.nak_sqn, *(lst.sqns if lst else [])).encode(), GROUP, None)]
        return []

    bench = RxBench(cfg, responder=answer)
    jump_scenario(bench)
    bench.inject(8.0, odata(90004, 90001, b"momo"))
    bench.run(20.0)
    return bench, cfg, bench.upstream("NAK")


def _check_cancelled(bench: RxBench, naks: list[Tx], t_lost: float) -> None:
    losses = [(t, ev) for t, ev in bench.events if isinstance(ev, UnrecoverableLoss)]
    assert len(losses) == 1
    within(losses[0][0], t_lost, t_lost, "UnrecoverableLoss")
    assert losses[0][1] == UnrecoverableLoss(SESSION, 90002, 90002, "retries")
    assert bench.app_events() == [
        DataReceived(SESSION, b"ringo", 90001),
        UnrecoverableLoss(SESSION, 90002, 90002, "retries"),
        DataReceived(SESSION, b"ichigo", 90003),
        DataReceived(SESSION, b"momo", 90004),
    ]
    d = bench.delivered()
    within(d[1][0], t_lost, t_lost, "delivery of the held 90003")
    within(d[2][0], 8.0, 8.0, "later data")
    assert bench.upstream() == naks, "nothing else upstream"
    s = bench.receiver.sessions[SESSION]
    assert s.naks == {} and s.stats.lost_sqns == 1


def test_ncf_cancellation() -> None:
    """ncf_cancellation.pl (RFC 3208 §6.3): "NAKs never confirmed → given up after
    NAK_NCF_RETRIES; later data delivered".

    With ``nak_ncf_retries`` = 2 the SQN is NAKed 3 times (the retry count exceeds the limit on
    the third expiry), each NAK ``nak_rpt_ivl`` + back-off after the previous; it is reported
    lost when the last WAIT_NCF expires, then the held 90003 and later 90004 are delivered.
    """
    bench, cfg, naks = _cancellation(answer_naks=False)
    assert len(naks) == cfg.nak_ncf_retries + 1, f"NAKs at {[n.time for n in naks]}"
    within(naks[0].time, T_GAP + cfg.nak_bo_min, T_GAP + cfg.nak_bo_ivl, "first NAK")
    for a, b in pairwise(naks):
        lo = a.time + cfg.nak_rpt_ivl + cfg.nak_bo_min
        within(b.time, lo, a.time + cfg.nak_rpt_ivl + cfg.nak_bo_ivl, "repeated NAK")
    for n in naks:
        check_nak(n, [90002])
    _check_cancelled(bench, naks, naks[-1].time + cfg.nak_rpt_ivl)
    assert bench.receiver.sessions[SESSION].stats.ncfs_received == 0


def test_nak_cancellation() -> None:
    """nak_cancellation.pl (RFC 3208 §6.3): "NAKs confirmed but never repaired → given up after
    NAK_DATA_RETRIES; later data delivered".

    sim.c answers every NAK with an NCF at once and never repairs.  With ``nak_data_retries`` = 2
    the SQN is NAKed 3 times, each ``nak_rdata_ivl`` + back-off after the previous (WAIT_DATA,
    not WAIT_NCF timing), and reported lost when the last WAIT_DATA expires.
    """
    bench, cfg, naks = _cancellation(answer_naks=True)
    assert len(naks) == cfg.nak_data_retries + 1, f"NAKs at {[n.time for n in naks]}"
    within(naks[0].time, T_GAP + cfg.nak_bo_min, T_GAP + cfg.nak_bo_ivl, "first NAK")
    for a, b in pairwise(naks):
        lo = a.time + cfg.nak_rdata_ivl + cfg.nak_bo_min
        within(b.time, lo, a.time + cfg.nak_rdata_ivl + cfg.nak_bo_ivl, "repeated NAK")
    for n in naks:
        check_nak(n, [90002])
    assert [t for t, _, _, _ in bench.sim.heard_types("NAK")] == [n.time for n in naks]
    _check_cancelled(bench, naks, naks[-1].time + cfg.nak_rdata_ivl)
    assert bench.receiver.sessions[SESSION].stats.ncfs_received == len(naks)


# ================================================================================================
# SPM requests
# ================================================================================================


def test_spmr() -> None:
    """spmr.pl (RFC 3208 §13.3.1): "when idle (> 5 s), unicast SPMR draws an SPM within 5 s".

    After one ODATA at 1 s the heartbeats fall at 1.1 … 1.4, 2.7, 9.7 and 25.7 s.  An SPMR at
    15 s (idle for > 5 s) is answered at that instant by an SPM to the group; the heartbeat
    schedule is unchanged.  An SPMR for another GSI draws nothing.
    """
    bench = TxBench(SourceConfig(window_secs=60.0, spm_ambient_ivl=30.0))
    bench.send(1.0, b"nashi")
    bench.inject(15.0, spmr())
    bench.inject(20.0, spmr(gsi=OTHER_GSI))
    bench.net.run(until=25.0)
    spms = [tx for tx in bench.out("SPM") if tx.time > 9.8]
    assert len(spms) == 1, f"SPMs after 9.8 s: {[tx.time for tx in spms]}"
    within(spms[0].time, 15.0, 15.0, "SPMR-induced SPM")
    check_spm(spms[0], 3 + 6, 0, 0)  # 3 connect SPMs, 6 heartbeats (1.1 ... 9.7 s) before it
    assert bench.source.stats.spmrs_received == 1
    bench.net.run(until=26.0)
    within(bench.out("SPM")[-1].time, 25.7, 25.7, "next heartbeat")


def test_spmr_after_spm() -> None:
    """spmr_after_spm.pl (RFC 3208 §13.3.1): "same after SPMs already seen".

    sim.c has heard the connect SPMs; an SPMR 10 s later draws an SPM at once (lead 2**32-1:
    no data yet).  Following OpenPGM (not the RFC's once-per-IHB_MIN limit) a second SPMR 1 ms
    later draws a second SPM.
    """
    bench = TxBench(SourceConfig(window_secs=60.0, spm_ambient_ivl=30.0))
    bench.inject(10.0, spmr())
    bench.inject(10.001, spmr())
    bench.net.run(until=20.0)
    assert len(bench.sim.heard_types("SPM")) == 5
    out = bench.out()
    assert [tx.time for tx in out[:3]] == [0.0, 0.0, 0.0]
    assert len(out) == 5
    within(out[3].time, 10.0, 10.0, "SPM for the first SPMR")
    within(out[4].time, 10.001, 10.001, "SPM for the second SPMR")
    check_spm(out[3], 3, 0, EMPTY_LEAD)
    check_spm(out[4], 4, 0, EMPTY_LEAD)


def check_spmrs(txs: list[Tx], source_ip: NLA = SRC_ADDR) -> None:
    """One SPMR multicast to the group with TTL 1, one unicast to the data's IP source."""
    assert len(txs) == 2, f"expected an SPMR pair, got {txs}"
    assert txs[0].time == txs[1].time
    assert {(tx.dst, tx.ttl) for tx in txs} == {(GROUP, 1), (source_ip, None)}
    for tx in txs:
        p = tx.pkt
        assert type(p) is wire.SPMR
        assert (p.source_port, p.destination_port, p.gsi, p.options) == (DPORT, SPORT, GSI, [])


def test_spmr_from_odata() -> None:
    """spmr_from_odata (RFC 3208 §13.3.1, App. C): "ODATA from an unknown source without SPM →
    receiver sends SPMR".

    ODATA 90001 and 90003 arrive without an SPM: 90001 is delivered, and after a random wait in
    [0, spmr_bo_ivl) an SPMR goes multicast (TTL 1) and unicast to the data's IP source.  No NAK
    is sent while no SPM is known (nowhere to send it); once the SPM arrives, no more SPMRs.
    """
    cfg = ReceiverConfig()
    bench = RxBench(cfg)
    bench.inject(1.0, odata(90001, 90001, b"ringo"))
    bench.inject(1.0, odata(90003, 90001, b"ichigo"))
    bench.run(1.5)
    assert bench.delivered() == [(1.0, 90001, b"ringo")]
    up = bench.upstream()
    check_spmrs(up)
    within(up[0].time, 1.0, 1.0 + cfg.spmr_bo_ivl, "SPMR")
    assert up[0].time < 1.0 + cfg.spmr_bo_ivl
    heard = sorted((p.NAME, str(src), str(dst)) for _, p, src, dst in bench.sim.heard)
    assert heard == [("SPMR", str(RCV_ADDR), str(SRC_ADDR)), ("SPMR", str(RCV_ADDR), str(GROUP))]
    bench.inject(1.5, spm(1, 90001, 90003))
    bench.run(10.0)
    assert bench.upstream("SPMR") == up, "the SPM ends SPM requests"
    naks = bench.upstream("NAK")
    assert all(n.time >= 1.5 for n in naks), "no NAK before an SPM is known"


def test_spmr_suppression() -> None:
    """spmr_suppression (RFC 3208 §13.3.1, App. C): "another receiver's multicast SPMR
    suppresses ours".

    Part 1: right after ODATA from an unknown source, another receiver's multicast SPMR is
    heard: ours, due within ``spmr_bo_ivl`` (the control run without it sends one), is not sent,
    and the SPM arriving later ends the matter.  Part 2: two real receivers, sim.c answering
    unicast SPMRs with an SPM: exactly one SPMR pair is sent in all.
    """
    cfg = ReceiverConfig()
    control = RxBench(cfg)
    control.inject(1.0, odata(90001, 90001, b"ringo"))
    control.run(1.0 + cfg.spmr_bo_ivl)
    check_spmrs(control.upstream())

    bench = RxBench(cfg)
    bench.inject(1.0, odata(90001, 90001, b"ringo"))
    other = Peer()
    other_node = bench.net.add_node(other, OTHER_RCV_ADDR, groups=[GROUP], name="other")

    def foreign_spmr() -> None:
        other.out.append((spmr().encode(), GROUP, 1))
        other_node.poke()

    bench.net.call_at(1.0, foreign_spmr)
    bench.run(1.0 + cfg.spmr_bo_ivl)
    assert bench.upstream() == [], "the foreign SPMR must suppress ours"
    bench.inject(1.5, spm(1, 90001, 90001))
    bench.run(10.0)
    assert bench.upstream() == []
    assert bench.delivered() == [(1.0, 90001, b"ringo")]

    # Part 2: two receivers, the first to time out speaks for both.
    def answer(pkt: wire.Packet, src: NLA, dst: NLA | None, now: float) -> list[Datagram]:
        if type(pkt) is wire.SPMR and dst == SRC_ADDR:
            return [(spm(1, 90001, 90001).encode(), GROUP, None)]
        return []

    two = RxBench(cfg, seed=11, responder=answer)
    r2 = Receiver(cfg, group=GROUP, dport=DPORT, rng=random.Random(12))
    n2 = two.net.add_node(r2, OTHER_RCV_ADDR, groups=[GROUP], name="app2")
    two.inject(1.0, odata(90001, 90001, b"ringo"))
    two.run(10.0)
    pairs = [sent(two.net, two.node, "SPMR"), sent(two.net, n2, "SPMR")]
    assert sorted(len(p) for p in pairs) == [0, 2], f"SPMRs: {pairs}"
    check_spmrs(pairs[0] or pairs[1])
    assert [ev.sqn for ev in n2.events if isinstance(ev, DataReceived)] == [90001]
    assert len(two.sim.heard_types("SPMR")) == 2  # the multicast copy and the unicast one
