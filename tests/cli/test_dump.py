"""``pgm dump``: the golden OpenPGM captures line by line, filters, the summary, malformed input,
``--write``/``--json``; live capture (AF_PACKET, raw sockets, UDP sockets) in a namespace pair.

The offline tests run ``pgm.cli.main`` in-process on pcap files (the fixtures in
tests/fixtures/openpgm/, or ones a test writes with :mod:`pgm.pcap`).  The live ones start
``pgm dump`` on host b of :func:`tests.testbed.netbed.netbed_pair` and send from host a: PGM
packets made with :mod:`pgm.wire` through a socket in a's namespace, or a real ``pgm send``.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from pgm import cli, wire
from pgm.pcap import PcapWriter, extract_pgm, pgm_ip_packet, read_pcap
from tests.helpers.addresses import GSI, SPORT
from tests.helpers.packets import nak, ncf, odata, rdata, spm
from tests.testbed.netbed import NetBed, NetHost

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "openpgm"
RAW_PCAP = FIXTURES / "openpgm-raw.pcap"
UDP_PCAP = FIXTURES / "openpgm-udp.pcap"
OPENPGM_TSI = "31.29.110.65.96.43.7550"  # GSI 1f1d6e41602b, source port 7550 (README)
SRC, GROUP = "10.77.0.1", "239.192.0.1"


def dump(argv: Sequence[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str], str]:
    """``pgm dump ARGV`` in-process: exit status, stdout lines, stderr."""
    try:
        rc = cli.main(["dump", *argv])
    except SystemExit as exc:
        rc = int(exc.code or 0)
    out, err = capsys.readouterr()
    return rc, out.splitlines(), err


def write_pcap(path: Path, packets: Sequence[bytes | wire.Packet], *, udp: bool = False) -> Path:
    """A LINKTYPE_RAW capture of ``packets`` (wire objects or PGM bytes), 1 ms apart."""
    with PcapWriter(path) as w:
        for i, p in enumerate(packets):
            raw = p.encode() if isinstance(p, wire.Packet) else p
            up = isinstance(p, wire.Packet) and p.UPSTREAM
            src, dst = ("10.0.0.2", SRC) if up else (SRC, GROUP)
            w.write(pgm_ip_packet(src, dst, raw, udp_ports=(3056, 3056) if udp else None),
                    ts=1_000_000.0 + i / 1000)  # fmt: skip
    return path


def _independent_count(path: Path, ports: set[int]) -> Counter[str]:
    """Packets by type, counted without pgm dump (read_pcap + extract_pgm + wire.parse)."""
    n: Counter[str] = Counter()
    for rec in read_pcap(path):
        got = extract_pgm(rec, ports)
        if got is not None:
            n[wire.parse(got[0]).NAME] += 1
    return n


# -- the golden captures -----------------------------------------------------------------------


def test_golden_raw_capture_exact_lines(capsys: pytest.CaptureFixture[str]) -> None:
    rc, lines, err = dump(["--read", str(RAW_PCAP)], capsys)
    assert rc == 0, err
    assert len(lines) == 79
    assert lines[0] == (
        "22:41:53.159090 10.77.0.1 -> 239.192.0.1 SPM tsi=31.29.110.65.96.43.7550 sqn=0 "
        "trail=0 lead=4294967295 nla=10.77.0.1"
    )
    assert lines[5] == "22:41:54.491114 10.77.0.2 -> 239.192.0.1 SPMR tsi=31.29.110.65.96.43.7550"
    assert lines[17] == (
        "22:41:54.669131 10.77.0.1 -> 239.192.0.1 ODATA tsi=31.29.110.65.96.43.7550 sqn=10 "
        "trail=0 len=1436 opts=FRAGMENT(first_sqn=10,offset=0,apdu_length=5000)"
    )
    assert lines[24] == (
        "22:41:54.689922 10.77.0.1 -> 239.192.0.1 RDATA tsi=31.29.110.65.96.43.7550 sqn=11 "
        "trail=0 len=1436 opts=FRAGMENT(first_sqn=10,offset=1436,apdu_length=5000)"
    )
    # OpenPGM leaves junk in byte 2 of its OPT_NAK_LIST: dump shows what is on the wire.
    assert lines[43] == (
        "22:41:55.010348 10.77.0.2 -> 10.77.0.1 NAK tsi=31.29.110.65.96.43.7550 sqn=24 "
        "src=10.77.0.1 grp=239.192.0.1 opts=NAK_LIST(sqns=25,26,27,28,opx=2,f_bits=0x6c)"
    )
    assert lines[44].split(" NCF ")[1] == (
        "tsi=31.29.110.65.96.43.7550 sqn=24 src=10.77.0.1 grp=239.192.0.1 "
        "opts=NAK_LIST(sqns=25,26,27,28,opx=2,f_bits=0x6c)"
    )
    assert lines[-1] == (
        "22:41:58.301124 10.77.0.1 -> 239.192.0.1 SPM tsi=31.29.110.65.96.43.7550 sqn=13 "
        "trail=0 lead=43 nla=10.77.0.1 opts=FIN"
    )
    assert err.splitlines() == [
        "79 PGM packets, 0 malformed, 1 session",
        "session 31.29.110.65.96.43.7550 from 10.77.0.1: 79 packets (SPM 14, ODATA 44, "
        "RDATA 9, NAK 5, NCF 5, SPMR 2); NAKs 5 for 9 sqns, NCFs 5 for 9 sqns, RDATA 9; "
        "ODATA gaps 0, repaired 0, unrepaired 0",
    ]


def test_golden_udp_capture_needs_its_port(capsys: pytest.CaptureFixture[str]) -> None:
    rc, lines, err = dump(["--read", str(UDP_PCAP)], capsys)
    assert rc == 0 and lines == []
    assert "0 PGM packets" in err and "76 other frames ignored" in err
    rc, lines, err = dump(["--read", str(UDP_PCAP), "--udp-port", "7501"], capsys)
    assert rc == 0
    want = _independent_count(UDP_PCAP, {7501})
    assert len(lines) == sum(want.values()) == 76
    assert all(" udp:" in line and ">7501 " in line for line in lines)
    assert "tsi=31.29.110.65.96.43.7551" in lines[0]
    types = ", ".join(f"{t} {want[t]}" for t in ("SPM", "ODATA", "RDATA", "NAK", "NCF", "SPMR"))
    assert f"76 packets ({types})" in err


def test_summary_counts_match_an_independent_count(capsys: pytest.CaptureFixture[str]) -> None:
    rc, lines, _err = dump(["--read", str(RAW_PCAP), "--json", "--quiet"], capsys)
    assert rc == 0 and len(lines) == 1
    summary = json.loads(lines[0])["summary"]
    want = _independent_count(RAW_PCAP, {3055, 3056})
    assert summary["packets"] == sum(want.values())
    (s,) = summary["sessions"]
    assert s["tsi"] == OPENPGM_TSI and s["source"] == SRC
    assert s["by_type"] == dict(want)
    # the capture point (before the receiver's nftables drop) saw every ODATA
    assert (s["odata_gaps"], s["unrepaired"]) == (0, 0)
    assert s["nak_sqns"] == s["ncf_sqns"] == 9  # 11, 23, 24-28 (in a list), 25-28 again


def test_a_udp_gso_buffer_is_shown_and_written_as_its_datagrams(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # A veth capture sees a UDP GSO send (docs/transports.md) before it is cut into datagrams:
    # one UDP payload holding 3 ODATA of 1000 bytes and a shorter last one.
    parts = [odata(i, 0, bytes([i]) * (1000 if i < 3 else 10)).encode() for i in range(4)]
    buffer = pgm_ip_packet(SRC, GROUP, b"".join(parts), udp_ports=(3056, 3056))
    with PcapWriter(tmp_path / "gso.pcap") as w:
        w.write(buffer, ts=1_000_000.0)
        w.write(pgm_ip_packet(SRC, GROUP, parts[0]), ts=1_000_000.1)  # raw IP: left alone
    out = tmp_path / "split.pcap"
    rc, lines, err = dump(["-r", str(tmp_path / "gso.pcap"), "-w", str(out)], capsys)
    assert rc == 0, err
    assert len(lines) == 5 and all(" ODATA " in x and "MALFORMED" not in x for x in lines)
    assert [" udp:3056>3056 " in x for x in lines] == [True] * 4 + [False]
    assert [x.split("sqn=")[1].split()[0] for x in lines] == ["0", "1", "2", "3", "0"]
    written = [extract_pgm(r, {3056}) for r in read_pcap(out)]
    assert [w[0] for w in written if w] == [*parts, parts[0]]
    assert [w[1]["transport"] for w in written if w] == ["udp"] * 4 + ["ip"]


# -- filters and output ------------------------------------------------------------------------


def test_type_filter(capsys: pytest.CaptureFixture[str]) -> None:
    rc, lines, err = dump(["-r", str(RAW_PCAP), "--type", "nak,NCF", "--type", "spmr"], capsys)
    assert rc == 0
    assert Counter(line.split()[4] for line in lines) == {"NAK": 5, "NCF": 5, "SPMR": 2}
    assert "12 PGM packets" in err and "67 more not matching the filters" in err


def test_tsi_filter_both_notations(capsys: pytest.CaptureFixture[str]) -> None:
    for spec in (OPENPGM_TSI, "1f1d6e41602b.7550"):
        rc, lines, _ = dump(["-r", str(RAW_PCAP), "--tsi", spec], capsys)
        assert rc == 0 and len(lines) == 79
    rc, lines, err = dump(["-r", str(RAW_PCAP), "--tsi", "1f1d6e41602b.7551"], capsys)
    assert rc == 0 and lines == [] and "0 sessions" in err
    rc, _, err = dump(["--tsi", "1.2.3"], capsys)
    assert rc == 2 and "not a TSI" in err
    rc, _, err = dump(["--type", "bogus"], capsys)
    assert rc == 2 and "unknown packet type" in err


def test_count_json_and_write(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "odata.pcap"
    args = ["-r", str(RAW_PCAP), "--type", "odata", "--count", "5", "--json", "-w", str(out)]
    rc, lines, _ = dump(args, capsys)
    assert rc == 0 and len(lines) == 6
    objs = [json.loads(x) for x in lines]
    assert [o["data_sqn"] for o in objs[:5]] == [0, 1, 2, 3, 4]
    assert all(o["type"] == "ODATA" and o["tsi"] == OPENPGM_TSI for o in objs[:5])
    assert objs[0]["tsdu_length"] == 64 and objs[0]["transport"] == "ip"
    assert objs[5]["summary"]["sessions"][0]["by_type"] == {"ODATA": 5}
    # the written capture holds exactly those frames, in the input's link type
    recs = list(read_pcap(out))
    assert len(recs) == 5 and {r.linktype for r in recs} == {1}
    rc, again, _ = dump(["-r", str(out)], capsys)
    assert rc == 0 and [line.split()[6] for line in again] == [f"sqn={i}" for i in range(5)]


def test_options_and_flags_on_the_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    parity = odata(0x1008, 990, b"\0" * 8).replace(
        parity=True, options=[wire.OptParityGrp(1), wire.OptCurrTgsize(5)]
    )
    path = write_pcap(tmp_path / "p.pcap", [parity, nak(5, 6, 7)], udp=True)
    rc, lines, _ = dump(["-r", str(path)], capsys)
    assert rc == 0
    assert lines[0].endswith(
        f"udp:3056>3056 ODATA tsi={wire.TSI(GSI, SPORT)} sqn=4104 trail=990 len=8 "
        "opts=PARITY_GRP(prm_group=1),CURR_TGSIZE(tgsize=5) parity"
    )
    assert lines[1].endswith(f"NAK tsi={wire.TSI(GSI, SPORT)} sqn=5 src=10.0.0.1 grp=239.192.0.1 "
                             "opts=NAK_LIST(sqns=6,7)")  # fmt: skip


# -- the summary's loss accounting -------------------------------------------------------------


def _session(capsys: pytest.CaptureFixture[str], path: Path) -> dict[str, Any]:
    rc, lines, _ = dump(["-r", str(path), "--json", "--quiet"], capsys)
    assert rc == 0
    (s,) = json.loads(lines[-1])["summary"]["sessions"]
    assert isinstance(s, dict)
    return s


def test_gaps_repairs_and_reordering(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    seen = [0, 1, 2, 5, 6, 4, 8, 9]  # 3 and 7 skipped, 4 late (reordered, not lost)
    pkts: list[wire.Packet] = [spm(1, 0, 9)]
    pkts += [odata(s, 0, b"d") for s in seen]
    pkts += [nak(3), ncf(3), rdata(3, 0, b"d"), rdata(3, 0, b"d")]
    s = _session(capsys, write_pcap(tmp_path / "loss.pcap", pkts))
    assert (s["odata_gaps"], s["repaired"], s["unrepaired"]) == (2, 1, 1)
    assert s["unrepaired_ranges"] == [[7, 7]]
    assert (s["naks"], s["ncfs"], s["rdata"]) == (1, 1, 2)


def test_gaps_across_the_sequence_wrap(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sqns = [0xFFFFFFFD, 0xFFFFFFFE, 1, 2]  # 0xFFFFFFFF and 0 missing
    s = _session(capsys, write_pcap(tmp_path / "wrap.pcap", [odata(q, 0, b"") for q in sqns]))
    assert (s["odata_gaps"], s["unrepaired"]) == (2, 2)
    assert s["unrepaired_ranges"] == [[0xFFFFFFFF, 0]]


def test_summary_text_names_unrepaired_ranges(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pkts = [odata(s, 0, b"x") for s in (10, 11, 15, 16, 20)]
    rc, _, err = dump(["-r", str(write_pcap(tmp_path / "r.pcap", pkts))], capsys)
    assert rc == 0
    assert "ODATA gaps 6, repaired 0, unrepaired 6 (12-14, 17-19)" in err


# -- bad input ---------------------------------------------------------------------------------


def test_malformed_packets_are_shown_and_counted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = odata(1, 0, b"good").encode()
    bad_sum = bytearray(good)
    bad_sum[-1] ^= 0xFF
    frames = [
        good,
        bytes(bad_sum),
        good[:10],  # shorter than the PGM header
        good[:20],  # ODATA cut inside its fixed part
        good[:4] + b"\x3f" + good[5:],  # unknown type 0x3f
        b"\0" * 4 + good[4:],  # malformed (bad checksum) from an unknown session
        odata(2, 0, b"fine").encode(),
    ]
    path = write_pcap(tmp_path / "bad.pcap", frames)
    rc, lines, err = dump(["-r", str(path)], capsys)
    assert rc == 0
    assert len(lines) == 7
    assert " MALFORMED ODATA tsi=" in lines[1] and "BadChecksum" in lines[1]
    assert " MALFORMED ? size=10: TruncatedPacket" in lines[2]
    assert " MALFORMED ODATA tsi=" in lines[3] and "size=20" in lines[3]
    assert " MALFORMED type 0x3f" in lines[4] and "UnknownPacketType" in lines[4]
    assert "tsi=10.11.12.13.14.15.0 " in lines[5]
    assert "ODATA" in lines[6] and "sqn=2" in lines[6]
    # malformed packets count in a session already seen; they open none (junk stays bounded)
    assert "7 PGM packets, 5 malformed, 1 session" in err
    assert "(ODATA 2, malformed 3)" in err
    rc, lines, _ = dump(["-r", str(path), "--type", "malformed"], capsys)
    assert len(lines) == 5
    rc, lines, _ = dump(["-r", str(path), "--no-verify", "--type", "malformed"], capsys)
    assert len(lines) == 3  # the bad checksums pass without verification


def test_garbage_frames_and_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "junk.pcap"
    with PcapWriter(path) as w:
        for junk in (b"", b"\x45", b"\x45" + b"\0" * 30, b"\x60" * 41, os.urandom(300)):
            w.write(junk, ts=1.0)
        w.write(pgm_ip_packet(SRC, GROUP, odata(7, 0, b"ok").encode()), ts=2.0)
    rc, lines, err = dump(["-r", str(path)], capsys)
    assert rc == 0 and len(lines) == 1 and "sqn=7" in lines[0]
    # a file cut off inside a record: what was read, the summary, exit status 1
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(RAW_PCAP.read_bytes()[:2000])
    rc, lines, err = dump(["-r", str(cut)], capsys)
    assert rc == 1 and len(lines) > 3 and "ends inside a record" in err
    assert f"{len(lines)} PGM packets" in err
    notpcap = tmp_path / "x.pcap"
    notpcap.write_bytes(b"hello, world, not a capture")
    rc, lines, err = dump(["-r", str(notpcap)], capsys)
    assert rc == 1 and lines == [] and "not a pcap file" in err
    rc, _, err = dump(["-r", str(tmp_path / "missing.pcap")], capsys)
    assert rc == 2 and "cannot read" in err


def test_live_capture_without_privilege_says_what_to_do(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def refuse(*args: Any, **kwargs: Any) -> socket.socket:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(socket, "socket", refuse)
    for method in ("packet", "raw"):
        rc, lines, err = dump(["--capture", method], capsys)
        assert rc == 2 and lines == []
        assert "CAP_NET_RAW" in err and "--capture udp" in err and "--read" in err


# -- live capture in a namespace pair ----------------------------------------------------------

LIVE_TIMEOUT = 60.0  # generous: a loaded 2-core machine


class LiveDump:
    """``pgm dump ARGS`` running on ``host``: its output lines as they come, stopped by SIGTERM."""

    def __init__(self, host: NetHost, args: Sequence[str]) -> None:
        self.proc = host.python_popen(
            ["-m", "pgm", "dump", *args],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        self.out: list[str] = []
        self.err: list[str] = []
        self._readers = [
            threading.Thread(target=self._read, args=(self.proc.stdout, self.out), daemon=True),
            threading.Thread(target=self._read, args=(self.proc.stderr, self.err), daemon=True),
        ]
        for t in self._readers:
            t.start()
        self._until(lambda: any(x.startswith("pgm dump: capturing on") for x in self.err),
                    "the capture to start")  # fmt: skip

    @staticmethod
    def _read(stream: Any, into: list[str]) -> None:
        for line in stream:
            into.append(line.rstrip("\n"))

    def _until(self, cond: Callable[[], bool], what: str, timeout: float = LIVE_TIMEOUT) -> None:
        end = time.monotonic() + timeout
        while not cond():
            if self.proc.poll() is not None and not cond():
                time.sleep(0.2)  # let the readers finish
                if cond():
                    return
                pytest.fail(f"pgm dump exited ({self.proc.returncode}) before {what}: {self.err}")
            if time.monotonic() > end:
                self.proc.kill()
                pytest.fail(f"no {what} within {timeout} s: out={self.out} err={self.err}")
            time.sleep(0.05)

    def wait_lines(self, n: int) -> list[str]:
        self._until(lambda: len(self.out) >= n, f"{n} lines")
        return list(self.out)

    def stop(self, sig: int = signal.SIGTERM) -> int:
        """``sig`` (if still running); the exit status once the summary is out."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        rc = self.proc.wait(timeout=LIVE_TIMEOUT)
        for t in self._readers:
            t.join(timeout=LIVE_TIMEOUT)
        return rc


