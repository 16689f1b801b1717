"""The interoperability matrix: test results in ``results.json`` -> ``docs/interop.md``.

The interop tests declare the matrix cell(s) they prove (:class:`Cells`).  Running the tests never
writes a tracked file: a session-finish hook in ``conftest.py`` writes the outcomes of the cells
that ran to a build artefact, :func:`artefact_path` (``$PGM_INTEROP_RESULTS``, by default
``.pytest_cache/interop-results.json``).  The committed ``tests/interop/results.json`` and
``docs/interop.md`` change only by an explicit command:

    python -m tests.interop.matrix --write   # merge the last run's artefact into results.json
                                             # and re-render docs/interop.md
    python -m tests.interop.matrix           # re-render docs/interop.md from results.json
    python -m tests.interop.matrix --check   # exit 1 if the page differs from the results

``test_matrix.py`` runs the check in every test run, and checks that every cell of the grid
below has a result.  The JSON holds no timings or counts, so a passing run merged with
``--write`` leaves it unchanged.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results.json"
DOC = HERE.parent.parent / "docs" / "interop.md"
ARTEFACT_ENV = "PGM_INTEROP_RESULTS"


def artefact_path() -> Path:
    """Where a test run records the cells it ran (never a tracked file)."""
    given = os.environ.get(ARTEFACT_ENV)
    if given:
        return Path(given)
    return HERE.parent.parent / ".pytest_cache" / "interop-results.json"


PASS, PEER, FAIL = "pass", "peer", "fail"
SYMBOL = {PASS: "✅", PEER: "➖", FAIL: "❌"}

TRANSPORTS = ["raw IPv4", "UDP IPv4", "raw IPv6", "UDP IPv6"]

#: peer key -> (title, [(direction key, label)], transport column labels)
PEERS: dict[str, tuple[str, list[tuple[str, str]], list[str]]] = {
    "libpgm": (
        "OpenPGM 5.3 (libpgm, driven directly by tests/interop/openpgm_peer.c)",
        [("o2p", "OpenPGM → pgm"), ("p2o", "pgm → OpenPGM")],
        TRANSPORTS,
    ),
    "zeromq": (
        "ZeroMQ 4.3 `pgm://` (raw IP) and `epgm://` (UDP), libzmq on OpenPGM 5.3",
        [("o2p", "ZeroMQ PUB → pgm"), ("p2o", "pgm → ZeroMQ SUB")],
        ["pgm:// IPv4", "epgm:// IPv4", "pgm:// IPv6", "epgm:// IPv6"],
    ),
}

#: (peer, feature key, row label), in page order
FEATURES: list[tuple[str, str, str]] = [
    ("libpgm", "small", "small messages (one TPDU each), 0 % loss"),
    ("libpgm", "frag16", "fragmented APDUs, up to 16 fragments (MTU 1500)"),
    ("libpgm", "apdu65535", "65535-byte APDUs in 16 fragments (jumbo link)"),
    ("libpgm", "loss5", "5 % random loss: NAK / NCF / RDATA"),
    ("libpgm", "loss10", "10 % random loss: NAK / NCF / RDATA"),
    ("libpgm", "dupfrag", "a repair of a fragment already held, then unfragmented data"),
    ("libpgm", "fin", "session end (OPT_FIN)"),
    ("libpgm", "latejoin", "receiver joins a running session"),
    ("libpgm", "latejoin_opt", "late join offered (OPT_JOIN / OPT_SYN), and where a joiner joined"),
    ("libpgm", "star", "mixed receivers on one source, 5 % loss each"),
    ("libpgm", "asyncio", "the asyncio API (pgm.asyncio), 5 % random loss"),
    ("libpgm", "fec_ondemand", "on-demand FEC: parity NAKs, libpgm's parity RDATA, 5 % loss"),
    ("libpgm", "fec_proactive", "pro-active FEC: 2 parity per group of 8, 0 % loss"),
    ("zeromq", "messages", "messages of 1 B – 20 kB, 5 % loss"),
    ("zeromq", "fragments", "APDUs larger than one TPDU (PGM fragmentation)"),
    ("zeromq", "fin", "session end (OPT_FIN)"),
]

#: cells of the grid that no test covers, with why (shown as "not tested" with the reason)
UNTESTED: dict[tuple[str, str, str, str], str] = {
    **{
        ("libpgm", "fec_proactive", "o2p", t): "libpgm 5.3's pro-active parity sender crashes"
        for t in TRANSPORTS
    },
    **{
        ("libpgm", f, d, t): "the FEC rows run over IPv4"
        for f in ("fec_ondemand", "fec_proactive")
        for d in ("o2p", "p2o")
        if (f, d) != ("fec_proactive", "o2p")
        for t in ("raw IPv6", "UDP IPv6")
    },
}


def transport_label(peer: str, transport: str, v6: bool) -> str:
    cols = PEERS[peer][2]
    return cols[(2 if v6 else 0) + (1 if transport == "udp" else 0)]


@dataclass
class Cell:
    """One cell's result."""

    peer: str
    feature: str
    direction: str
    transport: str
    outcome: str = PASS
    """``pass``, ``peer`` (the peer does not support it; ``note`` says why) or ``fail``."""
    note: str = ""
    """For ``peer``: the reason.  For ``pass``: what the test established, if notable."""
    evidence: list[str] = field(default_factory=list)
    """What the test asserted on the wire and at the ends (stable text, no counts)."""
    test: str = ""
    """The pytest node id that produced it."""

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.peer, self.feature, self.direction, self.transport)


