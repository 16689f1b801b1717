"""Receiver and attacker processes for tests/testbed/test_hostile_bed.py (issue 13).

Theory of operation
-------------------
``python -m tests.testbed.hostile_peer --receive GROUP PORT IFACE OUT SOURCE MAX_TOTAL`` is the
legitimate receiver with a small global memory budget (``ReceiverConfig.max_total_bytes`` =
MAX_TOTAL): it follows the first session from SOURCE to OUT while every other session is
tracked too (nothing pinned, so the attacker's sessions do take memory), samples the engine's
own accounting (``Receiver.held_bytes``) and prints one JSON line: how it ended, the most held
bytes seen, the sessions seen, and the budget's refusals (``memory_drops``) summed over them.

``python -m tests.testbed.hostile_peer GROUP PORT IFADDR ATTACK SECONDS`` is the attacker:

* ``budget`` waits until the real transfer is under way (200 data packets heard), then for
  SECONDS starts a new session every 20 ms, each with a gap at its second packet and then 30
  packets of 1200 bytes and 30 empty ones held behind it (never repaired: its NAKs go to the
  attacker);
* ``first_rst`` sends a forged 24-packet session at once (no FIN), waits until the real
  transfer is under way, then resets the forged session with SPMs carrying OPT_RST.

Both print ``forged N`` (packets sent).  Listening reuses :mod:`tests.helpers.hostile_net`.
"""

from __future__ import annotations

import json
import socket
import sys
import time

from pgm import wire
from pgm.wire import TSI
from tests.helpers.hostile import Forger
from tests.helpers.hostile_net import _listen, _socket, heard_under_way

FORGED_TSI = TSI(b"forged", 4242)


def receive(group: str, port: int, iface: str, out: str, source: str, max_total: int) -> int:
    """The legitimate receiver (see the module docstring)."""
    from pgm.engine import DataReceived, ReceiverConfig, SessionEnded, SessionStarted
    from pgm.io import PgmReceiver

    cfg = ReceiverConfig(max_total_bytes=max_total)
    want = wire.as_nla(source)
    chunks: list[bytes] = []
    reason, tsi, held, seen = "none", None, 0, 0
    drops: dict[str, int] = {}
    with PgmReceiver(group, port, iface=iface, transport="udp", config=cfg) as rx:
        end = time.monotonic() + 120
        while time.monotonic() < end and reason == "none":
            for e in rx.next_events(0.1):
                if isinstance(e, SessionStarted):
                    seen += 1
                    if tsi is None and e.source == want:
                        tsi = e.tsi
                elif isinstance(e, DataReceived) and e.tsi == tsi:
                    chunks.append(e.data)
                elif isinstance(e, SessionEnded) and e.tsi == tsi:
                    reason = e.reason.value
            with rx.lock:
                held = max(held, rx.engine.held_bytes())
            for key, ss in rx.stats()["sessions"].items():
                drops[key] = max(drops.get(key, 0), int(ss.get("memory_drops", 0)))
        info = rx.session_info(tsi) if tsi is not None else None
    with open(out, "wb") as f:
        f.write(b"".join(chunks))
    lost = info.stats.lost_sqns if info is not None else -1
    report = {
        "reason": reason,
        "held_max": held,
        "sessions_seen": seen,
        "memory_drops": sum(drops.values()),
        "lost_sqns": lost,
    }
    print(json.dumps(report))
    return 0


def _budget(g: Forger, send: socket.socket, dst: tuple[str, int]) -> int:
    """One attacker session holding ~36 KB behind a gap; packets sent."""
    n = 0
    for q in (0, *range(2, 62)):
        payload = b"m" * 1200 if q < 32 else b""
        send.sendto(g.odata(q, payload, trail=0), dst)
        n += 1
    return n


def main(argv: list[str]) -> int:
    if argv[0] == "--receive":
        group, port_s, iface, out, source, max_total = argv[1:]
        return receive(group, int(port_s), iface, out, source, int(max_total))
    group, port_s, ifaddr, name, secs = argv
    port = int(port_s)
    s = _socket(group, port, ifaddr)
    out = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    out.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(ifaddr))
    out.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 0)
    dst = (group, port)
    sent = 0
    forged = Forger(FORGED_TSI, group, port)
    forged.path = wire.as_nla(ifaddr)
    if name == "first_rst":
        for q in range(24):
            out.sendto(forged.odata(q, b"attacker data", trail=0), dst)
        sent += 24
    f = heard_under_way(s, group, port)
    if f is None:
        print("attacker: no session heard", file=sys.stderr)
        return 1
    stop, step = time.monotonic() + float(secs), 0
    while time.monotonic() < stop:
        _listen(s, f, group, port)
        if name == "first_rst":
            forged.lead = 23
            out.sendto(forged.spm(sqn_ahead=1 + step, options=[wire.OptRst()]), dst)
            sent += 1
            time.sleep(0.1)
        elif name == "budget":
            g = Forger(TSI(step.to_bytes(6, "big"), 5555), group, port)
            g.path = forged.path
            sent += _budget(g, out, dst)
            time.sleep(0.02)
        step += 1
    print(f"forged {sent}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
