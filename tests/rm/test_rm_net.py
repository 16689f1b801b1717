"""The Windows-style facade over real sockets, in network namespaces (tests/testbed/netbed.py).

Sender on host ``a``, receivers on host ``b`` of one veth pair.  The sockets are made in this
process: ``connect``/``listen`` (and options that check a local address) run inside the host's
namespace (``NetHost.call``), which is where their kernel sockets then live; everything else
runs here.  Loss is nftables in ``b``'s input hook (loss on the wire, invisible to the sender).
The examples in examples/ run as programs inside the namespaces.

These run as root on Linux (CI); elsewhere they skip, saying so.
"""

from __future__ import annotations

import itertools
import json
import select
import socket
import struct
import subprocess
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

import pgm
from pgm import rmsocket
from pgm.engine import ReceiverConfig, SessionStarted
from pgm.io import PgmReceiver, PgmSender
from tests.rm.test_rm import wsa
from tests.testbed.netbed import GROUP4, NetBed

pytestmark = pytest.mark.netns

RM = pgm.IPPROTO_RM
_ports = itertools.count(7800)


@pytest.fixture
def bed(netbed_pair_module: NetBed) -> Iterator[NetBed]:
    netbed_pair_module.reset()
    yield netbed_pair_module
    netbed_pair_module.reset()


def listening(
    bed: NetBed,
    port: int,
    type: int = pgm.SOCK_RDM,
    *,
    ifaces: list[str] | None = None,
    **kw: Any,
) -> rmsocket.RMSocket:
    r = pgm.socket(pgm.AF_INET, type, RM, **kw)
    r.bind((GROUP4, port))
    for addr in [bed.b.ip4] if ifaces is None else ifaces:
        bed.b.call(r.setsockopt, RM, pgm.RM_ADD_RECEIVE_IF, socket.inet_aton(addr))
    bed.b.call(r.listen, 5)
    return r


def connected(
    bed: NetBed,
    port: int,
    type: int = pgm.SOCK_RDM,
    *,
    rate: int = 20_000,
    ms: int = 2000,
    opts: tuple[tuple[int, Any], ...] = (),
    **kw: Any,
) -> rmsocket.RMSocket:
    kw.setdefault("linger", 0.3)
    s = pgm.socket(pgm.AF_INET, type, RM, **kw)
    s.bind(("0.0.0.0", 0))
    s.setsockopt(RM, pgm.RM_RATE_WINDOW_SIZE, pgm.RM_SEND_WINDOW(rate, ms, 0))
    bed.a.call(s.setsockopt, RM, pgm.RM_SET_SEND_IF, socket.inet_aton(bed.a.ip4))
    for opt, value in opts:
        s.setsockopt(RM, opt, value)
    bed.a.call(s.connect, (GROUP4, port))
    return s


def test_rdm_session_accept_select_and_graceful_end(bed: NetBed) -> None:
    port = next(_ports)
    msgs = [bytes([i]) * (1 + 37 * i) for i in range(60)] + [b"x" * 5000]  # one fragmented
    with listening(bed, port) as r:
        s = connected(bed, port)
        try:
            # SPMs alone do not make a session acceptable (Windows: listen completes on ODATA)
            assert select.select([r], [], [], 0.4)[0] == []
            sender_name = s.getsockname()
            assert sender_name == (bed.a.ip4, s.tsi.source_port)  # type: ignore[union-attr]
            assert s.getpeername() == (GROUP4, port)
            assert s.getsockopt(RM, pgm.RM_SET_SEND_IF, 4) == socket.inet_aton(bed.a.ip4)
            for m in msgs:
                assert s.send(m) == len(m)
            assert select.select([r], [], [], 5)[0] == [r]
            conn, addr = r.accept()
        finally:
            s.close()  # graceful: FIN after the queued data, a short linger
        with conn:
            assert addr == sender_name == conn.getpeername()
            assert addr[1] == conn.tsi.source_port  # type: ignore[union-attr]
            conn.settimeout(5)
            got = [conn.recv(65536) for _ in msgs]
            assert got == msgs  # one message per receive, boundaries kept
            assert conn.recv(65536) == b"" and conn.recv(10) == b""
            st = conn.getsockopt(RM, pgm.RM_RECEIVER_STATISTICS)
            assert st.DataBytesReceived == sum(map(len, msgs))
            assert st.NumODataPacketsReceived == st.LeadingEdgeSeqId + 1 > len(msgs)  # fragments


