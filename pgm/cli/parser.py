"""The ``pgm`` argument parser: the top level and each command's subparser.

Theory of operation: each command module (:mod:`~pgm.cli.decode`, :mod:`~pgm.cli.send`,
:mod:`~pgm.cli.recv`, :mod:`~pgm.cli.demo`, :mod:`~pgm.cli.dump`, :mod:`~pgm.cli.sim`) adds its
own subparser and sets ``func`` to its ``run(args) -> exit status``; the argument types come from
:mod:`pgm.cli.args`, so a bad value is an argparse error (exit status 2) before any command
runs.  :func:`parse_args` adds the one thing argparse cannot do: ``send``'s optional FILE after
the options.

Start-up: a command's module (and what it imports: the simulator for ``sim``, capture code
for ``dump``, ...) is imported only when that command runs — :func:`build_parser` with the
``command`` that :func:`command_in` finds on the command line adds that command's subparser
alone; without one (``pgm -h``, docs, tests) it adds them all.  ``pgm send`` therefore pays
for ``send`` and nothing else before its first packet.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from importlib import import_module
from typing import Any

from .. import __version__
from .args import apply_endpoint, arg, endpoint, port

__all__ = ["COMMANDS", "build_parser", "command_in", "parse_args"]

COMMANDS = ("decode", "send", "recv", "demo", "dump", "sim", "ifaces", "doctor")
"""The subcommands, in the order ``pgm -h`` lists them; each is the module ``pgm.cli.<name>``."""

_VERBOSE = "log what the library does on stderr (-v: sessions and warnings, -vv: debug)"


def command_in(argv: Sequence[str] | None = None) -> str | None:
    """The subcommand named on the command line (``argv``, default ``sys.argv[1:]``), or None
    (none, or not one of :data:`COMMANDS`: the full parser then says what is wrong)."""
    for a in sys.argv[1:] if argv is None else argv:
        if a in COMMANDS:
            return a
        if not a.startswith("-"):
            return None
    return None


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The argument parser (exposed for documentation and tests): every subcommand, or only
    ``command``'s (the others' modules are then never imported)."""
    p = argparse.ArgumentParser(
        prog="pgm",
        description="Pure-Python PGM (RFC 3208) reliable multicast.",
        epilog="exit status: 0 ok, 1 error, 2 usage/setup error, 3 incomplete data (recv), "
        "4 no session (recv), 130 interrupted",
    )
    p.add_argument("--version", action="version", version=f"pgm {__version__}")
    sub = p.add_subparsers(dest="command")
    group_t = arg(endpoint, "group")  # a group, or an OpenPGM / ZeroMQ endpoint spelling
    port_t = arg(port, "port")
    for name in COMMANDS if command not in COMMANDS else (command,):
        _add_command(name, sub, group_t, port_t)
    p.add_argument("-v", "--verbose", action="count", default=0, help=_VERBOSE)
    for cmd in sub.choices.values():  # also after the command: pgm recv ... -v
        cmd.add_argument(
            "-v", "--verbose", action="count", default=argparse.SUPPRESS, help=_VERBOSE
        )
    return p


def _add_command(
    name: str, sub: Any, group_t: Callable[[str], Any], port_t: Callable[[str], Any]
) -> None:
    """Import ``pgm.cli.<name>`` and let it add its subparser."""
    mod = import_module(f"{__package__}.{name}")
    if name in ("send", "recv"):
        mod.add_parser(sub, group_t, port_t)
    elif name == "demo":
        mod.add_parser(sub, port_t)
    else:
        mod.add_parser(sub)


def parse_args(
    argv: Sequence[str] | None = None, parser: argparse.ArgumentParser | None = None
) -> argparse.Namespace:
    """Parse the command line (exits with status 2 on usage errors, as argparse does).

    argparse does not assign an optional positional that follows options (``pgm send GROUP
    --port P FILE``, bpo-14191), so ``send``'s FILE is taken from what is left over.
    """
    parser = parser or build_parser(command_in(argv))
    args, extra = parser.parse_known_args(argv)
    if (
        extra
        and getattr(args, "command", None) == "send"
        and args.file is None
        and (extra[0] == "-" or not extra[0].startswith("-"))
    ):
        args.file = extra.pop(0)
    if extra:  # the command's own usage, not the top level's
        _command_parser(parser, args).error(f"unrecognized arguments: {' '.join(extra)}")
    if getattr(args, "command", None) in ("send", "recv"):
        problem = apply_endpoint(args)
        if problem:
            _command_parser(parser, args).error(problem)
    if getattr(args, "command", None) == "send" and args.file is None:
        args.file = "-"
    return args


def _command_parser(
    parser: argparse.ArgumentParser, args: argparse.Namespace
) -> argparse.ArgumentParser:
    """The subparser of the command in ``args`` (``parser`` itself without one)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            sub: argparse.ArgumentParser | None = action.choices.get(
                getattr(args, "command", None) or ""
            )
            if sub is not None:
                return sub
    return parser
