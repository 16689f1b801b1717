"""Packet captures the interop tests can trust: complete, or saying that they are not.

Theory of operation
-------------------
A capture runs ``tcpdump`` on one host's veth, inside its namespace, for the duration of a
``with`` block.  Earlier runs used ``dumpcap`` and trusted its "Capturing on" line; on a loaded
machine that line can come before the capture sees packets, and at SIGINT dumpcap stops
without reading what is still in its capture ring, so captures silently missed the start or the
end of a transfer.  Two things make this capture provably complete instead:

* ``--immediate-mode -U``: every packet is handed over and written as it arrives (no ring
  blocks waiting for a timeout), with a large kernel buffer (``-B``) for bursts, and whole
  frames (a UDP GSO batch is captured before segmentation: :func:`pgm.pcap.gso_payloads` cuts it).
* **Probes.**  Before the transfer, and again after it, the capture host multicasts a UDP
  datagram with a random token to :data:`PROBE_GROUP`:\\ :data:`PROBE_PORT` (TTL 1, no loopback,
  out of its veth; no host joins that group, so nothing receives it).  The filter takes these
  probes too, and the capture is "on" only once the start probe is in the file, and "done" only
  once the end probe is: everything between them crossed the veth while the capture was
  provably attached.  Probes are not PGM (UDP port 9 is no PGM port), so :meth:`Capture.read`
  ignores them.

tcpdump's own report ("N packets dropped by kernel") is read at exit.  A capture that dropped
packets or never saw its end probe says so in :attr:`Wire.incomplete`, and
``checks.clean_wire`` fails with a message blaming the *capture*, never the stack.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from pgm import wire
from pgm.pcap import extract_pgm, gso_payloads, read_pcap

if TYPE_CHECKING:
    from tests.interop.harness import Proc
    from tests.testbed.netbed import NetHost

PROBE_GROUP = "239.255.113.9"
PROBE_PORT = 9  # discard: never a PGM port in these tests
CAPTURE_TOOL = "tcpdump"


class CaptureError(AssertionError):
    """The capture could not be started or proven complete (a test-bed problem, not the stack's)."""


@dataclass(frozen=True)
class WirePacket:
    """One PGM packet seen on the capture."""

    ts: float
    src: str
    dst: str
    pkt: wire.Packet

    @property
    def name(self) -> str:
        return self.pkt.NAME

    @property
    def sqn(self) -> int:
        p = self.pkt
        if isinstance(p, wire.DataPacket):
            return p.data_sqn
        if isinstance(p, wire.NakPacket):
            return p.nak_sqn
        if isinstance(p, wire.SPM):
            return p.spm_sqn
        return -1

    def sqns(self) -> list[int]:
        """Sequence numbers a NAK/NCF names (its own plus OPT_NAK_LIST)."""
        out = [self.sqn]
        lst = self.pkt.option(wire.OptNakList)
        if lst is not None:
            out.extend(lst.sqns)
        return out

    def has(self, option: type[wire.Option]) -> bool:
        return self.pkt.option(option) is not None


@dataclass
class Wire:
    """The PGM packets of one capture, parsed strictly (checksums verified)."""

    packets: list[WirePacket]
    malformed: list[str] = field(default_factory=list)
    dropped: int = 0
    """Packets the capture itself lost (tcpdump's "dropped by kernel" report)."""
    incomplete: str = ""
    """Why the capture cannot be trusted to hold every packet ("" when it provably does)."""

    def of(self, name: str, src: str | None = None, dst: str | None = None) -> list[WirePacket]:
        return [
            p
            for p in self.packets
            if p.name == name and (src is None or p.src == src) and (dst is None or p.dst == dst)
        ]

    def summary(self) -> dict[str, int]:
        c = Counter(f"{p.name} {p.src}->{p.dst}" for p in self.packets)
        return dict(sorted(c.items()))

    def repairs(self, receiver: str, source: str) -> tuple[set[int], set[int], set[int]]:
        """(SQNs ``receiver`` NAKed to ``source``, those the source then confirmed with an NCF,
        those it then repaired with RDATA) — the NCF/RDATA sent after the first such NAK."""
        first_nak: dict[int, float] = {}
        for p in self.of("NAK", src=receiver, dst=source):
            for s in p.sqns():
                first_nak.setdefault(s, p.ts)
        ncf: set[int] = set()
        for p in self.of("NCF", src=source):
            ncf.update(s for s in p.sqns() if s in first_nak and p.ts >= first_nak[s])
        rdata = {
            p.sqn
            for p in self.of("RDATA", src=source)
            if p.sqn in first_nak and p.ts >= first_nak[p.sqn]
        }
        return set(first_nak), ncf, rdata


class Capture:
    """``tcpdump`` on a host's veth, provably attached before and flushed after a ``with``."""

    def __init__(
        self, host: NetHost, path: Path, *, udp_port: int | None, probe_timeout: float = 20.0
    ) -> None:
        self.host = host
        self.path = path
        self.udp_port = udp_port
        self.bpf = f"udp port {udp_port}" if udp_port else "ip proto 113 or ip6 proto 113"
        self.probe_timeout = probe_timeout
        self.proc: Proc | None = None
        self.complete = False
        self._sock: socket.socket | None = None
        self._offset = 0
        self._carry = b""

    def __enter__(self) -> Capture:
        from tests.interop.harness import Proc

        argv = [
            CAPTURE_TOOL,
            "-n",
            "--immediate-mode",
            "-U",
            "-Z",
            "root",
            "-B",
            str(256 * 1024),  # KiB: room for bursts while the capture host's CPU is busy
            "-s",
            "0",  # whole frames: UDP GSO batches are up to 64 KiB before segmentation
            "-i",
            self.host.ifname,
            "-w",
            str(self.path),
            f"({self.bpf}) or (udp dst port {PROBE_PORT} and dst host {PROBE_GROUP})",
        ]
        p = self.host.popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.proc = Proc(CAPTURE_TOOL, p)
        try:
            self._sock = self._probe_socket()
            self._probe("start")
        except BaseException:
            self._stop()
            raise
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        try:
            if self.proc is not None and self.proc.p.poll() is None:
                try:
                    self._probe("end")
                    self.complete = True
                except CaptureError:
                    if exc_type is None:
                        raise
        finally:
            self._stop()

    def _stop(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        if self.proc is not None and self.proc.p.poll() is None:
            self.proc.p.send_signal(signal.SIGINT)
            try:
                self.proc.p.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.p.kill()
                self.proc.p.wait(5)
        if self.proc is not None:
            self.proc.drain()

    def _probe_socket(self) -> socket.socket:
        sock = self.host.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(self.host.ip4))
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 0)
        return sock

    def _probe(self, tag: str) -> None:
        """Send probes until the capture file holds one (CaptureError if it never does)."""
        assert self._sock is not None and self.proc is not None
        token = f"pgm-capture-probe {tag} {os.urandom(8).hex()}".encode()
        end = time.monotonic() + self.probe_timeout
        while True:
            self._sock.sendto(token, (PROBE_GROUP, PROBE_PORT))
            deadline = time.monotonic() + 0.25
            while time.monotonic() < deadline:
                if self._seen(token):
                    return
                if self.proc.p.poll() is not None:
                    raise CaptureError(f"{CAPTURE_TOOL} exited; {self.proc.tail()}")
                time.sleep(0.01)
            if time.monotonic() > end:
                raise CaptureError(
                    f"the capture never saw its {tag} probe within {self.probe_timeout:.0f} s "
                    f"(the capture is incomplete, not the stack); {self.proc.tail()}"
                )

    def _seen(self, token: bytes) -> bool:
        """Whether ``token`` is in the part of the file written since the last look."""
        try:
            with self.path.open("rb") as f:
                f.seek(self._offset)
                new = f.read()
        except FileNotFoundError:
            return False
        self._offset += len(new)
        chunk = self._carry + new
        self._carry = chunk[-len(token) :]
        return token in chunk

    @property
    def stats(self) -> str:
        """tcpdump's closing report (packets captured / received by filter / dropped)."""
        return " ".join(e for e in (self.proc.err if self.proc else []) if "packets" in e)

    def read(self) -> Wire:
        ports = {self.udp_port} if self.udp_port else set()
        packets: list[WirePacket] = []
        bad: list[str] = []
        for rec in read_pcap(self.path):
            found = extract_pgm(rec, ports)
            if found is None:
                continue
            body, meta = found
            if meta["truncated"]:
                bad.append(f"{meta['src']}->{meta['dst']}: truncated by the capture")
                continue
            segments = gso_payloads(body) if meta["transport"] == "udp" else [body]
            for seg in segments:
                try:
                    pkt = wire.parse(seg, verify=True)
                except wire.PacketError as exc:
                    bad.append(f"{meta['src']}->{meta['dst']}: {exc}")
                    continue
                packets.append(WirePacket(meta["ts"], meta["src"], meta["dst"], pkt))
        report = re.search(r"(\d+) packets? dropped by kernel", self.stats)
        dropped = int(report.group(1)) if report else 0
        incomplete = ""
        if not self.complete:
            incomplete = "the capture never saw its end probe"
        elif report is None:
            incomplete = f"{CAPTURE_TOOL} gave no drop report ({self.stats!r})"
        elif dropped:
            incomplete = f"{CAPTURE_TOOL} dropped {dropped} packets"
        return Wire(packets, bad, dropped, incomplete)