def _send_until(done: Callable[[], bool], send: Callable[[int], None], limit: int = 500) -> None:
    """``send(i)`` every 20 ms until ``done()`` (at most ``limit`` times)."""
    for i in range(limit):
        if done():
            return
        send(i)
        time.sleep(0.02)


@pytest.mark.netns
@pytest.mark.raw
def test_live_packet_capture_sees_raw_pgm_from_the_other_host(netbed_pair: NetBed) -> None:
    a, b = netbed_pair.a, netbed_pair.b
    d = LiveDump(b, ["--iface", b.ifname, "--count", "5", "--type", "odata,nak"])
    tx = a.socket(socket.AF_INET, socket.SOCK_RAW, 113)
    to_b = nak(3).replace(source_nla=wire.as_nla(b.ip4)).encode()

    other = a.socket(socket.AF_INET, socket.SOCK_RAW, 253)  # RFC 3692 experimentation
    udp = a.socket(socket.AF_INET, socket.SOCK_DGRAM)

    def send(i: int) -> None:
        tx.sendto(odata(i, 0, b"live %d" % i).encode(), (GROUP, 0))
        if i == 1:
            tx.sendto(to_b, (b.ip4, 0))
            other.sendto(b"not pgm", (GROUP, 0))
            udp.sendto(b"not pgm either", (GROUP, 9))  # UDP, but not an encapsulation port

    _send_until(lambda: d.proc.poll() is not None, send)
    assert d.stop() == 0, d.err
    assert len(d.out) == 5, d.out
    odatas = [x for x in d.out if " ODATA " in x]
    assert [x.split()[6] for x in odatas] == [f"sqn={i}" for i in range(4)]
    assert all(f" {a.ip4} -> {GROUP} ODATA tsi={wire.TSI(GSI, SPORT)} " in x for x in odatas)
    assert any(f" {a.ip4} -> {b.ip4} NAK " in x and "sqn=3" in x for x in d.out), d.out
    # the UDP datagram is counted as another frame (the kernel's filter keeps protocol 253 out;
    # the veth may carry some other UDP of its own, so no exact count)
    (head,) = [x for x in d.err if " PGM packets" in x]
    assert head.startswith("5 PGM packets, 0 malformed, 1 session; ") and "other frames" in head


