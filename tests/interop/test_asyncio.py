"""The asyncio API (:mod:`pgm.asyncio`) against OpenPGM 5.3 (openpgm_peer.c on libpgm), both
directions, raw IP and UDP encapsulation, IPv4 and IPv6, at 5 % random loss.

The pgm end is the pgm peer in its asyncio mode (``tests/helpers/pgm_peer.py --asyncio``,
tests/helpers/aio_peer.py): an ``AsyncSource`` awaiting ``send_many`` / ``drain`` / ``close``,
or an ``AsyncReceiver`` following the session with ``rx.messages(losses=True)``.  Each test
compares every delivered byte with what was sent and asserts on the capture that the losses
were repaired across the two implementations (NAK, NCF, RDATA) and that the session ended with
OPT_FIN.  The cells are the matrix row "the asyncio API" (docs/interop.md).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.interop import checks
from tests.interop.conftest import next_port
from tests.interop.harness import Peer, Transfer, make_messages, max_apdu, run_transfer
from tests.interop.matrix import Cells
from tests.testbed.netbed import NetBed

pytestmark = [pytest.mark.interop, pytest.mark.netns]

TRANSPORTS = [
    pytest.param("raw", False, id="raw4"),
    pytest.param("udp", False, id="udp4"),
    pytest.param("raw", True, id="raw6"),
    pytest.param("udp", True, id="udp6"),
]
DIRECTIONS = [
    pytest.param("o2p", id="openpgm-to-asyncio"),
    pytest.param("p2o", id="asyncio-to-openpgm"),
]
SIZE = 2_000_000
LOSS = 5


@pytest.mark.parametrize(("transport", "v6"), TRANSPORTS)
@pytest.mark.parametrize("direction", DIRECTIONS)
def test_asyncio_api_with_openpgm_at_5_percent_loss(
    bed: NetBed,
    openpgm_peer: Path,
    tmp_path: Path,
    cells: Cells,
    direction: str,
    transport: str,
    v6: bool,
) -> None:
    cell = cells.cell("libpgm", "asyncio", direction, transport, v6)
    udp = transport == "udp"
    biggest = max_apdu(1500, v6, udp)
    msgs = make_messages(40, SIZE, lo=1, hi=biggest // 2, must=[biggest] * 2)
    aio = ["--asyncio"]
    src, rcv = (
        (Peer("openpgm", bed.a), Peer("pgm", bed.b, options=aio))
        if direction == "o2p"
        else (Peer("pgm", bed.a, options=aio), Peer("openpgm", bed.b))
    )
    t = Transfer(
        bed,
        tmp_path,
        openpgm_peer,
        source=src,
        receivers=[rcv],
        messages=msgs,
        transport=transport,
        v6=v6,
        port=next_port(),
        loss=LOSS,
    )
    bed.reset()
    out = run_transfer(t)
    checks.delivered(out, msgs)
    checks.clean_wire(out.wire)
    assert out.drops[0] > 0, "the loss rule dropped nothing"
    pgm_end = rcv if direction == "o2p" else src
    assert pgm_end.proc is not None and pgm_end.proc.last_json().get("api") == "asyncio"
    assert checks.fin_spms(out.wire, out.source.ip(v6)), "the session did not end with OPT_FIN"
    who = "AsyncReceiver (rx.messages)" if direction == "o2p" else "AsyncSource (await send)"
    cell.evidence = [
        checks.repairs_crossed(out.wire, out.receivers[0], out.source, v6),
        f"the pgm end was the asyncio API's {who}; the session ended with OPT_FIN",
    ]
