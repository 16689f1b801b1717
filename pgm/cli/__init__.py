"""The ``pgm`` command line (the console script ``pgm`` and ``python -m pgm``).

* ``pgm --version``
* ``pgm decode HEX`` — parse one PGM packet given as hex and print its fields.
* ``pgm send GROUP [FILE|-] --port P`` — send a file (or standard input) as one PGM session:
  messages of ``--message-size`` bytes at ``--rate`` kbit/s, then OPT_FIN, then linger
  ``--linger`` seconds answering NAKs.
* ``pgm recv GROUP --port P`` — receive the first session heard on GROUP:P and write its data,
  in order, to ``--out`` (default standard output).
* ``pgm demo`` — a source and three receivers on this machine, with simulated loss, checking
  that every receiver got the data intact.
* ``pgm ifaces`` — the interfaces ``--iface`` can name; ``pgm doctor`` — checks this host for
  PGM and says what to fix.

GROUP may also be OpenPGM's ``eth0;239.192.0.1`` or ZeroMQ's ``epgm://eth0;239.192.0.1:7500``;
``recv --keep-going`` follows every session until stopped; ``--zmq`` speaks ZeroMQ's framing.
* ``pgm dump`` — print every PGM packet captured live (or read from a pcap) on one line, then
  a per-session summary; its exit statuses are in :mod:`pgm.cli.dump`.

Exit status
-----------
=====  ==========================================================================================
0      success (``recv``: the session ended with OPT_FIN and every byte was delivered)
1      runtime failure: socket or I/O error, the I/O thread failed, ``demo`` data mismatch
2      usage or setup error: bad arguments, group address, port or interface (the message lists
       the interfaces), unreadable input / unwritable output, or raw sockets without privilege
       (``--transport raw`` needs root or CAP_NET_RAW; the message suggests ``--transport udp``)
3      ``recv``: the data is incomplete — unrecoverable loss (the message names the lost sequence
       ranges), the source aborted (OPT_RST), or the session went silent for ``--timeout``
       seconds without OPT_FIN (expiry)
4      ``recv``: no session started within ``--timeout`` seconds
130    interrupted (Ctrl-C); ``send`` then aborts its session with OPT_RST
143    terminated (SIGTERM, as ``kill``, systemd and docker send): handled like Ctrl-C
=====  ==========================================================================================

Timeouts (``recv --timeout S``): S bounds the wait for the first session (exit 4), and is also
the session's idle expiry (the engine's ``peer_expiry``): a session that has started and then
hears nothing at all — no data, no SPM heartbeat — for S seconds is ended as expired (exit 3).
An idle but live source sends heartbeat SPMs at most 30 s apart (OpenPGM's ambient interval),
so streams that may pause need ``--timeout`` above 30.  Without ``--timeout`` the wait for a
session is unbounded and the idle expiry is the engine default (300 s).

Output conventions: data goes to ``--out``; progress (only when stderr is a terminal), notes
and the final statistics line go to stderr; ``--json`` prints the statistics as one JSON object
on stdout (for ``recv`` that needs ``--out FILE``, since stdout would carry the data).

Theory of operation
-------------------
:func:`main` parses the command line (:mod:`pgm.cli.parser`; argument types and the
configurations they build in :mod:`pgm.cli.args`) and calls the command's ``run``: one module
per command — :mod:`~pgm.cli.decode`, :mod:`~pgm.cli.send`, :mod:`~pgm.cli.recv`,
:mod:`~pgm.cli.demo` (its processes in :mod:`~pgm.cli.demo_run`) and :mod:`~pgm.cli.dump`.
``recv`` and the demo's receivers follow the first session through :mod:`pgm.cli.follow` (over
:class:`pgm.sessions.SessionDemux`); what the commands print — statistics, loss messages, JSON,
exit statuses — is in :mod:`pgm.cli.report`.  Interface choice and privilege probes live in
:mod:`pgm.interfaces`.  The engine and the socket layer are imported only by the command that
needs them, so ``pgm --version`` and usage errors stay quick.
"""

from __future__ import annotations

import gc
from collections.abc import Sequence

from . import signals
from .args import (
    build_source_config,
    parse_percent,
    parse_size,
    rate_bps_from_kbits,
    window_secs_from_ms,
)
from .parser import build_parser, command_in, parse_args
from .report import (
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_LOSS,
    EXIT_NO_SESSION,
    EXIT_OK,
    EXIT_USAGE,
    format_loss,
    format_receiver_stats,
    format_sender_stats,
    goodput_mbps,
    merge_ranges,
    range_count,
    receiver_summary,
    sender_summary,
)

__all__ = [
    "EXIT_ERROR",
    "EXIT_INTERRUPTED",
    "EXIT_LOSS",
    "EXIT_NO_SESSION",
    "EXIT_OK",
    "EXIT_USAGE",
    "build_parser",
    "build_source_config",
    "format_loss",
    "format_receiver_stats",
    "format_sender_stats",
    "goodput_mbps",
    "main",
    "merge_ranges",
    "parse_args",
    "parse_percent",
    "parse_size",
    "range_count",
    "rate_bps_from_kbits",
    "receiver_summary",
    "sender_summary",
    "window_secs_from_ms",
]


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``pgm`` console script."""
    parser = build_parser(command_in(argv))  # only the command's module is imported
    args = parse_args(argv, parser)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    _verbose(getattr(args, "verbose", 0))
    restore = signals.install()  # SIGTERM ends every command like Ctrl-C does
    try:
        rc: int = func(args)
    except KeyboardInterrupt as exc:
        return signals.interrupt_status(exc)
    finally:
        restore()
        gc.unfreeze()  # send/recv freeze start-up's objects for the transfer (in-process callers)
    return rc


def _verbose(level: int) -> None:
    """``-v``: the library's log (``logging.getLogger("pgm")``) on stderr; ``-vv``: debug."""
    if not level:
        return
    import logging

    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("pgm: %(name)s: %(levelname)s: %(message)s"))
    log = logging.getLogger("pgm")
    log.addHandler(handler)
    log.setLevel(logging.INFO if level == 1 else logging.DEBUG)
