"""Argument types, unit conversions and the configurations built from the command line.

Theory of operation: everything a user types is checked here, before any socket is opened.
Each argparse ``type=`` is a pure converter that raises :class:`ValueError`; :func:`arg` wraps
it so argparse reports the message and exits with status 2.  Options in human units (kbit/s,
milliseconds, ``4M``, ``5%``) become the engine's units (bit/s, seconds, bytes, fractions).
The engine configurations are built once, from the collected fields, and validated by their
own constructors (a :class:`~pgm.engine.ConfigError`, also a ValueError, on bad values).
Problems found later, while setting up (unreadable input, a missing interface), raise
:class:`UsageError`: the command prints it and exits with status 2.
"""

from __future__ import annotations

import argparse
import errno
import re
from collections.abc import Callable
from ipaddress import IPv4Address, IPv6Address, ip_address
from typing import TYPE_CHECKING, Any, TypeVar

from .report import EXIT_ERROR, EXIT_USAGE, err

if TYPE_CHECKING:
    from ..engine import ReceiverConfig, SourceConfig
    from ..interfaces import Interface
    from ..net.endpoint import Endpoint

__all__ = [
    "UsageError",
    "apply_endpoint",
    "arg",
    "build_receiver_config",
    "build_source_config",
    "demo_group",
    "endpoint",
    "group",
    "int_range",
    "join_history",
    "number",
    "open_endpoint",
    "parse_percent",
    "parse_size",
    "port",
    "rate_bps_from_kbits",
    "resolve_iface",
    "setup",
    "window_secs_from_ms",
]

_T = TypeVar("_T")


class UsageError(Exception):
    """A problem with what the user asked for: printed, exit status 2."""


# -- unit conversions (pure) -------------------------------------------------------------------


def rate_bps_from_kbits(kbits: float) -> int:
    """``--rate`` is kbit/s; the engine wants bit/s (``SourceConfig.rate_bps``)."""
    bps = round(kbits * 1000)
    if bps < 1:
        raise ValueError(f"rate must be positive, not {kbits!r} kbit/s")
    return bps


def window_secs_from_ms(ms: float) -> float:
    """``--window-ms`` is milliseconds; the engine wants seconds (``SourceConfig.window_secs``)."""
    if not ms > 0:
        raise ValueError(f"window must be positive, not {ms!r} ms")
    return ms / 1000.0


_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b)?\s*$", re.IGNORECASE)
_SIZE_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


def parse_size(text: str) -> int:
    """A byte count with an optional binary suffix: ``4M`` = ``4MB`` = ``4MiB`` = 4194304."""
    m = _SIZE_RE.match(text)
    if m is None:
        raise ValueError(f"not a size: {text!r} (examples: 4000000, 512k, 4M)")
    return int(float(m.group(1)) * _SIZE_UNITS[m.group(2).lower()])


def parse_percent(text: str) -> float:
    """``'5'`` or ``'5%'`` -> 0.05 (in [0, 100))."""
    t = text.strip().removesuffix("%").strip()
    try:
        v = float(t)
    except ValueError:
        raise ValueError(f"not a percentage: {text!r}") from None
    if not 0 <= v < 100:
        raise ValueError(f"percentage must be in [0, 100), not {text!r}")
    return v / 100.0


# -- argparse types ------------------------------------------------------------------------------


def arg(convert: Callable[[str], Any], what: str) -> Callable[[str], Any]:
    """Wrap a converter so its ValueError becomes an argparse error (exit status 2)."""

    def f(text: str) -> Any:
        try:
            return convert(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc) or f"bad {what}: {text!r}") from None

    f.__name__ = what  # argparse names the type in its messages
    return f


def group(text: str) -> IPv4Address | IPv6Address:
    """A multicast group address, IPv4 or IPv6."""
    try:
        addr = ip_address(text)
    except ValueError:
        raise ValueError(f"not an IP address: {text!r}") from None
    if not addr.is_multicast:
        raise ValueError(
            f"{addr} is not a multicast group address (IPv4 224.0.0.0/4, IPv6 ff00::/8)"
        )
    return addr


