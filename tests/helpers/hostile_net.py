"""The attacker host of the namespace bed (tests/io/test_hostile_net.py), over UDP encapsulation.

Theory of operation
-------------------
``python -m tests.helpers.hostile_net --receive GROUP PORT IFACE OUT LOSS [SOURCE]`` is the
legitimate receiver (:func:`receive`: the engine's own memory accounting and counters, as
JSON).  ``python -m tests.helpers.hostile_net GROUP PORT IFADDR ATTACK SECONDS`` joins GROUP on the
interface with address IFADDR, listens to the session on PORT (learning its TSI, edges and SPM
sequence with a :class:`~tests.helpers.hostile.Forger`), waits until the transfer is under way
(200 data packets heard), then runs ATTACK for about SECONDS and prints how many packets it
forged.  NAKs go unicast to the SPM path NLA at the same port, as UDP encapsulation does
(docs/transports.md).
"""

from __future__ import annotations

import socket
import sys
import time
from collections.abc import Callable

from pgm import wire
from pgm.wire import TSI
from tests.helpers.hostile import Forger

Send = Callable[[bytes, str | None], None]


def _socket(group: str, port: int, ifaddr: str) -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((group, port))
    mreq = socket.inet_aton(group) + socket.inet_aton(ifaddr)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(ifaddr))
    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 0)
    s.settimeout(0.005)
    return s


def _listen(s: socket.socket, f: Forger | None, group: str, port: int) -> tuple[Forger | None, int]:
    """Read what is waiting; the forger (made at the first packet of a session) and data count."""
    data = 0
    while True:
        try:
            dgram, _ = s.recvfrom(65536)
        except (TimeoutError, BlockingIOError):
            return f, data
        try:
            pkt = wire.parse(dgram, verify=False)
        except wire.PacketError:
            continue
        if f is None and isinstance(pkt, wire.SPM | wire.ODATA):
            f = Forger(TSI(pkt.gsi, pkt.source_port), group, port)
        if f is not None:
            f.learn(pkt)
            data += isinstance(pkt, wire.DataPacket)


def heard_under_way(s: socket.socket, group: str, port: int, data: int = 200) -> Forger | None:
    """Listen until the real transfer is under way (``data`` data packets heard, at most
    120 s); the forger that learned its session (None if nothing was heard)."""
    f: Forger | None = None
    heard = 0
    end = time.monotonic() + 120
    while heard < data and time.monotonic() < end:
        f, n = _listen(s, f, group, port)
        heard += n
    return f


