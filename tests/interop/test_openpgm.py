"""pgm against OpenPGM 5.3 driven directly (openpgm_peer.c on libpgm), both directions, raw IP and
UDP encapsulation, IPv4 and IPv6, over a veth pair between two namespaces.

Each test moves random messages, compares every delivered byte with what was sent, and asserts on
a capture taken on the receiving host (before its nftables loss rule) which packets crossed.
The cells each test proves are recorded for docs/interop.md (matrix.py).
"""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest

from pgm import wire
from tests.interop import checks
from tests.interop.conftest import next_port
from tests.interop.harness import (
    Outcome,
    Peer,
    PeerError,
    Transfer,
    Wire,
    fragments,
    make_messages,
    max_apdu,
    max_fragment,
    max_tsdu,
    mtu_for_16_fragments,
    read_messages,
    run_transfer,
    send_nak,
)
from tests.interop.matrix import PEER, Cells
from tests.testbed.netbed import NetBed

pytestmark = [pytest.mark.interop, pytest.mark.netns]

TRANSPORTS = [
    pytest.param("raw", False, id="raw4"),
    pytest.param("udp", False, id="udp4"),
    pytest.param("raw", True, id="raw6"),
    pytest.param("udp", True, id="udp6"),
]
DIRECTIONS = [pytest.param("o2p", id="openpgm-to-pgm"), pytest.param("p2o", id="pgm-to-openpgm")]
SIZE = 2_000_000  # bytes per transfer


def _transfer(
    bed: NetBed,
    exe: Path,
    tmp: Path,
    direction: str,
    transport: str,
    v6: bool,
    msgs: list[bytes],
    *,
    src_opts: tuple[str, ...] = (),
    rcv_opts: tuple[str, ...] = (),
    late: bool = False,
    **kw: object,
) -> Outcome:
    src_impl, rcv_impl = ("openpgm", "pgm") if direction == "o2p" else ("pgm", "openpgm")
    t = Transfer(
        bed,
        tmp,
        exe,
        source=Peer(src_impl, bed.a, options=list(src_opts)),
        receivers=[Peer(rcv_impl, bed.b, late=late, options=list(rcv_opts))],
        messages=msgs,
        transport=transport,
        v6=v6,
        port=next_port(),
        **kw,  # type: ignore[arg-type]
    )
    bed.reset()
    return run_transfer(t)


def _who(direction: str) -> tuple[str, str]:
    return ("OpenPGM", "pgm") if direction == "o2p" else ("pgm", "OpenPGM")


@pytest.mark.parametrize(("transport", "v6"), TRANSPORTS)
@pytest.mark.parametrize("direction", DIRECTIONS)
def test_small_messages_and_session_end(
    bed: NetBed,
    openpgm_peer: Path,
    tmp_path: Path,
    cells: Cells,
    direction: str,
    transport: str,
    v6: bool,
) -> None:
    small = cells.cell("libpgm", "small", direction, transport, v6)
    fin = cells.cell("libpgm", "fin", direction, transport, v6)
    udp = transport == "udp"
    msgs = make_messages(1, SIZE, lo=1, hi=max_tsdu(1500, v6, udp))
    # The OpenPGM receiver keeps running 1 s after the last message, to see whether libpgm
    # reports the end of the session once our OPT_FIN SPMs arrive.
    out = _transfer(
        bed,
        openpgm_peer,
        tmp_path,
        direction,
        transport,
        v6,
        msgs,
        rcv_opts=("-k", "1.0") if direction == "p2o" else (),
        stop_receivers=direction == "o2p",
    )
    checks.delivered(out, msgs)
    w = out.wire
    checks.clean_wire(w)
    src = out.source.ip(v6)
    odata = w.of("ODATA", src=src)
    assert len(odata) == len(msgs), f"{len(odata)} ODATA for {len(msgs)} messages"
    assert not any(p.has(wire.OptFragment) for p in odata)
    spms = w.of("SPM", src=src)
    assert spms and all(str(p.pkt.path_nla) == src for p in spms)  # type: ignore[attr-defined]
    sender, _ = _who(direction)
    small.evidence = [
        f"messages of 1 B up to one TSDU, one {sender} ODATA each (no "
        "OPT_FRAGMENT); the source's SPMs carried its own address as path NLA"
    ]
    fins = checks.fin_spms(w, src)
    assert fins, f"no SPM with OPT_FIN from {sender}"
    if direction == "o2p":
        res = out.receivers[0].proc.last_json()  # type: ignore[union-attr]
        assert res["ended"] == "fin"
        assert res["end_time"] - fins[0].ts < 2.0, "the session ended long after the FIN"
        fin.evidence = [
            "OpenPGM's pgm_close() sent SPMs with OPT_FIN; the pgm receiver ended "
            "the session on the first one (SessionEnded 'fin'), nothing lost"
        ]
    else:
        lines = out.receivers[0].proc.out  # type: ignore[union-attr]
        assert "FIN" not in lines and "EOF" not in lines, lines[-5:]
        fin.outcome = PEER
        fin.note = (
            "OpenPGM ignores OPT_FIN: its receiver got every message and our SPMs with "
            "OPT_FIN, but `pgm_recv()` reported no end of session (no "
            "`PGM_IO_STATUS_FIN`/`EOF` in the following second); libpgm only expires "
            "a silent peer after PEER_EXPIRY"
        )
        fin.evidence = [
            "pgm's close() sent SPMs with OPT_FIN (3 at once, then heartbeats while "
            "lingering) after the last ODATA"
        ]


