"""Running a scenario on the simulated network, sweeping it, and writing the results folder.

Theory of operation
-------------------
:func:`run` builds a :class:`~pgm.sim.Network` (seeded with the scenario's seed, tracing off)
holding the real engines: one :class:`~pgm.engine.Source` per ``[[sources]]`` at 10.0.0.1...,
one :class:`~pgm.engine.Receiver` per receiver at 10.1.0.1..., each inside its probe
(:mod:`pgm.sim.metrics`).  Every engine's RNG comes from :meth:`Network.rng_for` with the node's
name and each burst-loss chain from the seed and the receiver's name, so one seed gives one
result.  Links come from each receiver group's :class:`~pgm.sim.models.LinkModel`: downstream
for every source -> receiver pair, upstream for everything the receiver sends.  Late joiners
(``join_at`` > 0) are added to the network at that virtual time.

Each source is fed by a scripted call that queues messages until the send buffer pushes back
(:class:`~pgm.engine.WouldBlock`), then retries a little later, and closes the session after
the last one.  The network runs in slices of virtual time; between slices the run checks
whether every receiver has ended its sessions (then it stops), and reports progress.  It also
stops at ``time_limit``.  Ctrl-C or SIGTERM stops it where it is: :class:`RunInterrupted`
carries the figures measured so far (a sweep's: the points done and the one cut short), so the
command can still write them.

:func:`sweep` runs one scenario dict per sweep value (:func:`pgm.sim.scenario.override`).
:func:`write_results` writes a results folder: ``summary.json``, ``receivers.csv``,
``sources.csv``, ``latency.csv`` (one repair latency per line), ``scenario.json`` (what ran),
pcap files under ``pcap/``; :func:`write_sweep` adds ``sweep.csv`` / ``sweep.json`` and one
subfolder per point.  Plots are :mod:`pgm.sim.plots`' business.
"""

from __future__ import annotations

import csv
import dataclasses
import ipaddress
import json
import math
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..engine import NotConnected, Receiver, Source, WouldBlock
from ..pcap import PcapWriter
from .links import Link
from .metrics import (
    ReceiverMetrics,
    ReceiverProbe,
    SendLog,
    SharedParse,
    SourceMetrics,
    SourceProbe,
    _Capture,
    receiver_metrics,
    source_metrics,
    summarize,
)
from .network import Network, Node
from .scenario import ReceiverGroup, Scenario, SourceSpec, Sweep, override, parse

__all__ = [
    "Progress",
    "RunInterrupted",
    "RunResult",
    "run",
    "sweep",
    "write_results",
    "write_sweep",
]

Progress = Callable[[float, int, int], None]
"""Progress callback: ``(virtual time, receivers done, receivers)`` after each slice."""

_SLICE = 0.05  # virtual seconds between completion checks
_FEED_RETRY = 0.005  # virtual seconds before a source whose buffer was full is fed again
_RESULT_FILES = (
    "summary.json",
    "scenario.json",
    "receivers.csv",
    "sources.csv",
    "summary.csv",
    "latency.csv",
)
_SRC_BASE = int(ipaddress.IPv4Address("10.0.0.1"))
_RCV_BASE = int(ipaddress.IPv4Address("10.1.0.1"))


@dataclass(frozen=True)
class RunResult:
    """What one run measured."""

    scenario: Scenario
    receivers: tuple[ReceiverMetrics, ...]
    sources: tuple[SourceMetrics, ...]
    summary: dict[str, Any]
    latencies: tuple[tuple[str, float], ...]
    """Every repair latency sample: ``(receiver name, seconds)``."""