def _attack(name: str, f: Forger, send: Send, step: int) -> int:
    """One step of attack ``name`` (called every 10 ms); packets sent."""
    lead = f.lead
    src = str(f.path) if f.path is not None else None
    if name == "fin_spm" and step % 10 == 0:
        send(f.spm(options=[wire.OptFin()]), None)
    elif name == "fin_data" and step == 0:
        send(f.odata(lead + 50, b"forged", options=[wire.OptFin()]), None)
    elif name == "rst" and step in (0, 10, 20):
        # Three tries 100 ms apart, each a few SPM sequence numbers after the newest heard:
        # real SPMs sent meanwhile (heartbeats) may reach the receiver first and make a try
        # that is only one ahead stale.
        send(f.spm(sqn_ahead=8, options=[wire.OptRst()]), None)
    elif name == "far" and step % 20 == 0:
        send(f.spm(lead=lead + (1 << 20) - 10), None)
        send(f.odata(lead + (1 << 19)), None)
        send(f.ncf([lead + (1 << 19) + 7]), None)
        return 3
    elif name == "trail" and step % 20 == 0:
        send(f.odata(lead + 1, trail=lead + 100_000), None)
        send(f.spm(trail=lead + 100_000), None)
        return 2
    elif name == "redirect" and step % 20 == 0:
        send(f.spm(sqn_ahead=1 << 30, path=_me[0]), None)
        send(f.spm(sqn_ahead=100, path=_me[0]), None)
        return 2
    elif name == "nakflood":
        for k in range(20):  # 2000 NAK lists a second
            first = max(0, lead - 500) + (step * 20 + k) * 63 % 400
            send(f.nak(list(range(first, first + 63))), src)
        return 20
    elif name == "slownak" and step % 7 == 0:  # ~15 a second
        send(f.nak(list(range(max(0, lead - 300), max(0, lead - 300) + 63))), src)
    elif name == "peernak":
        # To the group, naming another source NLA: the source refuses it (so it sends no
        # repair), the receivers see a peer NAK that "suppresses" theirs.
        for _ in range(3):
            send(f.nak(list(range(max(0, lead - 40), lead)), _me[0]), None)
        return 3
    elif name == "sessions" and step % 2 == 0:
        g = Forger(TSI((step // 2).to_bytes(6, "big"), 5555), f.group, f.dport)
        g.path = f.path
        for q, opts in ((100, []), (102, [wire.OptFin()])):
            send(g.odata(q, b"x", trail=100, options=opts), None)
        return 2
    else:
        return 0
    return 1


_me: list[str] = [""]


def receive(group: str, port: int, iface: str, out: str, source: str | None, loss: float) -> int:
    """The legitimate receiver: the source's session (``source``: pinned to it) to ``out``;
    prints one JSON line: how it ended, the bytes, the most engine-held bytes seen
    (``Receiver.held_bytes``) and the session's and receiver's counters."""
    import json
    from dataclasses import asdict, replace

    from pgm.engine import DataReceived, ReceiverConfig, SessionEnded
    from pgm.io import PgmReceiver

    cfg = ReceiverConfig(only_source=wire.as_nla(source)) if source else ReceiverConfig()
    chunks: list[bytes] = []
    reason, tsi, held = "none", None, 0
    with PgmReceiver(group, port, iface=iface, transport="udp", config=cfg, loss=loss) as rx:
        end = time.monotonic() + 120
        while time.monotonic() < end and reason == "none":
            for e in rx.next_events(0.2):
                if isinstance(e, DataReceived) and (tsi is None or e.tsi == tsi):
                    tsi = e.tsi
                    chunks.append(e.data)
                elif isinstance(e, SessionEnded) and e.tsi == tsi:
                    reason = e.reason.value
            with rx.lock:
                held = max(held, rx.engine.held_bytes())
        info = rx.session_info(tsi) if tsi is not None else None
        with rx.lock:
            rstats = asdict(replace(rx.engine.stats))
    with open(out, "wb") as f:
        f.write(b"".join(chunks))
    st = asdict(info.stats) if info is not None else {}
    print(json.dumps({"reason": reason, "held_max": held, "session": st, "receiver": rstats}))
    return 0


def main(argv: list[str]) -> int:
    if argv[0] == "--receive":
        group, port_s, iface, out, loss, *src = argv[1:]
        return receive(group, int(port_s), iface, out, src[0] if src else None, float(loss))
    group, port_s, ifaddr, name, secs = argv
    port = int(port_s)
    _me[0] = ifaddr
    s = _socket(group, port, ifaddr)
    out = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    out.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(ifaddr))
    out.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 0)

    def send(dgram: bytes, dst: str | None) -> None:
        out.sendto(dgram, (dst or group, port))

    if name == "first":  # a forged 24-packet session before the real source starts
        g = Forger(TSI(b"forged", 4242), group, port)
        g.path = wire.as_nla(ifaddr)
        stop, sent = time.monotonic() + float(secs), 0
        while time.monotonic() < stop:
            for q in range(24):
                opts = [wire.OptFin()] if q == 23 else []
                send(g.odata(q, b"attacker data", trail=0, options=opts), None)
            sent += 24
            time.sleep(0.05)
        print(f"forged {sent}")
        return 0
    f = heard_under_way(s, group, port)
    if f is None:
        print("attacker: no session heard", file=sys.stderr)
        return 1
    sent = step = 0
    stop = time.monotonic() + float(secs)
    while time.monotonic() < stop:
        f, _ = _listen(s, f, group, port)
        assert f is not None
        sent += _attack(name, f, send, step)
        step += 1
        time.sleep(0.01)
    print(f"forged {sent}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