def test_message_size_error_over_the_network(bed: NetBed) -> None:
    port = next(_ports)
    with listening(bed, port, transport="udp") as r, \
            connected(bed, port, transport="udp") as s:
        s.send(b"0123456789" * 300)
        r.settimeout(5)
        conn, _ = r.accept()
        with conn:
            conn.settimeout(5)
            parts = []
            for _ in range(2):
                with wsa("WSAEMSGSIZE") as e:
                    conn.recv(1000)
                parts.append(e.value.partial)
            parts.append(conn.recv(1000))
            assert b"".join(parts) == b"0123456789" * 300


def test_stream_mode_sends_and_receives_a_byte_stream(bed: NetBed) -> None:
    port = next(_ports)
    blob = bytes(range(256)) * 400  # 100 KiB
    with listening(bed, port, pgm.SOCK_STREAM) as r:
        with connected(bed, port, pgm.SOCK_STREAM) as s:
            off = 0
            for n in itertools.cycle((1, 7, 1399, 5000, 20_000)):
                if off >= len(blob):
                    break
                s.sendall(blob[off : off + n])
                off += n
            r.settimeout(5)
            conn, _ = r.accept()
        with conn:
            conn.settimeout(5)
            out = bytearray()
            while True:
                chunk = conn.recv(3333)
                if not chunk:
                    break
                assert len(chunk) <= 3333
                out += chunk
        assert bytes(out) == blob


def test_message_boundary_gathers_sends_mid_session(bed: NetBed) -> None:
    port = next(_ports)
    with listening(bed, port) as r:
        s = connected(bed, port)
        try:
            s.send(b"a" * 10)
            s.setsockopt(RM, pgm.RM_SET_MESSAGE_BOUNDARY, 5000)  # mid-session
            assert s.send(b"1" * 2000) == 2000
            with wsa("WSAEINVAL"):  # a message is being gathered
                s.setsockopt(RM, pgm.RM_SET_MESSAGE_BOUNDARY, 10)
            s.send(b"2" * 2000)
            with wsa("WSAEMSGSIZE"):  # would overrun the announced size: nothing taken
                s.send(b"3" * 1001)
            s.send(b"3" * 1000)  # completes the message: it goes out
            s.send(b"z")  # back to one message per send
            s.setsockopt(RM, pgm.RM_SET_MESSAGE_BOUNDARY, 100)
            s.send(b"p" * 50)  # never completed: dropped at shutdown and counted
            s.shutdown(pgm.SD_SEND)
            with wsa("WSAESHUTDOWN"):
                s.send(b"late")
            st = s.getsockopt(RM, pgm.RM_SENDER_STATISTICS)
            assert st.BufferSpaceAvailable == 1  # the partial messages dropped
            r.settimeout(5)
            conn, _ = r.accept()
        finally:
            s.close()
        with conn:
            conn.settimeout(5)
            assert conn.recv(65536) == b"a" * 10
            assert conn.recv(65536) == b"1" * 2000 + b"2" * 2000 + b"3" * 1000
            assert conn.recv(65536) == b"z"
            assert conn.recv(65536) == b""