@pytest.mark.parametrize(("transport", "v6"), TRANSPORTS)
@pytest.mark.parametrize("direction", DIRECTIONS)
def test_fragmented_apdus_16_fragments(
    bed: NetBed,
    openpgm_peer: Path,
    tmp_path: Path,
    cells: Cells,
    direction: str,
    transport: str,
    v6: bool,
) -> None:
    cell = cells.cell("libpgm", "frag16", direction, transport, v6)
    udp = transport == "udp"
    biggest = max_apdu(1500, v6, udp)
    assert fragments(biggest, 1500, v6, udp) == 16
    msgs = make_messages(
        2,
        SIZE,
        lo=max_tsdu(1500, v6, udp) + 1,
        hi=biggest,
        must=[biggest] * 4 + [max_tsdu(1500, v6, udp) + 1, 200],
    )
    out = _transfer(bed, openpgm_peer, tmp_path, direction, transport, v6, msgs)
    checks.delivered(out, msgs)
    checks.clean_wire(out.wire)
    _assert_fragments(out, msgs, 1500, v6, udp)
    sender, _ = _who(direction)
    cell.evidence = [
        f"{sender} sent every message larger than one TSDU as ODATA with "
        "OPT_LENGTH + OPT_FRAGMENT; the largest OpenPGM allows at MTU 1500 "
        "(16 × the fragment TSDU) took exactly 16 fragments"
    ]


@pytest.mark.parametrize(("transport", "v6"), TRANSPORTS)
@pytest.mark.parametrize("direction", DIRECTIONS)
def test_65535_byte_apdus(
    bed: NetBed,
    openpgm_peer: Path,
    tmp_path: Path,
    cells: Cells,
    direction: str,
    transport: str,
    v6: bool,
) -> None:
    cell = cells.cell("libpgm", "apdu65535", direction, transport, v6)
    udp = transport == "udp"
    mtu = mtu_for_16_fragments(v6, udp)  # the bed's links carry 9000-byte frames
    assert max_apdu(mtu, v6, udp) == 65535 and fragments(65535, mtu, v6, udp) == 16
    msgs = make_messages(3, SIZE, lo=1, hi=65535, must=[65535] * 6)
    out = _transfer(bed, openpgm_peer, tmp_path, direction, transport, v6, msgs, mtu=mtu)
    checks.delivered(out, msgs)
    checks.clean_wire(out.wire)
    _assert_fragments(out, msgs, mtu, v6, udp)
    sender, _ = _who(direction)
    cell.evidence = [
        f"PGM MTU = a {max_fragment(mtu, v6, udp)}-byte fragment TSDU + headers, "
        f"on a 9000-byte link: {sender} sent each 65535-byte APDU as exactly 16 "
        "ODATA with OPT_FRAGMENT, reassembled at the other end"
    ]


def _assert_fragments(out: Outcome, msgs: list[bytes], mtu: int, v6: bool, udp: bool) -> None:
    src = out.source.ip(v6)
    groups = checks.fragment_groups(out.wire, src)
    want = [m for m in msgs if len(m) > max_tsdu(mtu, v6, udp)]
    assert len(groups) == len(want), (
        f"{len(groups)} fragmented APDUs on the wire, {len(want)} sent; {out.capture_stats}"
    )
    for first, frags in groups.items():
        opts = [p.pkt.option(wire.OptFragment) for p in frags]
        total = opts[0].apdu_length
        assert [p.sqn for p in frags] == list(range(first, first + len(frags)))
        assert [o.offset for o in opts] == sorted(o.offset for o in opts)
        assert sum(len(p.pkt.data) for p in frags) == total  # type: ignore[attr-defined,misc]
        assert len(frags) == fragments(total, mtu, v6, udp) <= 16
    assert max(len(f) for f in groups.values()) == 16


