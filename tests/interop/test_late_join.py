"""Late join against OpenPGM 5.3 (openpgm_peer.c on libpgm): OPT_JOIN and OPT_SYN (RFC 3208
§9.5, §9.6) both ways, raw IP and UDP, IPv4 and IPv6, over a veth pair.

* OpenPGM → pgm: OpenPGM sends neither option.  A pgm receiver started after half the messages
  starts at the first packet it hears, NAKs nothing older, and reports where it joined: the
  first sequence number it delivered, no OPT_SYN, and the range before it as missed (the
  source's trailing edge showed it existed).
* pgm → OpenPGM: our source with ``late_join`` puts OPT_JOIN on every SPM, ODATA and RDATA and
  OPT_SYN on its first data.  libpgm ignores both: a receiver there from the start gets every
  message, one started late gets exactly the messages from its first packet on (it never asks
  for the history our source offers), fragments included.

The cells each test proves are recorded for docs/interop.md (matrix.py, feature ``latejoin_opt``).
"""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import pytest

from pgm import wire
from tests.interop import checks
from tests.interop.capture import WirePacket
from tests.interop.conftest import next_port
from tests.interop.harness import (
    Outcome,
    Peer,
    Transfer,
    fragments,
    make_messages,
    max_apdu,
    run_transfer,
)
from tests.interop.matrix import Cells
from tests.testbed.netbed import NetBed

pytestmark = [pytest.mark.interop, pytest.mark.netns]

TRANSPORTS = [
    pytest.param("raw", False, id="raw4"),
    pytest.param("udp", False, id="udp4"),
    pytest.param("raw", True, id="raw6"),
    pytest.param("udp", True, id="udp6"),
]
SIZE = 1_000_000
LATE_JOIN = 50.0


def _transfer(
    bed: NetBed,
    exe: Path,
    tmp: Path,
    direction: str,
    transport: str,
    v6: bool,
    msgs: list[bytes],
    *,
    src_opts: tuple[str, ...],
    rcv_opts: tuple[str, ...] = (),
    late: bool,
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
    )
    bed.reset()
    return run_transfer(t)


def _messages(seed: int, v6: bool, udp: bool) -> list[bytes]:
    # up to a quarter of OpenPGM's largest APDU: some messages fragment (OPT_FRAGMENT and
    # OPT_JOIN on one packet)
    return make_messages(seed, SIZE, lo=1, hi=max_apdu(1500, v6, udp) // 4)


def _first_late(msgs: list[bytes], v6: bool, udp: bool) -> int:
    """Sequence number of OpenPGM's first packet of the second half (numbering from 0)."""
    return sum(fragments(len(m), 1500, v6, udp) for m in msgs[: len(msgs) // 2])


def _after_pause(odata: list[WirePacket]) -> int:
    """Sequence number of the first ODATA after the source's pause (the longest gap): where
    the second half, the late receiver's, begins."""
    gaps = [(b.ts - a.ts, b.sqn) for a, b in pairwise(odata)]
    return max(gaps)[1]


@pytest.mark.parametrize(("transport", "v6"), TRANSPORTS)
def test_late_pgm_receiver_of_openpgm_reports_where_it_joined(
    bed: NetBed, openpgm_peer: Path, tmp_path: Path, cells: Cells, transport: str, v6: bool
) -> None:
    cell = cells.cell("libpgm", "latejoin_opt", "o2p", transport, v6)
    udp = transport == "udp"
    msgs = _messages(11, v6, udp)
    half = len(msgs) // 2
    out = _transfer(
        bed, openpgm_peer, tmp_path, "o2p", transport, v6, msgs, src_opts=("-H",), late=True
    )
    checks.delivered(out, msgs[half:])
    w = out.wire
    checks.clean_wire(w)
    src, rcv = out.source.ip(v6), out.receivers[0].ip(v6)
    sent = [p for kind in ("SPM", "ODATA", "RDATA") for p in w.of(kind, src=src)]
    assert sent and not [p for p in sent if p.has(wire.OptJoin) or p.has(wire.OptSyn)]
    first = _first_late(msgs, v6, udp)
    assert not [p for p in w.of("NAK", src=rcv) if min(p.sqns()) < first]
    assert out.receivers[0].proc is not None
    session = out.receivers[0].proc.last_json()["session"]
    assert session["first_sqn"] == first, session
    assert session["join_min"] is None and not session["syn_seen"]
    assert session["missed"] == [session["trail"], first - 1] and session["trail"] < first
    cell.evidence = [
        "OpenPGM sent no OPT_JOIN / OPT_SYN; the pgm receiver started after half of the "
        "messages, began at the first packet it heard, NAKed nothing older and reported "
        "where it joined: that sequence number, no OPT_SYN, and the numbers from the "
        "source's trailing edge up to it as sent before it joined"
    ]


@pytest.mark.parametrize("late", [False, True], ids=["from-start", "late"])
@pytest.mark.parametrize(("transport", "v6"), TRANSPORTS)
def test_openpgm_receiver_ignores_our_opt_join_and_opt_syn(
    bed: NetBed,
    openpgm_peer: Path,
    tmp_path: Path,
    cells: Cells,
    transport: str,
    v6: bool,
    late: bool,
) -> None:
    cell = cells.cell("libpgm", "latejoin_opt", "p2o", transport, v6)
    udp = transport == "udp"
    msgs = _messages(12, v6, udp)
    half = len(msgs) // 2
    # The late OpenPGM receiver asks for an SPM 25 ms after its first data (SPMR_EXPIRY).
    out = _transfer(
        bed,
        openpgm_peer,
        tmp_path,
        "p2o",
        transport,
        v6,
        msgs,
        src_opts=(*(("--late",) if late else ()), "--late-join", str(LATE_JOIN)),
        rcv_opts=("-y", "25") if late else (),
        late=late,
    )
    checks.delivered(out, msgs[half:] if late else msgs)
    w = out.wire
    checks.clean_wire(w)
    src, rcv = out.source.ip(v6), out.receivers[0].ip(v6)
    sent = [p for kind in ("SPM", "ODATA", "RDATA") for p in w.of(kind, src=src)]
    assert sent and all(p.has(wire.OptJoin) for p in sent), "OPT_JOIN on every SPM and data"
    odata = w.of("ODATA", src=src)
    syn = [p.sqn for p in odata if p.has(wire.OptSyn)]
    assert syn == [0], f"OPT_SYN on the first data only, not {syn[:5]}"
    assert any(p.has(wire.OptFragment) for p in odata), "no fragment carried OPT_JOIN"
    if late:
        first = _after_pause(odata)
        assert not [p for p in w.of("NAK", src=rcv) if min(p.sqns()) < first], (
            "libpgm asked for the history it ignores"
        )
    cell.evidence = [
        "every SPM, ODATA and RDATA of the pgm source carried OPT_JOIN, its first ODATA "
        "OPT_SYN; libpgm ignored both: a receiver there from the start got every message, "
        "one started after half of them exactly the rest, fragments included"
    ]
