"""Test-suite policy shared by every test module.

Tests that need root, Linux network namespaces, tshark or OpenPGM skip off-CI with a reason.
In CI (``PGM_CI=1``, set by ``.ci/run``) a skip is a failure: those tests MUST run there.
"""

from __future__ import annotations

import os

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
    if IN_CI and report.skipped and not hasattr(report, "wasxfail"):
        # CI must not silently skip anything (network namespaces, raw sockets, tshark, interop).
        report.outcome = "failed"
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.longrepr = f"skipped in CI, which is not allowed: {reason}"


# Network-namespace test beds (tests/netbed.py): two hosts over a veth pair, or a source and
# receivers on a bridge.  They skip off-CI without root, and fail in CI.
from tests.netbed import (  # noqa: E402, F401
    netbed_pair,
    netbed_pair_module,
    netbed_star,
    netbed_star_module,
)