class _Run:
    """The network and probes of one run (see the module docstring)."""

    def __init__(self, sc: Scenario, captures: ExitStack, pcap_dir: Path | None) -> None:
        self.sc = sc
        self.net = Network(seed=sc.seed, trace=False)
        self.pcap_dir = pcap_dir
        self.captures = captures
        self.sources: list[tuple[SourceSpec, SourceProbe, Node[Any]]] = []
        self.receivers: list[tuple[ReceiverGroup, str, ReceiverProbe]] = []
        self.rx_nodes: list[Node[Any]] = []
        self.logs: dict[tuple[bytes, int], SendLog] = {}
        self.shared_links: dict[int, Link] = {}  # id(group) -> its downstream Link
        self.parse = SharedParse()  # control packets parsed once for every receiver

    def build(self) -> None:
        """Add the sources and (schedule) the receivers."""
        for i, spec in enumerate(self.sc.sources):
            self._add_source(i, spec)
        index = 0
        for g in self.sc.receivers:
            for j in range(g.count):
                self._schedule_receiver(g, f"{g.name}{j}", index)
                index += 1

    def _capture(self, name: str, address: Any) -> _Capture | None:
        if name not in self.sc.capture or self.pcap_dir is None:
            return None
        self.pcap_dir.mkdir(parents=True, exist_ok=True)
        writer = self.captures.enter_context(PcapWriter(self.pcap_dir / f"{name}.pcap"))
        return _Capture(writer, address)

    def _add_source(self, i: int, spec: SourceSpec) -> None:
        addr = ipaddress.IPv4Address(_SRC_BASE + i)
        engine = Source(
            spec.config,
            group=self.sc.group,
            nla=addr,
            rng=self.net.rng_for(spec.name),
            gsi=bytes([0x50, 0x47, 0x4D, 0x53, (self.sc.seed >> 8) & 0xFF, i & 0xFF]),
            sport=40000 + i,
        )
        probe = SourceProbe(engine, self._capture(spec.name, addr))
        self.logs[(engine.tsi.gsi, engine.tsi.source_port)] = probe.log
        node = self.net.add_node(probe, addr, groups=[self.sc.group], name=spec.name)
        self.sources.append((spec, probe, node))
        self.net.call_at(spec.start, lambda: self._feed(spec, engine, node, 0))

    def _feed(self, spec: SourceSpec, engine: Source, node: Node[Any], sent: int) -> None:
        t = spec.transfer
        payload = bytes(t.message_size)
        now = self.net.now
        try:
            while sent < t.messages:
                engine.send(payload, now)
                sent += 1
        except WouldBlock:
            node.poke()
            self.net.call_later(_FEED_RETRY, lambda: self._feed(spec, engine, node, sent))
            return
        except NotConnected:
            return
        engine.close(now)
        node.poke()

    def _schedule_receiver(self, g: ReceiverGroup, name: str, index: int) -> None:
        if g.join_at > 0:
            self.net.call_at(g.join_at, lambda: self._add_receiver(g, name, index))
        else:
            self._add_receiver(g, name, index)

    def _add_receiver(self, g: ReceiverGroup, name: str, index: int) -> None:
        net = self.net
        addr = ipaddress.IPv4Address(_RCV_BASE + index)
        engine = Receiver(g.config, group=self.sc.group, rng=net.rng_for(name), now=net.now)
        probe = ReceiverProbe(engine, self.logs, self._capture(name, addr), net.now, self.parse)
        node = net.add_node(probe, addr, groups=[self.sc.group], name=name, keep_events=False)
        rng = net.rng_for(f"link:{name}") if g.link.stateful else None
        down = g.link.downstream(rng) if g.link.stateful else self._shared(g)
        for _, _, src_node in self.sources:
            net.set_link(src_node, node, down)
        net.set_link(node, None, g.link.upstream())
        self.receivers.append((g, name, probe))
        self.rx_nodes.append(node)

    def _shared(self, g: ReceiverGroup) -> Link:
        """The downstream Link every receiver of group ``g`` shares (no per-receiver state)."""
        link = self.shared_links.get(id(g))
        if link is None:
            link = self.shared_links[id(g)] = g.link.downstream()
        return link

    def done(self) -> int:
        """Receivers that ended a session per source (late joiners not yet added count not)."""
        n = len(self.sources)
        return sum(p.engine.stats.sessions_ended >= n for _, _, p in self.receivers)

    def loop(self, progress: Progress | None) -> None:
        net, sc = self.net, self.sc
        total = sc.receiver_count
        last_join = max(g.join_at for g in sc.receivers)
        while net.now < sc.time_limit:
            net.run(until=min(sc.time_limit, net.now + _SLICE), max_events=1 << 62)
            done = self.done()
            if progress is not None:
                progress(net.now, done, total)
            if done == total and net.now >= last_join:
                break
            if net.next_time() is None:
                break


def run(
    sc: Scenario, *, progress: Progress | None = None, pcap_dir: Path | None = None
) -> RunResult:
    """Run scenario ``sc``; pcap files of ``sc.capture`` nodes go to ``pcap_dir`` if given.

    Ctrl-C or SIGTERM (any :class:`KeyboardInterrupt`) stops the run where it is and raises
    :class:`RunInterrupted` carrying the figures so far (``summary["interrupted"]`` True)."""
    wall = time.perf_counter()
    stopped: KeyboardInterrupt | None = None
    with ExitStack() as captures:
        r = _Run(sc, captures, pcap_dir)
        try:
            r.build()
            r.loop(progress)
        except KeyboardInterrupt as exc:
            stopped = exc
    result = _result(r, time.perf_counter() - wall, stopped is not None)
    if stopped is not None:
        raise RunInterrupted([result], stopped) from stopped
    return result


class RunInterrupted(KeyboardInterrupt):
    """A run or sweep stopped by Ctrl-C or SIGTERM: what it measured until then.

    ``results``: the runs done, the last one cut short (its ``summary["interrupted"]`` True);
    ``cause``: the interrupt itself (``pgm.cli.signals.Terminated`` for SIGTERM)."""

    def __init__(self, results: list[RunResult], cause: KeyboardInterrupt) -> None:
        super().__init__("interrupted")
        self.results = results
        self.cause = cause


