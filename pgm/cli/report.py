"""What the commands print: exit statuses, loss messages, statistics lines and JSON objects.

Theory of operation: a command collects plain numbers while it runs and, at the end, builds one
summary dict (:func:`sender_summary`, :func:`receiver_summary`): that dict is what ``--json``
prints, and the one-line statistics on stderr (:func:`format_sender_stats`,
:func:`format_receiver_stats`) are formatted from it, so the two never disagree.  Everything
here is pure except :func:`err` and :func:`json_dump`, which write to stderr and stdout.
Sequence-number ranges are on the 32-bit circle (RFC 3208 §3, :mod:`pgm.wire.sqn`).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from typing import Any

from ..wire.sqn import SQN_MASK, sqn_add, sqn_distance

__all__ = [
    "EXIT_ERROR",
    "EXIT_INTERRUPTED",
    "EXIT_LOSS",
    "EXIT_NO_SESSION",
    "EXIT_OK",
    "EXIT_USAGE",
    "demo_receiver_line",
    "demo_source_line",
    "err",
    "format_join",
    "format_loss",
    "format_other_sessions",
    "format_receiver_stats",
    "format_sender_stats",
    "goodput_mbps",
    "joined_at",
    "json_dump",
    "merge_ranges",
    "range_count",
    "receiver_summary",
    "sender_summary",
]

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_LOSS = 3
EXIT_NO_SESSION = 4
EXIT_INTERRUPTED = 130


def err(cmd: str, text: str) -> None:
    """A message on stderr, ``pgm CMD: TEXT``."""
    print(f"pgm {cmd}: {text}", file=sys.stderr)


def json_dump(obj: dict[str, Any]) -> None:
    """``obj`` as one JSON object on a line of stdout."""
    print(json.dumps(obj, default=str, sort_keys=False))
    sys.stdout.flush()


# -- loss reports ---------------------------------------------------------------------------------


def range_count(first: int, last: int) -> int:
    """Sequence numbers in ``first..last`` (inclusive, 32-bit circular)."""
    return sqn_distance(first, last) + 1


def merge_ranges(ranges: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """Join ranges that follow each other (``a-b``, ``b+1-c`` -> ``a-c``), modulo 2**32.

    Ranges are taken in stream order, as :class:`UnrecoverableLoss` events report them.
    """
    out: list[tuple[int, int]] = []
    for first, last in ranges:
        if out and sqn_add(out[-1][1], 1) == first & SQN_MASK:
            out[-1] = (out[-1][0], last)
        else:
            out.append((first, last))
    return out


def _fmt_range(first: int, last: int) -> str:
    n = range_count(first, last)
    span = str(first) if n == 1 else f"{first}-{last}"
    return f"{span} ({n} packet{'s' if n != 1 else ''})"


def joined_at(session_stats: dict[str, Any]) -> dict[str, Any] | None:
    """Where the receiver joined the session (the ``joined`` object of ``recv --json``):
    ``first_sqn`` (the first sequence number delivered or reported), ``syn_seen`` (OPT_SYN,
    the session's first data, was seen there), ``missed`` (``[first, last]`` known to exist
    before it and never received, or None), ``join_min`` (the source's OPT_JOIN_MIN, or None)
    and ``from_start``; None before a session started."""
    if "first_sqn" not in session_stats:
        return None
    missed = session_stats.get("missed")
    return {
        "first_sqn": session_stats["first_sqn"],
        "syn_seen": bool(session_stats.get("syn_seen")),
        "missed": None if missed is None else [m & SQN_MASK for m in missed],
        "join_min": session_stats.get("join_min"),
        "from_start": missed is None,
    }


def format_join(session_stats: dict[str, Any]) -> str | None:
    """``joined at sequence N; A..N-1 not received`` for a session joined after its start (RFC
    3208 §6.1: its trailing edge showed earlier data), else None."""
    j = joined_at(session_stats)
    if j is None or j["missed"] is None:
        return None
    first, last = j["missed"]
    n = sqn_distance(first, last) + 1
    return (
        f"joined at sequence {j['first_sqn']}; {first}..{last} not received "
        f"({n} packet{'s' if n != 1 else ''} sent before it joined)"
    )


def format_loss(tsi: object, ranges: Sequence[tuple[int, int]], limit: int = 8) -> str:
    """The message for unrecoverable loss, e.g.
    ``unrecoverable loss: sequence numbers 1200-1350 (151 packets) from TSI 1.2.3.4.5.6.7500``.

    Adjacent ranges are merged; beyond ``limit`` ranges the rest are summarised.
    """
    merged = merge_ranges(ranges)
    if not merged:
        return f"no loss from TSI {tsi}"
    total = sum(range_count(a, b) for a, b in merged)
    parts = [_fmt_range(a, b) for a, b in merged[:limit]]
    if len(merged) > limit:
        parts.append(f"and {len(merged) - limit} more ranges")
    noun = "sequence number" if total == 1 else "sequence numbers"
    text = f"unrecoverable loss: {noun} {', '.join(parts)} from TSI {tsi}"
    if len(merged) > 1:
        text += f" ({total} packets in {len(merged)} ranges)"
    return text


# -- statistics -----------------------------------------------------------------------------------


_SHOWN_OTHERS = 10


def format_other_sessions(others: Sequence[dict[str, Any]], unlisted: int = 0) -> list[str]:
    """``recv``'s lines naming the sessions heard on the group and not followed, each with how
    to pin the one wanted (docs/security.md "Session choice").  ``others``: dicts with ``tsi``,
    ``source``, ``messages``, ``bytes``, ``end`` and ``abandoned`` (why it was given up after
    being followed, or None)."""
    lines = []
    for o in others[:_SHOWN_OTHERS]:
        sent = f"{o['messages']} messages, {o['bytes']} bytes heard"
        if o.get("end"):
            sent += f", ended: {o['end']}"
        if o.get("abandoned"):
            what = f"was followed first and given up (it {o['abandoned']})"
        else:
            what = "also sent to this group and was not followed"
        word = "warning" if o["messages"] or o.get("abandoned") else "note"
        lines.append(
            f"{word}: session {o['tsi']} from {o['source']} {what} ({sent}); to choose a "
            f"session, pin it: --source {o['source']} or --tsi {o['tsi']}"
        )
    more = len(others) - len(lines) + unlisted
    if more > 0:
        lines.append(f"warning: and {more} more sessions heard on this group (--json lists them)")
    return lines


def goodput_mbps(nbytes: int, secs: float) -> float:
    """Application bytes over time, in Mbit/s (0 for an empty or instant transfer)."""
    return nbytes * 8 / secs / 1e6 if secs > 0 else 0.0


def sender_summary(
    *,
    nbytes: int,
    messages: int,
    duration: float,
    stats: dict[str, Any],
    tsi: object = None,
    end: str = "fin",
    exit_status: int = EXIT_OK,
    **extra: Any,
) -> dict[str, Any]:
    """The sender's statistics object (what ``send --json`` prints).

    ``nbytes`` counts application bytes transmitted as ODATA, ``messages`` the messages given
    to the session; ``duration`` runs from the session's start until every message was
    transmitted once (lingering is not counted); ``stats`` is :meth:`PgmSender.stats`.
    """
    counts = {
        "naks_received": int(stats.get("naks_received", 0)),
        "repairs_sent": int(stats.get("repair_packets_sent", 0)),
        "parity_packets_sent": int(stats.get("parity_packets_sent", 0)),  # FEC (docs/fec.md)
        "parity_naks_received": int(stats.get("parity_naks_received", 0)),
    }
    head = {"command": "send", **extra, "tsi": None if tsi is None else str(tsi)}
    return _summary(head, nbytes, messages, duration, counts, end, exit_status, stats)


def receiver_summary(
    *,
    nbytes: int,
    messages: int,
    duration: float,
    session_stats: dict[str, Any],
    stats: dict[str, Any],
    lost_ranges: Sequence[tuple[int, int]] = (),
    loss_events: int = 0,
    tsi: object = None,
    source: object = None,
    end: str = "fin",
    exit_status: int = EXIT_OK,
    other_sessions: Sequence[dict[str, Any]] = (),
    **extra: Any,
) -> dict[str, Any]:
    """The receiver's statistics object (what ``recv --json`` prints).

    ``duration`` runs from the session's first packet to its end; ``session_stats`` is the
    session's entry of :meth:`PgmReceiver.stats` (``stats``, included whole);
    ``other_sessions`` the sessions heard and not followed (:func:`format_other_sessions`).
    """
    merged = merge_ranges(lost_ranges)
    counts = {
        "naks_sent": int(session_stats.get("selective_naks_sent", 0)),
        "repairs_received": int(session_stats.get("rdata_packets_received", 0)),
        "parity_naks_sent": int(session_stats.get("parity_naks_sent", 0)),  # FEC
        "parity_packets_received": int(session_stats.get("parity_packets_received", 0)),
        "packets_recovered_by_parity": int(session_stats.get("packets_recovered_by_parity", 0)),
        "loss_events": loss_events,
        "lost_packets": sum(range_count(a, b) for a, b in merged),
        "lost_ranges": [[a, b] for a, b in merged],
        "other_sessions": list(other_sessions),
    }
    head = {
        "command": "recv",
        **extra,
        "tsi": None if tsi is None else str(tsi),
        "source": None if source is None else str(source),
    }
    return _summary(head, nbytes, messages, duration, counts, end, exit_status, stats)


def _summary(
    head: dict[str, Any],
    nbytes: int,
    messages: int,
    duration: float,
    counts: dict[str, Any],
    end: str,
    exit_status: int,
    stats: dict[str, Any],
) -> dict[str, Any]:
    """The fields both summaries share, in their order around the role's own ``counts``."""
    return {
        **head,
        "bytes": nbytes,
        "messages": messages,
        "duration_s": round(duration, 6),
        "goodput_mbps": round(goodput_mbps(nbytes, duration), 3),
        **counts,
        "end": end,
        "exit_status": exit_status,
        "stats": stats,
        "notes": RATE_NOTES,
    }


RATE_NOTES = {
    "goodput_mbps": "application bytes / duration_s: from the session's start until every "
    "message was sent once (send) or from its first packet to its end (recv); lingering is "
    "not counted",
    "rate_kbps_overall": "in stats: every byte on the wire (IP/UDP and PGM headers, SPMs, NAKs, "
    "repairs) over the session's whole life so far, linger included, so it differs from "
    "goodput_mbps",
    "sequence_numbers": "in stats, trail, lead, next and first_sqn are 64-bit sequence "
    "numbers (the wire's 32-bit number = value mod 2**32), counted alike by send and recv; "
    "lost_ranges are the wire's numbers",
}
"""What ``--json``'s ``notes`` say about its figures (included in every summary)."""


def format_sender_stats(s: dict[str, Any]) -> str:
    """The sender's one-line statistics."""
    return (
        f"pgm send: {s['bytes']} bytes in {s['messages']} messages in {s['duration_s']:.2f} s, "
        f"{s['goodput_mbps']:.2f} Mbit/s goodput; {s['naks_received']} NAKs received, "
        f"{s['repairs_sent']} repairs sent{_parity_sent(s)} (TSI {s['tsi']})"
    )


def _parity_sent(s: dict[str, Any]) -> str:
    """The FEC part of the sender's line (docs/fec.md), when parity went out."""
    if not (s.get("parity_packets_sent") or s.get("parity_naks_received")):
        return ""
    return (
        f", {s['parity_packets_sent']} parity packets sent, "
        f"{s['parity_naks_received']} parity NAKs received"
    )


def _parity_received(s: dict[str, Any]) -> str:
    """The FEC part of the receiver's line, when parity was at work."""
    if not (s.get("parity_packets_received") or s.get("parity_naks_sent")):
        return ""
    return (
        f", {s['parity_naks_sent']} parity NAKs sent, {s['parity_packets_received']} parity "
        f"packets received, {s['packets_recovered_by_parity']} packets recovered by parity"
    )


def format_receiver_stats(s: dict[str, Any]) -> str:
    """The receiver's one-line statistics."""
    text = (
        f"pgm recv: {s['bytes']} bytes in {s['messages']} messages in {s['duration_s']:.2f} s, "
        f"{s['goodput_mbps']:.2f} Mbit/s goodput; {s['naks_sent']} NAKs sent, "
        f"{s['repairs_received']} repairs received{_parity_received(s)}, "
        f"{s['loss_events']} loss events"
    )
    if s["lost_packets"]:
        text += f", {s['lost_packets']} packets lost"
    joined = s.get("joined")
    if joined is not None and joined["missed"] is not None:
        text += f", joined at sequence {joined['first_sqn']} (missed {joined['missed'][0]}.."
        text += f"{joined['missed'][1]})"
    if s["tsi"] is not None:
        text += f" (TSI {s['tsi']} from {s['source']})"
    return text


# -- the demo's result table ----------------------------------------------------------------------


def demo_source_line(s: dict[str, Any]) -> str:
    """The demo source's line of the result table (``s``: what the source process reported)."""
    return (
        f"  source      {s['bytes']:>10} B {s['messages']:>6} msgs {s['duration_s']:6.2f} s "
        f"{goodput_mbps(s['bytes'], s['duration_s']):7.2f} Mbit/s  "
        f"NAKs received {s['naks_received']:>5}  repairs sent {s['repairs_sent']:>5}"
    )


def demo_receiver_line(i: int, r: dict[str, Any] | None, good: bool) -> str:
    """Receiver ``i``'s line (``r``: what it reported, None if nothing; ``good``: digest OK)."""
    if r is None:
        return f"  receiver {i + 1}  no result"
    return (
        f"  receiver {i + 1}  {r['bytes']:>10} B {r['messages']:>6} msgs "
        f"{r['duration_s']:6.2f} s {goodput_mbps(r['bytes'], r['duration_s']):7.2f} Mbit/s  "
        f"NAKs sent {r['naks_sent']:>5}  repairs received {r['repairs_received']:>5}  "
        f"dropped {r['simulated_drops']:>4}  losses {r['loss_events']}  "
        f"sha256 {'OK' if good else 'MISMATCH'}"
    )