@pytest.mark.netns
@pytest.mark.raw
def test_live_capture_of_pgm_send_over_udp_with_summary_on_sigterm(
    netbed_pair: NetBed, tmp_path: Path
) -> None:
    a, b = netbed_pair.a, netbed_pair.b
    port = 7731
    data = tmp_path / "in.bin"
    data.write_bytes(os.urandom(20_000))
    out = tmp_path / "live.pcap"
    d = LiveDump(b, ["--iface", b.ifname, "--udp-port", str(port), "-w", str(out)])
    send = ["send", GROUP, str(data), "--port", str(port), "--iface", a.ifname]
    r = a.python(["-m", "pgm", *send, "--transport", "udp", "--linger", "0.5"],
                 timeout=LIVE_TIMEOUT)  # fmt: skip
    assert r.returncode == 0, r.stderr
    # 20 000 bytes in 1448-byte messages: 14 ODATA; the session ends with OPT_FIN on SPMs
    d._until(lambda: sum(" ODATA " in x for x in d.out) >= 14, "14 ODATA lines")
    assert d.stop() == 0, d.err
    odatas = [x for x in d.out if " ODATA " in x]
    assert len(odatas) == 14 and all(" udp:" in x and f">{port} " in x for x in odatas)
    assert any(" SPM " in x and "opts=FIN" in x for x in d.out), d.out
    (session,) = [x for x in d.err if x.startswith("session ")]
    assert f"from {a.ip4}" in session and "ODATA 14" in session, d.err
    assert "ODATA gaps 0, repaired 0, unrepaired 0" in session
    assert len(list(read_pcap(out))) == len(d.out)  # --write: every packet shown


