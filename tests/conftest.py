"""Test-suite policy shared by every test module.

Tests that need root, Linux network namespaces, tshark or OpenPGM skip off-CI with a reason.
In CI (``PGM_CI=1``, set by ``.ci/run``) a skip is a failure: those tests MUST run there.
"""

from __future__ import annotations

import json
import os
import signal
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

IN_CI = os.environ.get("PGM_CI") == "1"


def require(condition: bool, reason: str) -> None:
    """Skip the calling test with ``reason`` unless ``condition``; in CI fail instead."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"required in CI but unavailable: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    outcome = yield
    report = outcome.get_result()
    report.pgm_kinds = [] if report.skipped else sorted(_kinds(item))
    if IN_CI and report.skipped and not hasattr(report, "wasxfail"):
        # CI must not silently skip anything (network namespaces, raw sockets, tshark, interop).
        report.outcome = "failed"
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.longrepr = f"skipped in CI, which is not allowed: {reason}"


# -- the CI summary: how many tests of each kind ran ---------------------------------------------

#: The kinds CI requires to run (marker -> label).  ``openpgm`` is an interop test that runs a
#: real OpenPGM/ZeroMQ peer: both the ``interop`` and ``netns`` markers.
KINDS = {
    "netns": "network-namespace",
    "raw": "raw-socket",
    "tshark": "tshark",
    "openpgm": "OpenPGM",
}


def _kinds(item: pytest.Item) -> set[str]:
    marks = {m.name for m in item.iter_markers()}
    kinds = {k for k in ("netns", "raw", "tshark") if k in marks}
    if {"interop", "netns"} <= marks:
        kinds.add("openpgm")
    return kinds


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # A network test parametrized with a "raw" transport opens raw IP sockets (protocol 113).
    for item in items:
        spec = getattr(item, "callspec", None)
        if spec is None or item.get_closest_marker("netns") is None:
            continue
        ids = "-".join(spec._idlist).split("-") if hasattr(spec, "_idlist") else []
        if "raw" in spec.params.values() or any(i.startswith("raw") for i in ids):
            item.add_marker(pytest.mark.raw)


class _CiSummary:
    """Counts outcomes, and the tests of each required kind that really ran (not skipped)."""

    def __init__(self) -> None:
        self.outcomes: Counter[str] = Counter()
        self.ran: Counter[str] = Counter()

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when == "call" or (report.when == "setup" and not report.passed):
            self.outcomes[report.outcome] += 1
        if report.when == "call":
            self.ran.update(getattr(report, "pgm_kinds", ()))

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        """One line for CI; also written to ``$PGM_CI_SUMMARY`` as JSON for ``.ci/run``."""
        summary = {
            "passed": self.outcomes["passed"],
            "failed": self.outcomes["failed"],
            "skipped": self.outcomes["skipped"],
            "ran": {label: self.ran[k] for k, label in KINDS.items()},
        }
        kinds = ", ".join(f"{self.ran[k]} {label}" for k, label in KINDS.items())
        terminalreporter.write_line(f"pgm test kinds that ran: {kinds}")
        path = os.environ.get("PGM_CI_SUMMARY")
        if path:
            Path(path).write_text(json.dumps(summary) + "\n")


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.register(_CiSummary(), "pgm-ci-summary")
    # A shell without job control starts background commands (`.ci/run &`, nohup) with SIGINT
    # ignored, and an ignored signal stays ignored in every child: the tests that stop a
    # command with Ctrl-C (SIGINT) would then wait for ever.  A handled signal is reset to the
    # default in children at exec, so handling it here gives them Ctrl-C back.
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


# Network-namespace test beds (tests/testbed/netbed.py): two hosts over a veth pair, or a source and
# receivers on a bridge.  They skip off-CI without root, and fail in CI.
from tests.testbed.netbed import (  # noqa: E402, F401
    netbed_pair,
    netbed_pair_module,
    netbed_star,
    netbed_star_module,
)