def _result(r: _Run, wall: float, interrupted: bool) -> RunResult:
    """The figures of run ``r`` (finished, or stopped early)."""
    sc = r.sc
    t0 = min(s.start for s in sc.sources)
    expected = sum(s.transfer.messages for s in sc.sources)
    rx: list[ReceiverMetrics] = []
    lat_all: list[float] = []
    samples: list[tuple[str, float]] = []
    for g, name, probe in r.receivers:
        m, lat = receiver_metrics(name, g.name, g.join_at, probe, expected, t0)
        rx.append(m)
        lat_all.extend(lat)
        samples.extend((name, v) for v in probe.latencies)
    lat_all.sort()
    src = tuple(source_metrics(spec.name, probe) for spec, probe, _ in r.sources)
    summary: dict[str, Any] = {"scenario": sc.name, "seed": sc.seed}
    summary.update(summarize(rx, src, lat_all))
    summary.update(
        virtual_seconds=r.net.now,
        wall_seconds=wall,
        events=r.net.stats.events,
        deliveries=r.net.stats.delivered,
        mean_link_loss=_mean_loss(sc),
        interrupted=interrupted,
    )
    return RunResult(sc, tuple(rx), src, summary, tuple(samples))


def _mean_loss(sc: Scenario) -> float:
    n = sc.receiver_count
    return sum(g.link.mean_loss * g.count for g in sc.receivers) / n if n else math.nan


def sweep(
    data: Mapping[str, Any],
    spec: Sweep,
    *,
    progress: Callable[[int, Any, float, int, int], None] | None = None,
    out: Path | None = None,
) -> list[RunResult]:
    """Run scenario dict ``data`` once per value of ``spec`` (each point validated anew);
    with ``out``, each point's pcap files go to ``out/<param>=<value>/pcap``."""
    results: list[RunResult] = []
    for i, value in enumerate(spec.values):
        sc = parse(override(data, spec.param, value))
        cb = None if progress is None else _point_progress(progress, i, value)
        pdir = None if out is None else out / _point_dir(spec.param, value) / "pcap"
        try:
            results.append(run(sc, progress=cb, pcap_dir=pdir))
        except RunInterrupted as stop:
            raise RunInterrupted(results + stop.results, stop.cause) from stop.cause
        except KeyboardInterrupt as exc:  # between two runs
            raise RunInterrupted(results, exc) from exc
    return results


def _point_progress(
    report: Callable[[int, Any, float, int, int], None], i: int, value: Any
) -> Progress:
    def cb(t: float, done: int, total: int) -> None:
        report(i, value, t, done, total)

    return cb


def _point_dir(param: str, value: Any) -> str:
    return f"{param}={value}".replace("/", "_")


# -- the results folder --------------------------------------------------------------------------


def _csv(path: Path, rows: Sequence[Any]) -> None:
    with open(path, "w", newline="") as f:
        if not rows:
            return
        first = rows[0]
        names = (
            list(first) if isinstance(first, dict) else [x.name for x in dataclasses.fields(first)]
        )
        w = csv.writer(f)
        w.writerow(names)
        for row in rows:
            d = row if isinstance(row, dict) else dataclasses.asdict(row)
            w.writerow([_cell(d[n]) for n in names])


def _cell(v: Any) -> Any:
    if isinstance(v, float):
        return "" if math.isnan(v) else f"{v:.9g}"
    return "" if v is None else v


def _json_safe(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, dict):
        return {k: _json_safe(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_json_safe(x) for x in v]
    if isinstance(v, bytes):
        return v.hex()
    return v


def _write_json(path: Path, obj: Any) -> None:
    path.write_text(json.dumps(_json_safe(obj), indent=2, sort_keys=False) + "\n")


def write_results(result: RunResult, folder: Path) -> list[Path]:
    """Write one run's results folder (created if needed); the files written."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {name: folder / name for name in _RESULT_FILES}
    _write_json(paths["summary.json"], result.summary)
    _write_json(paths["scenario.json"], dict(result.scenario.raw))
    _csv(paths["receivers.csv"], result.receivers)
    _csv(paths["sources.csv"], result.sources)
    _csv(paths["summary.csv"], [result.summary])
    _csv(paths["latency.csv"], [{"receiver": n, "latency": v} for n, v in result.latencies])
    return list(paths.values())


def write_sweep(spec: Sweep, results: Sequence[RunResult], folder: Path) -> list[Path]:
    """Write a sweep: ``sweep.csv`` / ``sweep.json`` (one row per value) and one results folder
    per value (``<param>=<value>/``)."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = [{spec.param: v, **r.summary} for v, r in zip(spec.values, results, strict=True)]
    written = [folder / "sweep.csv", folder / "sweep.json"]
    _csv(written[0], rows)
    _write_json(written[1], {"param": spec.param, "values": list(spec.values), "points": rows})
    for v, r in zip(spec.values, results, strict=True):
        written += write_results(r, folder / _point_dir(spec.param, v))
    return written
