"""``pgm sim`` — run a scenario on the in-memory network and write a results folder.

Theory of operation: the scenario file is read into a dict (:func:`pgm.sim.scenario.load`),
``--set`` and ``--seed`` override parameters in it, and it is validated
(:func:`pgm.sim.scenario.parse`): a bad file or value is exit status 2 with the reason.  Then
either one run (:func:`pgm.sim.experiment.run`) or, with ``--sweep PARAM=V1,V2,...`` or a
``[sweep]`` table, one run per value (:func:`pgm.sim.experiment.sweep`), with a progress line
on a terminal.  The results folder (``--out``, default ``results/<scenario name>``) gets the
CSV/JSON files, pcap files of the ``--pcap`` nodes and, when matplotlib is installed, the PNG
plots (:mod:`pgm.sim.plots`); without it the command says how to get them.  The summary goes
to stdout (``--json``: stdout carries one JSON object, the summary lines go to stderr).  Exit
status 0, 2 for a bad scenario; Ctrl-C (130) or SIGTERM (143, :mod:`pgm.cli.signals`) stop the
run where it is and write what it measured so far (``"interrupted": true`` in the summary; a
sweep: the points done and the one cut short), without plots.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..progress import ProgressLine, format_rate
from .report import EXIT_OK, EXIT_USAGE, err, json_dump
from .signals import interrupt_status, interrupt_word

if TYPE_CHECKING:
    from ..sim.experiment import RunResult
    from ..sim.scenario import Sweep

# The simulator is imported only when `pgm sim` runs: every other command starts without it.

__all__ = ["add_parser", "run"]


def add_parser(sub: Any) -> None:
    """Add ``sim`` to the subcommands (``sub``: argparse's subparsers action)."""
    m = sub.add_parser(
        "sim",
        help="run a scenario (sources, receivers, loss models) on the simulated network",
        description="Run a scenario file (TOML, or JSON) on the in-memory network with the "
        "real PGM engines and write a results folder: per-receiver and per-source metrics "
        "(CSV), a summary (JSON and CSV), repair latencies, optional pcap files and PNG plots "
        "(with matplotlib: pip install 'pypgm[plot]').  See docs/sim.md.",
    )
    m.add_argument("scenario", metavar="SCENARIO", help="scenario file (.toml or .json)")
    m.add_argument("-o", "--out", metavar="DIR", help="results folder (results/<name>)")
    m.add_argument(
        "--sweep",
        metavar="PARAM=V1,V2,...",
        help="run once per value, e.g. receivers=1,10,100 or loss=0.01,0.05 (docs/sim.md)",
    )
    m.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="PARAM=VALUE",
        help="override a parameter (same names as --sweep), repeatable",
    )
    m.add_argument("--seed", type=int, help="override the scenario's seed")
    m.add_argument(
        "--pcap",
        action="append",
        default=[],
        metavar="NODE",
        help="write NODE's traffic (s0, r0, ...) to pcap/NODE.pcap, repeatable",
    )
    m.add_argument("--no-plots", action="store_true", help="write no PNG plots")
    m.add_argument("--json", action="store_true", help="print the summary as JSON")
    m.set_defaults(func=run)


def _prepare(args: argparse.Namespace) -> tuple[dict[str, Any], Sweep | None]:
    from ..sim.scenario import ScenarioError, load, override, parse, parse_sweep

    data = load(args.scenario)
    for item in args.set:
        single = parse_sweep(item)
        if len(single.values) != 1:
            raise ScenarioError(f"--set takes one value: {item!r}")
        data = override(data, single.param, single.values[0])
    if args.seed is not None:
        data["seed"] = args.seed
    if args.pcap:
        data["capture"] = [*data.get("capture", []), *args.pcap]
    sc = parse(data)  # validate the base scenario before anything runs
    spec = parse_sweep(args.sweep) if args.sweep else sc.sweep
    if spec is not None:
        for v in spec.values:
            parse(override(data, spec.param, v))
    return data, spec


def run(args: argparse.Namespace) -> int:
    """Run ``pgm sim``; the exit status."""
    from ..sim.scenario import ScenarioError

    try:
        data, spec = _prepare(args)
    except ScenarioError as e:
        err("sim", str(e))
        return EXIT_USAGE
    out = Path(args.out) if args.out else Path("results") / str(data.get("name", "scenario"))
    state = {"text": "starting"}
    line = ProgressLine(lambda: state["text"], sys.stderr)
    # With --json, stdout carries only the JSON object; the summary lines go to stderr.
    text_out = contextlib.redirect_stdout(sys.stderr) if args.json else contextlib.nullcontext()
    try:
        with line, text_out:
            if spec is None:
                summary = _single(data, out, state, args.no_plots)
            else:
                summary = _sweep(data, spec, out, state, args.no_plots)
    except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM (pgm.cli.signals)
        return _interrupted(exc, spec, out, args.json)
    except OSError as e:
        err("sim", f"cannot write results to {out}: {e.strerror or e}")
        return 1
    if args.json:
        json_dump(summary)
    return EXIT_OK


