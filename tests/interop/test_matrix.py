"""docs/interop.md is generated from tests/interop/results.json, never edited by hand, and the
results cover the whole grid (tests/interop/matrix.py).  Runs everywhere (no network)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.interop import matrix

pytestmark = pytest.mark.interop


def test_interop_page_matches_the_recorded_results() -> None:
    results = matrix.load()
    assert matrix.DOC.exists(), "docs/interop.md is missing: python -m tests.interop.matrix"
    assert matrix.DOC.read_text() == matrix.render(results), (
        "docs/interop.md differs from tests/interop/results.json: re-render it with "
        "`python -m tests.interop.matrix` (never edit it by hand)"
    )


def test_results_cover_every_cell_of_the_matrix() -> None:
    results = matrix.load()
    assert not matrix.missing(results), f"cells without a result: {matrix.missing(results)}"
    known = {(p, f) for p, f, _ in matrix.FEATURES}
    for c in results["cells"]:
        assert (c["peer"], c["feature"]) in known, c
        assert c["outcome"] in (matrix.PASS, matrix.PEER, matrix.FAIL), c
        assert c["outcome"] != matrix.PEER or c["note"], f"a ➖ cell needs its reason: {c}"
        assert c["test"].startswith("tests/interop/"), c


def test_render_is_stable_and_marks_every_outcome() -> None:
    cells = [
        matrix.Cell("libpgm", "small", "o2p", "raw IPv4", evidence=["x"], test="tests/interop/t"),
        matrix.Cell(
            "libpgm", "fin", "p2o", "UDP IPv4", matrix.PEER, "ignores FIN", test="tests/interop/t"
        ),
        matrix.Cell(
            "zeromq", "messages", "o2p", "pgm:// IPv4", matrix.FAIL, "boom", test="tests/interop/t"
        ),
    ]
    results = matrix.merge({"versions": {}, "cells": []}, cells, {"libpgm-5.3-0": "5.3"})
    page = matrix.render(results)
    assert page == matrix.render(matrix.merge(results, [], {}))
    assert "| small messages (one TPDU each), 0 % loss | OpenPGM → pgm | ✅ | · | · | · |" in page
    assert "➖ [1]" in page and "ignores FIN" in page
    assert "❌ [2]" in page and "boom" in page


def test_a_run_records_to_the_artefact_and_only_write_touches_tracked_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    results_before, page_before = matrix.RESULTS.read_bytes(), matrix.DOC.read_bytes()
    artefact = tmp_path / "run.json"
    monkeypatch.setenv(matrix.ARTEFACT_ENV, str(artefact))
    assert matrix.artefact_path() == artefact
    failed = matrix.Cell(
        "libpgm", "small", "o2p", "raw IPv4", matrix.FAIL, "boom", test="tests/interop/t"
    )
    matrix.record_run([failed], {"libpgm-5.3-0": "9.9"})
    # a (failing) run left the committed files alone
    assert matrix.RESULTS.read_bytes() == results_before
    assert matrix.DOC.read_bytes() == page_before
    assert matrix.load(artefact)["cells"][0]["outcome"] == matrix.FAIL
    # the explicit command merges it, here into copies of the committed files
    results, doc = tmp_path / "results.json", tmp_path / "interop.md"
    results.write_bytes(results_before)
    doc.write_bytes(page_before)
    monkeypatch.setattr(matrix, "RESULTS", results)
    monkeypatch.setattr(matrix, "DOC", doc)
    assert matrix.main(["--write"]) == 0
    merged = matrix.load(results)
    cell = next(c for c in merged["cells"] if c["test"] == "tests/interop/t")
    assert cell["outcome"] == matrix.FAIL and cell["note"] == "boom"
    assert "❌" in doc.read_text()
    assert matrix.main(["--check"]) == 0