def endpoint(text: str) -> Endpoint:
    """GROUP of ``send``/``recv``: a group, OpenPGM's ``eth0;239.192.0.1`` or ZeroMQ's
    ``epgm://eth0;239.192.0.1:7500`` (:func:`pgm.net.endpoint.parse_endpoint`)."""
    from ..net.endpoint import parse_endpoint

    return parse_endpoint(text)


def apply_endpoint(args: argparse.Namespace) -> str | None:
    """Spread an :class:`Endpoint` GROUP over ``args`` (group, interfaces, port, transport),
    where the options did not say otherwise; the error message if they contradict it."""
    ep = args.group
    if not hasattr(ep, "ifaces"):
        return None
    args.group = ep.group
    if ep.port is not None:
        if args.port is not None and args.port != ep.port:
            return f"--port {args.port} contradicts the port in GROUP ({ep.port})"
        args.port = ep.port
    if ep.transport is not None:
        if args.transport is not None and args.transport != ep.transport:
            return f"--transport {args.transport} contradicts GROUP's scheme ({ep.transport})"
        args.transport = ep.transport
    if ep.ifaces and not args.iface:
        args.iface = list(ep.ifaces) if args.command == "recv" else ep.ifaces[0]
        if args.command == "send" and len(ep.ifaces) > 1:
            return "a source sends on one interface: name one in GROUP"
    if args.transport is None:
        args.transport = "raw"
    if args.port is None:
        return "--port is required (or give GROUP as epgm://IFACE;GROUP:PORT)"
    return None


def demo_group(text: str) -> IPv4Address:
    """A multicast group for the demo, which is IPv4 only."""
    g = group(text)
    if not isinstance(g, IPv4Address):
        raise ValueError("the demo uses IPv4 groups")
    return g


def port(text: str) -> int:
    """A port number, 1..65535."""
    try:
        v = int(text)
    except ValueError:
        raise ValueError(f"not a port number: {text!r} (1..65535)") from None
    if not 0 < v < 65536:
        raise ValueError(f"port must be in 1..65535, not {v}")
    return v


def number(lo: float, hi: float | None = None, *, lo_open: bool = False) -> Callable[[str], float]:
    """A float converter bounded below by ``lo`` (excluded when ``lo_open``), above by ``hi``."""

    def f(text: str) -> float:
        try:
            v = float(text)
        except ValueError:
            raise ValueError(f"not a number: {text!r}") from None
        if v != v or (v <= lo if lo_open else v < lo) or (hi is not None and v > hi):
            bound = f"> {lo:g}" if lo_open else f">= {lo:g}"
            raise ValueError(f"must be {bound}" + (f" and <= {hi:g}" if hi is not None else ""))
        return v

    return f


