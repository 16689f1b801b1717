"""pgm sim: scenarios with known outcomes, reproducibility, the results folder and the plots.

Everything runs on the simulated network's virtual clock with small groups, so each test takes
a fraction of a second; the scale run is behind the ``soak`` marker.
"""

from __future__ import annotations

import json
import math
import random
from pathlib import Path
from typing import Any

import pytest

from pgm.cli import main
from pgm.pcap import extract_pgm, read_pcap
from pgm.sim import Link, experiment, plots
from pgm.sim.models import GilbertElliott, LinkModel
from pgm.sim.scenario import ScenarioError, load, override, parse, parse_sweep
from tests.conftest import require

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "scenarios"


def scenario(receivers: int = 1, messages: int = 50, **link: Any) -> dict[str, Any]:
    """A small scenario dict: one source, ``receivers`` alike, ``link`` their link model."""
    return {
        "name": "t",
        "seed": 7,
        "transfer": {"messages": messages, "message_size": 500},
        "source": {"rate_bps": 10_000_000},
        "receivers": {"count": receivers, "link": {"delay": 0.005, **link}},
    }


def run(data: dict[str, Any], **kw: Any) -> experiment.RunResult:
    return experiment.run(parse(data), **kw)


# -- known outcomes ------------------------------------------------------------------------------


def test_no_loss_means_no_naks() -> None:
    r = run(scenario(receivers=5))
    s = r.summary
    assert s["complete_receivers"] == 5
    assert s["naks_at_source"] == s["naks_sent"] == s["rdata"] == s["ncfs"] == 0
    assert s["residual_loss"] == 0
    assert s["latency_samples"] == 0
    assert all(m.delivered == 50 and m.repairs == 0 for m in r.receivers)
    assert r.sources[0].odata == 50


def test_one_scripted_drop_one_nak_one_repair() -> None:
    r = run(scenario(receivers=1, drop_sqns=[10]))
    s, m = r.summary, r.receivers[0]
    assert s["naks_at_source"] == 1
    assert s["rdata"] == 1 and s["ncfs"] == 1
    assert m.naks_sent == 1 and m.repairs == 1 and m.delivered == 50 and m.lost == 0
    assert m.latency_samples == 1
    # From the ODATA's transmission: one-way delay, back-off, NAK, NCF and RDATA round trip.
    assert 0.005 + 0.002 <= m.latency_max <= 0.005 + 0.050 + 0.100


def test_suppression_many_receivers_losing_the_same_packet() -> None:
    r = run(scenario(receivers=50, drop_sqns=[20], delay=0.001))
    s = r.summary
    assert s["complete_receivers"] == 50
    assert s["repairs_received"] == 50  # every receiver got its repair ...
    assert s["naks_at_source"] < 50 / 4  # ... from far fewer NAKs than receivers
    assert s["naks_suppressed"] >= 50 - s["naks_at_source"]
    assert r.sources[0].rdata <= s["naks_at_source"]


def test_random_loss_is_repaired() -> None:
    r = run(scenario(receivers=10, messages=300, loss=0.05))
    s = r.summary
    assert s["complete_receivers"] == 10 and s["lost_sqns"] == 0
    assert s["repairs_received"] > 0 and s["latency_samples"] == s["repairs_received"]
    assert s["latency_p50"] <= s["latency_p95"] <= s["latency_max"]
    assert 0.02 < s["mean_link_loss"] < 0.08 or s["mean_link_loss"] == pytest.approx(0.05)


def test_burst_loss_jitter_reordering_and_upstream_loss() -> None:
    link = {"burst": {"p": 0.02, "r": 0.3}, "jitter": 0.002, "reorder": 0.02,
            "reorder_delay": 0.003, "upstream_loss": 0.05}  # fmt: skip
    r = run(scenario(receivers=5, messages=400, **link))
    assert r.summary["complete_receivers"] == 5
    assert r.summary["repairs_received"] > 0


def test_identical_seeds_identical_results() -> None:
    data = scenario(receivers=8, messages=200, loss=0.05, burst={"p": 0.01, "r": 0.5})
    a, b = run(data), run(data)
    strip = {"wall_seconds"}
    assert {k: v for k, v in a.summary.items() if k not in strip} == {
        k: v for k, v in b.summary.items() if k not in strip
    }
    assert a.receivers == b.receivers and a.sources == b.sources
    assert a.latencies == b.latencies
    c = run({**data, "seed": 8})
    assert c.latencies != a.latencies


