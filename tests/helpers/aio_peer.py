"""The pgm peer's asyncio mode (``pgm_peer.py ... --asyncio``): the same line protocol, on
:mod:`pgm.asyncio` instead of the threaded :mod:`pgm.io`.

Theory of operation
-------------------
:func:`send` and :func:`recv` are the asyncio twins of ``pgm_peer.send`` / ``pgm_peer.recv``:
same arguments, same lines (READY, SENT, LAST, one JSON line), same exit codes, so the e2e
tests, the interop harness and the benchmark drive either with one extra option.  The sender
awaits ``send_many`` in batches (back-pressure), ``drain`` and ``close``; the receiver follows
the first session with ``rx.messages(losses=True)`` (losses arrive in line, as events).  The
stdin commands ("go", "close") are read in a worker thread so the loop keeps running the
protocol meanwhile.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

from pgm.asyncio import SessionReset, open_receiver, open_source
from pgm.engine import ReceiverConfig, SourceConfig, UnrecoverableLoss
from tests.helpers import pgm_peer
from tests.interop.peerio import read_messages, say, wait_command


async def _send(args: argparse.Namespace) -> int:
    msgs = pgm_peer._messages(args)
    cfg = SourceConfig(
        rate_bps=args.rate,
        mtu=args.mtu,
        window_secs=args.window,
        send_buffer_bytes=args.send_buffer,
        spm_ambient_ivl=args.ambient,
        options_on_all_data=args.options_on_all_data,
    )
    src = await open_source(
        args.group, args.port, iface=args.iface, transport=args.transport, config=cfg, loop=False
    )
    async with src:
        apdus = msgs
        if args.zmq:
            from tests.interop.zmtp import encode

            apdus = encode([[m] for m in msgs], args.zmq_apdu or src.max_tsdu)
        say(f"READY {src.tsi.gsi.hex()} {src.tsi.source_port}")
        if not await asyncio.to_thread(wait_command, "go", args.timeout):
            src.abort()
            return 3
        t0 = time.monotonic()
        rest = apdus
        if args.late:
            await _send_all(src, apdus[: len(apdus) // 2])
            say("HALF")
            if not await asyncio.to_thread(wait_command, "more", args.timeout):
                src.abort()
                return 3
            rest = apdus[len(apdus) // 2 :]
        await _send_all(src, rest)
        send_seconds = time.monotonic() - t0
        say(f"SENT {len(msgs)} {sum(map(len, msgs))}")
        await asyncio.to_thread(wait_command, "close", args.linger_max)
        stats = src.stats()
        t_close = time.time()
        await src.close(linger=args.linger)
    result = {
        "stats": stats,
        "apdus": len(apdus),
        "messages": len(msgs),
        "bytes": sum(map(len, msgs)),
        "send_seconds": send_seconds,
        "close_time": t_close,
        "cpu": pgm_peer.cpu_seconds(),
        "api": "asyncio",
    }
    say(json.dumps(result))
    return 0


async def _send_all(src: object, apdus: list[bytes]) -> None:
    for i in range(0, len(apdus), pgm_peer.BATCH):
        await src.send_many(apdus[i : i + pgm_peer.BATCH])  # type: ignore[attr-defined]
    await src.drain()  # type: ignore[attr-defined]


async def _recv(args: argparse.Namespace) -> int:
    expect = read_messages(args.expect) if args.expect else []
    cfg = ReceiverConfig(max_buffer_bytes=256 << 20, max_pending_naks=args.max_pending_naks)
    out = open(args.output, "wb") if args.output else None  # noqa: SIM115 - closed below
    sink = pgm_peer._Sink(out, expect[-1] if expect else None, args.zmq)
    ended: str | None = None
    async with open_receiver(
        args.group, args.port, ifaces=args.iface, transport=args.transport, config=cfg
    ) as rx:
        say("READY")

        async def follow() -> str | None:
            async for item in rx.messages(losses=True):
                if isinstance(item, UnrecoverableLoss):
                    sink.lost.append((item.first, item.last, str(item.reason)))
                    sink.loss()
                    continue
                sink.data(item)
                if args.count is not None and sink.messages >= args.count:
                    return None
            return "fin"

        try:
            ended = await asyncio.wait_for(follow(), args.timeout)
        except SessionReset as exc:
            ended = exc.end.reason.value
        except asyncio.TimeoutError:
            ended = None
        tsi = rx.followed
        stats = rx.stats()
    if out is not None:
        out.close()
    result = {
        "messages": sink.messages,
        "bytes": sink.bytes,
        "ended": ended,
        "lost": sink.lost,
        "last": sink.got_last,
        "first_time": sink.first_time,
        "last_time": sink.last_time,
        "end_time": time.time(),
        "cpu": pgm_peer.cpu_seconds(),
        "session": stats["sessions"].get(str(tsi), {}),
        "api": "asyncio",
    }
    say(json.dumps(result))
    if tsi is None:
        return 4
    complete = ended == "fin" or (args.count is not None and sink.messages >= args.count)
    return 0 if complete and not sink.lost else 3


def send(args: argparse.Namespace) -> int:
    """``pgm_peer.py send ... --asyncio``."""
    return asyncio.run(_send(args))


def recv(args: argparse.Namespace) -> int:
    """``pgm_peer.py recv ... --asyncio``."""
    return asyncio.run(_recv(args))