def _interrupted(exc: KeyboardInterrupt, spec: Sweep | None, out: Path, as_json: bool) -> int:
    """Ctrl-C or SIGTERM: write what was measured (no plots), say so; 130 or 143."""
    from ..sim.experiment import RunInterrupted, write_results, write_sweep
    from ..sim.scenario import Sweep

    cause = exc.cause if isinstance(exc, RunInterrupted) else exc
    status = interrupt_status(cause)
    word = interrupt_word(status)
    results = exc.results if isinstance(exc, RunInterrupted) else []
    if not results:
        err("sim", f"{word} before a run started: nothing written")
        return status
    try:
        if spec is None:
            write_results(results[0], out)
            summary: Any = results[0].summary
        else:
            done = spec.values[: len(results)]
            write_sweep(Sweep(spec.param, done), results, out)
            summary = _sweep_summary(spec.param, done, results)
    except KeyboardInterrupt:
        err("sim", f"{word} again while writing the results: {out}/ is incomplete")
        return status
    except OSError as e:
        err("sim", f"{word}; cannot write results to {out}: {e.strerror or e}")
        return status
    t = results[-1].summary["virtual_seconds"]
    err("sim", f"{word} at t={t:.2f} s (virtual): partial results in {out}/ (no plots)")
    if as_json:
        json_dump(summary)
    return status


def _progress_text(prefix: str, t: float, done: int, total: int) -> str:
    return f"{prefix}t={t:7.2f}s  receivers done {done}/{total}"


def _plots_note(written: list[Path], no_plots: bool) -> str | None:
    from ..sim import plots

    if no_plots:
        return None
    if not plots.available():
        return plots.INSTALL_HINT
    return "plots: " + ", ".join(p.name for p in written)


def _single(data: dict[str, Any], out: Path, state: dict[str, str], no_plots: bool) -> Any:
    from ..sim import experiment, plots
    from ..sim.scenario import parse

    sc = parse(data)

    def progress(t: float, done: int, total: int) -> None:
        state["text"] = _progress_text("", t, done, total)

    result = experiment.run(sc, progress=progress, pcap_dir=out / "pcap")
    experiment.write_results(result, out)
    pngs = [] if no_plots or not plots.available() else plots.plot_run(result, out)
    _print_summary(result.summary)
    note = _plots_note(pngs, no_plots)
    print(f"results: {out}/" + (f"  ({note})" if note else ""))
    return result.summary


def _sweep(
    data: dict[str, Any], spec: Sweep, out: Path, state: dict[str, str], no_plots: bool
) -> Any:
    from ..sim import experiment, plots

    n = len(spec.values)

    def progress(i: int, v: Any, t: float, done: int, total: int) -> None:
        state["text"] = _progress_text(f"[{i + 1}/{n}] {spec.param}={v}  ", t, done, total)

    results = experiment.sweep(data, spec, progress=progress, out=out)
    experiment.write_sweep(spec, results, out)
    pngs = []
    if not no_plots and plots.available():
        pngs = plots.plot_sweep(spec.param, spec.values, results, out)
    for v, r in zip(spec.values, results, strict=True):
        print(f"{spec.param}={v}:")
        _print_summary(r.summary, indent="  ")
    note = _plots_note(pngs, no_plots)
    print(f"results: {out}/ (sweep.csv)" + (f"  ({note})" if note else ""))
    return _sweep_summary(spec.param, spec.values, results)


def _sweep_summary(param: str, values: Sequence[Any], results: Sequence[RunResult]) -> Any:
    """A sweep's summary for --json: one point per value."""
    points = [{param: v, **r.summary} for v, r in zip(values, results, strict=True)]
    return {"param": param, "points": points}


def _ms(v: Any) -> str:
    return "-" if not isinstance(v, float) or v != v else f"{v * 1000:.1f} ms"


def _print_summary(s: dict[str, Any], indent: str = "") -> None:
    goodput = s["goodput_bps_mean"]
    lines = [
        f"{s['complete_receivers']}/{s['receivers']} receivers complete, residual loss "
        f"{s['residual_loss'] * 100:.3f} %, mean goodput "
        + (format_rate(goodput) if goodput == goodput else "-"),
        f"source: {s['odata']} ODATA, {s['rdata']} RDATA, {s['parity']} parity, "
        f"{s['ncfs']} NCF; {s['naks_at_source']} NAK packets arrived",
        f"receivers: {s['naks_sent']} NAKs sent, {s['naks_suppressed']} suppressed, "
        f"{s['repairs_received']} repairs; latency p50 {_ms(s['latency_p50'])}, "
        f"p95 {_ms(s['latency_p95'])}",
        f"{s['virtual_seconds']:.2f} virtual s in {s['wall_seconds']:.1f} s wall, "
        f"{s['events']} events",
    ]
    for text in lines:
        print(indent + text)
