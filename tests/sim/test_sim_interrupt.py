"""``pgm sim`` stopped by Ctrl-C or SIGTERM: it stops where it is, writes what it measured so
far (``"interrupted": true``), says so and exits 130 / 143 (docs/sim.md, pgm/cli/signals.py).

The SIGTERM test runs a real ``pgm sim`` process on a scenario that would take many minutes
and signals it once it is running; the others interrupt in-process runs at a slice boundary.
"""

from __future__ import annotations

import csv
import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from pgm.cli import main
from pgm.sim import experiment
from pgm.sim.experiment import RunInterrupted
from pgm.sim.scenario import Sweep, parse

ROOT = Path(__file__).resolve().parents[2]


def _scenario(receivers: int, messages: int, **extra: Any) -> dict[str, Any]:
    return {
        "name": "long",
        "seed": 3,
        "time_limit": 3600.0,
        "transfer": {"messages": messages, "message_size": 1000},
        "source": {"rate_bps": 10_000_000},
        "receivers": {"count": receivers, "link": {"loss": 0.05, "delay": 0.001}},
        **extra,
    }


def _stop_after(slices: int) -> experiment.Progress:
    """A progress callback that acts as Ctrl-C after ``slices`` slices of the run."""
    seen = [0]

    def progress(t: float, done: int, total: int) -> None:
        seen[0] += 1
        if seen[0] >= slices:
            raise KeyboardInterrupt

    return progress


def test_sigterm_stops_pgm_sim_and_writes_what_it_has(tmp_path: Path) -> None:
    # Minutes of work at least (200 receivers x 100 000 packets); the last receiver's pcap
    # file appears when the network is built, after main() installed the SIGTERM handler.
    scenario = tmp_path / "long.json"
    scenario.write_text(json.dumps(_scenario(200, 100_000, capture=["r199"])))
    out = tmp_path / "out"
    p = subprocess.Popen(
        [sys.executable, "-m", "pgm", "sim", str(scenario), "-o", str(out), "--no-plots"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,  # this tree's pgm, not an installed one
    )
    try:
        deadline = time.monotonic() + 120
        while not (out / "pcap" / "r199.pcap").exists():
            assert p.poll() is None, p.communicate()
            assert time.monotonic() < deadline, "pgm sim did not start within 120 s"
            time.sleep(0.1)
        time.sleep(1.0)  # running the network by now
        p.send_signal(signal.SIGTERM)
        _out, err = p.communicate(timeout=120)
    finally:
        if p.poll() is None:
            p.kill()
            p.communicate()
    assert p.returncode == 143, err
    assert "pgm sim: terminated (SIGTERM) at t=" in err
    assert "partial results in" in err
    assert "Traceback" not in err
    summary = json.loads((out / "summary.json").read_text())
    assert summary["interrupted"] is True
    assert summary["expected"] > summary["delivered"] / summary["receivers"]  # cut short
    with open(out / "receivers.csv") as f:
        assert len(list(csv.DictReader(f))) == 200


def test_run_interrupted_carries_the_figures_so_far() -> None:
    sc = parse(_scenario(5, 2000))
    with pytest.raises(RunInterrupted) as info:
        experiment.run(sc, progress=_stop_after(2))
    (result,) = info.value.results
    assert type(info.value.cause) is KeyboardInterrupt
    assert result.summary["interrupted"] is True
    assert 0 < result.summary["virtual_seconds"] < 1.0
    assert len(result.receivers) == 5
    assert experiment.run(parse(_scenario(2, 10))).summary["interrupted"] is False


def test_sweep_interrupted_keeps_the_points_done() -> None:
    spec = Sweep("receivers", (1, 2, 3))

    def progress(i: int, value: Any, t: float, done: int, total: int) -> None:
        if i == 1:
            raise KeyboardInterrupt

    with pytest.raises(RunInterrupted) as info:
        experiment.sweep(_scenario(1, 50), spec, progress=progress)
    first, second = info.value.results
    assert first.summary["interrupted"] is False and first.summary["receivers"] == 1
    assert second.summary["interrupted"] is True and second.summary["receivers"] == 2


def test_ctrl_c_in_the_command_writes_partial_results(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    loop = experiment._Run.loop

    def one_slice_then_ctrl_c(self: experiment._Run, progress: Any) -> None:
        loop(self, _stop_after(1))

    monkeypatch.setattr(experiment._Run, "loop", one_slice_then_ctrl_c)
    scenario = tmp_path / "s.json"
    scenario.write_text(json.dumps(_scenario(3, 2000)))
    out = tmp_path / "out"
    assert main(["sim", str(scenario), "-o", str(out), "--json"]) == 130
    captured = capsys.readouterr()
    assert "pgm sim: interrupted at t=" in captured.err
    assert json.loads(captured.out)["interrupted"] is True  # --json: the partial summary
    assert json.loads((out / "summary.json").read_text())["interrupted"] is True
    assert not list(out.glob("*.png"))  # no plots of a run cut short

    sweep_out = tmp_path / "sweep"
    args = ["sim", str(scenario), "-o", str(sweep_out), "--sweep", "receivers=1,2"]
    assert main(args) == 130
    with open(sweep_out / "sweep.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r["receivers"] for r in rows] == ["1"] and rows[0]["interrupted"] == "True"
