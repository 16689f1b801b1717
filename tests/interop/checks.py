"""Assertions shared by the interop tests: exact delivery, clean ends, what crossed the wire."""

from __future__ import annotations

from collections import defaultdict

from pgm import wire
from tests.interop.capture import Wire, WirePacket
from tests.interop.harness import Outcome, Peer

NAMES = {"openpgm": "OpenPGM", "pgm": "pgm", "zmq": "ZeroMQ"}


def _diff(got: list[bytes], want: list[bytes]) -> str:
    i = next(
        (k for k, (a, b) in enumerate(zip(got, want, strict=False)) if a != b),
        min(len(got), len(want)),
    )
    return (
        f"{len(got)} messages ({sum(map(len, got))} bytes) received, {len(want)} "
        f"({sum(map(len, want))} bytes) sent; first difference at message {i}"
    )


def delivered(out: Outcome, want: list[bytes]) -> None:
    """Every receiver got exactly ``want``, and ended its run cleanly."""
    for r, got in zip(out.receivers, out.received, strict=True):
        where = f"{r.impl} on {r.host.name}"
        assert got == want, f"{where}: {_diff(got, want)}; {r.proc and r.proc.tail()}"
        receiver_ended_cleanly(r)
    src = out.source.proc
    assert src is not None and src.p.returncode == 0, f"source failed: {src and src.tail()}"


def receiver_ended_cleanly(r: Peer) -> None:
    p = r.proc
    assert p is not None
    assert p.p.returncode == 0, f"{r.impl} receiver exited {p.p.returncode}: {p.tail()}"
    if r.impl == "pgm":
        res = p.last_json()
        assert res["ended"] == "fin" and not res["lost"], res
    elif r.impl == "openpgm":
        f = p.result_fields()
        assert f["resets"] == "0" and f["last"] == "1", f


def clean_wire(w: Wire) -> None:
    """Every PGM packet captured parsed strictly with a valid checksum, on a capture that
    provably holds every packet that crossed (tests/interop/capture.py)."""
    assert not w.incomplete, (
        f"the packet capture is incomplete ({w.incomplete}): a test-bed problem, not the "
        "stack's; the wire checks would be partial"
    )
    assert w.packets, "the capture was complete but holds no PGM packet"
    assert not w.malformed, f"malformed packets on the wire: {w.malformed[:5]}"


def fragment_groups(w: Wire, src: str) -> dict[int, list[WirePacket]]:
    """ODATA fragments from ``src`` by the first SQN of their APDU."""
    groups: dict[int, list[WirePacket]] = defaultdict(list)
    for p in w.of("ODATA", src=src):
        frag = p.pkt.option(wire.OptFragment)
        if frag is not None:
            groups[frag.first_sqn].append(p)
    return groups


def repairs_crossed(w: Wire, receiver: Peer, source: Peer, v6: bool) -> str:
    """The receiver NAKed (unicast to the source) and the source confirmed every NAKed SQN with
    an NCF and repaired it with RDATA.  Returns the evidence sentence."""
    rcv, src = receiver.ip(v6), source.ip(v6)
    naks, ncf, rdata = w.repairs(rcv, src)
    stray = [p for p in w.of("NAK", src=rcv) if p.dst != src]
    assert naks, f"no NAK from {rcv} to {src}: {w.summary()}"
    assert not stray, f"NAKs not sent to the source's path NLA: {stray[:3]}"
    assert ncf == naks, f"NAKed SQNs without an NCF from the source: {sorted(naks - ncf)[:20]}"
    assert rdata == naks, f"NAKed SQNs never repaired: {sorted(naks - rdata)[:20]}"
    return (
        f"{NAMES[receiver.impl]} NAKs (unicast to the SPM's path NLA) were each answered by "
        f"an NCF and RDATA from the {NAMES[source.impl]} source"
    )


def fin_spms(w: Wire, src: str) -> list[WirePacket]:
    return [p for p in w.of("SPM", src=src) if p.has(wire.OptFin)]
