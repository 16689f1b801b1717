"""Network-namespace test beds for end-to-end tests over real sockets.

Theory of operation
-------------------
A :class:`NetBed` builds a small network out of Linux network namespaces (``ip netns``) joined by
veth pairs, so tests can send raw IP protocol 113 (PGM) and UDP multicast, IPv4 and IPv6, over a
real kernel stack without touching the host's own interfaces:

* :meth:`NetBed.pair` - hosts ``a`` and ``b`` on one veth pair.
* :meth:`NetBed.star` - a ``source`` and ``n`` receivers, each on a veth into a "switch" namespace
  holding a Linux bridge with multicast snooping off, so multicast floods to every port.

Every host gets ``10.N.0.i/24`` and ``fd00:N::i/64`` (``N`` = the bed's subnet, ``i`` = 1 for
``a``/``source``, 2, 3, ... for the others), loopback up, routes for ``224.0.0.0/4`` and
``ff00::/8`` on its veth, and IPv6 without duplicate-address detection (``nodad``).  Nothing is
ever created in the caller's own namespace: both veth ends are created directly inside the test
namespaces, so names never collide with the host or with parallel runs.

Loss is injected with nftables where a wire would lose packets: in the *receiving* host's
``input`` hook (:meth:`NetHost.set_loss`) or in a netdev ``egress`` hook on the sending host's veth
(:meth:`NetHost.egress_loss`, loss seen by everyone behind it).  Never in the sender's inet
``output`` hook: a drop there returns ``EPERM`` to ``sendto`` - the sender knows, so it is not
network loss.  The rules count what they drop in named nft counters (:meth:`NetHost.nft_counters`).

Names and cleanup
-----------------
Every namespace is named ``{prefix}{rid}{tag}`` - ``prefix`` is ``"pgmt"``, ``rid`` six random
``[0-9a-z]`` characters per bed, ``tag`` ``a``/``b``/``s``/``r1``.../``w`` - at most 15 characters,
so the same string also serves as the host's veth name.  Before creating anything a bed writes a
marker ``/run/netns-pgmt/{prefix}{rid}.json`` with its creator's PID, the PID's start time and PID
namespace.  Teardown (``close()``, ``__exit__``, and an ``atexit`` hook for KeyboardInterrupt and
uncaught exceptions) stops the processes it started, kills what is left inside its namespaces,
deletes its veths and namespaces, then the marker.  A run killed outright (SIGKILL, SIGTERM) leaves
its marker behind; :func:`cleanup_stale` - called by the fixtures once per process - deletes the
namespaces of every marker whose creator no longer exists.  Namespaces without a marker are never
touched: they are not ours.

Kernel notes (measured on Debian 12 userland, kernel 6.18)
----------------------------------------------------------
* ``net.core.rmem_max`` / ``wmem_max`` are *not* per-namespace: on recent kernels they appear
  read-only in a child namespace (showing the host's value), on older ones they are absent.  The
  bed sets them only where writable and records what happened in :attr:`NetBed.sysctl_report`;
  tests that need big buffers should use ``SO_RCVBUFFORCE`` / ``SO_SNDBUFFORCE`` (root).
  Per-namespace knobs the bed does set: rp_filter off, IGMP membership limit 1024, DAD and router
  solicitations off.
* netdev ``egress`` hooks need kernel >= 5.16 (``CONFIG_NETFILTER_EGRESS``) and nft >= 1.0.1;
  :meth:`NetHost.egress_supported` probes, :meth:`NetHost.egress_loss` raises
  :class:`NetBedUnsupported` without it.  An egress drop is silent for the sender (``sendto``
  succeeds) unless the socket has ``IP_RECVERR`` / ``IPV6_RECVERR`` set: then a dropped UDP
  datagram returns ``ENOBUFS``.
* There is no netem here; nftables ``numgen random`` is the loss model (independent per packet).
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import ipaddress
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest

__all__ = [
    "GROUP4",
    "GROUP6",
    "MARKER_DIR",
    "PREFIX",
    "PROTOCOLS",
    "NetBed",
    "NetBedError",
    "NetBedUnsupported",
    "NetHost",
    "NetNs",
    "cleanup_stale",
    "list_netns",
    "netbed_pair",
    "netbed_pair_module",
    "netbed_star",
    "netbed_star_module",
    "netns_unavailable_reason",
    "require_netns",
]

T = TypeVar("T")

PREFIX = "pgmt"
MARKER_DIR = Path("/run/netns-pgmt")
NETNS_DIR = Path("/run/netns")
PROJECT_ROOT = Path(__file__).resolve().parents[2]

GROUP4 = "239.192.0.1"  # organisation-local scope
GROUP6 = "ff08::1"  # organisation-local scope

#: protocol names accepted by the loss helpers -> nft ``meta l4proto`` value
PROTOCOLS: dict[str, str] = {"pgm": "113", "udp": "udp"}

CMD_TIMEOUT = 20.0  # seconds, any single ip/nft command
RUN_TIMEOUT = 30.0  # seconds, default for NetHost.run / NetHost.python
READY_TIMEOUT = 5.0  # seconds, wait for links up and IPv6 addresses usable
STOP_TIMEOUT = 3.0  # seconds, wait for a terminated process before SIGKILL

_CLONE_NEWNET = 0x40000000
_RID_LEN = 6
_RID_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"
_NFT_TABLE = "pgmt"
_NFT_INPUT_CHAIN = "input"
_NFT_EGRESS_CHAIN = "egress"

# sysctls set in every host namespace: (key, value).  "{if}" is the host's veth.
_HOST_SYSCTLS: tuple[tuple[str, str], ...] = (
    ("net.ipv6.conf.all.disable_ipv6", "0"),
    ("net.ipv6.conf.default.disable_ipv6", "0"),
    ("net.ipv6.conf.all.accept_dad", "0"),
    ("net.ipv6.conf.default.accept_dad", "0"),
    ("net.ipv6.conf.default.router_solicitations", "0"),
    ("net.ipv4.conf.all.rp_filter", "0"),
    ("net.ipv4.conf.default.rp_filter", "0"),
    ("net.ipv4.igmp_max_memberships", "1024"),
    ("net.core.rmem_max", str(16 << 20)),
    ("net.core.wmem_max", str(16 << 20)),
)


class NetBedError(RuntimeError):
    """A test-bed command failed."""


class NetBedUnsupported(NetBedError):
    """The kernel or nft here lacks a feature (e.g. netdev egress hooks)."""


# -- small helpers -------------------------------------------------------------------------------


def _cmd(
    argv: Sequence[str], *, input: str | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run one ip/nft command with a bounded time; raise :class:`NetBedError` on failure."""
    try:
        proc = subprocess.run(
            list(argv),
            input=input,
            capture_output=True,
            text=True,
            timeout=CMD_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise NetBedError(f"timed out after {CMD_TIMEOUT}s: {' '.join(argv)}") from exc
    if check and proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).strip()
        raise NetBedError(f"{' '.join(argv)} failed ({proc.returncode}): {detail}")
    return proc


