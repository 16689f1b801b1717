"""pgm against ZeroMQ's PGM transports, the way OpenPGM is deployed: a libzmq PUB or SUB
(python3-zmq on Debian's interpreter) on ``pgm://`` (raw IP) and ``epgm://`` (UDP, unicast port =
multicast port = the endpoint's), IPv4 and IPv6, over a veth pair, 5 % random loss.

ZeroMQ puts a 2-byte offset and ZMTP/1.0 frames in every APDU (tests/interop/zmtp.py): ``pgm``
frames its messages that way to feed a SUB (``pgm_peer.py --zmq``) and decodes them from a PUB.
"""

from __future__ import annotations

import signal
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
    make_messages,
    max_tsdu,
    run_transfer,
)
from tests.interop.matrix import PEER, Cells
from tests.interop.zmtp import ZmtpDecoder
from tests.testbed.netbed import NetBed

pytestmark = [pytest.mark.interop, pytest.mark.netns]

TRANSPORTS = [
    pytest.param("raw", False, id="pgm4"),
    pytest.param("udp", False, id="epgm4"),
    pytest.param("raw", True, id="pgm6"),
    pytest.param("udp", True, id="epgm6"),
]
DIRECTIONS = [pytest.param("o2p", id="zeromq-to-pgm"), pytest.param("p2o", id="pgm-to-zeromq")]
SIZES = [*range(1, 200, 7), 254, 255, 256, 1000, 1400, 3000, 8000, 20_000]


def _messages(seed: int) -> list[bytes]:
    # 1-byte to 20 kB messages; around ZMTP's one-byte/eight-byte length switch (254/255)
    return make_messages(seed, 1_500_000, sizes=SIZES)


def _zmq_transfer(
    bed: NetBed,
    exe: Path,
    tmp: Path,
    direction: str,
    transport: str,
    v6: bool,
    msgs: list[bytes],
    *,
    pgm_opts: tuple[str, ...] = ("--zmq",),
    loss: float = 5.0,
    timeout: float = 60.0,
) -> Transfer:
    if direction == "o2p":
        src, rcv = Peer("zmq", bed.a), Peer("pgm", bed.b, options=list(pgm_opts))
    else:
        src, rcv = Peer("pgm", bed.a, options=list(pgm_opts)), Peer("zmq", bed.b)
    bed.reset()
    return Transfer(
        bed,
        tmp,
        exe,
        source=src,
        receivers=[rcv],
        messages=msgs,
        transport=transport,
        v6=v6,
        port=next_port(),
        loss=loss,
        timeout=timeout,
    )


def _apdus_on_wire(out: Outcome, v6: bool) -> list[bytes]:
    """The source's ODATA payloads in sequence order, each SQN once."""
    by_sqn: dict[int, bytes] = {}
    for p in out.wire.of("ODATA", src=out.source.ip(v6)):
        by_sqn.setdefault(p.sqn, p.pkt.data)  # type: ignore[attr-defined]
    return [by_sqn[k] for k in sorted(by_sqn)]


