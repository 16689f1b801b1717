"""Start-up of the command line (issue 17): what ``import pgm.cli`` and ``pgm send`` load.

Behaviour, not timing: each check runs a fresh interpreter and looks at ``sys.modules``.  The
simulator, plotting and asyncio stay out of every command but the one that needs them, and a
sender never loads the receiver's engine, FEC or the Windows facade.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_RATE = ("--transport", "udp", "--rate", "0.0001")  # below 1 bit/s


def _modules(code: str) -> set[str]:
    """The modules loaded after running ``code`` in a fresh interpreter."""
    probe = f"{code}\nimport sys, json\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def _loaded(mods: set[str], *prefixes: str) -> list[str]:
    return sorted(m for m in mods if any(m == p or m.startswith(p + ".") for p in prefixes))


def test_import_pgm_cli_loads_no_simulator_plotting_or_asyncio() -> None:
    mods = _modules("import pgm.cli")
    assert _loaded(mods, "pgm.sim", "matplotlib", "asyncio", "pgm.cli.sim") == []


def test_a_command_s_parser_loads_only_that_command() -> None:
    mods = _modules(
        "from pgm.cli.parser import parse_args\n"
        "a = parse_args(['send', '239.192.0.1', '--port', '7500', '--transport', 'udp'])\n"
        "assert a.command == 'send' and a.port == 7500"
    )
    others = [f"pgm.cli.{c}" for c in ("sim", "dump", "recv", "demo", "doctor", "decode")]
    assert _loaded(mods, "pgm.sim", "asyncio", *others) == []


def test_the_sender_loads_no_receiver_fec_or_facade() -> None:
    mods = _modules("from pgm.io import PgmSender\nfrom pgm.engine import Source")
    assert (
        _loaded(
            mods,
            "pgm.engine.receiver",
            "pgm.io.receiver",
            "pgm.fec",
            "pgm.rm",
            "pgm.sim",
            "asyncio",
        )
        == []
    )


def test_lazy_names_still_import() -> None:
    mods = _modules(
        "from pgm.engine import Receiver, NAK_TRANSITIONS, SessionInfo\n"
        "from pgm.io import PgmReceiver\n"
        "import pgm.engine, pgm.io\n"
        "assert pgm.engine.Receiver is Receiver and pgm.io.PgmReceiver is PgmReceiver\n"
        "from pgm.cli import build_parser\n"
        "import argparse\n"
        "sub = next(a for a in build_parser()._actions\n"
        "           if isinstance(a, argparse._SubParsersAction))\n"
        "assert set(sub.choices) >= {'send', 'recv', 'sim', 'dump', 'demo'}"
    )
    assert "pgm.engine.receiver" in mods and "pgm.cli.sim" in mods


def test_send_rate_too_small_is_a_usage_error() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "pgm", "send", "239.192.0.1", "--port", "7500", *_RATE],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert out.returncode == 2, out.stderr
    assert "--rate" in out.stderr and "Traceback" not in out.stderr