def list_netns() -> list[str]:
    """Names of every named network namespace (``ip netns list``)."""
    try:
        return sorted(p.name for p in NETNS_DIR.iterdir())
    except FileNotFoundError:
        return []


def _setns_thread(netns_path: str, fn: Callable[[], T]) -> T:
    """Call ``fn`` in a short-lived thread moved into the network namespace at ``netns_path``.

    ``setns(CLONE_NEWNET)`` affects only the calling thread, so the caller's own namespace is never
    changed; sockets created by ``fn`` stay in the target namespace for their whole life.
    """
    result: list[T] = []
    error: list[BaseException] = []

    def target() -> None:
        try:
            fd = os.open(netns_path, os.O_RDONLY | os.O_CLOEXEC)
            try:
                setns = getattr(os, "setns", None)
                if setns is not None:  # Python >= 3.12
                    setns(fd, _CLONE_NEWNET)
                else:
                    libc = ctypes.CDLL(None, use_errno=True)
                    if libc.setns(fd, _CLONE_NEWNET) != 0:
                        err = ctypes.get_errno()
                        raise OSError(err, f"setns({netns_path}): {os.strerror(err)}")
            finally:
                os.close(fd)
            result.append(fn())
        except BaseException as exc:  # re-raised in the caller
            error.append(exc)

    thread = threading.Thread(target=target, name=f"netns:{netns_path}", daemon=True)
    thread.start()
    thread.join(CMD_TIMEOUT)
    if thread.is_alive():
        raise NetBedError(f"call inside {netns_path} did not finish in {CMD_TIMEOUT}s")
    if error:
        raise error[0]
    return result[0]


def _proc_starttime(pid: int) -> str | None:
    """Start time (clock ticks since boot) of ``pid``, or None if there is no such process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # the command name (field 2) may hold spaces and parentheses: split after the last ')'
    fields = stat[stat.rfind(")") + 2 :].split()
    return fields[19] if len(fields) > 19 else None


def _proc_running(pid: int) -> bool:
    """Whether ``pid`` exists and is not a zombie (a zombie holds no namespace any more)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2 :][:1] not in ("Z", "X", "")


def _pidns() -> str:
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:
        return "?"


def _marker_path(prefix: str, rid: str) -> Path:
    return MARKER_DIR / f"{prefix}{rid}.json"


def _kill_netns_pids(name: str) -> None:
    """SIGKILL every process still inside namespace ``name`` (bounded wait for them to go)."""
    proc = _cmd(["ip", "netns", "pids", name], check=False)
    pids = [int(p) for p in proc.stdout.split() if p.isdigit() and int(p) != os.getpid()]
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + STOP_TIMEOUT
    for pid in pids:
        while time.monotonic() < deadline and _proc_running(pid):
            # our own children must be reaped, or they linger as zombies
            with contextlib.suppress(ChildProcessError, OSError):
                os.waitpid(pid, os.WNOHANG)
            time.sleep(0.01)


def _delete_netns(name: str) -> None:
    """Kill what is left in namespace ``name`` and delete it; no error if it is already gone."""
    if not (NETNS_DIR / name).exists():
        return
    _kill_netns_pids(name)
    _cmd(["ip", "netns", "del", name], check=False)


