"""``pgm ifaces`` — the interfaces ``--iface`` can name, like OpenPGM's ``-i``.

Theory of operation: :func:`pgm.interfaces.list_interfaces` (``ifaddr``: any OS, no root)
gives names, indexes and addresses; on Linux, ``/sys`` adds the flags (up, multicast, loopback)
and the MTU (:func:`~pgm.interfaces.interface_flags`, :func:`~pgm.interfaces.interface_mtu`;
"?" elsewhere).  One line per interface, or ``--json``.  The interface ``--iface`` picks by
default is marked, for IPv4 and IPv6.
"""

from __future__ import annotations

import argparse
from typing import Any

from .report import EXIT_OK, json_dump

__all__ = ["add_parser", "describe_interfaces", "run"]


def add_parser(sub: Any) -> None:
    """Add ``ifaces`` to the subcommands (``sub``: argparse's subparsers action)."""
    p = sub.add_parser(
        "ifaces",
        help="list the network interfaces (index, flags, MTU, addresses)",
        description="List the interfaces --iface can name (by name, index or address), with "
        "their index, flags, MTU and addresses; '*' marks the default for IPv4 / IPv6.",
    )
    p.add_argument("--json", action="store_true", help="print them as JSON on stdout")
    p.set_defaults(func=run)


def describe_interfaces() -> list[dict[str, Any]]:
    """Every interface as a dict: name, index, up/multicast/loopback (None: unknown), mtu,
    ipv4, ipv6, and whether it is the default for each IP version."""
    from ..interfaces import (
        IFF_LOOPBACK,
        IFF_MULTICAST,
        IFF_UP,
        InterfaceError,
        interface_flags,
        interface_mtu,
        list_interfaces,
        resolve_interface,
    )

    defaults: dict[int, str | None] = {}
    for v in (4, 6):
        try:
            defaults[v] = resolve_interface(None, v).name
        except InterfaceError:
            defaults[v] = None
    out = []
    for i in list_interfaces():
        f = interface_flags(i.name)
        out.append(
            {
                "name": i.name,
                "index": i.index,
                "up": None if f is None else bool(f & IFF_UP),
                "multicast": None if f is None else bool(f & IFF_MULTICAST),
                "loopback": None if f is None else bool(f & IFF_LOOPBACK),
                "mtu": interface_mtu(i.name),
                "ipv4": [str(a) for a in i.ipv4],
                "ipv6": [str(a) for a in i.ipv6],
                "default_for": [v for v in (4, 6) if defaults[v] == i.name],
            }
        )
    return out


def _flags(d: dict[str, Any]) -> str:
    if d["up"] is None:
        return "?"
    names = [n for n in ("up", "multicast", "loopback") if d[n]]
    return ",".join(names) or "down"


def run(args: argparse.Namespace) -> int:
    """Run ``pgm ifaces``; the exit status."""
    rows = describe_interfaces()
    if args.json:
        json_dump({"command": "ifaces", "interfaces": rows})
        return EXIT_OK
    print(f"{'index':>5}  {'name':<16} {'flags':<22} {'mtu':>5}  addresses")
    for d in rows:
        mark = "".join(f" *IPv{v}" for v in d["default_for"])
        addrs = ", ".join(d["ipv4"] + d["ipv6"]) or "no address"
        mtu = "?" if d["mtu"] is None else str(d["mtu"])
        print(f"{d['index']:>5}  {d['name']:<16} {_flags(d):<22} {mtu:>5}  {addrs}{mark}")
    return EXIT_OK
