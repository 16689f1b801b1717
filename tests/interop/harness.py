"""Running OpenPGM, ZeroMQ and ``pgm`` peers against each other in network namespaces.

Theory of operation
-------------------
A transfer (:func:`run_transfer`) moves one list of messages from a source to one or more
receivers on a :class:`~tests.testbed.netbed.NetBed`, each end being a separate process
inside its host's namespace:

* ``openpgm`` — ``openpgm_peer.c`` compiled against libpgm (:func:`build_openpgm_peer`),
* ``pgm`` — ``tests/helpers/pgm_peer.py`` on this project's ``pgm.io`` (the interpreter running
  the tests),
* ``zmq`` — ``zmq_peer.py`` on Debian's python3-zmq (``/usr/bin/python3``), ``pgm://`` over raw
  IP and ``epgm://`` over UDP.

All three speak one line protocol on stdin/stdout (READY, go, SENT, LAST, close), so the
orchestration is the same whoever is on which end: receivers start and join, the source starts,
sends, and keeps answering NAKs until every receiver printed LAST (its last expected message
arrived), then it closes (OPT_FIN) and everyone exits.  Messages travel in files of
``[4-byte big-endian length][bytes]`` records, so every receiver's output is compared byte for
byte with what was sent.

Loss is nftables in the receiving namespaces' input hook (tests/testbed/netbed.py).
``tcpdump`` captures on one host's veth (the receiver of a pair, the source of a star) before
that hook drops anything, proven attached and flushed by probe packets
(tests/interop/capture.py); the capture is read back with :mod:`pgm.pcap` and every PGM packet
parsed with :mod:`pgm.wire` (checksums verified), so a test can assert which packet types
crossed between the
implementations (:class:`Wire`).
"""

from __future__ import annotations

import contextlib
import json
import queue
import random
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pgm import wire
from tests.interop.capture import CAPTURE_TOOL, Capture, Wire
from tests.testbed.netbed import GROUP4, GROUP6, NetBed, NetHost

HERE = Path(__file__).resolve().parent
PEER_SRC = HERE / "openpgm_peer.c"
PGM_PEER = HERE.parent / "helpers" / "pgm_peer.py"  # the one pgm peer (e2e, interop, bench)
ZMQ_PEER = HERE / "zmq_peer.py"
ZMQ_PYTHON = "/usr/bin/python3"

IP_HEADER = {4: 20, 6: 40}
UDP_HEADER = 8
PGM_DATA_HEADER = 24  # common header + SQN + TRAIL
FRAGMENT_OPTIONS = 20  # OPT_LENGTH + OPT_FRAGMENT
MAX_FRAGMENTS = 16  # OpenPGM's limit per APDU (and 65535 bytes)


# -- environment -----------------------------------------------------------------------------


def _run(argv: Sequence[str], timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout, check=False)


def interop_unavailable_reason() -> str | None:
    """Why the OpenPGM/ZeroMQ peers cannot run here, or None if they can."""
    for tool, pkg in (("gcc", "gcc"), ("pkg-config", "pkg-config"), (CAPTURE_TOOL, "tcpdump")):
        if shutil.which(tool) is None:
            return f"needs `{tool}` (apt-get install {pkg})"
    if _run(["pkg-config", "--exists", "openpgm-5.3"]).returncode != 0:
        return "needs OpenPGM's headers: pkg-config openpgm-5.3 (apt-get install libpgm-dev)"
    if not Path(ZMQ_PYTHON).exists() or _run([ZMQ_PYTHON, "-c", "import zmq"]).returncode:
        return f"needs ZeroMQ for {ZMQ_PYTHON} (apt-get install python3-zmq)"
    return None


def build_openpgm_peer(dest_dir: Path) -> Path:
    """Compile ``openpgm_peer.c`` against libpgm into ``dest_dir``; return the executable."""
    exe = dest_dir / "openpgm_peer"
    flags = _run(["pkg-config", "--cflags", "--libs", "openpgm-5.3"]).stdout.split()
    proc = _run(["gcc", "-O2", "-Wall", "-rdynamic", "-o", str(exe), str(PEER_SRC), *flags], 120)
    if proc.returncode != 0:
        raise RuntimeError(f"building openpgm_peer failed:\n{proc.stderr}")
    return exe