def cleanup_stale(prefix: str = PREFIX) -> list[str]:
    """Delete namespaces left by killed runs; return their names.

    A namespace is stale when its bed's marker under ``/run/netns-pgmt/`` names a creator process
    that no longer exists (PID gone, or reused: the start time differs).  Beds of live processes,
    markers from another PID namespace and namespaces without a marker are left alone.
    """
    removed: list[str] = []
    if not MARKER_DIR.is_dir():
        return removed
    pattern = re.compile(rf"^{re.escape(prefix)}([0-9a-z]{{{_RID_LEN}}})\.json$")
    existing = list_netns()
    for marker in sorted(MARKER_DIR.iterdir()):
        match = pattern.match(marker.name)
        if match is None:
            continue
        try:
            info = json.loads(marker.read_text())
            pid = int(info["pid"])
            starttime = str(info["starttime"])
            pidns = str(info["pidns"])
            names = [str(n) for n in info.get("namespaces", [])]
        except (OSError, ValueError, KeyError, TypeError):
            # unreadable or half-written: only judge it once it is old enough to be abandoned
            with contextlib.suppress(OSError):
                if time.time() - marker.stat().st_mtime > 60:
                    marker.unlink()
            continue
        if pidns != _pidns():
            continue  # created in another PID namespace: we cannot tell whether it is alive
        if _proc_starttime(pid) == starttime:
            continue  # its creator is alive
        ours = f"{prefix}{match.group(1)}"
        stale = sorted({n for n in existing if n.startswith(ours)} | set(names))
        for name in stale:
            if (NETNS_DIR / name).exists():
                _delete_netns(name)
                removed.append(name)
        with contextlib.suppress(FileNotFoundError):
            marker.unlink()
    return removed


def netns_unavailable_reason() -> str | None:
    """Why network-namespace beds cannot run here, or None if they can."""
    if not sys.platform.startswith("linux"):
        return f"needs Linux network namespaces (ip netns); this platform is {sys.platform}"
    if os.geteuid() != 0:
        return "needs root and Linux network namespaces (ip netns); run as root or in CI"
    if shutil.which("ip") is None:
        return "needs iproute2's `ip` for network namespaces (apt-get install iproute2)"
    if shutil.which("nft") is None:
        return "needs nftables' `nft` for loss injection (apt-get install nftables)"
    if not Path("/proc/net/if_inet6").exists():
        return "needs IPv6 in the kernel (booted with ipv6.disable=1?)"
    return _probe_unshare()


_unshare_probe: list[str | None] = []


def _probe_unshare() -> str | None:
    """Check (once per process) that this root may create network namespaces at all."""
    if _unshare_probe:
        return _unshare_probe[0]

    def probe() -> str | None:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.unshare(_CLONE_NEWNET) != 0:  # only this short-lived thread moves
            err = ctypes.get_errno()
            return (
                "needs permission to create network namespaces (CAP_SYS_ADMIN); "
                f"unshare(CLONE_NEWNET) failed: {os.strerror(err)}"
            )
        return None

    result: list[str | None] = []
    thread = threading.Thread(target=lambda: result.append(probe()), daemon=True)
    thread.start()
    thread.join(CMD_TIMEOUT)
    _unshare_probe.append(result[0] if result else "unshare(CLONE_NEWNET) probe hung")
    return _unshare_probe[0]


# -- namespaces and hosts ------------------------------------------------------------------------