def test_sender_options_map_onto_the_engine_and_freeze_at_connect(bed: NetBed) -> None:
    port = next(_ports)
    fec = pgm.RM_FEC_INFO(255, 0, 8, 1)
    opts = (
        (pgm.RM_SEND_WINDOW_ADV_RATE, 20),
        (pgm.RM_SET_MCAST_TTL, 3),
        (pgm.RM_LATEJOIN, 50),
        (pgm.RM_USE_FEC, fec),
        (pgm.RM_HIGH_SPEED_INTRANET_OPT, 1),
        (pgm.RM_SENDER_WINDOW_ADVANCE_METHOD, pgm.E_WINDOW_ADVANCE_BY_TIME),
    )
    s = connected(bed, port, rate=8000, ms=1500, opts=opts, transport="udp")
    try:
        tx = s.sender
        assert isinstance(tx, PgmSender)
        cfg = tx.config
        assert (cfg.rate_bps, cfg.window_secs, cfg.window_bytes) == (8_000_000, 1.5, 1_500_000)
        assert cfg.window_advance_pct == 20 and cfg.send_buffer_bytes == 1_500_000
        assert cfg.late_join == 50  # RM_LATEJOIN: OPT_JOIN on SPMs and data
        assert tx.transport.ttl == 3
        assert str(tx.nla) == bed.a.ip4
        # after connect() only RM_SET_MESSAGE_BOUNDARY may be set; reading still works
        for rule in pgm.OPTIONS:
            if rule.set and rule.before and rule.side in ("sender", "both"):
                value = b"\0" * rule.size if rule.struct else 1
                with wsa("WSAEINVAL") as e:
                    s.setsockopt(RM, rule.number, value)
                assert "before connect()" in str(e.value)
        s.setsockopt(RM, pgm.RM_SET_MESSAGE_BOUNDARY, 10)
        assert s.getsockopt(RM, pgm.RM_USE_FEC) == fec
        assert s.getsockopt(RM, pgm.RM_LATEJOIN) == 50
        assert s.getsockopt(RM, pgm.RM_SEND_WINDOW_ADV_RATE) == 20
        assert s.getsockopt(RM, pgm.RM_HIGH_SPEED_INTRANET_OPT) == 1
        assert s.getsockopt(RM, pgm.RM_RATE_WINDOW_SIZE) == pgm.RM_SEND_WINDOW(8000, 1500,
                                                                               1_500_000)
        with wsa("WSAEISCONN"):
            s.connect((GROUP4, port))
        with wsa("WSAEISCONN"):
            s.listen()
        raw = s.getsockopt(RM, pgm.RM_SENDER_STATISTICS, 104)
        assert struct.unpack("<13Q", raw)[12] == 0  # nothing sent yet
    finally:
        s.close()


def test_receive_interfaces_first_add_replaces_the_default(bed: NetBed) -> None:
    port = next(_ports)
    cases: list[tuple[list[tuple[int, str]], list[str]]] = [
        ([], [bed.b.ifname]),  # the default: the first non-loopback interface
        ([(pgm.RM_ADD_RECEIVE_IF, "127.0.0.1")], ["lo"]),  # the first add replaces it
        ([(pgm.RM_ADD_RECEIVE_IF, "127.0.0.1"), (pgm.RM_ADD_RECEIVE_IF, bed.b.ip4)],
         ["lo", bed.b.ifname]),  # later ones add
        ([(pgm.RM_ADD_RECEIVE_IF, "127.0.0.1"), (pgm.RM_ADD_RECEIVE_IF, bed.b.ip4),
          (pgm.RM_DEL_RECEIVE_IF, "127.0.0.1")], [bed.b.ifname]),
    ]
    for ops, names in cases:
        r = pgm.socket(pgm.AF_INET, pgm.SOCK_RDM, RM, transport="udp")
        try:
            r.bind((GROUP4, port))
            for opt, addr in ops:
                bed.b.call(r.setsockopt, RM, opt, socket.inet_aton(addr))
            bed.b.call(r.listen, 5)
            rx = r.receiver
            assert isinstance(rx, PgmReceiver)
            assert [i.name for i in rx.ifaces] == names
            with wsa("WSAEINVAL") as e:
                r.setsockopt(RM, pgm.RM_ADD_RECEIVE_IF, "127.0.0.1")
            assert "before listen()" in str(e.value)
            r.listen()  # again: nothing happens
        finally:
            r.close()


def test_full_window_blocks_times_out_or_would_block(bed: NetBed) -> None:
    port = next(_ports)
    # 10 kbit/s for 10 s: a 12,500-byte window and send buffer that drain at 1250 bytes/s
    s = connected(bed, port, rate=10, ms=10_000, transport="udp")
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.setblocking(False)
        taken = 0
        with wsa("WSAEWOULDBLOCK") as e:
            for _ in range(100):
                s.send(b"m" * 1000)
                taken += 1
        assert isinstance(e.value, BlockingIOError) and 10 <= taken <= 30
        s.settimeout(0.2)
        t0 = time.monotonic()
        with wsa("WSAETIMEDOUT") as e:
            s.send(b"m" * 1000)
        assert isinstance(e.value, TimeoutError) and time.monotonic() - t0 >= 0.19
        st = s.getsockopt(RM, pgm.RM_SENDER_STATISTICS)
        assert st.TotalODataPacketsSent < taken  # the rate holds the rest back
    finally:
        t0 = time.monotonic()
        s.close()  # SO_LINGER {1, 0}: abortive, at once
        assert time.monotonic() - t0 < 1.0
    s2 = connected(bed, next(_ports), pgm.SOCK_STREAM, rate=10, ms=10_000, transport="udp")
    try:
        s2.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("<HH", 1, 0))
        assert s2.getsockopt(socket.SOL_SOCKET, socket.SO_LINGER, 8) == struct.pack("ii", 1, 0)
        s2.setblocking(False)
        n = s2.send(b"s" * 50_000)  # stream mode: the bytes taken before the window filled
        assert 0 < n < 50_000
    finally:
        s2.close()


