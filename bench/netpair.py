"""Two network namespaces on one veth pair, for the network benchmark (bench_net.py).

Theory of operation
-------------------
:class:`NetPair` builds hosts ``a`` (10.N.0.1) and ``b`` (10.N.0.2) in two fresh namespaces
joined by one veth pair whose ends are created directly inside the namespaces (never in the
caller's), with loopback up, rp_filter off and a route for ``224.0.0.0/4`` on the veth.  Loss is
an nftables rule in the *receiving* host's ``input`` hook (:meth:`Host.set_loss`): loss on the
wire, invisible to the sender (a drop in its ``output`` hook would return EPERM to ``sendto``).

Names are ``pgmb{pid}{tag}`` with ``N`` derived from the PID, so parallel runs do not collide.
Teardown (``close()`` / ``__exit__``, and ``atexit`` for Ctrl-C) kills every process left in the
namespaces and deletes them; deleting a namespace deletes its veth end and so the pair.

This is deliberately small and separate from the test suite's bed (``tests/testbed/netbed.py``,
which adds IPv6, stars, egress loss, counters and stale-run recovery): bench/ does not import
the tests package.  Needs root, iproute2 and nftables.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import subprocess
from collections.abc import Sequence
from typing import Any

GROUP4 = "239.192.0.1"  # organisation-local scope
CMD_TIMEOUT = 20.0  # seconds, any single ip/nft command

_SYSCTLS = (
    ("net.ipv4.conf.all.rp_filter", "0"),
    ("net.ipv4.conf.default.rp_filter", "0"),
    ("net.ipv4.igmp_max_memberships", "1024"),
)


def _cmd(argv: Sequence[str], stdin: str | None = None) -> None:
    proc = subprocess.run(
        list(argv), input=stdin, capture_output=True, text=True, timeout=CMD_TIMEOUT, check=False
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: {proc.stderr.strip()}")


class Host:
    """One end of the pair: its namespace, veth name and IPv4 address."""

    def __init__(self, name: str, ip4: str) -> None:
        self.name = name
        self.ifname = name  # at most 15 characters: the namespace name serves as the veth name
        self.ip4 = ip4

    def exec_argv(self, argv: Sequence[str]) -> list[str]:
        """``argv`` prefixed to run inside this namespace."""
        return ["ip", "netns", "exec", self.name, *argv]

    def popen(self, argv: Sequence[str], **kw: Any) -> subprocess.Popen[Any]:
        """``subprocess.Popen`` inside this namespace (killed at teardown if still running)."""
        return subprocess.Popen(self.exec_argv(argv), **kw)

    def set_loss(self, percent: float) -> None:
        """Drop ``percent`` % of incoming PGM and UDP packets at random (0 removes the rule)."""
        script = (
            "table inet pgmb {\n  chain input {\n"
            "    type filter hook input priority 0; policy accept;\n  }\n}\n"
            "flush chain inet pgmb input\n"
        )
        if percent > 0:
            threshold = round(percent * 100)  # 0.01 % resolution
            for proto in ("113", "udp"):
                script += (
                    f"add rule inet pgmb input meta l4proto {proto} "
                    f"numgen random mod 10000 < {threshold} drop\n"
                )
        _cmd(self.exec_argv(["nft", "-f", "-"]), script)


class NetPair:
    """Hosts ``a`` and ``b`` on one veth pair; a context manager that always tears down."""

    def __init__(self) -> None:
        pid = os.getpid()
        subnet = 100 + pid % 150
        self.a = Host(f"pgmb{pid}a", f"10.{subnet}.0.1")
        self.b = Host(f"pgmb{pid}b", f"10.{subnet}.0.2")
        self._closed = False
        atexit.register(self.close)
        try:
            self._build()
        except BaseException:
            self.close()
            raise

    def _build(self) -> None:
        a, b = self.a, self.b
        for host in (a, b):
            _cmd(["ip", "netns", "add", host.name])
            for key, value in _SYSCTLS:
                _cmd(host.exec_argv(["sysctl", "-q", "-w", f"{key}={value}"]))
        veth = f"link add {a.ifname} netns {a.name} type veth peer name {b.ifname} netns {b.name}"
        _cmd(["ip", *veth.split()])
        for host in (a, b):
            commands = [
                "link set lo up",
                f"link set {host.ifname} multicast on",
                f"addr add {host.ip4}/24 dev {host.ifname}",
                f"link set {host.ifname} up",
                f"route add 224.0.0.0/4 dev {host.ifname}",
            ]
            _cmd(["ip", "-n", host.name, "-batch", "-"], "\n".join(commands) + "\n")

    def reset(self) -> None:
        """Remove the loss rules (between configurations)."""
        for host in (self.a, self.b):
            host.set_loss(0)

    def close(self) -> None:
        """Kill what runs in the namespaces and delete them (idempotent, never raises)."""
        if self._closed:
            return
        self._closed = True
        for host in (self.a, self.b):
            with contextlib.suppress(Exception):
                pids = subprocess.run(
                    ["ip", "netns", "pids", host.name], capture_output=True, text=True, check=False
                ).stdout.split()
                for pid in pids:
                    with contextlib.suppress(OSError, ValueError):
                        os.kill(int(pid), 9)
            with contextlib.suppress(Exception):
                subprocess.run(["ip", "netns", "del", host.name], capture_output=True, check=False)

    def __enter__(self) -> NetPair:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