class NetNs:
    """One network namespace of a bed: run commands and make sockets inside it."""

    def __init__(self, bed: NetBed, name: str) -> None:
        self.bed = bed
        self.name = name
        self._procs: list[subprocess.Popen[Any]] = []

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"

    @property
    def path(self) -> str:
        return str(NETNS_DIR / self.name)

    def exec_argv(self, argv: Sequence[str]) -> list[str]:
        """``argv`` prefixed to run inside this namespace."""
        return ["ip", "netns", "exec", self.name, *argv]

    def run(
        self,
        argv: Sequence[str],
        *,
        timeout: float | None = RUN_TIMEOUT,
        check: bool = False,
        **kw: Any,
    ) -> subprocess.CompletedProcess[Any]:
        """``subprocess.run`` inside this namespace.

        Defaults differ from ``subprocess.run``: ``timeout=30`` s, text mode, and stdout/stderr
        captured unless given.  ``check=False`` as in ``subprocess.run``.
        """
        kw.setdefault("text", True)
        if "stdout" not in kw and "stderr" not in kw:
            kw.setdefault("capture_output", True)
        return subprocess.run(self.exec_argv(argv), timeout=timeout, check=check, **kw)

    def popen(self, argv: Sequence[str], **kw: Any) -> subprocess.Popen[Any]:
        """``subprocess.Popen`` inside this namespace; the bed stops it at teardown if still
        running (SIGTERM, then SIGKILL after 3 s)."""
        proc: subprocess.Popen[Any] = subprocess.Popen(self.exec_argv(argv), **kw)
        self._procs.append(proc)
        return proc

    def _python_env(self, env: dict[str, str] | None) -> dict[str, str]:
        merged = dict(os.environ if env is None else env)
        paths = [str(PROJECT_ROOT), *filter(None, merged.get("PYTHONPATH", "").split(os.pathsep))]
        merged["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
        return merged

    def python(
        self, args: Sequence[str], *, env: dict[str, str] | None = None, **kw: Any
    ) -> subprocess.CompletedProcess[Any]:
        """Run the test interpreter (``sys.executable``) here with the project on PYTHONPATH,
        e.g. ``host.python(["-c", code])`` or ``host.python(["-m", "pgm.cli", ...])``."""
        kw.setdefault("cwd", str(PROJECT_ROOT))
        return self.run([sys.executable, *args], env=self._python_env(env), **kw)

    def python_popen(
        self, args: Sequence[str], *, env: dict[str, str] | None = None, **kw: Any
    ) -> subprocess.Popen[Any]:
        """Like :meth:`python` but started in the background (see :meth:`popen`)."""
        kw.setdefault("cwd", str(PROJECT_ROOT))
        return self.popen([sys.executable, *args], env=self._python_env(env), **kw)

    def call(self, fn: Callable[..., T], *args: Any) -> T:
        """Call ``fn(*args)`` in a thread inside this namespace (the caller's is untouched)."""
        return _setns_thread(self.path, lambda: fn(*args))

    def socket(
        self,
        family: int = socket.AF_INET,
        type: int = socket.SOCK_DGRAM,
        proto: int = 0,
    ) -> socket.socket:
        """A socket living in this namespace, usable from the calling process and thread.

        The bed closes it at teardown if the test did not (an open socket would keep the
        namespace alive after ``ip netns del``).
        """
        sock = self.call(socket.socket, family, type, proto)
        self.bed._track_socket(sock)
        return sock

    def ip(self, *args: str, check: bool = True) -> str:
        """``ip -n NAME args...`` - stdout."""
        return _cmd(["ip", "-n", self.name, *args], check=check).stdout

    def sysctl(self, key: str) -> str | None:
        """Read a sysctl inside this namespace (None if it does not exist here)."""
        path = "/proc/sys/" + key.replace(".", "/")

        def read() -> str | None:
            try:
                with open(path) as f:
                    return f.read().strip()
            except OSError:
                return None

        return self.call(read)

    def _set_sysctls(self, items: Iterable[tuple[str, str]]) -> dict[str, str]:
        """Write sysctls inside the namespace where writable; report what happened per key."""
        items = list(items)

        def write() -> dict[str, str]:
            report: dict[str, str] = {}
            for key, value in items:
                path = "/proc/sys/" + key.replace(".", "/")
                try:
                    with open(path, "w") as f:
                        f.write(value)
                    report[key] = f"set to {value}"
                except FileNotFoundError:
                    report[key] = "absent in the namespace (not namespaced on this kernel)"
                except OSError as exc:
                    try:
                        with open(path) as f:
                            current = f.read().strip()
                    except OSError:
                        current = "?"
                    report[key] = (
                        f"not writable in the namespace ({exc.strerror}): not namespaced, "
                        f"the host's value {current} applies"
                    )
            return report

        return self.call(write)

    def _stop_processes(self) -> None:
        for proc in self._procs:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.terminate()
        deadline = time.monotonic() + STOP_TIMEOUT
        for proc in self._procs:
            try:
                proc.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(STOP_TIMEOUT)
        self._procs.clear()


@dataclass
class _Rules:
    loss: dict[str, float]  # protocol name -> percent
    drop_all: set[str]
    spare: dict[str, int] = field(default_factory=dict)  # protocol -> bytes let through first


class NetHost(NetNs):
    """A host of the bed: one namespace with one veth (``ifname``) and addresses ``ip4``/``ip6``."""

    def __init__(self, bed: NetBed, name: str, ifname: str, ip4: str, ip6: str) -> None:
        super().__init__(bed, name)
        self.ifname = ifname
        self.ip4 = ip4
        self.ip6 = ip6
        self._ifindex: int | None = None
        self._rules = {"in": _Rules({}, set()), "egress": _Rules({}, set())}
        self._egress_ok: bool | None = None

    def __repr__(self) -> str:
        return f"<NetHost {self.name} {self.ifname} {self.ip4} {self.ip6}>"

    @property
    def ifindex(self) -> int:
        """Interface index of ``ifname`` inside the namespace (for IPV6_JOIN_GROUP etc.)."""
        if self._ifindex is None:
            self._ifindex = self.call(socket.if_nametoindex, self.ifname)
        return self._ifindex

    # -- readiness -------------------------------------------------------------------------------

    def joined(self, group: str) -> bool:
        """Whether some socket on this host has joined ``group`` on its veth (``ip maddr``)."""
        addr = ipaddress.ip_address(group)
        family = "inet6" if addr.version == 6 else "inet"
        out = self.ip("maddr", "show", "dev", self.ifname)
        return any(line.split()[:2] == [family, str(addr)] for line in out.splitlines())

    def wait_joined(
        self,
        group: str,
        timeout: float = 60.0,
        proc: subprocess.Popen[Any] | None = None,
    ) -> None:
        """Wait until a receiver on this host has joined ``group``: start a source only then,
        never after a fixed sleep (a loaded machine can take seconds to start a Python
        process).  Raises :class:`NetBedError` if ``proc`` exits first or on ``timeout``."""
        end = time.monotonic() + timeout
        while not self.joined(group):
            if proc is not None and proc.poll() is not None:
                raise NetBedError(
                    f"{self.name}: the receiver exited ({proc.returncode}) before joining {group}"
                )
            if time.monotonic() > end:
                raise NetBedError(f"{self.name}: nothing joined {group} within {timeout:.0f} s")
            time.sleep(0.05)

    def udp_datagrams_received(self) -> int:
        """This namespace's UDP ``InDatagrams`` counter (``/proc/net/snmp``): how many UDP
        datagrams reached a socket here - a way to wait for traffic instead of sleeping."""
        lines = [ln.split() for ln in self.run(["cat", "/proc/net/snmp"]).stdout.splitlines()]
        head, values = (ln for ln in lines if ln and ln[0] == "Udp:")
        return int(values[head.index("InDatagrams")])

    # -- loss ------------------------------------------------------------------------------------

    def set_loss(
        self,
        percent: float,
        protocols: Iterable[str] = ("pgm", "udp"),
        direction: str = "in",
        spare_bytes: int = 0,
    ) -> None:
        """Drop ``percent`` % of this host's packets of ``protocols`` at random (0 removes it).

        ``protocols``: ``"pgm"`` (IP protocol 113) and/or ``"udp"``, IPv4 and IPv6 alike.
        ``direction="in"``: incoming, nftables ``input`` hook in this namespace (loss on the way
        to this receiver only).  ``direction="egress"`` (alias ``"out"``): outgoing, netdev egress
        hook on this host's veth (loss every receiver behind it sees); see :meth:`egress_loss`.
        Resolution is 0.01 % (``numgen random mod 10000 < percent*100``).  ``spare_bytes``: the
        first that many bytes of each protocol pass untouched (``quota over``), so a session's
        start - its SPM burst and first data - is heard (a receiver that hears neither starts
        at the first data it gets and reports the start missed, RFC 3208 §6.1).
        """
        if not 0 <= percent <= 100:
            raise ValueError(f"percent must be within 0..100, not {percent}")
        direction = self._direction(direction)
        protos = self._protocols(protocols)
        rules = self._rules[direction]
        for proto in protos:
            if percent > 0:
                rules.loss[proto] = percent
                rules.spare[proto] = spare_bytes
            else:
                rules.loss.pop(proto, None)
                rules.spare.pop(proto, None)
        self._apply(direction)

    def drop_all(
        self,
        on: bool = True,
        protocols: Iterable[str] = ("pgm", "udp"),
        direction: str = "in",
    ) -> None:
        """Drop every packet of ``protocols`` (``on=True``) - loss beyond recovery - or stop."""
        direction = self._direction(direction)
        protos = self._protocols(protocols)
        rules = self._rules[direction]
        for proto in protos:
            if on:
                rules.drop_all.add(proto)
            else:
                rules.drop_all.discard(proto)
        self._apply(direction)

    def egress_loss(self, percent: float, protocols: Iterable[str] = ("pgm", "udp")) -> None:
        """Drop ``percent`` % of this host's outgoing ``protocols`` packets at its veth (netdev
        egress hook: the sender's ``sendto`` succeeds, as on a lossy wire).  Raises
        :class:`NetBedUnsupported` if the kernel/nft here lack egress hooks."""
        self.set_loss(percent, protocols, direction="egress")

    def clear_loss(self) -> None:
        """Remove every loss and drop-all rule of this host (counters are kept)."""
        for direction, rules in self._rules.items():
            if rules.loss or rules.drop_all:
                rules.loss.clear()
                rules.drop_all.clear()
                rules.spare.clear()
                self._apply(direction)

    def egress_supported(self) -> bool:
        """Whether a netdev egress hook can be installed on this host's veth (probed once)."""
        if self._egress_ok is None:
            proc = self._nft(self._egress_table(), check=False)
            self._egress_ok = proc.returncode == 0
        return self._egress_ok

    def nft_counters(self) -> dict[str, int]:
        """Packets dropped by this host's rules so far.

        Keys: ``in_pgm``, ``in_udp`` (input hook), ``egress_pgm``, ``egress_udp`` (veth egress)
        and ``total``.  Random-loss and drop-all rules of a direction/protocol share a counter.
        """
        counts = {f"{d}_{p}": 0 for d in ("in", "egress") for p in PROTOCOLS}
        for family in ("inet", "netdev"):
            proc = self._nft_cmd(["-j", "list", "table", family, _NFT_TABLE], check=False)
            if proc.returncode != 0:
                continue  # no rules were ever installed in this family
            for item in json.loads(proc.stdout).get("nftables", []):
                counter = item.get("counter")
                if isinstance(counter, dict) and counter.get("name") in counts:
                    counts[counter["name"]] = int(counter.get("packets", 0))
        counts["total"] = sum(counts.values())
        return counts

    def reset_counters(self) -> None:
        """Zero this host's drop counters."""
        for family in ("inet", "netdev"):
            self._nft_cmd(["reset", "counters", "table", family, _NFT_TABLE], check=False)

    def _direction(self, direction: str) -> str:
        if direction == "in":
            return "in"
        if direction not in ("egress", "out"):
            raise ValueError(f"direction must be 'in' or 'egress', not {direction!r}")
        if not self.egress_supported():
            raise NetBedUnsupported(
                "nftables netdev egress hooks are unavailable here (need kernel >= 5.16 with "
                "CONFIG_NETFILTER_EGRESS and nft >= 1.0.1); use set_loss() on the receivers"
            )
        return "egress"

    @staticmethod
    def _protocols(protocols: Iterable[str]) -> list[str]:
        if isinstance(protocols, str):
            protocols = (protocols,)
        protos = list(protocols)
        for proto in protos:
            if proto not in PROTOCOLS:
                raise ValueError(f"unknown protocol {proto!r}; use {sorted(PROTOCOLS)}")
        return protos

    def _nft_cmd(self, args: Sequence[str], check: bool = True) -> subprocess.CompletedProcess[str]:
        return _cmd(self.exec_argv(["nft", *args]), check=check)

    def _nft(self, script: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return _cmd(self.exec_argv(["nft", "-f", "-"]), input=script, check=check)

    def _counters_decl(self, direction: str) -> str:
        return "".join(f"  counter {direction}_{p} {{ }}\n" for p in PROTOCOLS)

    def _egress_table(self) -> str:
        return (
            f"table netdev {_NFT_TABLE} {{\n{self._counters_decl('egress')}"
            f"  chain {_NFT_EGRESS_CHAIN} {{\n"
            f'    type filter hook egress device "{self.ifname}" priority 0; policy accept;\n'
            "  }\n}\n"
        )

    def _apply(self, direction: str) -> None:
        """Rewrite one direction's chain from the host's rule state, in one nft transaction."""
        rules = self._rules[direction]
        if direction == "in":
            family, chain = "inet", _NFT_INPUT_CHAIN
            script = (
                f"table inet {_NFT_TABLE} {{\n{self._counters_decl('in')}"
                f"  chain {chain} {{\n"
                "    type filter hook input priority 0; policy accept;\n"
                "  }\n}\n"
            )
        else:
            family, chain = "netdev", _NFT_EGRESS_CHAIN
            script = self._egress_table()
        lines = [script, f"flush chain {family} {_NFT_TABLE} {chain}"]
        for proto in PROTOCOLS:
            counter = f'counter name "{direction}_{proto}"'
            match = f"meta l4proto {PROTOCOLS[proto]}"
            if proto in rules.drop_all:
                lines.append(f"add rule {family} {_NFT_TABLE} {chain} {match} {counter} drop")
            elif proto in rules.loss:
                threshold = round(rules.loss[proto] * 100)
                spare = rules.spare.get(proto, 0)
                quota = f"quota over {spare} bytes " if spare else ""
                lines.append(
                    f"add rule {family} {_NFT_TABLE} {chain} {match} "
                    f"{quota}numgen random mod 10000 < {threshold} {counter} drop"
                )
        self._nft("\n".join(lines) + "\n")


# -- the bed ---------------------------------------------------------------------------------------

_LIVE: dict[int, NetBed] = {}
_LIVE_LOCK = threading.Lock()


def _close_all_at_exit() -> None:
    with _LIVE_LOCK:
        beds = list(_LIVE.values())
    for bed in beds:
        with contextlib.suppress(Exception):
            bed.close()


atexit.register(_close_all_at_exit)


class NetBed:
    """A set of namespaces, veths and hosts; a context manager that always tears down.

    Build with :meth:`pair` or :meth:`star` (the topology exists when they return).  ``close()``
    is idempotent and also runs at interpreter exit.
    """

    def __init__(self, *, prefix: str = PREFIX, subnet: int | None = None) -> None:
        if not re.fullmatch(r"[a-z]{1,5}", prefix):
            raise ValueError("prefix must be 1-5 lowercase letters (names stay <= 15 chars)")
        if subnet is not None and not 1 <= subnet <= 254:
            raise ValueError("subnet must be within 1..254")
        self.prefix = prefix
        self.subnet = subnet if subnet is not None else 1 + secrets.randbelow(254)
        self.rid = self._new_rid()
        self.hosts: dict[str, NetHost] = {}
        self.switch: NetNs | None = None
        self.sysctl_report: dict[str, str] = {}
        self._namespaces: list[NetNs] = []
        self._veths: list[tuple[NetNs, str]] = []  # one end of each veth pair we made
        self._sockets: list[socket.socket] = []
        self._owner = os.getpid()
        self._closed = False
        self._marker = _marker_path(prefix, self.rid)

    # -- construction ----------------------------------------------------------------------------

    @classmethod
    def pair(cls, *, prefix: str = PREFIX, subnet: int | None = None) -> NetBed:
        """Hosts ``a`` (10.N.0.1, fd00:N::1) and ``b`` (.2, ::2) joined by one veth pair."""
        bed = cls(prefix=prefix, subnet=subnet)
        bed._build(["a", "b"], switch=False)
        return bed

    @classmethod
    def star(
        cls, n_receivers: int = 3, *, prefix: str = PREFIX, subnet: int | None = None
    ) -> NetBed:
        """Host ``s`` (source, 10.N.0.1) and receivers ``r1``..``rn`` (.2, .3, ...), each on a
        veth into switch namespace ``w`` holding bridge ``br0`` (multicast snooping off)."""
        if not 1 <= n_receivers <= 253:
            raise ValueError("n_receivers must be within 1..253")
        bed = cls(prefix=prefix, subnet=subnet)
        bed._build(["s", *(f"r{i}" for i in range(1, n_receivers + 1))], switch=True)
        return bed

    def _new_rid(self) -> str:
        taken = {n[len(self.prefix) : len(self.prefix) + _RID_LEN] for n in list_netns()}
        for _ in range(100):
            rid = "".join(secrets.choice(_RID_ALPHABET) for _ in range(_RID_LEN))
            if rid not in taken and not _marker_path(self.prefix, rid).exists():
                return rid
        raise NetBedError("could not pick an unused run id")

    def _ns_name(self, tag: str) -> str:
        name = f"{self.prefix}{self.rid}{tag}"
        assert len(name) <= 15, name
        return name

    def _write_marker(self, names: list[str]) -> None:
        MARKER_DIR.mkdir(mode=0o755, parents=True, exist_ok=True)
        info = {
            "pid": os.getpid(),
            "starttime": _proc_starttime(os.getpid()),
            "pidns": _pidns(),
            "namespaces": names,
            "created": time.time(),
            "argv": sys.argv[:4],
        }
        tmp = self._marker.with_suffix(f".tmp{os.getpid()}")
        tmp.write_text(json.dumps(info))
        try:
            os.link(tmp, self._marker)  # atomic and exclusive: a colliding run id fails here
        except FileExistsError:
            raise NetBedError(f"run id {self.rid} is taken; try again") from None
        finally:
            tmp.unlink()

    def _build(self, tags: list[str], *, switch: bool) -> None:
        with _LIVE_LOCK:
            _LIVE[id(self)] = self
        try:
            self._build_unsafe(tags, switch=switch)
        except BaseException:
            self.close()
            raise

    def _build_unsafe(self, tags: list[str], *, switch: bool) -> None:
        n = self.subnet
        names = [self._ns_name(t) for t in tags]
        sw_name = self._ns_name("w") if switch else None
        all_names = names + ([sw_name] if sw_name else [])
        # the marker goes first: a run killed from here on is found by cleanup_stale()
        self._write_marker(all_names)

        for i, (tag, name) in enumerate(zip(tags, names, strict=True), start=1):
            host = NetHost(self, name, ifname=name, ip4=f"10.{n}.0.{i}", ip6=f"fd00:{n}::{i}")
            self.hosts[tag] = host
        if sw_name:
            self.switch = NetNs(self, sw_name)
        self._namespaces = [*self.hosts.values(), *([self.switch] if self.switch else [])]

        # namespaces first, in one ip process; then per-namespace sysctls (before any veth
        # exists, so the "default" IPv6/IPv4 settings apply to the veths made afterwards)
        batch = [f"netns add {ns.name}" for ns in self._namespaces]
        self._batch(None, batch)
        for host in self.hosts.values():
            self.sysctl_report = host._set_sysctls(_HOST_SYSCTLS)
        if self.switch:
            # a switch needs no addresses of its own: keep it silent on IPv6
            self.switch._set_sysctls(
                [
                    ("net.ipv6.conf.all.disable_ipv6", "1"),
                    ("net.ipv6.conf.default.disable_ipv6", "1"),
                ]
            )

        # veth pairs, each end created directly inside its namespace (never in ours)
        links: list[str] = []
        if self.switch:
            for tag, host in self.hosts.items():
                links.append(
                    f"link add {host.ifname} netns {host.name} type veth "
                    f"peer name p{tag} netns {self.switch.name}"
                )
                self._veths.append((host, host.ifname))
        else:
            a, b = self.hosts["a"], self.hosts["b"]
            links.append(
                f"link add {a.ifname} netns {a.name} type veth peer name {b.ifname} netns {b.name}"
            )
            self._veths.append((a, a.ifname))
        self._batch(None, links)

        if self.switch:
            sw = [
                "link set lo up",
                "link add br0 type bridge stp_state 0 forward_delay 0 mcast_snooping 0",
                "link set br0 type bridge mcast_snooping 0",
            ]
            for tag in self.hosts:
                sw += [f"link set p{tag} master br0", f"link set p{tag} up"]
            sw.append("link set br0 up")
            self._batch(self.switch, sw)

        for host in self.hosts.values():
            dev = host.ifname
            self._batch(
                host,
                [
                    "link set lo up",
                    f"link set {dev} multicast on",
                    f"addr add {host.ip4}/24 dev {dev}",
                    f"addr add {host.ip6}/64 dev {dev} nodad",
                    f"link set {dev} up",
                    f"route add 224.0.0.0/4 dev {dev}",
                    f"route replace ff00::/8 dev {dev}",
                ],
            )
        self._wait_ready()

    def _batch(self, ns: NetNs | None, commands: list[str]) -> None:
        argv = ["ip", *(["-n", ns.name] if ns else []), "-batch", "-"]
        _cmd(argv, input="\n".join(commands) + "\n")

    def _wait_ready(self) -> None:
        """Wait (bounded) until every veth is up and no IPv6 address is still tentative."""
        deadline = time.monotonic() + READY_TIMEOUT
        pending = list(self.hosts.values())
        while pending:
            still: list[NetHost] = []
            for host in pending:
                out = host.ip("-j", "addr", "show", "dev", host.ifname, check=False)
                try:
                    (info,) = json.loads(out or "[]")
                except ValueError:
                    info = {}
                up = info.get("operstate") == "UP"
                addrs = info.get("addr_info", [])
                tentative = any(a.get("tentative") for a in addrs)
                has_ll = any(a.get("scope") == "link" and a.get("family") == "inet6" for a in addrs)
                if not (up and has_ll and not tentative):
                    still.append(host)
            pending = still
            if not pending:
                return
            if time.monotonic() > deadline:
                raise NetBedError(
                    f"links not ready after {READY_TIMEOUT}s: {[h.name for h in pending]}"
                )
            time.sleep(0.02)

    # -- access ----------------------------------------------------------------------------------

    def __getitem__(self, tag: str) -> NetHost:
        return self.hosts[tag]

    @property
    def a(self) -> NetHost:
        return self.hosts["a"]

    @property
    def b(self) -> NetHost:
        return self.hosts["b"]

    @property
    def source(self) -> NetHost:
        """The sending host: ``a`` of a pair, ``s`` of a star."""
        return self.hosts["a"] if "a" in self.hosts else self.hosts["s"]

    @property
    def receivers(self) -> list[NetHost]:
        """Every host but :attr:`source` (``[b]`` for a pair)."""
        src = self.source
        return [h for h in self.hosts.values() if h is not src]

    @property
    def namespaces(self) -> list[str]:
        """Names of every namespace of this bed (hosts and switch)."""
        return [ns.name for ns in self._namespaces]

    @property
    def closed(self) -> bool:
        return self._closed

    def _track_socket(self, sock: socket.socket) -> None:
        self._sockets = [s for s in self._sockets if s.fileno() != -1]
        self._sockets.append(sock)

    def reset(self) -> None:
        """Remove all loss rules and zero the counters (between tests sharing a bed)."""
        for host in self.hosts.values():
            host.clear_loss()
            host.reset_counters()

    # -- teardown --------------------------------------------------------------------------------

    def __enter__(self) -> NetBed:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc_info: object) -> None:
        if exc_type is None:
            self.close()
            return
        try:
            self.close()
        except NetBedError as exc:  # do not hide the exception that is propagating
            warnings.warn(str(exc), RuntimeWarning, stacklevel=2)

    def close(self) -> None:
        """Stop processes, close sockets, delete veths and namespaces, remove the marker.

        Idempotent; a no-op in a forked child (the bed belongs to the process that built it).
        """
        if self._closed or os.getpid() != self._owner:
            return
        self._closed = True
        errors: list[str] = []
        try:
            for sock in self._sockets:
                with contextlib.suppress(OSError):
                    sock.close()
            self._sockets.clear()
            for ns in self._namespaces:
                try:
                    ns._stop_processes()
                except Exception as exc:  # keep tearing down
                    errors.append(f"{ns.name}: {exc}")
            for ns, ifname in self._veths:
                if (NETNS_DIR / ns.name).exists():
                    _cmd(["ip", "-n", ns.name, "link", "del", ifname], check=False)
            for ns in reversed(self._namespaces):
                try:
                    _delete_netns(ns.name)
                except Exception as exc:
                    errors.append(f"{ns.name}: {exc}")
            # also anything of ours created before a failure was recorded above
            mine = f"{self.prefix}{self.rid}"
            for name in list_netns():
                if name.startswith(mine):
                    _delete_netns(name)
            if not any(n.startswith(mine) for n in list_netns()):
                with contextlib.suppress(FileNotFoundError):
                    self._marker.unlink()
            else:
                errors.append("namespaces remain; the marker is kept for cleanup_stale()")
        finally:
            with _LIVE_LOCK:
                _LIVE.pop(id(self), None)
        if errors:
            raise NetBedError("teardown incomplete: " + "; ".join(errors))


# -- pytest fixtures -------------------------------------------------------------------------------
# Enable them in a test module by importing them, or for the whole suite in tests/conftest.py:
#   from tests.testbed.netbed import (
#       netbed_pair, netbed_pair_module, netbed_star, netbed_star_module)

_stale_cleaned: list[bool] = []


def require_netns() -> None:
    """Skip (off CI) or fail (CI) when namespace beds cannot run; clean stale beds once."""
    from tests.conftest import require  # late: tests.conftest may import this module

    reason = netns_unavailable_reason()
    require(reason is None, reason or "")
    if not _stale_cleaned:
        _stale_cleaned.append(True)
        cleanup_stale()


def _star_size(request: pytest.FixtureRequest) -> int:
    # @pytest.mark.parametrize("netbed_star", [5], indirect=True) picks the receiver count
    return int(getattr(request, "param", 3))


@pytest.fixture
def netbed_pair() -> Iterator[NetBed]:
    """A fresh :meth:`NetBed.pair` per test."""
    require_netns()
    with NetBed.pair() as bed:
        yield bed


@pytest.fixture(scope="module")
def netbed_pair_module() -> Iterator[NetBed]:
    """One :meth:`NetBed.pair` shared by a module's tests (call ``bed.reset()`` after loss)."""
    require_netns()
    with NetBed.pair() as bed:
        yield bed


@pytest.fixture
def netbed_star(request: pytest.FixtureRequest) -> Iterator[NetBed]:
    """A fresh :meth:`NetBed.star` (3 receivers, or ``indirect`` parametrization) per test."""
    require_netns()
    with NetBed.star(_star_size(request)) as bed:
        yield bed


@pytest.fixture(scope="module")
def netbed_star_module(request: pytest.FixtureRequest) -> Iterator[NetBed]:
    """One :meth:`NetBed.star` shared by a module's tests (call ``bed.reset()`` after loss)."""
    require_netns()
    with NetBed.star(_star_size(request)) as bed:
        yield bed