def test_unrecoverable_loss_resets_the_session(bed: NetBed) -> None:
    port = next(_ports)
    cfg = ReceiverConfig(nak_ncf_retries=0, nak_data_retries=0)  # give up after one NAK
    with listening(bed, port, transport="udp", loss=0.5, receiver_config=cfg) as r, \
            connected(bed, port, rate=4000, ms=300, transport="udp") as s:
        for i in range(600):
            s.send(i.to_bytes(4, "big") * 250)
        r.settimeout(5)
        conn, _ = r.accept()
        with conn:
            conn.settimeout(10)
            n = 0
            with wsa("WSAECONNRESET") as e:
                while conn.recv(2000):
                    n += 1
            assert isinstance(e.value, ConnectionResetError) and 0 <= n < 600
            assert "unrecoverable loss" in str(e.value)
            with wsa("WSAECONNRESET"):  # sticky
                conn.recv(2000)


def test_sender_abort_resets_the_receivers_session(bed: NetBed) -> None:
    port = next(_ports)
    with listening(bed, port, transport="udp") as r:
        with pytest.raises(KeyError), connected(bed, port, transport="udp") as s:
            s.send(b"before the abort")
            r.settimeout(5)
            conn, _ = r.accept()
            raise KeyError("leaving the with block with an exception aborts (OPT_RST)")
        with conn:
            conn.settimeout(5)
            assert conn.recv(100) == b"before the abort"
            with wsa("WSAECONNRESET") as e:
                conn.recv(100)
            assert "OPT_RST" in str(e.value)


def test_statistics_are_live(bed: NetBed) -> None:
    port = next(_ports)
    with listening(bed, port) as r:
        s = connected(bed, port, rate=8000)
        try:
            samples = []
            conn = None
            for _ in range(4):
                for _ in range(100):
                    s.send(b"L" * 1000)
                if conn is None:
                    r.settimeout(5)
                    conn, _ = r.accept()
                    conn.settimeout(5)
                for _ in range(100):
                    conn.recv(2000)
                samples.append((s.getsockopt(RM, pgm.RM_SENDER_STATISTICS),
                                conn.getsockopt(RM, pgm.RM_RECEIVER_STATISTICS)))
            for (s0, r0), (s1, r1) in itertools.pairwise(samples):
                assert s1.DataBytesSent > s0.DataBytesSent
                assert s1.LeadingEdgeSeqId > s0.LeadingEdgeSeqId
                assert r1.DataBytesReceived - r0.DataBytesReceived == 100_000
                assert r1.LeadingEdgeSeqId >= r0.LeadingEdgeSeqId + 100
            last_s, last_r = samples[-1]
            assert last_s.RateKBitsPerSecOverall > 0 and last_r.RateKBitsPerSecOverall > 0
            assert last_r.LeadingEdgeSeqId <= last_s.LeadingEdgeSeqId
        finally:
            s.close()
            if conn is not None:
                conn.close()


def test_on_events_hook_runs_in_the_reactor_with_the_lock(bed: NetBed) -> None:
    """pgm.io.PgmReceiver(on_events=...): the hook the facade demultiplexes with."""
    port = next(_ports)
    seen: list[Any] = []
    calls: list[bool] = []
    rx: PgmReceiver | None = None

    def hook() -> None:
        assert rx is not None
        calls.append(rx.lock._is_owned())  # type: ignore[attr-defined]
        seen.extend(rx.next_events(0))

    rx = bed.b.call(lambda: PgmReceiver(GROUP4, port, ifaces=bed.b.ifname, transport="udp",
                                        on_events=hook))
    try:
        tx = bed.a.call(lambda: PgmSender(GROUP4, port, iface=bed.a.ifname, transport="udp"))
        tx.send(b"hooked")
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not any(
                getattr(e, "data", None) == b"hooked" for e in seen):
            time.sleep(0.02)
        tx.abort()
        assert calls and all(calls)
        assert isinstance(seen[0], SessionStarted)
        assert any(getattr(e, "data", None) == b"hooked" for e in seen)
        assert rx.next_events(0) == []  # the hook took them all
        rx.on_events = None  # the attribute can be changed; the queue works as before
    finally:
        rx.close()


