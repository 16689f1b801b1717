"""What an experiment measures: probes around the real engines, and the metrics they yield.

Theory of operation
-------------------
The engines already count almost everything (:class:`~pgm.engine.SourceStats`,
:class:`~pgm.engine.SessionStats`).  What they cannot know is *time across nodes*: how long a
lost packet took to be repaired.  So each engine of an experiment runs inside a thin probe that
the network drives instead (the probes satisfy :class:`pgm.sim.Engine` and pass every call on):

* :class:`SourceProbe` logs the virtual time each ODATA sequence number was first sent
  (:class:`SendLog`, an array indexed by sequence number) and counts the NAK packets arriving;
* :class:`ReceiverProbe` looks at the type byte of each arriving datagram (RFC 3208 §8) and, for
  RDATA and parity packets only, compares the session's ``rdata_packets_received`` before and
  after the engine took it: every sequence number gained is one repair, whose latency is the
  time since its original ODATA was sent (for packets rebuilt from parity, since the first
  packet of their transmission group was sent).  Repairs of data sent before the receiver
  joined (a late joiner's history) are counted apart, not as latency.  It also notes when each
  session ended.

Both can copy their node's traffic into a pcap file (:class:`~pgm.pcap.PcapWriter`, raw IP with
protocol 113, virtual time as timestamps) for ``pgm dump --read`` or Wireshark.

After the run :func:`receiver_metrics` / :func:`source_metrics` read the counters into flat
frozen dataclasses (one CSV row each), and :func:`summarize` reduces them to one summary dict.
Latency samples are bounded (``MAX_LATENCY_SAMPLES`` per receiver; the rest are counted).
"""

from __future__ import annotations

import dataclasses
import math
from array import array
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from ..engine import Receiver, SessionStats, Source
from ..pcap import PcapWriter, pgm_ip_packet
from ..wire import NLA, Option, Packet, PacketError, decode_data, parse

__all__ = [
    "MAX_LATENCY_SAMPLES",
    "ReceiverMetrics",
    "ReceiverProbe",
    "SendLog",
    "SharedParse",
    "SourceMetrics",
    "SourceProbe",
    "percentile",
    "receiver_metrics",
    "source_metrics",
    "summarize",
]

MAX_LATENCY_SAMPLES = 200_000
"""Repair-latency samples kept per receiver (more are counted in ``latency_dropped``)."""

Decoded = tuple[int, int, int, int, list[Option], bytes]
"""What :func:`pgm.wire.decode_data` returns."""

_ODATA, _RDATA, _NAK = 0x04, 0x05, 0x08
_PARITY = 0x80  # options byte, offset 5 (RFC 3208 §8)


class SendLog:
    """When each ODATA sequence number of one source was first sent (virtual seconds)."""

    __slots__ = ("first", "group_mask", "times")

    def __init__(self, fec_group_size: int = 0) -> None:
        self.first = -1
        self.times = array("d")
        self.group_mask = ~(fec_group_size - 1) if fec_group_size else -1
        """Mask from a parity packet's sequence number to its transmission group's first."""

    def sent(self, sqn: int, now: float) -> None:
        """Record ODATA ``sqn`` sent at ``now`` (sequence numbers come in order)."""
        if self.first < 0:
            self.first = sqn
        if sqn - self.first == len(self.times):
            self.times.append(now)

    def time(self, sqn: int) -> float | None:
        """When ``sqn`` was first sent, or None if it never was (as far as this log knows)."""
        i = sqn - self.first
        return self.times[i] if self.first >= 0 and 0 <= i < len(self.times) else None


class SharedParse:
    """The last control packet parsed and the last data packet decoded, by identity of their
    datagrams (see the module docstring).

    Holding a datagram keeps it alive, so ``datagram is self.data`` is the same datagram,
    never a new one at a recycled address.
    """

    __slots__ = ("data", "decoded", "decoded_data", "packet", "parses")

    def __init__(self) -> None:
        self.data: bytes | None = None
        self.packet: Packet | None = None
        self.decoded_data: bytes | None = None
        self.decoded: Decoded | None = None
        self.parses = 0
        """Datagrams parsed or decoded (once each, however many receivers got them)."""

    def decode(self, datagram: bytes, verify: bool) -> Decoded:
        """:func:`pgm.wire.decode_data`, once per datagram (the receivers' ``_decode``)."""
        if verify:
            return decode_data(datagram, True)
        if datagram is not self.decoded_data:
            self.decoded = decode_data(datagram, False)  # raises for a malformed one: uncached
            self.decoded_data = datagram
            self.parses += 1
        assert self.decoded is not None
        return self.decoded

    def get(self, datagram: bytes) -> Packet | None:
        """The parsed ``datagram`` (without checksum verification); None if malformed."""
        if datagram is not self.data:
            self.data = datagram
            self.parses += 1
            try:
                self.packet = parse(datagram, verify=False)
            except PacketError:
                self.packet = None  # the engine's own parse counts it malformed
        return self.packet


