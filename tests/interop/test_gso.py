"""OpenPGM 5.3 receives what pgm sends in UDP_SEGMENT batches (issue 17, pgm.net.gso).

The pgm source's flushes of full-size ODATA leave as generic-segmentation batches; on the wire
each is still one UDP datagram per ODATA (the capture counts them), and libpgm delivers every
byte.  IPv4 and IPv6 over the veth pair of the interop bed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.interop import checks
from tests.interop.conftest import next_port
from tests.interop.harness import Peer, Transfer, make_messages, max_tsdu, run_transfer
from tests.testbed.netbed import NetBed

pytestmark = [pytest.mark.interop, pytest.mark.netns]


@pytest.mark.parametrize("v6", [pytest.param(False, id="udp4"), pytest.param(True, id="udp6")])
def test_openpgm_receives_gso_batches(
    bed: NetBed, openpgm_peer: Path, tmp_path: Path, v6: bool
) -> None:
    size = max_tsdu(1500, v6, True)
    msgs = make_messages(7, 3_000_000, lo=size, hi=size)  # full packets: long GSO runs
    t = Transfer(
        bed,
        tmp_path,
        openpgm_peer,
        source=Peer("pgm", bed.a),
        receivers=[Peer("openpgm", bed.b)],
        messages=msgs,
        transport="udp",
        v6=v6,
        port=next_port(),
        pgm_rate_bps=60_000_000,
    )
    bed.reset()
    out = run_transfer(t)
    checks.delivered(out, msgs)
    src = out.source.ip(v6)
    odata = out.wire.of("ODATA", src=src)
    # One UDP datagram per ODATA, each of one TSDU (the capture may miss a few at this rate).
    assert len(odata) >= 0.9 * len(msgs), f"{len(odata)} ODATA captured for {len(msgs)} messages"
    assert all(len(p.pkt.data) == size for p in odata)  # type: ignore[attr-defined]
    stats = out.source.proc.last_json()["stats"]  # type: ignore[union-attr]
    assert stats["gso_sends"] > 0, "no UDP_SEGMENT batch was sent"
