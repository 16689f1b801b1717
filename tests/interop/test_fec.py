"""Reed–Solomon FEC against OpenPGM 5.3 (openpgm_peer.c on libpgm), over a veth pair.

What libpgm 5.3 can do with FEC decides the two directions (docs/fec.md):

* **OpenPGM source with on-demand parity → pgm receiver, 5 % loss.**  libpgm's receivers never
  send parity NAKs and its pro-active parity sender crashes; its source answers parity NAKs,
  but with parity RDATA that fails its checksum (see the test): a ➖ cell, our side checked.
* **pgm source with pro-active parity → OpenPGM receiver, lossless.**  libpgm's receiver takes
  our OPT_PARITY_PRM and our parity RDATA (fixed-length groups, as it requires) and delivers
  every message.

The cells are recorded for docs/interop.md (matrix.py).
"""

from __future__ import annotations

import contextlib
import random
from pathlib import Path

import pytest

from tests.interop import checks
from tests.interop.conftest import next_port
from tests.interop.harness import (
    Outcome,
    Peer,
    PeerError,
    Transfer,
    make_messages,
    max_tsdu,
    read_messages,
    run_transfer,
)
from tests.interop.matrix import PEER, Cells
from tests.testbed.netbed import NetBed

pytestmark = [pytest.mark.interop, pytest.mark.netns]

TRANSPORTS = [pytest.param("raw", id="raw4"), pytest.param("udp", id="udp4")]
SIZE = 1_000_000


