"""``pgm demo`` — a source and receivers on this machine, with simulated loss, checked by SHA-256.

Theory of operation: this module turns the options into a :class:`~pgm.cli.demo_run.DemoPlan`
and judges the outcome; :mod:`pgm.cli.demo_run` runs the processes.  Choices, in order:

* the transport — ``auto`` is raw IP when this process may open raw sockets
  (:func:`~pgm.interfaces.raw_sockets_permitted`), else UDP encapsulation; ``raw`` without the
  privilege is a usage error (exit 2);
* the group and port — random in 239.192.0.0/16 and 7500..8499 unless given, so two demos at
  once do not mix;
* the interface — ``--iface``, or the first of the loopback and multicast interfaces
  (:func:`~pgm.interfaces.local_multicast_candidates`) over which a TTL 0 datagram comes back
  (:func:`~pgm.interfaces.probe_multicast`); none: exit 1 with how to enable loopback multicast.

The data is random from a seed, so the expected digest is known before anything is sent.
Exit 0 when every receiver got all of it intact, 1 otherwise, 130 on Ctrl-C.  The results go to
stdout, or to stderr with ``--json`` (then stdout carries only the JSON object).
"""

from __future__ import annotations

import argparse
import hashlib
import random
import sys
from collections.abc import Callable
from ipaddress import IPv4Address
from typing import TYPE_CHECKING, Any, TextIO

from ..progress import format_bytes, format_rate
from .args import (
    arg,
    build_source_config,
    demo_group,
    int_range,
    number,
    parse_percent,
    parse_size,
    resolve_iface,
)
from .demo_run import DemoOutcome, DemoPlan, demo_data, run_demo
from .report import (
    EXIT_ERROR,
    EXIT_OK,
    EXIT_USAGE,
    demo_receiver_line,
    demo_source_line,
    err,
    json_dump,
)

if TYPE_CHECKING:
    from ..interfaces import Interface

__all__ = ["add_parser", "choose_interface", "run"]


def add_parser(sub: Any, port_t: Callable[[str], Any]) -> None:
    """Add ``demo`` to the subcommands (``sub``: argparse's subparsers action)."""
    m = sub.add_parser(
        "demo",
        help="a source and receivers on this machine, with simulated loss",
        description="Run a source and receivers as separate processes on this machine "
        "(multicast TTL 0: nothing leaves the host), transfer random data with simulated "
        "loss, show statistics and check the SHA-256 digests.  Exit status 0 if every "
        "receiver got the data intact, 1 otherwise.",
    )
    m.add_argument(
        "--size",
        type=arg(parse_size, "size"),
        default=4 << 20,
        help="bytes to transfer, suffixes k/M/G (default: 4M)",
    )
    m.add_argument(
        "--loss",
        type=arg(parse_percent, "percent"),
        default=0.05,
        metavar="PERCENT",
        help="simulated loss per receiver (default: 5)",
    )
    m.add_argument(
        "--receivers",
        type=arg(int_range(1, 32), "count"),
        default=3,
        metavar="N",
        help="number of receivers (default: 3)",
    )
    m.add_argument(
        "--transport",
        choices=("raw", "udp", "auto"),
        default="auto",
        help="auto = raw when privileged, else udp (default)",
    )
    m.add_argument(
        "--rate",
        type=arg(number(0, lo_open=True), "rate"),
        default=20000,
        metavar="KBITS",
        help="send rate in kbit/s (default: 20000)",
    )
    m.add_argument("--port", type=port_t, help="port (default: 7500 + random)")
    m.add_argument(
        "--group", type=arg(demo_group, "group"), help="IPv4 group (default: 239.192.x.y, random)"
    )
    m.add_argument(
        "--iface",
        metavar="X",
        help="interface (default: loopback if it carries multicast, else the "
        "first multicast interface; TTL 0 either way)",
    )
    m.add_argument(
        "--linger",
        type=arg(number(0), "linger"),
        default=10.0,
        metavar="S",
        help="longest the source waits for receivers to finish (default: 10)",
    )
    m.add_argument("--seed", type=int, help="seed of the random data")
    m.add_argument("--json", action="store_true", help="print results as JSON on stdout")
    m.set_defaults(func=run)


def choose_interface(spec: str | None, group: IPv4Address) -> tuple[Interface | None, list[str]]:
    """The interface for the demo and, when none works, why each candidate failed."""
    from ..interfaces import list_interfaces, local_multicast_candidates, probe_multicast

    if spec is not None:
        cands = [resolve_iface(spec, group)]
    else:
        cands = local_multicast_candidates(list_interfaces())
    why = []
    for i in cands:
        problem = probe_multicast(i, group)
        if problem is None:
            return i, []
        why.append(f"{i.name}: {problem}")
    return None, why