class _Capture:
    """A node's traffic into a pcap file, as raw IP packets at virtual time."""

    __slots__ = ("address", "writer")

    def __init__(self, writer: PcapWriter, address: NLA) -> None:
        self.writer = writer
        self.address = address

    def write(self, data: bytes, src: NLA, dst: NLA, now: float) -> None:
        self.writer.write(pgm_ip_packet(src, dst, data), ts=now)


class SourceProbe:
    """Runs a :class:`~pgm.engine.Source` for the network, logging what it sends."""

    __slots__ = ("capture", "engine", "log", "nak_packets", "next_event", "next_timer")

    def __init__(self, engine: Source, capture: _Capture | None = None) -> None:
        self.engine = engine
        self.log = SendLog(engine.config.fec_group_size)
        self.capture = capture
        self.nak_packets = 0
        """NAK packets that reached the source (the implosion measure)."""
        self.next_timer: Callable[[], float | None] = engine.next_timer
        self.next_event: Callable[[], object | None] = engine.next_event

    def receive(self, datagram: bytes, src: NLA, now: float, dst: NLA | None = None) -> None:
        if len(datagram) > 4 and datagram[4] == _NAK:
            self.nak_packets += 1
        if self.capture is not None:
            self.capture.write(datagram, src, dst or self.capture.address, now)
        self.engine.receive(datagram, src, now, dst)

    def handle_timer(self, now: float) -> None:
        self.engine.handle_timer(now)

    def datagrams_to_send(self, now: float) -> list[tuple[bytes, NLA, int | None]]:
        out = self.engine.datagrams_to_send(now)
        log = self.log
        for item in out:
            data = item[0]
            if data[4] == _ODATA and not data[5] & _PARITY:
                log.sent(int.from_bytes(data[16:20], "big"), now)
            if self.capture is not None:
                self.capture.write(data, self.capture.address, item[1], now)
        return out


class ReceiverProbe:
    """Runs a :class:`~pgm.engine.Receiver` for the network, timing the repairs it gets."""

    __slots__ = (
        "_ended",
        "capture",
        "datagrams_to_send",
        "ended_at",
        "engine",
        "history_repairs",
        "joined_at",
        "latencies",
        "latency_dropped",
        "logs",
        "next_event",
        "next_timer",
        "receive_many",
        "shared",
        "take_events",
    )

    def __init__(
        self,
        engine: Receiver,
        logs: dict[tuple[bytes, int], SendLog],
        capture: _Capture | None,
        joined_at: float = 0.0,
        shared: SharedParse | None = None,
    ) -> None:
        self.engine = engine
        self.shared = shared if not engine.config.verify_checksum else None
        """Where packets are parsed once for all receivers (None: parse each copy)."""
        if self.shared is not None:
            engine._decode = self.shared.decode  # data too: decoded once, the payload shared
        self.joined_at = joined_at
        """When the receiver joined: repairs of data sent before are history, not latency."""
        self.history_repairs = 0
        """Sequence numbers sent before it joined and received by repair (late join)."""
        self.logs = logs
        """Each source's :class:`SendLog`, by TSI (GSI bytes, source port)."""
        self.capture = capture
        self.latencies = array("d")
        """Repair latency of each repaired sequence number, seconds."""
        self.latency_dropped = 0
        self.ended_at: float | None = None
        """When the last session (of those started) ended."""
        self._ended = 0
        self.next_timer: Callable[[], float | None] = engine.next_timer
        self.next_event: Callable[[], object | None] = engine.next_event
        self.take_events: Callable[[], Sequence[object]] = engine.take_events
        self.receive_many: Callable[[Iterable[tuple[bytes, NLA, NLA | None]], float], None] = (
            engine.receive_many
        )
        self.datagrams_to_send: Callable[[float], list[tuple[bytes, NLA, int | None]]] = (
            engine.datagrams_to_send
        )

    def receive(self, datagram: bytes, src: NLA, now: float, dst: NLA | None = None) -> None:
        if self.capture is not None:
            self.capture.write(datagram, src, dst or self.capture.address, now)
        code = datagram[4] if len(datagram) > 5 else -1
        if code == _ODATA:
            if datagram[5] & _PARITY:
                self._repair(datagram, src, now, dst)
            else:
                self.receive_many(((datagram, src, dst),), now)  # = engine.receive, one call less
        elif code == _RDATA:
            self._repair(datagram, src, now, dst)
        elif code < 0 or self.shared is None:
            self.engine.receive(datagram, src, now, dst)
        else:
            pkt = self.shared.get(datagram)
            if pkt is None:
                self.engine.receive(datagram, src, now, dst)  # malformed: the engine counts it
            else:
                self.engine.receive_packet(pkt, len(datagram), src, now, dst)
        if self.engine.stats.sessions_ended != self._ended:
            self._note_end(now)

    def handle_timer(self, now: float) -> None:
        self.engine.handle_timer(now)
        if self.engine.stats.sessions_ended != self._ended:
            self._note_end(now)

    def _note_end(self, now: float) -> None:
        self._ended = self.engine.stats.sessions_ended
        self.ended_at = now

    def _repair(self, datagram: bytes, src: NLA, now: float, dst: NLA | None) -> None:
        r = self.engine
        key = (datagram[8:14], datagram[0] << 8 | datagram[1])
        # The same lookup before and after: an RDATA after the session ended must gain
        # nothing (it did count the ended session's whole total, once per late repair).
        s = r.sessions.get(key) or r.ended_sessions.get(key)  # type: ignore[call-overload]
        before = s.stats.rdata_packets_received if s is not None else 0
        self.receive_many(((datagram, src, dst),), now)  # = r.receive, one call less
        s = r.sessions.get(key) or r.ended_sessions.get(key)  # type: ignore[call-overload]
        gained = (s.stats.rdata_packets_received if s is not None else 0) - before
        log = self.logs.get(key)
        if gained <= 0 or log is None:
            return
        sqn = int.from_bytes(datagram[16:20], "big")
        if datagram[5] & _PARITY:
            sqn &= log.group_mask
        sent = log.time(sqn)
        if sent is None:
            return
        if sent < self.joined_at:
            self.history_repairs += gained  # a late joiner catching up (RFC 3208 §9.5)
            return
        room = MAX_LATENCY_SAMPLES - len(self.latencies)
        keep = min(gained, max(room, 0))
        self.latencies.extend([now - sent] * keep)
        self.latency_dropped += gained - keep