def _transfer(
    bed: NetBed, exe: Path, tmp: Path, src: Peer, rcv: Peer, msgs: list[bytes], transport: str,
    loss: float,
) -> Outcome:  # fmt: skip
    t = Transfer(
        bed, tmp, exe, source=src, receivers=[rcv], messages=msgs, transport=transport,
        port=next_port(), loss=loss,
    )  # fmt: skip
    bed.reset()
    return run_transfer(t)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_openpgm_ondemand_source_to_pgm_receiver_at_5_percent_loss(
    bed: NetBed, openpgm_peer: Path, tmp_path: Path, cells: Cells, transport: str
) -> None:
    """libpgm 5.3's on-demand parity is broken on the wire: its parity RDATA carries a wrong
    checksum (txw.c stores the parity's partial sum in the group's first data packet, and
    send_rdata sums with a stale one), so no checksum-verifying receiver can use it, and the
    source aborts (txw.c, pgm_txw_retransmit_push_parity) once parity NAKs keep coming.  The
    test checks our side: the pgm receiver sends parity NAKs, libpgm confirms them with parity
    NCFs, and every parity RDATA it sends fails its checksum and is dropped, never delivered."""
    cell = cells.cell("libpgm", "fec_ondemand", "o2p", transport, False)
    udp = transport == "udp"
    # One TPDU per message (libpgm's FEC-encoded OPT_FRAGMENT is not decodable either);
    # libpgm with variable lengths keeps 2 bytes of each TPDU for the appended length.
    msgs = make_messages(21, SIZE // 4, lo=1, hi=max_tsdu(1500, False, udp) - 2)
    src = Peer("openpgm", bed.a, options=["-F", "255:8:0:1"])
    rcv = Peer("pgm", bed.b)
    t = Transfer(
        bed, tmp_path, openpgm_peer, source=src, receivers=[rcv], messages=msgs,
        transport=transport, port=next_port(), loss=5, timeout=30,
    )  # fmt: skip
    bed.reset()
    # libpgm aborts or stalls (PeerError): the capture and the receiver's report still count
    with contextlib.suppress(PeerError):
        run_transfer(t)
    assert t.capture is not None
    w = t.capture.read()
    rcv_ip, src_ip = bed.b.ip4, bed.a.ip4
    assert [p for p in w.of("NAK", src=rcv_ip) if p.pkt.parity], "no parity NAK was sent"
    assert [p for p in w.of("NCF", src=src_ip) if p.pkt.parity], "libpgm confirmed none"
    assert not [p for p in w.of("RDATA", src=src_ip) if p.pkt.parity], (
        "a libpgm parity RDATA passed its checksum: re-check docs/fec.md"
    )
    assert any("RDATA checksum" in m for m in w.malformed), w.malformed[:5]
    got = read_messages(rcv.output) if rcv.output is not None and rcv.output.exists() else []
    assert all(m in msgs for m in got), "only messages that were sent were delivered"
    cell.outcome = PEER
    cell.note = (
        "libpgm 5.3 answers parity NAKs with parity RDATA whose checksum is wrong (the parity's"
        " partial sum goes into the state of the group's first data packet), and then aborts in"
        " pgm_txw_retransmit_push_parity; the pgm receiver's parity NAKs and libpgm's parity"
        " NCFs are right, the parity itself is unusable (docs/fec.md)"
    )
    cell.evidence = [
        "the pgm receiver sent parity NAKs (PARITY, TG | count - 1) and libpgm answered with"
        " parity NCFs; every parity RDATA libpgm sent failed its checksum on the capture and was"
        " dropped by the receiver, which delivered only messages that were sent",
    ]


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_pgm_proactive_source_to_openpgm_receiver_lossless(
    bed: NetBed, openpgm_peer: Path, tmp_path: Path, cells: Cells, transport: str
) -> None:
    cell = cells.cell("libpgm", "fec_proactive", "p2o", transport, False)
    rng = random.Random(22)
    # libpgm's FEC receiver drops data whose length differs from its group's first packet
    # unless flagged VAR_PKTLEN: fixed-length messages, whole groups of 8.
    msgs = [rng.randbytes(1000) for _ in range(8 * 125)]
    src = Peer("pgm", bed.a, options=["--fec", "255:8:2:0"])
    out = _transfer(bed, openpgm_peer, tmp_path, src, Peer("openpgm", bed.b), msgs, transport, 0)
    checks.delivered(out, msgs)
    w = out.wire
    src_ip = bed.a.ip4
    parity = [p for p in w.of("RDATA", src=src_ip) if p.pkt.parity]
    assert len(parity) == 2 * 125, f"{len(parity)} pro-active parity packets for 125 groups"
    spm = w.of("SPM", src=src_ip)[0].pkt
    assert any(o.NAME == "OPT_PARITY_PRM" for o in spm.options)
    cell.evidence = [
        "pgm's SPMs advertised OPT_PARITY_PRM (pro-active, OpenPGM's bit order), two parity"
        " RDATA followed every group of 8 and libpgm delivered every message",
    ]


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_pgm_ondemand_source_to_openpgm_receiver_at_5_percent_loss(
    bed: NetBed, openpgm_peer: Path, tmp_path: Path, cells: Cells, transport: str
) -> None:
    """libpgm 5.3's receiver reads the on-demand bit into a one-bit field and never sends parity
    NAKs: it asks selectively, and a pgm on-demand source answers those with RDATA, so the
    session still delivers everything at 5 % loss (no parity crosses)."""
    cell = cells.cell("libpgm", "fec_ondemand", "p2o", transport, False)
    rng = random.Random(23)
    msgs = [rng.randbytes(1000) for _ in range(8 * 100)]  # fixed lengths, whole groups
    src = Peer("pgm", bed.a, options=["--fec", "255:8:0:1"])
    out = _transfer(bed, openpgm_peer, tmp_path, src, Peer("openpgm", bed.b), msgs, transport, 5)
    checks.delivered(out, msgs)
    w = out.wire
    rcv_ip, src_ip = bed.b.ip4, bed.a.ip4
    assert out.drops[0] > 0, "the loss rule dropped nothing"
    naks = w.of("NAK", src=rcv_ip)
    assert naks and not [p for p in naks if p.pkt.parity], "libpgm sent a parity NAK"
    assert [p for p in w.of("RDATA", src=src_ip) if not p.pkt.parity]
    cell.note = (
        "libpgm 5.3 receivers never send parity NAKs (the on-demand bit lands in a one-bit"
        " field); they NAK selectively and the pgm source repairs with RDATA"
    )
    cell.evidence = [
        "SPMs advertised on-demand parity; libpgm sent only selective NAKs, the pgm source"
        " answered with RDATA, and every message arrived",
    ]