class Cells:
    """The cells one test proves; the conftest hook turns them into results."""

    def __init__(self, nodeid: str) -> None:
        self.nodeid = nodeid
        self.cells: list[Cell] = []

    def cell(self, peer: str, feature: str, direction: str, transport: str, v6: bool) -> Cell:
        c = Cell(peer, feature, direction, transport_label(peer, transport, v6), test=self.nodeid)
        if (peer, feature) not in {(p, f) for p, f, _ in FEATURES}:
            raise KeyError(f"unknown matrix row {peer}/{feature}")
        self.cells.append(c)
        return c


# -- results file ----------------------------------------------------------------------------


def load(path: Path | None = None) -> dict[str, Any]:
    path = path or RESULTS
    if not path.exists():
        return {"versions": {}, "cells": []}
    return dict(json.loads(path.read_text()))


def dump(results: dict[str, Any]) -> str:
    return json.dumps(results, indent=1, ensure_ascii=False, sort_keys=True) + "\n"


def merge(results: dict[str, Any], cells: list[Cell], versions: dict[str, str]) -> dict[str, Any]:
    """The results with ``cells`` replacing earlier results of the same cells."""
    by_key = {
        tuple(c[k] for k in ("peer", "feature", "direction", "transport")): c
        for c in results.get("cells", [])
    }
    for c in cells:
        by_key[c.key] = asdict(c)
    order = {(p, f): i for i, (p, f, _) in enumerate(FEATURES)}
    ordered = sorted(
        by_key.values(),
        key=lambda c: (
            order.get((c["peer"], c["feature"]), 999),
            c["direction"],
            _col(c["peer"], c["transport"]),
        ),
    )
    return {"versions": versions or results.get("versions", {}), "cells": ordered}


def _col(peer: str, transport: str) -> int:
    cols = PEERS.get(peer, ("", [], []))[2]
    return cols.index(transport) if transport in cols else 99


def missing(results: dict[str, Any]) -> list[str]:
    """Grid cells without a result (and not listed in UNTESTED)."""
    have = {
        tuple(c[k] for k in ("peer", "feature", "direction", "transport"))
        for c in results.get("cells", [])
    }
    out = []
    for peer, feature, _label in FEATURES:
        for d, _ in PEERS[peer][1]:
            for t in PEERS[peer][2]:
                key = (peer, feature, d, t)
                if key not in have and key not in UNTESTED:
                    out.append("/".join(key))
    return out


# -- rendering -------------------------------------------------------------------------------