@pytest.mark.netns
@pytest.mark.raw
def test_live_raw_socket_capture_ipv4_multicast_and_ipv6(netbed_pair: NetBed) -> None:
    a, b = netbed_pair.a, netbed_pair.b
    d = LiveDump(b, ["--capture", "raw", "--group", GROUP, "--iface", b.ifname])
    tx4 = a.socket(socket.AF_INET, socket.SOCK_RAW, 113)
    tx6 = a.socket(socket.AF_INET6, socket.SOCK_RAW, 113)
    for i in range(3):
        tx4.sendto(odata(i, 0, b"v4").encode(), (GROUP, 0))
    up6 = nak(9).replace(source_nla=wire.as_nla(b.ip6), group_nla=wire.as_nla("ff0e::1"))
    tx6.sendto(up6.encode(), (b.ip6, 0))
    lines = d.wait_lines(4)
    assert d.stop(signal.SIGINT) == 0, d.err  # Ctrl-C: the summary, exit status 0
    assert any(x.startswith("4 PGM packets") for x in d.err), d.err
    assert sum(f" {a.ip4} -> {GROUP} ODATA " in x for x in lines) == 3, lines
    assert any(f" {a.ip6} -> {b.ip6} NAK " in x and "grp=ff0e::1" in x for x in lines), lines