# -- metrics -------------------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0..100) of sorted ``values``, nearest rank; NaN when empty."""
    if not values:
        return math.nan
    k = max(0, min(len(values) - 1, math.ceil(q / 100 * len(values)) - 1))
    return values[k]


@dataclass(frozen=True)
class ReceiverMetrics:
    """One receiver's figures (a row of receivers.csv); counts sum over its sessions."""

    name: str
    group: str
    joined_at: float
    delivered: int
    """Messages delivered."""
    delivered_bytes: int
    expected: int
    """Messages the sources sent (what a receiver there from the start should deliver)."""
    lost: int
    """Sequence numbers reported lost (UnrecoverableLoss)."""
    naks_sent: int
    """NAK packets sent."""
    nak_sqns: int
    """Sequence numbers requested in them (repeats included)."""
    parity_naks: int
    suppressed: int
    """NAK back-offs ended by an NCF or another receiver's NAK (RFC 3208 §6.3)."""
    odata: int
    repairs: int
    """Sequence numbers received by RDATA or rebuilt from parity."""
    parity_recovered: int
    history_repairs: int
    """Of ``repairs``, data sent before the receiver joined (late join's history)."""
    duplicates: int
    ncfs: int
    ended_at: float | None
    """When its sessions ended (None: still open at the time limit)."""
    goodput_bps: float
    """Delivered bits per second from the first source's start to ``ended_at``."""
    latency_samples: int
    latency_mean: float
    latency_p50: float
    latency_p95: float
    latency_max: float

    @property
    def complete(self) -> bool:
        """Delivered everything sent."""
        return self.delivered >= self.expected


def _session_totals(r: Receiver) -> SessionStats:
    total = SessionStats()
    names = [f.name for f in dataclasses.fields(SessionStats)]
    for s in [*r.sessions.values(), *r.ended_sessions.values()]:
        for n in names:
            setattr(total, n, getattr(total, n) + getattr(s.stats, n))
    return total


