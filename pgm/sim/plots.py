"""PNG plots of experiment results (matplotlib, an optional extra: ``pip install 'pypgm[plot]'``).

Theory of operation
-------------------
Plots are drawn from the results alone (:class:`~pgm.sim.experiment.RunResult`), after the
CSV/JSON files are written, so a missing matplotlib costs the pictures and nothing else:
:func:`available` says whether it imports, and :data:`INSTALL_HINT` is what the command prints
otherwise.  Figures are built with :class:`matplotlib.figure.Figure` directly — no ``pyplot``,
no global state, no display needed.

One run gives ``latency_cdf.png`` (the distribution of repair latency over all receivers) and
``receivers.png`` (NAKs sent, suppressed and repairs per receiver).  A sweep gives one plot per
question, the swept parameter on the x axis:

* ``implosion.png`` — NAK packets reaching the sources, NAKs sent and suppressed (vs group size
  when sweeping ``receivers``);
* ``goodput_loss.png`` — mean goodput and residual loss (vs loss rate when sweeping ``loss``);
* ``fec_overhead.png`` — parity (FEC overhead) and RDATA (repair traffic) per ODATA;
* ``latency_cdf.png`` — one repair-latency CDF per sweep point.
"""

from __future__ import annotations

import importlib.util
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from .experiment import RunResult

__all__ = ["INSTALL_HINT", "available", "plot_run", "plot_sweep"]

INSTALL_HINT = "plots need matplotlib: pip install 'pypgm[plot]' (CSV and JSON were written)"


def available() -> bool:
    """Whether matplotlib can be imported."""
    return importlib.util.find_spec("matplotlib") is not None


def _figure(title: str) -> tuple[Figure, Axes]:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 4.5), dpi=100, layout="constrained")
    ax = fig.add_subplot()
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    return fig, ax


def _save(fig: Figure, path: Path) -> Path:
    fig.savefig(path, format="png")
    return path


def _cdf(ax: Axes, values: Sequence[float], label: str | None) -> None:
    vals = sorted(values)
    if not vals:
        return
    n = len(vals)
    ax.step([v * 1000 for v in vals], [(i + 1) / n for i in range(n)], where="post", label=label)


def plot_run(result: RunResult, folder: Path) -> list[Path]:
    """``latency_cdf.png`` and ``receivers.png`` of one run in ``folder``."""
    name = result.scenario.name
    fig, ax = _figure(f"{name}: repair latency")
    _cdf(ax, [v for _, v in result.latencies], None)
    if not result.latencies:
        ax.text(0.5, 0.5, "no repairs", ha="center", va="center", transform=ax.transAxes)
    ax.set_xlabel("repair latency (ms, from the first transmission)")
    ax.set_ylabel("fraction of repaired packets")
    paths = [_save(fig, folder / "latency_cdf.png")]
    fig, ax = _figure(f"{name}: per receiver")
    xs = range(len(result.receivers))
    for field, label in (("naks_sent", "NAKs sent"), ("suppressed", "suppressed"),
                         ("repairs", "repairs received")):  # fmt: skip
        ax.plot(xs, [getattr(r, field) for r in result.receivers], ".", label=label)
    ax.set_xlabel("receiver")
    ax.set_ylabel("count")
    ax.legend()
    paths.append(_save(fig, folder / "receivers.png"))
    return paths


def _xaxis(ax: Axes, param: str, values: Sequence[Any]) -> list[float]:
    """Numeric x positions for the sweep values (their index when not numeric)."""
    ax.set_xlabel(param)
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        xs = [float(v) for v in values]
        if param == "receivers" and min(xs) > 0 and max(xs) / min(xs) >= 20:
            ax.set_xscale("log")
        return xs
    ax.set_xticks(range(len(values)), [str(v) for v in values])
    return [float(i) for i in range(len(values))]


def _series(results: Sequence[RunResult], key: str) -> list[float]:
    out = []
    for r in results:
        v = r.summary.get(key)
        out.append(float(v) if isinstance(v, int | float) else math.nan)
    return out


def plot_sweep(
    param: str, values: Sequence[Any], results: Sequence[RunResult], folder: Path
) -> list[Path]:
    """The four sweep plots (see the module docstring) in ``folder``."""
    name = results[0].scenario.name if results else "sweep"
    paths = []
    fig, ax = _figure(f"{name}: NAK implosion")
    xs = _xaxis(ax, param, values)
    for key, label in (("naks_at_source", "NAK packets at the source"),
                       ("naks_sent", "NAKs sent by receivers"),
                       ("naks_suppressed", "NAKs suppressed")):  # fmt: skip
        ax.plot(xs, _series(results, key), "o-", label=label)
    ax.set_ylabel("count")
    ax.legend()
    paths.append(_save(fig, folder / "implosion.png"))

    fig, ax = _figure(f"{name}: goodput and residual loss")
    xs = _xaxis(ax, param, values)
    ax.plot(xs, [g / 1e6 for g in _series(results, "goodput_bps_mean")], "o-", color="C0")
    ax.set_ylabel("mean goodput (Mbit/s)", color="C0")
    ax2 = ax.twinx()
    ax2.plot(xs, [v * 100 for v in _series(results, "residual_loss")], "s--", color="C3")
    ax2.set_ylabel("residual loss (%)", color="C3")
    paths.append(_save(fig, folder / "goodput_loss.png"))

    fig, ax = _figure(f"{name}: FEC overhead vs repair traffic")
    xs = _xaxis(ax, param, values)
    ax.plot(xs, _series(results, "fec_overhead"), "o-", label="parity / ODATA (FEC overhead)")
    ax.plot(xs, _series(results, "repair_traffic"), "s-", label="RDATA / ODATA (repairs)")
    ax.set_ylabel("packets per ODATA")
    ax.legend()
    paths.append(_save(fig, folder / "fec_overhead.png"))

    fig, ax = _figure(f"{name}: repair latency")
    for v, r in zip(values, results, strict=True):
        _cdf(ax, [x for _, x in r.latencies], f"{param}={v}")
    ax.set_xlabel("repair latency (ms, from the first transmission)")
    ax.set_ylabel("fraction of repaired packets")
    if any(r.latencies for r in results):
        ax.legend()
    paths.append(_save(fig, folder / "latency_cdf.png"))
    return paths
