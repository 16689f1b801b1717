"""docs/interop.md is generated from tests/interop/results.json, never edited by hand, and the
results cover the whole grid (tests/interop/matrix.py).  Runs everywhere (no network)."""

from __future__ import annotations

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