def receiver_metrics(
    name: str, group: str, joined_at: float, probe: ReceiverProbe, expected: int, t0: float
) -> tuple[ReceiverMetrics, list[float]]:
    """A receiver's metrics and its sorted latency samples, from its probe after the run."""
    st = _session_totals(probe.engine)
    lat = sorted(probe.latencies)
    span = (probe.ended_at - t0) if probe.ended_at is not None else math.nan
    goodput = st.data_bytes_received * 8 / span if span and span > 0 else math.nan
    m = ReceiverMetrics(
        name=name,
        group=group,
        joined_at=joined_at,
        delivered=st.apdus_delivered,
        delivered_bytes=st.data_bytes_received,
        expected=expected,
        lost=st.lost_sqns,
        naks_sent=st.nak_packets_sent,
        nak_sqns=st.selective_naks_sent,
        parity_naks=st.parity_naks_sent,
        suppressed=st.naks_suppressed,
        odata=st.odata_packets_received,
        repairs=st.rdata_packets_received,
        parity_recovered=st.packets_recovered_by_parity,
        history_repairs=probe.history_repairs,
        duplicates=st.duplicate_data_packets,
        ncfs=st.ncfs_received,
        ended_at=probe.ended_at,
        goodput_bps=goodput,
        latency_samples=len(lat) + probe.latency_dropped,
        latency_mean=sum(lat) / len(lat) if lat else math.nan,
        latency_p50=percentile(lat, 50),
        latency_p95=percentile(lat, 95),
        latency_max=lat[-1] if lat else math.nan,
    )
    return m, lat


@dataclass(frozen=True)
class SourceMetrics:
    """One source's figures (a row of sources.csv)."""

    name: str
    odata: int
    rdata: int
    parity: int
    proactive_parity: int
    ncfs: int
    spms: int
    nak_packets: int
    """NAK packets that reached it."""
    nak_sqns: int
    """Sequence numbers requested in accepted NAKs."""
    naks_after_rdata: int
    data_bytes: int
    total_bytes: int
    first_odata: float
    last_odata: float
    rate_bps: float
    """PGM bytes sent (SPM + ODATA + RDATA) per second over the ODATA span, in bits."""


def source_metrics(name: str, probe: SourceProbe) -> SourceMetrics:
    """A source's metrics from its probe after the run."""
    st = probe.engine.stats
    times = probe.log.times
    first = times[0] if times else math.nan
    last = times[-1] if times else math.nan
    span = last - first if times else 0.0
    return SourceMetrics(
        name=name,
        odata=st.odata_packets_sent,
        rdata=st.repair_packets_sent,
        parity=st.parity_packets_sent,
        proactive_parity=st.proactive_parity_sent,
        ncfs=st.ncf_packets_sent,
        spms=st.spm_packets_sent,
        nak_packets=probe.nak_packets,
        nak_sqns=st.naks_received,
        naks_after_rdata=st.naks_after_rdata,
        data_bytes=st.data_bytes_sent,
        total_bytes=st.total_bytes_sent,
        first_odata=first,
        last_odata=last,
        rate_bps=st.total_bytes_sent * 8 / span if span > 0 else math.nan,
    )


def _mean(values: Iterable[float]) -> float:
    vals = [v for v in values if not math.isnan(v)]
    return sum(vals) / len(vals) if vals else math.nan


def summarize(
    receivers: Sequence[ReceiverMetrics], sources: Sequence[SourceMetrics], latencies: list[float]
) -> dict[str, Any]:
    """One flat summary (summary.json, a row of sweep.csv); ``latencies`` sorted, all receivers."""
    odata = sum(s.odata for s in sources)
    rdata = sum(s.rdata for s in sources)
    parity = sum(s.parity for s in sources)
    expected = sum(r.expected for r in receivers)
    delivered = sum(r.delivered for r in receivers)
    return {
        "receivers": len(receivers),
        "sources": len(sources),
        "complete_receivers": sum(r.complete for r in receivers),
        "delivered": delivered,
        "expected": expected,
        "residual_loss": 1 - delivered / expected if expected else math.nan,
        "lost_sqns": sum(r.lost for r in receivers),
        "goodput_bps_mean": _mean(r.goodput_bps for r in receivers),
        "naks_at_source": sum(s.nak_packets for s in sources),
        "nak_sqns_at_source": sum(s.nak_sqns for s in sources),
        "naks_sent": sum(r.naks_sent for r in receivers),
        "naks_suppressed": sum(r.suppressed for r in receivers),
        "ncfs": sum(s.ncfs for s in sources),
        "odata": odata,
        "rdata": rdata,
        "parity": parity,
        "repairs_received": sum(r.repairs for r in receivers),
        "parity_recovered": sum(r.parity_recovered for r in receivers),
        "fec_overhead": parity / odata if odata else math.nan,
        "repair_traffic": rdata / odata if odata else math.nan,
        "latency_samples": sum(r.latency_samples for r in receivers),
        "latency_mean": sum(latencies) / len(latencies) if latencies else math.nan,
        "latency_p50": percentile(latencies, 50),
        "latency_p95": percentile(latencies, 95),
        "latency_max": latencies[-1] if latencies else math.nan,
    }