def test_late_joiners_count_history_apart() -> None:
    data = scenario(receivers=2, messages=1000)
    data["source"]["late_join"] = 50
    data["receivers"] = [
        {"count": 2, "link": {"delay": 0.005}},
        {"name": "late", "count": 2, "join_at": 0.3, "link": {"delay": 0.005}},
    ]
    r = run(data)
    early = [m for m in r.receivers if m.group == "r"]
    late = [m for m in r.receivers if m.group == "late"]
    assert [m.name for m in late] == ["late0", "late1"]
    assert all(m.complete for m in early)
    assert all(m.joined_at == 0.3 and m.delivered > 0 for m in late)
    assert all(m.history_repairs == m.repairs for m in late)  # no loss: all repairs are history


def test_fec_scenario_sends_parity() -> None:
    data = scenario(receivers=3, messages=160, loss=0.03)
    data["source"].update(fec_group_size=8, fec_proactive=1, fec_ondemand=True)
    r = run(data)
    s = r.summary
    assert s["complete_receivers"] == 3
    assert s["parity"] >= 160 // 8 and s["fec_overhead"] > 0


# -- scenario files ------------------------------------------------------------------------------


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.toml")), ids=lambda p: p.name)
def test_example_scenarios_parse(path: Path) -> None:
    sc = parse(load(path))
    assert sc.name == path.stem and sc.receivers
    if sc.sweep is not None:
        for v in sc.sweep.values:
            parse(override(sc.raw, sc.sweep.param, v))


def test_json_scenarios_and_field_errors(tmp_path: Path) -> None:
    p = tmp_path / "s.json"
    p.write_text(json.dumps(scenario()))
    assert parse(load(p)).receiver_count == 1
    bad = scenario()
    bad["source"]["no_such_field"] = 1
    with pytest.raises(ScenarioError, match=r"unknown SourceConfig fields.*no_such_field"):
        parse(bad)
    bad = scenario()
    bad["receivers"]["nak_bo_ivl"] = -1
    with pytest.raises(ScenarioError, match=r"receivers\[0\].*nak_bo_ivl"):
        parse(bad)
    with pytest.raises(ScenarioError, match="probability"):
        parse(scenario(loss=1.5))
    with pytest.raises(ScenarioError, match="unknown scenario keys"):
        parse({**scenario(), "recievers": {}})
    (tmp_path / "x.toml").write_text("this is = = not toml")
    with pytest.raises(ScenarioError, match="not valid TOML"):
        load(tmp_path / "x.toml")
    with pytest.raises(ScenarioError, match="cannot read"):
        load(tmp_path / "missing.toml")


def test_sweep_parameters() -> None:
    assert parse_sweep("receivers=1,10,100").values == (1, 10, 100)
    assert parse_sweep("loss=0.01,0.1").values == (0.01, 0.1)
    base = scenario()
    assert parse(override(base, "receivers", 7)).receiver_count == 7
    assert parse(override(base, "loss", 0.2)).receivers[0].link.loss == 0.2
    assert parse(override(base, "source.rate_bps", 5000)).sources[0].config.rate_bps == 5000
    assert parse(override(base, "receiver.nak_bo_ivl", 0.1)).receivers[0].config.nak_bo_ivl == 0.1
    assert parse(override(base, "burst.r", 0.5)).receivers[0].link.burst == GilbertElliott(r=0.5)
    assert parse(override(base, "messages", 9)).sources[0].transfer.messages == 9
    assert parse(override(base, "seed", 3)).seed == 3
    with pytest.raises(ScenarioError, match="cannot sweep"):
        override(base, "nonsense.x", 1)
    with pytest.raises(ScenarioError, match="PARAM="):
        parse_sweep("receivers")


def test_link_models() -> None:
    ge = GilbertElliott(p=0.05, r=0.2, loss_good=0.0, loss_bad=1.0)
    assert ge.mean_loss == pytest.approx(0.2)
    drop = ge.predicate(random.Random(1))
    lost = sum(drop(b"") for _ in range(20000))
    assert 0.15 < lost / 20000 < 0.25
    one, two = ge.predicate(random.Random(2)), ge.predicate(random.Random(2))
    assert [one(b"") for _ in range(500)] == [two(b"") for _ in range(500)]  # reproducible
    with pytest.raises(ValueError, match="reorder"):
        Link(reorder=2.0)
    with pytest.raises(ValueError, match="burst"):
        GilbertElliott(p=0, r=0)
    m = LinkModel(loss=0.1, burst=GilbertElliott(p=0.05, r=0.2))
    assert m.stateful and m.mean_loss == pytest.approx(1 - 0.9 * 0.8)
    with pytest.raises(ValueError, match="RNG"):
        m.downstream()


# -- results folder, plots, pcap, the command ----------------------------------------------------


