"""``pgm doctor`` — check this host for PGM and say, in plain words, what to fix.

Theory of operation: the options name what the user wants to run (GROUP, ``--iface``,
``--transport``, ``--port``, ``--rate``), resolved as ``send``/``recv`` resolve them; the checks
(:mod:`pgm.cli.doctor_checks`) look at the interface, the multicast route, raw-socket
privilege, socket buffer caps against the rate, firewall rules, multicast loopback, and run a
short live self-test on loopback (UDP, and raw IP when permitted; ``--no-self-test`` skips
it).  Each finding is one line, ``ok`` / ``info`` / ``warn`` / ``FAIL``, with its fix on the
next.  Exit status 0 when everything the requested mode needs is fine, 1 when a needed check
failed, 2 for bad options.
"""

from __future__ import annotations

import argparse
from typing import Any

from .args import arg, endpoint, number, port, rate_bps_from_kbits, resolve_iface, setup
from .report import EXIT_ERROR, EXIT_OK, json_dump

__all__ = ["add_parser", "run"]

_DEFAULT_GROUP = "239.192.0.1"


def add_parser(sub: Any) -> None:
    """Add ``doctor`` to the subcommands (``sub``: argparse's subparsers action)."""
    d = sub.add_parser(
        "doctor",
        help="check this host for PGM (interface, route, privilege, buffers, firewall, "
        "loopback, a live self-test) and say what to fix",
        description="Check what PGM needs here and explain each finding with its fix.  Exit "
        "status 0 when everything the requested mode needs is fine.",
    )
    d.add_argument(
        "group",
        nargs="?",
        default=_DEFAULT_GROUP,
        type=arg(endpoint, "group"),
        metavar="GROUP",
        help=f"the group (or endpoint) you will use (default: {_DEFAULT_GROUP})",
    )
    d.add_argument("--iface", metavar="X", help="interface (default: as send/recv pick it)")
    d.add_argument("--transport", choices=("raw", "udp"), default=None,
                   help="the mode to check for (default: raw, or what GROUP says)")  # fmt: skip
    d.add_argument("--port", type=arg(port, "port"), default=None, help="port (default: 7500)")
    d.add_argument(
        "--rate",
        type=arg(number(0, lo_open=True), "rate"),
        default=10_000,
        metavar="KBITS",
        help="the send rate to size buffers for, kbit/s (default: 10000)",
    )
    d.add_argument("--no-self-test", action="store_true", help="skip the live self-test")
    d.add_argument("--json", action="store_true", help="print the findings as JSON on stdout")
    d.set_defaults(func=run)


def _plan(args: argparse.Namespace) -> Any:
    from .doctor_checks import DoctorPlan

    ep = args.group
    transport = args.transport or ep.transport or "raw"
    iface_spec = args.iface or (ep.ifaces[0] if ep.ifaces else None)
    return DoctorPlan(
        iface=resolve_iface(iface_spec, ep.group),
        group=ep.group,
        port=args.port or ep.port or 7500,
        transport=transport,
        rate_bps=rate_bps_from_kbits(args.rate),
        self_test=not args.no_self_test,
    )


def run(args: argparse.Namespace) -> int:
    """Run ``pgm doctor``; the exit status."""
    from .doctor_checks import Level, all_checks

    plan = setup("doctor", _plan, args)
    if isinstance(plan, int):
        return plan
    findings = all_checks(plan)
    failed = [f for f in findings if f.level is Level.FAIL and f.needed]
    status = EXIT_ERROR if failed else EXIT_OK
    if args.json:
        json_dump(
            {
                "command": "doctor",
                "transport": plan.transport,
                "interface": plan.iface.name,
                "group": str(plan.group),
                "port": plan.port,
                "findings": [
                    {"check": f.check, "level": f.level.value, "text": f.text, "fix": f.fix,
                     "needed": f.needed}
                    for f in findings
                ],
                "exit_status": status,
            }
        )  # fmt: skip
        return status
    print(f"pgm doctor: {plan.transport} on {plan.iface.name}, group {plan.group} port {plan.port}")
    for f in findings:
        tag = "FAIL" if f.level is Level.FAIL else f.level.value
        print(f"  {tag:<5} {f.check}: {f.text}")
        if f.fix and f.level is not Level.OK:
            print(f"        fix: {f.fix}")
    if failed:
        print(f"pgm doctor: {len(failed)} problem(s) stop {plan.transport} mode here (see FAIL)")
    else:
        print(f"pgm doctor: everything {plan.transport} mode needs is fine")
    return status