# -- the examples, as programs in the namespaces --------------------------------------------------


def _run_examples(bed: NetBed, port: int, *, loss: int, transport: str, stream: bool,
                  count: int, size: int) -> tuple[dict[str, Any], dict[str, Any]]:
    extra = ["--stream"] if stream else []
    bed.b.set_loss(loss)
    rx = bed.b.python_popen(
        ["examples/rm_receiver.py", GROUP4, "--port", str(port), "--iface", bed.b.ip4,
         "--transport", transport, "--timeout", "20", *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    assert rx.stdout is not None
    assert json.loads(rx.stdout.readline()) == {"listening": True}
    tx = bed.a.python_popen(
        ["examples/rm_sender.py", GROUP4, "--port", str(port), "--iface", bed.a.ip4,
         "--transport", transport, "--rate", "30000", "--count", str(count),
         "--size", str(size), "--wait", "1.5", "--linger", "0.5", *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    out: list[tuple[int, str, str]] = []

    def wait(p: subprocess.Popen[str]) -> None:
        try:
            so, se = p.communicate(timeout=40)
        except subprocess.TimeoutExpired:
            p.kill()
            so, se = p.communicate()
        out.append((p.returncode, so, se))

    threads = [threading.Thread(target=wait, args=(p,)) for p in (rx, tx)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    bed.b.set_loss(0)
    rx_rc, rx_out, rx_err = _pick(out, "received")
    tx_rc, tx_out, tx_err = _pick(out, "sent")
    assert rx_rc == 0, f"{rx_out}\n{rx_err[-3000:]}\n{tx_out}"
    assert tx_rc == 0, tx_err[-3000:]
    return json.loads(rx_out.strip().splitlines()[-1]), json.loads(tx_out.strip().splitlines()[-1])


def _pick(out: list[tuple[int, str, str]], key: str) -> tuple[int, str, str]:
    for rc, so, se in out:
        if f'"{key}"' in so:
            return rc, so, se
    raise AssertionError(f"no program printed {key!r}: {out}")


@pytest.mark.raw
def test_examples_transfer_with_loss_and_statistics_agree(bed: NetBed) -> None:
    count, size = 3000, 1000
    got, sent = _run_examples(bed, next(_ports), loss=10, transport="raw", stream=False,
                              count=count, size=size)
    assert bed.b.nft_counters()["in_pgm"] > 0
    assert got["ended"] == "graceful" and got["sender"] == bed.a.ip4
    assert got["received"] == sent["sent"] == count * size and got["messages"] == count
    assert got["sha256"] == sent["sha256"]
    rs, ss = got["stats"], sent["stats"]
    # Loss was on the way to the receiver only: every NAK reached the sender ...
    assert ss["NaksReceived"] == rs["TotalSelectiveNaksSent"] > 0
    # ... every repair the receiver counted was sent, and the sender repaired only what was
    # asked for (RDATA is lost on the way down too, so the sender may send more than arrived)
    assert 0 < rs["NumRDataPacketsReceived"] <= ss["RepairPacketsSent"] <= ss["NaksReceived"]
    # every sequence number arrived exactly once, as ODATA or as RDATA
    assert ss["TotalODataPacketsSent"] == count
    assert rs["NumODataPacketsReceived"] + rs["NumRDataPacketsReceived"] == count
    assert rs["DataBytesReceived"] == ss["DataBytesSent"] == count * size
    assert rs["LeadingEdgeSeqId"] == ss["LeadingEdgeSeqId"] == count - 1
    assert rs["NumPendingNaks"] == rs["NumOutstandingNaks"] == ss["NumOutstandingNaks"] == 0
    # ~10 % of the ODATA was dropped, so roughly that many repairs
    assert 0.03 * count < rs["NumRDataPacketsReceived"] < 0.25 * count


def test_examples_stream_mode_over_udp(bed: NetBed) -> None:
    got, sent = _run_examples(bed, next(_ports), loss=0, transport="udp", stream=True,
                              count=200, size=3000)
    assert got["received"] == sent["sent"] == 600_000
    assert got["sha256"] == sent["sha256"] and got["ended"] == "graceful"
    assert sent["stats"]["NaksReceived"] == got["stats"]["TotalSelectiveNaksSent"] == 0