def render(results: dict[str, Any]) -> str:
    cells = {
        tuple(c[k] for k in ("peer", "feature", "direction", "transport")): c
        for c in results.get("cells", [])
    }
    versions = results.get("versions", {})
    lines = [
        "# Interoperability with OpenPGM and ZeroMQ",
        "",
        "<!-- Generated from tests/interop/results.json by tests/interop/matrix.py. Do not edit:",
        "     run the interop tests as root (`python -m pytest tests/interop`), which record their",
        "     outcomes in .pytest_cache/interop-results.json; merge them into results.json and",
        "     re-render this page with `python -m tests.interop.matrix --write`. -->",
        "",
        "Every cell below is the outcome of a test in `tests/interop/` that ran a real peer and",
        "`pgm` in two network namespaces (several on a bridge for the star rows), compared every",
        "delivered byte with what was sent, and checked a packet capture for the packet types that",
        "had to cross (see *Evidence*).  Loss is random, in nftables on the receiving host.",
        "",
        "Peers: "
        + (", ".join(f"`{k}` {v}" for k, v in sorted(versions.items())) or "unknown")
        + ".",
        "",
        "✅ tested and passing · ➖ not supported by the peer (reason below; the test checks"
        " that behaviour) · ❌ failing · · not tested",
        "",
    ]
    notes: list[tuple[str, str]] = []  # (where, text) for ➖ cells
    evidence: list[tuple[str, str]] = []
    for peer, (title, directions, cols) in PEERS.items():
        lines += [
            f"## {title}",
            "",
            "| feature | direction | " + " | ".join(cols) + " |",
            "|---|---|" + "---|" * len(cols),
        ]
        for p, feature, label in FEATURES:
            if p != peer:
                continue
            for d, dlabel in directions:
                row = []
                for col in cols:
                    c = cells.get((peer, feature, d, col))
                    if c is None:
                        row.append("·")
                        continue
                    sym = SYMBOL.get(c["outcome"], "?")
                    if c["note"]:
                        text = c["note"]
                        where = f"{label}, {dlabel}"
                        if (where, text) not in notes:
                            notes.append((where, text))
                        sym += f" [{notes.index((where, text)) + 1}]"
                    row.append(sym)
                    ev = "; ".join(c["evidence"])
                    if ev and (f"{label}, {dlabel}", ev) not in evidence:
                        evidence.append((f"{label}, {dlabel}", ev))
                lines.append(f"| {label} | {dlabel} | " + " | ".join(row) + " |")
        lines.append("")
    if notes:
        lines += ["## Notes: what the peer does not support, accommodations, failures", ""]
        lines += [f"{i}. **{where}**: {text}" for i, (where, text) in enumerate(notes, 1)]
        lines.append("")
    if evidence:
        lines += [
            "## Evidence",
            "",
            "What the tests asserted, besides byte-exact delivery and a clean session end",
            "(the same for every transport unless the text says otherwise):",
            "",
        ]
        lines += [f"- **{where}**: {text}" for where, text in evidence]
        lines.append("")
    lines += [
        "## OpenPGM accommodations in `pgm`",
        "",
        "- `SourceConfig.options_on_all_data` (off by default): every ODATA/RDATA carries",
        "  options, OPT_JOIN where it has no OPT_FRAGMENT, so that OpenPGM 5.3 receivers do not",
        "  drop data after a repair they did not need (the row *a repair of a fragment already",
        '  held*; `pgm/engine/source/`, comment "OpenPGM accommodation").  Use it when',
        "  libpgm receivers share a session with others and messages get fragmented.",
        "- On the wire `pgm` already follows OpenPGM where it departs from the RFC text (header",
        "  flag values, 16-byte OPT_FRAGMENT, SQNs from 0, the empty-window SPM, exact NAK NLAs,",
        "  the window starting at the first packet, UDP with one port): docs/engine.md, *Where",
        "  we follow OpenPGM over the RFC text*.  The rows above are what shows it works.",
        "- Talking to ZeroMQ needs its framing (2-byte offset + ZMTP/1.0 frames, one TPDU per",
        "  APDU); `tests/interop/zmtp.py` does it for these tests, `pgm` itself sends bytes.",
        "",
    ]
    return "\n".join(lines)


def record_run(cells: list[Cell], versions: dict[str, str], path: Path | None = None) -> Path:
    """Write a test run's outcomes to the artefact (replacing an earlier run's)."""
    path = path or artefact_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dump(merge({"versions": {}, "cells": []}, cells, versions)))
    return path


def write(results: dict[str, Any]) -> bool:
    """Write results.json and the page if they changed; True if anything was written."""
    changed = False
    text = dump(results)
    if not RESULTS.exists() or RESULTS.read_text() != text:
        RESULTS.write_text(text)
        changed = True
    page = render(results)
    if not DOC.exists() or DOC.read_text() != page:
        DOC.write_text(page)
        changed = True
    return changed


def _cells_of(results: dict[str, Any]) -> list[Cell]:
    return [Cell(**c) for c in results.get("cells", [])]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="exit 1 if docs/interop.md is stale")
    mode.add_argument(
        "--write",
        nargs="?",
        const="",
        metavar="ARTEFACT",
        help=f"merge a test run's results (default: ${ARTEFACT_ENV} or "
        ".pytest_cache/interop-results.json) into results.json and re-render the page",
    )
    args = ap.parse_args(argv)
    results = load()
    if args.write is not None:
        run_path = Path(args.write) if args.write else artefact_path()
        if not run_path.exists():
            print(
                f"no test-run results at {run_path}: run the interop tests first", file=sys.stderr
            )
            return 1
        run = load(run_path)
        results = merge(results, _cells_of(run), run.get("versions", {}))
        print("updated" if write(results) else "unchanged", RESULTS, DOC)
        gaps = missing(results)
        if gaps:
            print("no result for: " + ", ".join(gaps), file=sys.stderr)
        return 0
    page = render(results)
    if args.check:
        if not DOC.exists() or DOC.read_text() != page:
            print(
                f"{DOC} does not match {RESULTS}: run python -m tests.interop.matrix",
                file=sys.stderr,
            )
            return 1
        gaps = missing(results)
        if gaps:
            print("no result for: " + ", ".join(gaps), file=sys.stderr)
            return 1
        return 0
    DOC.write_text(page)
    return 0


if __name__ == "__main__":
    sys.exit(main())
