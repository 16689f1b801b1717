"""What must work on every OS: importing the package and the layers that touch no socket.

The check runs in a fresh interpreter and forbids the socket-level modules, so a stray
top-level ``import socket`` (or ``ifaddr``, ``select``) in pgm, pgm.wire, pgm.engine or pgm.sim
fails here, not on a user's Windows or macOS machine.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CODE = r"""
import builtins, sys
real_import = builtins.__import__
FORBIDDEN = {"socket", "_socket", "select", "ifaddr", "fcntl", "termios"}
def guarded(name, *a, **kw):
    if name.split(".")[0] in FORBIDDEN:
        raise ImportError(f"socket-free layer imported {name}")
    return real_import(name, *a, **kw)
builtins.__import__ = guarded
import pgm, pgm.wire, pgm.engine, pgm.sim
from pgm.engine import Source, Receiver
from pgm.sim import Network
net = Network(seed=1)
s = Source(group="239.192.0.1", nla="10.0.0.1")
r = Receiver(group="239.192.0.1")
sn = net.add_node(s, "10.0.0.1", groups=["239.192.0.1"])
net.add_node(r, "10.0.0.2", groups=["239.192.0.1"])
net.call_at(0.01, lambda: (s.send(b"portable", net.now), s.close(net.now), sn.poke()))
net.run(until=0.5)
print(pgm.__version__, [type(e).__name__ for e in net.node("10.0.0.2").events])
"""


def test_socket_free_layers_import_without_socket_modules() -> None:
    r = subprocess.run(
        [sys.executable, "-c", CODE], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert r.returncode == 0, r.stderr
    assert "DataReceived" in r.stdout


def test_version_and_cli_entry_point() -> None:
    r = subprocess.run(
        [sys.executable, "-m", "pgm", "--version"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0 and r.stdout.startswith("pgm ")
