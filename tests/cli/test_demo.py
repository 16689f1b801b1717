"""`pgm demo` — the README's first command — in a fresh network namespace (so its multicast
cannot reach any real network), privileged (raw sockets) and unprivileged (UDP)."""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

from tests.conftest import require
from tests.testbed.netbed import NetBed

pytestmark = pytest.mark.netns

ROOT = Path(__file__).resolve().parents[2]


def _run_demo(bed: NetBed, *extra: str, user: str | None = None) -> dict[str, object]:
    import ifaddr

    deps = tempfile.mkdtemp(prefix="pgm-demo-")
    try:
        shutil.copytree(Path(ifaddr.__file__).parent, Path(deps) / "ifaddr")
        for d, _dirs, files in os.walk(deps):
            os.chmod(d, 0o755)
            for f in files:
                os.chmod(os.path.join(d, f), 0o644)
        env = dict(os.environ, PYTHONPATH=f"{ROOT}{os.pathsep}{deps}")
        python = sys.executable
        if user is not None:
            # root's interpreter may live where an unprivileged user cannot reach it (pyenv
            # under /root): use the system one, as such a user would.
            python = "/usr/bin/python3"
            require(os.access(python, os.X_OK), "needs /usr/bin/python3 for the unprivileged run")
        argv = [python, "-m", "pgm", "demo", "--size", "2M", "--json", *extra]
        if user is not None:
            argv = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups", *argv]
        r = bed.a.run(argv, env=env, timeout=120, cwd="/")
    finally:
        shutil.rmtree(deps, ignore_errors=True)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert isinstance(out, dict)
    return out


def _receivers_ok(out: dict[str, object]) -> list[dict[str, object]]:
    rxs = out.get("receivers")
    assert isinstance(rxs, list) and len(rxs) == 3
    for rx in rxs:
        assert isinstance(rx, dict)
        assert rx.get("sha256") == out.get("sha256"), rx
    return rxs


@pytest.mark.raw
def test_demo_privileged_uses_raw_sockets(netbed_pair: NetBed) -> None:
    out = _run_demo(netbed_pair)
    assert out.get("transport") == "raw"
    _receivers_ok(out)


def test_demo_without_privileges_uses_udp(netbed_pair: NetBed) -> None:
    out = _run_demo(netbed_pair, "--loss", "10", user="65534")
    assert out.get("transport") == "udp"
    rxs = _receivers_ok(out)
    assert all(int(str(rx["repairs_received"])) > 0 for rx in rxs), rxs  # loss was repaired