def versions() -> dict[str, str]:
    """Debian package versions of the peers (for the results file)."""
    pkgs = ["libpgm-5.3-0", "libzmq5", "python3-zmq"]
    out = _run(["dpkg-query", "-W", "-f", "${Package} ${Version}\\n", *pkgs]).stdout
    return dict(line.split(" ", 1) for line in out.splitlines() if " " in line)


from tests.interop.peerio import read_messages, write_messages  # noqa: E402

# -- messages ----------------------------------------------------------------------------------


def max_tsdu(mtu: int, v6: bool, udp: bool) -> int:
    """Largest unfragmented TSDU (OpenPGM's arithmetic, docs/protocol.md §8)."""
    return mtu - IP_HEADER[6 if v6 else 4] - (UDP_HEADER if udp else 0) - PGM_DATA_HEADER


def max_fragment(mtu: int, v6: bool, udp: bool) -> int:
    """Largest TSDU of one fragment (OPT_LENGTH + OPT_FRAGMENT take 20 bytes)."""
    return max_tsdu(mtu, v6, udp) - FRAGMENT_OPTIONS


def max_apdu(mtu: int, v6: bool, udp: bool) -> int:
    """OpenPGM's largest APDU: 16 fragments, at most 65535 bytes."""
    return min(65535, MAX_FRAGMENTS * max_fragment(mtu, v6, udp))