@pytest.mark.parametrize(("transport", "v6"), TRANSPORTS)
@pytest.mark.parametrize("direction", DIRECTIONS)
def test_zeromq_messages(
    bed: NetBed,
    openpgm_peer: Path,
    tmp_path: Path,
    cells: Cells,
    direction: str,
    transport: str,
    v6: bool,
) -> None:
    cell = cells.cell("zeromq", "messages", direction, transport, v6)
    fin = cells.cell("zeromq", "fin", direction, transport, v6)
    msgs = _messages(7)
    t = _zmq_transfer(bed, openpgm_peer, tmp_path, direction, transport, v6, msgs)
    out = run_transfer(t)
    checks.delivered(out, msgs)
    w = out.wire
    checks.clean_wire(w)
    assert out.drops[0] > 0
    src = out.source.ip(v6)
    apdus = _apdus_on_wire(out, v6)
    # every APDU on the wire is one TPDU of ZeroMQ framing that decodes to exactly the messages
    assert not any(p.has(wire.OptFragment) for p in w.of("ODATA", src=src))
    decoder = ZmtpDecoder()
    decoded = [b"".join(f) for a in apdus for f in decoder.feed(a)]
    assert decoded == msgs, "the captured APDUs do not decode to the messages"
    spanning = sum(1 for a in apdus if a[:2] == b"\xff\xff")
    assert spanning > 0, "no message spanned APDUs"
    who = "ZeroMQ" if direction == "o2p" else "pgm"
    cell.evidence = [
        checks.repairs_crossed(w, out.receivers[0], out.source, v6),
        f"the {who} APDUs in the capture, each one TPDU (no OPT_FRAGMENT), decode as 2-byte "
        "offset + ZMTP/1.0 frames to exactly the messages sent; messages longer than one APDU "
        "continue in APDUs with offset 0xFFFF",
    ]
    fins = checks.fin_spms(w, src)
    assert fins, "no SPM with OPT_FIN"
    if direction == "o2p":
        assert out.receivers[0].proc.last_json()["ended"] == "fin"  # type: ignore[union-attr]
        fin.evidence = [
            "closing the PUB (zmq_close + zmq_ctx_term) sent SPMs with OPT_FIN; "
            "the pgm receiver ended the session on them"
        ]
        frag = cells.cell("zeromq", "fragments", direction, transport, v6)
        frag.outcome = PEER
        frag.note = (
            "a ZeroMQ PUB never has PGM fragment: libzmq cuts its stream of frames "
            "into APDUs of one TPDU each (the 2-byte offset marks where messages "
            "start), so 20 kB messages crossed without OPT_FRAGMENT"
        )
        frag.evidence = ["no ODATA from the PUB carried OPT_FRAGMENT"]
    else:
        fin.outcome = PEER
        fin.note = (
            "a ZeroMQ SUB has no end of session to report (libzmq surfaces no PGM "
            "sessions, and OpenPGM under it ignores OPT_FIN): it got every message "
            "and kept waiting"
        )
        fin.evidence = ["pgm's SPMs with OPT_FIN crossed after the last ODATA"]


@pytest.mark.parametrize(("transport", "v6"), TRANSPORTS)
def test_zeromq_sub_aborts_on_fragmented_apdus(
    bed: NetBed,
    openpgm_peer: Path,
    tmp_path: Path,
    cells: Cells,
    transport: str,
    v6: bool,
) -> None:
    """docs/protocol.md §12: libzmq asserts that an APDU is one TPDU.  ZeroMQ-framed APDUs of 4000
    bytes (PGM fragments them) kill the SUB process with SIGABRT: the peer does not support
    it, and pgm's ZeroMQ framing (zmtp.encode at the max TSDU) is what avoids it."""
    cell = cells.cell("zeromq", "fragments", "p2o", transport, v6)
    msgs = make_messages(8, 20_000, lo=1, hi=1000)
    assert max_tsdu(1500, v6, transport == "udp") < 4000
    t = _zmq_transfer(
        bed,
        openpgm_peer,
        tmp_path,
        "p2o",
        transport,
        v6,
        msgs,
        pgm_opts=("--zmq", "--zmq-apdu", "4000"),
        loss=0,
        timeout=15,
    )
    with pytest.raises(PeerError):
        run_transfer(t)
    sub = t.receivers[0].proc
    assert sub is not None
    assert sub.p.returncode == -signal.SIGABRT, sub.tail()
    assert any("msgv_len == 1" in e for e in sub.err), sub.tail()
    assert t.capture is not None
    w = t.capture.read()
    checks.clean_wire(w)
    assert checks.fragment_groups(w, t.source.ip(v6)), "no fragmented APDU was sent"
    cell.outcome = PEER
    cell.note = (
        "libzmq asserts one TPDU per APDU (`pgm_socket.cpp`: "
        "`pgm_msgv[...].msgv_len == 1`): the SUB process aborted (SIGABRT) on the "
        "first 4000-byte APDU, which PGM carried in 3 fragments; `pgm` feeds a SUB "
        "APDUs of at most one TSDU"
    )
    cell.evidence = [
        "ZeroMQ-framed 4000-byte APDUs went out as ODATA with OPT_FRAGMENT; the "
        "SUB died with SIGABRT and libzmq's assertion message"
    ]
