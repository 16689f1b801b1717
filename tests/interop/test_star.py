"""Mixed receivers on one source: a source and three receivers on a bridge (the star of
tests/testbed/netbed.py),
5 % random loss in each receiver's input hook.

* OpenPGM source → one OpenPGM receiver beside two pgm receivers;
* pgm source → two OpenPGM receivers beside one pgm receiver.

Every receiver must get every byte; the capture on the source's veth must show each receiver's
NAKs reaching the source and each NAKed sequence number confirmed (NCF) and repaired (RDATA).

With several receivers, each one hears repairs others asked for, of fragments too, and OpenPGM
5.3's receiver then drops later packets without options (test_openpgm.py::
test_duplicate_repair_of_a_fragment_then_unfragmented_data).  So the OpenPGM source sends
messages of one packet each (fragmented ones would cost its own receiver data), and the pgm
source sends fragmented APDUs too, with ``SourceConfig.options_on_all_data``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.interop import checks
from tests.interop.conftest import next_port
from tests.interop.harness import (
    Peer,
    Transfer,
    make_messages,
    max_apdu,
    max_tsdu,
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
LAYOUTS = [
    pytest.param("o2p", "openpgm", ("openpgm", "pgm", "pgm"), id="openpgm-source"),
    pytest.param("p2o", "pgm", ("openpgm", "openpgm", "pgm"), id="pgm-source"),
]


@pytest.mark.parametrize(("transport", "v6"), TRANSPORTS)
@pytest.mark.parametrize(("direction", "source", "receivers"), LAYOUTS)
def test_mixed_receivers_on_one_source(
    netbed_star_module: NetBed,
    openpgm_peer: Path,
    tmp_path: Path,
    cells: Cells,
    direction: str,
    source: str,
    receivers: tuple[str, ...],
    transport: str,
    v6: bool,
) -> None:
    cell = cells.cell("libpgm", "star", direction, transport, v6)
    bed = netbed_star_module
    bed.reset()
    udp = transport == "udp"
    if source == "openpgm":
        msgs = make_messages(9, 1_500_000, lo=1, hi=max_tsdu(1500, v6, udp))
        opts: list[str] = []
    else:
        msgs = make_messages(9, 1_500_000, lo=1, hi=max_apdu(1500, v6, udp) // 3)
        opts = ["--options-on-all-data"]
    t = Transfer(
        bed,
        tmp_path,
        openpgm_peer,
        source=Peer(source, bed.source, options=opts),
        receivers=[Peer(impl, host) for impl, host in zip(receivers, bed.receivers, strict=True)],
        messages=msgs,
        transport=transport,
        v6=v6,
        port=next_port(),
        loss=5,
        pgm_rate_bps=60_000_000,
        openpgm_pace=6_000_000,  # five processes on two cores
    )
    out = run_transfer(t)
    checks.delivered(out, msgs)
    checks.clean_wire(out.wire)
    assert all(d > 0 for d in out.drops), out.drops
    kinds = set()
    for r in out.receivers:
        kinds.add(checks.repairs_crossed(out.wire, r, out.source, v6))
    names = " and ".join(
        f"{receivers.count(k)} {checks.NAMES[k]}" for k in dict.fromkeys(receivers)
    )
    what = (
        "messages of one packet each"
        if source == "openpgm"
        else "messages up to a third of the largest APDU, fragmented, with options_on_all_data"
    )
    cell.evidence = [
        f"{names} receivers behind independent 5 % loss each got every byte "
        f"({what}) from one {checks.NAMES[source]} source; at the source: "
        + "; ".join(sorted(kinds))
    ]
    if source == "openpgm":
        cell.note = (
            "messages of one packet each: with fragmented APDUs OpenPGM's own receiver "
            "loses data in a session with several receivers (see the row on repairs of "
            "fragments; pgm cannot change what an OpenPGM source sends)"
        )