def fragments(size: int, mtu: int, v6: bool, udp: bool) -> int:
    """How many TPDUs a message of ``size`` bytes takes."""
    if size <= max_tsdu(mtu, v6, udp):
        return 1
    frag = max_fragment(mtu, v6, udp)
    return -(-size // frag)


def mtu_for_16_fragments(v6: bool, udp: bool) -> int:
    """A PGM MTU at which a 65535-byte APDU takes exactly 16 fragments (needs a jumbo link)."""
    return 4200 + IP_HEADER[6 if v6 else 4] + (UDP_HEADER if udp else 0) + 44


def make_messages(
    seed: int,
    total: int,
    sizes: Sequence[int] | None = None,
    lo: int = 1,
    hi: int = 1400,
    must: Sequence[int] = (),
) -> list[bytes]:
    """Random messages of about ``total`` bytes: ``must`` sizes first spread through the list,
    the rest drawn from ``sizes`` (if given) or uniformly from [lo, hi]."""
    rnd = random.Random(seed)
    lengths: list[int] = []
    n = 0
    while n < total:
        size = rnd.choice(sizes) if sizes else rnd.randint(lo, hi)
        lengths.append(size)
        n += size
    for i, size in enumerate(must):
        lengths.insert((i * 7919) % (len(lengths) + 1), size)
    return [rnd.randbytes(s) for s in lengths]


# -- processes ---------------------------------------------------------------------------------


class PeerError(AssertionError):
    """A peer misbehaved (no expected line, bad exit): the test fails with its output."""


class Proc:
    """A peer process whose output lines are collected by reader threads."""

    def __init__(self, name: str, popen: subprocess.Popen[str]) -> None:
        self.name = name
        self.p = popen
        self.out: list[str] = []
        self.err: list[str] = []
        self._lines: queue.Queue[str] = queue.Queue()
        self.started = time.monotonic()
        self._readers = [
            threading.Thread(target=self._reader, args=(stream, sink, q), daemon=True)
            for stream, sink, q in ((popen.stdout, self.out, True), (popen.stderr, self.err, False))
        ]
        for t in self._readers:
            t.start()

    def _reader(self, stream: Any, sink: list[str], to_queue: bool) -> None:
        for raw in stream:
            line = raw.rstrip("\n")
            sink.append(line)
            if to_queue:
                self._lines.put(line)
        if to_queue:
            self._lines.put("\0EOF")

    def drain(self, timeout: float = 2.0) -> None:
        """Wait until everything the (exited) process wrote has been read."""
        for t in self._readers:
            t.join(timeout)

    def tail(self) -> str:
        return (
            f"{self.name}: rc={self.p.poll()} stdout={self.out[-6:]} "
            f"stderr={[e for e in self.err if not e.startswith('LOG 2')][-8:]}"
        )

    def wait_line(self, prefix: str, timeout: float) -> str:
        """The next stdout line starting with ``prefix`` (earlier lines are skipped)."""
        end = time.monotonic() + timeout
        while True:
            left = end - time.monotonic()
            if left <= 0:
                raise PeerError(f"no {prefix!r} within {timeout:.0f} s; {self.tail()}")
            try:
                line = self._lines.get(timeout=min(left, 0.2))
            except queue.Empty:
                continue
            if line == "\0EOF":
                self._lines.put(line)  # stay at EOF
                raise PeerError(f"exited before {prefix!r}; {self.tail()}")
            if line.startswith(prefix):
                return line

    def command(self, text: str) -> None:
        assert self.p.stdin is not None
        with contextlib.suppress(BrokenPipeError, OSError):
            self.p.stdin.write(text + "\n")
            self.p.stdin.flush()

    def finish(self, timeout: float) -> int:
        """Wait for the exit (SIGTERM, then SIGKILL, after ``timeout``); the exit status."""
        try:
            rc = self.p.wait(timeout)
            self.drain()
            return rc
        except subprocess.TimeoutExpired:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(3)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait(3)
            raise PeerError(f"did not exit within {timeout:.0f} s; {self.tail()}") from None

    def last_json(self) -> dict[str, Any]:
        for line in reversed(self.out):
            if line.startswith("{"):
                return dict(json.loads(line))
        raise PeerError(f"no JSON result; {self.tail()}")

    def result_fields(self) -> dict[str, str]:
        """``key=value`` pairs of the RESULT line (openpgm and zmq peers)."""
        for line in reversed(self.out):
            if line.startswith("RESULT"):
                return dict(kv.split("=", 1) for kv in line.split()[1:])
        raise PeerError(f"no RESULT line; {self.tail()}")

    def logs(self) -> list[tuple[float, str]]:
        """libpgm log lines (``-L``): (wall-clock time, message)."""
        out = []
        for line in self.err:
            if line.startswith("LOG "):
                parts = line.split(" ", 3)
                if len(parts) == 4:
                    out.append((float(parts[2]), parts[3]))
        return out


# -- capture and wire analysis: tests/interop/capture.py ----------------------------------------


# -- peers -------------------------------------------------------------------------------------


@dataclass
class Peer:
    """One end of a transfer."""

    impl: str
    """``openpgm``, ``pgm`` or ``zmq``."""
    host: NetHost
    late: bool = False
    """Receiver: start only after the source sent half of the messages."""
    options: list[str] = field(default_factory=list)
    """Extra command-line options for this peer."""
    proc: Proc | None = None
    output: Path | None = None

    def ip(self, v6: bool) -> str:
        return self.host.ip6 if v6 else self.host.ip4


@dataclass
class Transfer:
    """What to move, how, and between whom (see :func:`run_transfer`)."""

    bed: NetBed
    tmp: Path
    exe: Path
    source: Peer
    receivers: list[Peer]
    messages: list[bytes]
    transport: str = "raw"
    v6: bool = False
    port: int = 7500
    mtu: int = 1500
    loss: float = 0.0
    """Percent of PGM packets dropped at random in every receiver's input hook."""
    capture_on: NetHost | None = None
    pgm_rate_bps: int = 100_000_000
    openpgm_pace: int = 12_000_000
    """Average bytes/s the OpenPGM source keeps to (its bucket is much bigger, see -r)."""
    zmq_rate_kbit: int = 100_000
    timeout: float = 60.0
    close_linger: float = 0.5
    capture: Capture | None = None
    """Set by :func:`run_transfer` (readable even when the transfer raised)."""
    on_half: Callable[[Transfer], None] | None = None
    """Called while the source pauses after half of the messages (it must be started with its
    pause option: ``-H`` for OpenPGM, ``--late`` for pgm), before late receivers start."""
    source_tsi: tuple[bytes, int] | None = None
    """The source's (GSI, data-source port), from its READY line."""
    stop_receivers: bool = True
    """Tell OpenPGM/ZeroMQ receivers to stop once the source closed (else they run on until
    their own ``-k`` time or the timeout)."""

    @property
    def udp(self) -> bool:
        return self.transport == "udp"

    @property
    def group(self) -> str:
        return GROUP6 if self.v6 else GROUP4

    def addr(self, host: NetHost) -> str:
        return host.ip6 if self.v6 else host.ip4


@dataclass
class Outcome:
    """What happened in a transfer."""

    received: list[list[bytes]]
    wire: Wire
    source: Peer
    receivers: list[Peer]
    seconds: float
    drops: list[int]
    capture_stats: str = ""


def _openpgm_rate(t: Transfer) -> int:
    # OpenPGM's token bucket holds one millisecond of TXW_MAX_RTE and must take a whole APDU at
    # once (docs/protocol.md §12): size the rate for the largest message, pace the average with -a.
    biggest = max(len(m) for m in t.messages)
    wire_bytes = biggest + fragments(biggest, t.mtu, t.v6, t.udp) * 100
    return max(40_000_000, int(wire_bytes * 1000 * 1.2))


def _command(t: Transfer, peer: Peer, role: str, path: Path, expect: Path) -> list[str]:
    host = peer.host
    if peer.impl == "openpgm":
        argv = [
            str(t.exe),
            role,
            "-n",
            f"{t.addr(host)};{t.group}",
            "-p",
            str(t.port),
            "-m",
            str(t.mtu),
            "-t",
            str(t.timeout),
        ]
        if t.udp:
            argv.append("-u")
        if role == "send":
            argv += [
                "-i",
                str(path),
                "-r",
                str(_openpgm_rate(t)),
                "-a",
                str(t.openpgm_pace),
                "-s",
                str(t.port + 1000),
                "-g",
                f"openpgm-{host.name}",
                "-l",
                str(t.timeout),
            ]
        else:
            argv += ["-o", str(path), "-e", str(expect)]
        return argv + peer.options
    if peer.impl == "pgm":
        argv = [
            str(PGM_PEER),
            role,
            t.group,
            str(t.port),
            host.ifname,
            t.transport,
            "--timeout",
            str(t.timeout),
        ]
        if role == "send":
            argv += [
                "--in",
                str(path),
                "--rate",
                str(t.pgm_rate_bps),
                "--mtu",
                str(t.mtu),
                "--linger",
                str(t.close_linger),
                "--linger-max",
                str(t.timeout),
            ]
        else:
            argv += ["--out", str(path), "--expect", str(expect)]
        return argv + peer.options
    if peer.impl == "zmq":
        scheme = "epgm" if t.udp else "pgm"
        endpoint = f"{scheme}://{t.addr(host)};{t.group}:{t.port}"
        role = "pub" if role == "send" else "sub"
        argv = [
            ZMQ_PYTHON,
            str(ZMQ_PEER),
            role,
            endpoint,
            "--rate",
            str(t.zmq_rate_kbit),
            "--timeout",
            str(t.timeout),
        ]
        argv += (
            ["--in", str(path)] if role == "pub" else ["--out", str(path), "--expect", str(expect)]
        )
        return argv + peer.options
    raise ValueError(peer.impl)


def _start(t: Transfer, peer: Peer, role: str, path: Path, expect: Path) -> Proc:
    argv = _command(t, peer, role, path, expect)
    kw: dict[str, Any] = dict(
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1
    )
    if peer.impl == "pgm":
        popen = peer.host.python_popen(argv, **kw)
    else:
        popen = peer.host.popen(argv, **kw)
    peer.proc = Proc(f"{peer.impl} {role} on {peer.host.name}", popen)
    return peer.proc


def send_nak(t: Transfer, sqn: int) -> None:
    """Send the source a NAK for ``sqn`` from the first receiver's host, as another receiver
    would: the source then multicasts an NCF and RDATA that every receiver hears."""
    import socket

    assert t.source_tsi is not None, "the source printed no TSI"
    gsi, sport = t.source_tsi
    src_ip = t.source.ip(t.v6)
    nak = wire.NAK(
        source_port=t.port,
        destination_port=sport,
        gsi=gsi,
        nak_sqn=sqn,
        source_nla=wire.as_nla(src_ip),
        group_nla=wire.as_nla(t.group),
    ).encode()
    family = socket.AF_INET6 if t.v6 else socket.AF_INET
    if t.udp:
        sock = t.receivers[0].host.socket(family, socket.SOCK_DGRAM)
        dst: tuple[Any, ...] = (src_ip, t.port)
    else:
        sock = t.receivers[0].host.socket(family, socket.SOCK_RAW, 113)
        dst = (src_ip, 0)
    with sock:
        sock.sendto(nak, dst)


def run_transfer(t: Transfer) -> Outcome:
    """Move ``t.messages`` from ``t.source`` to every receiver; return what arrived and what the
    capture saw.  Raises :class:`PeerError` when a peer does not follow the protocol in time."""
    src_file = t.tmp / "messages.bin"
    write_messages(src_file, t.messages)
    for i, r in enumerate(t.receivers):
        r.output = t.tmp / f"received-{i}.bin"
    for r in t.receivers:
        r.host.reset_counters()
        if t.loss:
            r.host.set_loss(t.loss)
    cap_host = t.capture_on or (t.receivers[0].host if len(t.receivers) == 1 else t.source.host)
    cap = t.capture = Capture(cap_host, t.tmp / "capture.pcap", udp_port=t.port if t.udp else None)
    t0 = time.monotonic()
    try:
        with cap:
            for r in t.receivers:
                if not r.late:
                    assert r.output is not None
                    _start(t, r, "recv", r.output, src_file)
            for r in t.receivers:
                if r.proc is not None:
                    r.proc.wait_line("READY", 30)
                    # READY is printed by the peer; the kernel's group membership proves the
                    # join (libzmq, for one, joins later in its own I/O thread)
                    r.host.wait_joined(t.group, 30, r.proc.p)
            src = _start(t, t.source, "send", src_file, src_file)
            ready = src.wait_line("READY", 30).split()
            if len(ready) == 3:
                t.source_tsi = (bytes.fromhex(ready[1]), int(ready[2]))
            src.command("go")
            late = [r for r in t.receivers if r.late]
            if late or t.on_half:
                src.wait_line("HALF", t.timeout)
                if t.on_half:
                    t.on_half(t)
                # past the source's first heartbeat SPMs (0.1 s apart, then 1.3 s later): the
                # late receiver's first packet will be data, not an SPM
                if late:
                    time.sleep(0.6)
                for r in late:
                    assert r.output is not None
                    _start(t, r, "recv", r.output, src_file).wait_line("READY", 30)
                    assert r.proc is not None
                    r.host.wait_joined(t.group, 30, r.proc.p)
                time.sleep(0.1)
                src.command("more")
            src.wait_line("SENT", t.timeout)
            for r in t.receivers:
                assert r.proc is not None
                r.proc.wait_line("LAST", t.timeout)
            src.command("close")
            src.finish(t.timeout)
            for r in t.receivers:
                assert r.proc is not None
                if t.stop_receivers:
                    r.proc.command("stop")
                r.proc.finish(t.timeout)
    finally:
        for p in [t.source, *t.receivers]:
            if p.proc is not None and p.proc.p.poll() is None:
                p.proc.p.kill()
                p.proc.p.wait(5)
            if p.proc is not None:
                p.proc.drain()
        drops = [r.host.nft_counters()["total"] for r in t.receivers]
        if t.loss:
            for r in t.receivers:
                r.host.set_loss(0)
    received = [read_messages(r.output) for r in t.receivers if r.output is not None]
    return Outcome(
        received, cap.read(), t.source, t.receivers, time.monotonic() - t0, drops, cap.stats
    )