@pytest.mark.netns
def test_live_udp_socket_capture(netbed_pair: NetBed) -> None:
    a, b = netbed_pair.a, netbed_pair.b
    port = 7732
    d = LiveDump(b, ["--capture", "udp", "--udp-port", str(port), "--group", GROUP,
                     "--iface", b.ifname])  # fmt: skip
    tx = a.socket(socket.AF_INET, socket.SOCK_DGRAM)
    tx.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(a.ip4))
    tx.bind((a.ip4, port))
    tx.sendto(spm(1, 0, 0xFFFFFFFF).encode(), (GROUP, port))
    tx.sendto(odata(0, 0, b"udp").encode(), (GROUP, port))
    tx.sendto(nak(0).encode(), (b.ip4, port))
    lines = d.wait_lines(3)
    assert d.stop() == 0, d.err
    assert lines[0].split()[1:6] == [a.ip4, "->", GROUP, f"udp:{port}>{port}", "SPM"], lines
    assert f" {a.ip4} -> {GROUP} udp:{port}>{port} ODATA " in lines[1]
    assert f" {a.ip4} -> {b.ip4} udp:{port}>{port} NAK " in lines[2]


@pytest.mark.netns
def test_live_capture_stops_after_duration(netbed_pair: NetBed) -> None:
    b = netbed_pair.b
    d = LiveDump(b, ["--capture", "udp", "--udp-port", "7733", "--duration", "0.5", "--json"])
    assert d.proc.wait(timeout=LIVE_TIMEOUT) == 0, d.err  # ended by --duration, no signal
    d.stop()
    assert json.loads(d.out[-1])["summary"]["packets"] == 0