def test_results_folder_and_plots(tmp_path: Path) -> None:
    require(plots.available(), "matplotlib (pip install 'pypgm[plot]')")
    r = run(scenario(receivers=3, messages=100, loss=0.05))
    files = experiment.write_results(r, tmp_path)
    names = {p.name for p in files}
    assert names == {"summary.json", "scenario.json", "receivers.csv", "sources.csv",
                     "summary.csv", "latency.csv"}  # fmt: skip
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["receivers"] == 3 and summary["delivered"] == 300
    rows = (tmp_path / "receivers.csv").read_text().splitlines()
    assert rows[0].startswith("name,group,joined_at,delivered") and len(rows) == 4
    assert len((tmp_path / "latency.csv").read_text().splitlines()) == 1 + len(r.latencies)
    for png in plots.plot_run(r, tmp_path):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 1000


def test_sweep_writes_one_plot_per_question(tmp_path: Path) -> None:
    require(plots.available(), "matplotlib (pip install 'pypgm[plot]')")
    spec = parse_sweep("receivers=1,3,6")
    results = experiment.sweep(scenario(messages=60, loss=0.05), spec, out=tmp_path)
    experiment.write_sweep(spec, results, tmp_path)
    rows = (tmp_path / "sweep.csv").read_text().splitlines()
    assert rows[0].startswith("receivers,scenario,seed") and len(rows) == 4
    assert [r.summary["receivers"] for r in results] == [1, 3, 6]
    assert (tmp_path / "receivers=3" / "summary.json").exists()
    pngs = plots.plot_sweep(spec.param, spec.values, results, tmp_path)
    assert {p.name for p in pngs} == {"implosion.png", "goodput_loss.png", "fec_overhead.png",
                                      "latency_cdf.png"}  # fmt: skip
    assert all(p.stat().st_size > 1000 for p in pngs)


def test_pcap_of_a_receiver_reads_back(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = scenario(receivers=2, messages=20, drop_sqns=[3])
    data["capture"] = ["r1"]
    run(data, pcap_dir=tmp_path)
    path = tmp_path / "r1.pcap"
    records = list(read_pcap(path))
    assert len(records) >= 20 + 1  # the ODATA (one lost) + RDATA + SPMs + NCF
    _, meta = extract_pgm(records[0])
    assert meta["dst"] == "239.192.0.1" and meta["transport"] == "ip"
    assert main(["dump", "--read", str(path)]) == 0
    assert "RDATA" in capsys.readouterr().out


def test_cli_run_and_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    p = tmp_path / "s.json"
    p.write_text(json.dumps(scenario(receivers=2, messages=30, loss=0.05)))
    out = tmp_path / "out"
    assert main(["sim", str(p), "-o", str(out), "--no-plots", "--json", "--seed", "3"]) == 0
    captured = capsys.readouterr()
    summary = json.loads(captured.out)  # stdout: only the JSON object
    assert "receivers complete" in captured.err
    assert summary["seed"] == 3 and summary["receivers"] == 2
    assert (out / "receivers.csv").exists() and not (out / "latency_cdf.png").exists()
    sweep_out = tmp_path / "sweep"
    args = ["sim", str(p), "-o", str(sweep_out), "--sweep", "loss=0,0.1", "--set", "messages=20"]
    assert main([*args, "--no-plots"]) == 0
    assert "loss=0.1:" in capsys.readouterr().out
    assert (sweep_out / "sweep.csv").exists()
    assert main(["sim", str(tmp_path / "nope.toml")]) == 2
    assert "cannot read scenario" in capsys.readouterr().err
    assert main(["sim", str(p), "--sweep", "receivers=-1"]) == 2
    assert "count" in capsys.readouterr().err


def test_cli_without_matplotlib_says_how_to_get_plots(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(plots, "available", lambda: False)
    p = tmp_path / "s.json"
    p.write_text(json.dumps(scenario(messages=10)))
    assert main(["sim", str(p), "-o", str(tmp_path / "o")]) == 0
    assert "pip install 'pypgm[plot]'" in capsys.readouterr().out
    assert (tmp_path / "o" / "summary.json").exists()


# -- scale ---------------------------------------------------------------------------------------


@pytest.mark.soak
def test_scale_many_receivers() -> None:
    """500 receivers x 1 000 packets at 5 % loss: complete and repaired (bounded: a few
    minutes on a loaded 2-core machine; bench/bench_sim.py measures the full 1 000 x 10 000)."""
    data = scenario(receivers=500, messages=1000, loss=0.05, delay=0.001)
    r = run(data)
    s = r.summary
    assert s["complete_receivers"] == 500 and s["lost_sqns"] == 0
    assert s["naks_at_source"] < 500 * 1000 * 0.05  # suppression works at scale
    assert not math.isnan(s["latency_p95"])
