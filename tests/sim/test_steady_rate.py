"""A source below its window's capacity sends at its configured rate throughout (issue 17).

The transmit window holds ``rate × window_secs`` bytes and its trailing edge advances with time
in steps of ``window_advance_pct`` (RM_SEND_WINDOW_ADV_RATE).  Between two steps it holds up to
``window_secs`` plus one step of data: the byte cap used to fill some ten seconds into a
transfer and ODATA paused until the next step (about 1 s at 10 Mbit/s).  A full window now
takes its next step early.  These runs are on virtual time: a 20 MB transfer takes ~0.5 s.
"""

from __future__ import annotations

import pytest

from pgm import wire
from pgm.engine import SourceConfig, WouldBlock
from tests.helpers.world import World, make_world


def _feed(w: World, data: bytes, chunk: int) -> None:
    """Hand ``data`` to the source as fast as its send buffer takes it, as an application
    blocked in send() would, then close."""
    state = {"off": 0}

    def go() -> None:
        off = state["off"]
        try:
            while off < len(data):
                w.source.send(data[off : off + chunk], w.net.now)
                off += chunk
        except WouldBlock:
            state["off"] = off
            w.src_node.poke()
            w.net.call_at(w.net.now + 0.002, go)
            return
        state["off"] = off
        w.source.close(w.net.now)
        w.src_node.poke()

    w.net.call_at(0.01, go)


def _odata_per_second(w: World) -> tuple[list[int], float, float]:
    """IP bytes of ODATA sent in each whole second, the first and last ODATA's times."""
    src = w.src_node
    times = [
        (e.time, len(e.data))
        for e in w.net.trace
        if e.src is src and e.data[4] & 0x0F == wire.TYPE_ODATA
    ]
    first, last = times[0][0], times[-1][0]
    per = [0] * (int(last - first) + 1)
    for t, n in times:
        per[int(t - first)] += n
    return per, first, last


@pytest.mark.parametrize(
    ("window_secs", "pct", "mbytes"), [(10.0, 15.0, 20), (2.0, 50.0, 5), (2.0, 1.0, 5)]
)
def test_rate_steady_over_a_transfer_longer_than_the_window(
    window_secs: float, pct: float, mbytes: int
) -> None:
    rate = 10_000_000
    cfg = SourceConfig(
        rate_bps=rate, window_secs=window_secs, window_advance_pct=pct, linger_secs=0.5
    )
    w = make_world(1, source_config=cfg, trace=True)
    size = mbytes * 1024 * 1024
    data = bytes(range(256)) * (size // 256)
    chunk = w.source.max_tsdu
    _feed(w, data, chunk)
    w.run_until_ended(limit=60.0)
    got = b"".join(e.data for e in w.delivered(0))
    assert got == data
    per, first, last = _odata_per_second(w)
    overhead = 20  # IPv4 header, counted by the token bucket
    npackets = -(-size // chunk)
    wire_bytes = sum(per) + npackets * overhead
    # The whole transfer at the configured rate (a few % for the SPMs sharing the bucket).
    elapsed = last - first
    assert wire_bytes * 8 / elapsed == pytest.approx(rate, rel=0.03)
    # Every whole second (the last one is partial) within a few % of the rate: no pause.
    for sec, n in enumerate(per[:-1]):
        ip_bps = (n + n // (chunk + wire.DATA_HEADER_SIZE) * overhead) * 8
        assert ip_bps == pytest.approx(rate, rel=0.04), (sec, ip_bps, per)