def _transport(choice: str) -> str | None:
    """The transport to use for ``--transport choice`` (None: raw asked for, not permitted)."""
    from ..interfaces import raw_sockets_permitted

    if choice == "auto":
        return "raw" if raw_sockets_permitted() else "udp"
    if choice == "raw" and not raw_sockets_permitted():
        return None
    return choice


def _plan(args: argparse.Namespace, rng: random.Random) -> tuple[DemoPlan, Interface] | int:
    """The plan from the options and its interface, or the exit status after saying what is
    wrong."""
    from ..interfaces import InterfaceError

    group: IPv4Address = args.group or IPv4Address(
        f"239.192.{rng.randrange(1, 255)}.{rng.randrange(1, 255)}"
    )
    port: int = args.port or 7500 + rng.randrange(0, 1000)
    transport = _transport(args.transport)
    if transport is None:
        err(
            "demo",
            "raw PGM sockets (IP protocol 113) need root or the CAP_NET_RAW capability; "
            "use --transport udp (or auto)",
        )
        return EXIT_USAGE
    try:
        cfg = build_source_config(rate_kbits=args.rate, group=group, transport=transport)
        iface, why = choose_interface(args.iface, group)
    except (ValueError, InterfaceError) as exc:
        err("demo", str(exc))
        return EXIT_USAGE
    if iface is None:
        err(
            "demo",
            "no interface delivers multicast back to this host (tried "
            + "; ".join(why)
            + "). On Linux, as root: ip link set lo multicast on; "
            "ip route add 224.0.0.0/4 dev lo  (or pass --iface)",
        )
        return EXIT_ERROR
    plan = DemoPlan(
        group=str(group),
        port=port,
        iface=iface.name,
        transport=transport,
        size=args.size,
        seed=args.seed if args.seed is not None else rng.randrange(1 << 31),
        rate_bps=cfg.rate_bps,
        message_size=cfg.max_tsdu,
        linger=args.linger,
        receivers=args.receivers,
        loss=args.loss,
    )
    return plan, iface


def _announce(plan: DemoPlan, iface: Interface, report: TextIO) -> None:
    """The opening lines: what is about to happen, and where."""
    where = f"{iface.name} ({iface.address(4)})"
    print(
        f"pgm demo: {format_bytes(plan.size)} from 1 source to {plan.receivers} receivers, "
        f"{plan.transport} on {where} with TTL 0, group {plan.group} port {plan.port}, "
        f"{plan.loss * 100:g} % simulated loss, {format_rate(plan.rate_bps)}",
        file=report,
    )
    if not iface.ipv4[0].is_loopback:
        print(
            f"pgm demo: note: {iface.name} is not loopback; multicast TTL 0 keeps the data on "
            "this host",
            file=report,
        )
    report.flush()


def _judge(
    plan: DemoPlan, out: DemoOutcome, expected: str, report: TextIO
) -> tuple[int, bool, list[dict[str, Any]]]:
    """Print the result table and the verdict; the exit status, whether every receiver got
    the data intact, and each receiver's result with its verdict (``ok``)."""
    ok_all = not out.errors and len(out.receivers) == plan.receivers
    lines = [] if out.source is None else [demo_source_line(out.source)]
    rows = []
    for i in range(plan.receivers):
        r = out.receivers.get(i)
        good = r is not None and r["sha256"] == expected and r["bytes"] == plan.size
        ok_all = ok_all and good
        lines.append(demo_receiver_line(i, r, good))
        if r is not None:
            rows.append({"receiver": i + 1, **r, "ok": good})
    for line in lines:
        print(line, file=report)
    for e in out.errors:
        err("demo", e)
    status = out.status
    if ok_all:
        print(
            f"pgm demo: all {plan.receivers} receivers got the data intact "
            f"(sha256 {expected[:16]}...)",
            file=report,
        )
    elif status == EXIT_OK:
        status = EXIT_ERROR
        print("pgm demo: FAILED: not every receiver got the data intact", file=report)
    return status, ok_all, rows


def run(args: argparse.Namespace) -> int:
    """Run ``pgm demo``; the exit status."""
    planned = _plan(args, random.Random())
    if isinstance(planned, int):
        return planned
    plan, iface = planned
    expected = hashlib.sha256(demo_data(plan.size, plan.seed)).hexdigest()
    report = sys.stderr if args.json else sys.stdout
    _announce(plan, iface, report)
    out = run_demo(plan)
    status, ok_all, rows = _judge(plan, out, expected, report)
    if args.json:
        json_dump(
            {
                "command": "demo",
                "ok": ok_all,
                "transport": plan.transport,
                "interface": plan.iface,
                "group": plan.group,
                "port": plan.port,
                "size": plan.size,
                "loss": plan.loss,
                "rate_bps": plan.rate_bps,
                "sha256": expected,
                "source": out.source,
                "receivers": rows,
                "errors": out.errors,
                "exit_status": status,
            }
        )
    return status
