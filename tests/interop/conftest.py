"""Fixtures and result recording for the interop suite (see harness.py and matrix.py).

* ``openpgm_peer``: openpgm_peer.c compiled once per session against libpgm-dev.  The suite needs
  root and network namespaces, gcc + pkg-config + libpgm-dev, dumpcap (tshark) and Debian's
  python3-zmq: off CI a missing piece skips with the reason, in CI (``PGM_CI=1``) it fails.
* ``bed``: one veth pair per test module, its links raised to a 9000-byte MTU (for the
  65535-byte APDU rows; every other test keeps PGM's MTU at 1500).
* ``cells``: the matrix cells a test proves.  After each test the cells get its outcome; at the
  end of the session the cells that ran are written to a build artefact (matrix.artefact_path:
  ``$PGM_INTEROP_RESULTS`` or ``.pytest_cache/interop-results.json``), never to a tracked file;
  ``python -m tests.interop.matrix --write`` merges it into results.json and docs/interop.md.
  Skipped tests record nothing.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import require
from tests.interop import harness, matrix
from tests.testbed.netbed import NetBed, require_netns

_CELLS = pytest.StashKey[matrix.Cells]()
_DONE = pytest.StashKey[dict[tuple[str, str, str, str], matrix.Cell]]()

_port = [7700]


def next_port() -> int:
    """A fresh PGM port per transfer: nothing of an earlier test can interfere."""
    _port[0] += 2
    return _port[0]


def require_interop() -> None:
    """Skip (off CI) or fail (CI) unless namespaces and both OpenPGM peers can run here."""
    require_netns()
    reason = harness.interop_unavailable_reason()
    require(reason is None, reason or "")


@pytest.fixture(scope="session")
def openpgm_peer(tmp_path_factory: pytest.TempPathFactory) -> Path:
    require_interop()
    return harness.build_openpgm_peer(tmp_path_factory.mktemp("openpgm-peer"))


@pytest.fixture(scope="module")
def bed(openpgm_peer: Path) -> Iterator[NetBed]:
    with NetBed.pair() as b:
        for host in (b.a, b.b):
            host.ip("link", "set", host.ifname, "mtu", "9000")
        yield b


@pytest.fixture
def cells(request: pytest.FixtureRequest) -> matrix.Cells:
    c = matrix.Cells(request.node.nodeid)
    request.node.stash[_CELLS] = c
    return c


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, Any, None]:
    outcome = yield
    report = outcome.get_result()
    cells = item.stash.get(_CELLS, None)
    if cells is None or report.skipped or (report.when != "call" and not report.failed):
        return
    done = item.config.stash.setdefault(_DONE, {})
    for c in cells.cells:
        if report.failed:
            c.outcome = matrix.FAIL
            c.note = f"`{item.nodeid}` failed: {_first_line(report)}"
            c.evidence = []
        done[c.key] = c


def _first_line(report: pytest.TestReport) -> str:
    text = str(report.longrepr or "").strip().splitlines()
    msg = next((ln for ln in reversed(text) if ln.startswith("E ")), text[-1] if text else "")
    return msg.removeprefix("E").strip()[:200].replace("|", "\\|")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    done = session.config.stash.get(_DONE, {})
    if not done:
        return
    matrix.record_run(list(done.values()), harness.versions())