def int_range(lo: int, hi: int) -> Callable[[str], int]:
    """An int converter for ``lo..hi`` inclusive."""

    def f(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            raise ValueError(f"not a whole number: {text!r}") from None
        if not lo <= v <= hi:
            raise ValueError(f"must be in {lo}..{hi}, not {v}")
        return v

    return f


# -- what the options build ------------------------------------------------------------------------


def build_source_config(
    *,
    rate_kbits: float | None = None,
    window_ms: float | None = None,
    group: IPv4Address | IPv6Address | None = None,
    transport: str = "raw",
    fec: tuple[int, int, int, bool] | None = None,
    late_join: float | None = None,
) -> SourceConfig:
    """The :class:`SourceConfig` for ``send``/``demo`` options (None: the engine default);
    ``fec`` is ``(group size k, block size n, pro-active count, on-demand)``.

    Raises ValueError (ConfigError for values the configuration rejects)."""
    from ..engine import SourceConfig

    fields: dict[str, Any] = {
        "ip_version": 6 if isinstance(group, IPv6Address) else 4,
        "udp_encapsulation": transport == "udp",
    }
    if rate_kbits is not None:
        fields["rate_bps"] = rate_bps_from_kbits(rate_kbits)
    if window_ms is not None:
        fields["window_secs"] = window_secs_from_ms(window_ms)
    if fec is not None:
        k, n, pro, ond = fec
        fields.update(fec_group_size=k, fec_block_size=n, fec_proactive=pro, fec_ondemand=ond)
    if late_join is not None:
        fields["late_join"] = late_join  # percent (RM_LATEJOIN)
    return SourceConfig(**fields)


def join_history(text: str) -> int | None:
    """``--join-history``: ``all`` (None: everything the source offers), ``none`` (0) or a
    number of packets (``ReceiverConfig.join_history``)."""
    t = text.strip().lower()
    if t == "all":
        return None
    if t == "none":
        return 0
    try:
        v = int(t)
    except ValueError:
        raise ValueError(f"not all, none or a packet count: {text!r}") from None
    if v < 0:
        raise ValueError(f"packet count must be >= 0, not {v}")
    return v


def build_receiver_config(
    *,
    timeout: float | None = None,
    history: int | None = None,
    source: str | None = None,
    tsi: str | None = None,
    verify: bool = True,
) -> ReceiverConfig:
    """The :class:`ReceiverConfig` for ``recv`` options: ``--timeout`` is also the idle expiry
    of a started session (None: the engine default); ``--join-history`` caps late join;
    ``--source`` / ``--tsi`` pin the session followed (docs/security.md); ``--no-verify``
    (``verify=False``) skips checksum verification.  ValueError (a UsageError) for an address
    or TSI that does not parse."""
    from ..engine import ReceiverConfig
    from ..wire import TSI, as_nla

    fields: dict[str, Any] = {"join_history": history, "verify_checksum": verify}
    if timeout is not None:
        fields["peer_expiry"] = timeout
    try:
        if source is not None:
            fields["only_source"] = as_nla(source)
        if tsi is not None:
            fields["only_tsi"] = TSI.parse(tsi)
    except ValueError as exc:
        raise UsageError(f"--source / --tsi: {exc}") from None
    return ReceiverConfig(**fields)


def resolve_iface(spec: str | None, group: IPv4Address | IPv6Address) -> Interface:
    """``--iface`` to an Interface with an address of the group's family; InterfaceError (a
    ValueError) lists the interfaces there are."""
    from ..interfaces import resolve_interface

    iface = resolve_interface(spec, group.version)
    iface.address(group.version)  # raises InterfaceError when it has no address of the family
    return iface


# -- setting up a command ----------------------------------------------------------------------


def setup(cmd: str, make: Callable[[argparse.Namespace], _T], args: argparse.Namespace) -> _T | int:
    """``make(args)``, or exit status 2 after printing why it refused the options (UsageError,
    ConfigError, InterfaceError)."""
    from ..engine import ConfigError
    from ..interfaces import InterfaceError

    try:
        return make(args)
    except (UsageError, ConfigError, InterfaceError) as exc:
        err(cmd, str(exc))
        return EXIT_USAGE


def open_endpoint(
    cmd: str, transport: str, where: str, make: Callable[[], _T], cleanup: Callable[[], None]
) -> _T | int:
    """``make()`` (a sender or receiver opening its socket), or the exit status after printing
    why not: 2 without the privilege raw sockets need (the transport's message says what to
    do), for another source on the UDP port or a value the library refuses; 1 for other
    socket errors.  ``cleanup`` runs on failure."""
    try:
        return make()
    except PermissionError as exc:
        cleanup()
        err(cmd, exc.strerror or str(exc))
        return EXIT_USAGE
    except OSError as exc:
        cleanup()
        if exc.errno == errno.EADDRINUSE and exc.strerror:  # a second source on the port
            err(cmd, exc.strerror)
            return EXIT_USAGE
        err(cmd, f"cannot open the {transport} socket on {where}: {exc}")
        return EXIT_ERROR
    except ValueError as exc:  # what the library refuses (pgm.net.transport.check_endpoint)
        cleanup()
        err(cmd, str(exc))
        return EXIT_USAGE