@pytest.mark.parametrize("loss", [5, 10])
@pytest.mark.parametrize(("transport", "v6"), TRANSPORTS)
@pytest.mark.parametrize("direction", DIRECTIONS)
def test_random_loss_repaired(
    bed: NetBed,
    openpgm_peer: Path,
    tmp_path: Path,
    cells: Cells,
    direction: str,
    transport: str,
    v6: bool,
    loss: int,
) -> None:
    cell = cells.cell("libpgm", f"loss{loss}", direction, transport, v6)
    udp = transport == "udp"
    biggest = max_apdu(1500, v6, udp)
    msgs = make_messages(4 + loss, SIZE, lo=1, hi=biggest // 2, must=[biggest] * 3)
    # Toward libpgm, with its accommodation (test_duplicate_repair_*): at random loss on a loaded
    # machine a fragment is sometimes repaired twice, and libpgm 5.3 then resets the transport.
    src_opts = ("--options-on-all-data",) if direction == "p2o" else ()
    out = _transfer(
        bed, openpgm_peer, tmp_path, direction, transport, v6, msgs, loss=loss, src_opts=src_opts
    )
    checks.delivered(out, msgs)
    checks.clean_wire(out.wire)
    assert out.drops[0] > 0, "the loss rule dropped nothing"
    cell.evidence = [
        checks.repairs_crossed(out.wire, out.receivers[0], out.source, v6),
        "fragments of 16-fragment APDUs were among the repairs' targets",
    ]
    naks, _, _ = out.wire.repairs(out.receivers[0].ip(v6), out.source.ip(v6))
    frag_sqns = {
        p.sqn for g in checks.fragment_groups(out.wire, out.source.ip(v6)).values() for p in g
    }
    assert naks & frag_sqns, "no fragment was lost and repaired"


@pytest.mark.parametrize(("transport", "v6"), TRANSPORTS)
@pytest.mark.parametrize("direction", DIRECTIONS)
def test_receiver_joins_running_session(
    bed: NetBed,
    openpgm_peer: Path,
    tmp_path: Path,
    cells: Cells,
    direction: str,
    transport: str,
    v6: bool,
) -> None:
    cell = cells.cell("libpgm", "latejoin", direction, transport, v6)
    udp = transport == "udp"
    msgs = make_messages(5, SIZE // 2, lo=1, hi=max_apdu(1500, v6, udp) // 4)
    half = len(msgs) // 2
    # OpenPGM source: -H sends half, waits; ours: --late.  The OpenPGM receiver asks for an SPM
    # 25 ms after its first data (SPMR_EXPIRY), before our next heartbeat.
    out = _transfer(
        bed,
        openpgm_peer,
        tmp_path,
        direction,
        transport,
        v6,
        msgs,
        src_opts=("-H",) if direction == "o2p" else ("--late",),
        rcv_opts=("-y", "25") if direction == "p2o" else (),
        late=True,
    )
    checks.delivered(out, msgs[half:])
    w = out.wire
    checks.clean_wire(w)
    src, rcv = out.source.ip(v6), out.receivers[0].ip(v6)
    first_late = sum(fragments(len(m), 1500, v6, udp) for m in msgs[:half])  # SQNs start at 0
    assert not [p for p in w.of("NAK", src=rcv) if min(p.sqns()) < first_late], (
        "the late receiver asked for data sent before it joined"
    )
    sender, receiver = _who(direction)
    cell.evidence = [
        f"the {receiver} receiver started after {sender} had sent half of the "
        "messages (and its first heartbeats), got exactly the second half from "
        "the first packet it heard, and NAKed nothing from before"
    ]
    if direction == "p2o":
        spmr = w.of("SPMR", src=rcv)
        assert spmr, "OpenPGM sent no SPMR"
        assert [p for p in w.of("SPM", src=src) if p.ts > spmr[0].ts], "SPMR not answered"
        cell.evidence.append("OpenPGM's SPMR (data before any SPM) was answered by a pgm SPM")


@pytest.mark.parametrize(("transport", "v6"), TRANSPORTS)
@pytest.mark.parametrize("direction", DIRECTIONS)
def test_duplicate_repair_of_a_fragment_then_unfragmented_data(
    bed: NetBed,
    openpgm_peer: Path,
    tmp_path: Path,
    cells: Cells,
    direction: str,
    transport: str,
    v6: bool,
) -> None:
    """What a receiver meets whenever another receiver lost something: a repair (RDATA) of a
    fragment it already has, here of SQN 1 after the source's first half (10 messages of three
    fragments, 15 small ones), NAKed by the test as a third receiver would; then 25 more
    messages that fit one packet each.

    OpenPGM 5.3's receiver drops the duplicate, but keeps its OPT_FRAGMENT pointer and applies
    it to every later packet without options: all of those (and their repairs) are dropped.
    pgm's ``SourceConfig.options_on_all_data`` gives every packet options (OPT_JOIN), which
    resets the pointer: the same run then delivers everything.
    """
    cell = cells.cell("libpgm", "dupfrag", direction, transport, v6)
    udp = transport == "udp"
    rnd = random.Random(11)
    big = 2 * max_fragment(1500, v6, udp) + 100
    msgs = [rnd.randbytes(big) for _ in range(10)] + [
        rnd.randbytes(rnd.randint(1, 500)) for _ in range(40)
    ]
    half = len(msgs) // 2

    def duplicate_repair(t: Transfer) -> None:
        send_nak(t, 1)
        time.sleep(0.3)  # NCF + RDATA of SQN 1 reach the receiver before the second half

    if direction == "o2p":
        out = _transfer(
            bed,
            openpgm_peer,
            tmp_path,
            direction,
            transport,
            v6,
            msgs,
            src_opts=("-H",),
            on_half=duplicate_repair,
        )
        checks.delivered(out, msgs)
        assert out.receivers[0].proc.last_json()["session"]["duplicate_data_packets"] >= 1  # type: ignore[union-attr]
        _assert_duplicate_repair(out.wire, out.source.ip(v6))
        cell.evidence = [
            "the test's NAK for SQN 1 drew an OpenPGM NCF and RDATA of that "
            "fragment; the pgm receiver dropped the duplicate and delivered "
            "everything"
        ]
        return

    # pgm -> OpenPGM, first as RFC 3208 allows: unfragmented data without options
    plain = tmp_path / "plain"
    plain.mkdir()
    t = Transfer(
        bed,
        plain,
        openpgm_peer,
        source=Peer("pgm", bed.a, options=["--late"]),
        receivers=[Peer("openpgm", bed.b)],
        messages=msgs,
        transport=transport,
        v6=v6,
        port=next_port(),
        timeout=3.0,
        on_half=duplicate_repair,
    )
    bed.reset()
    with pytest.raises(PeerError):
        run_transfer(t)
    got = read_messages(plain / "received-0.bin")
    assert got[:half] == msgs[:half] and len(got) < len(msgs), (
        f"OpenPGM delivered {len(got)} of {len(msgs)}: has its receiver been fixed?"
    )
    assert t.capture is not None
    w = t.capture.read()
    _assert_duplicate_repair(w, t.source.ip(v6))
    naks, _, rdata = w.repairs(t.receivers[0].ip(v6), t.source.ip(v6))
    lost_first = sum(fragments(len(m), 1500, v6, udp) for m in msgs[: len(got)])
    assert lost_first in naks and lost_first in rdata, "the lost data was NAKed and repaired"
    # ... then with the accommodation
    out = _transfer(
        bed,
        openpgm_peer,
        tmp_path,
        direction,
        transport,
        v6,
        msgs,
        src_opts=("--late", "--options-on-all-data"),
        on_half=duplicate_repair,
    )
    checks.delivered(out, msgs)
    _assert_duplicate_repair(out.wire, out.source.ip(v6))
    data = out.wire.of("ODATA", src=out.source.ip(v6)) + out.wire.of("RDATA", src=out.source.ip(v6))
    assert all(p.pkt.options for p in data), "a data packet without options"
    cell.note = (
        "needs `SourceConfig.options_on_all_data` (OpenPGM accommodation): OpenPGM 5.3's "
        "receiver, after dropping a packet with options (here a repair of a fragment it already "
        "had), applies that packet's stale OPT_FRAGMENT to every later packet without options "
        "and drops them, repairs included (observed: nothing after the duplicate was "
        "delivered although every NAKed packet was repaired).  With the option every packet "
        "carries options (OPT_JOIN) and all arrive"
    )
    cell.evidence = [
        "the test's NAK for SQN 1 drew a pgm NCF and RDATA of that fragment; "
        "with options_on_all_data every pgm ODATA/RDATA carried options and the "
        "OpenPGM receiver delivered everything"
    ]


def _assert_duplicate_repair(w: Wire, src: str) -> None:
    assert [p.sqn for p in w.of("NCF", src=src)][:1] == [1], "no NCF for the test's NAK"
    assert 1 in [p.sqn for p in w.of("RDATA", src=src)], "no RDATA of SQN 1"
    checks.clean_wire(w)
