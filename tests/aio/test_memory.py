"""The asyncio API in memory, on virtual time (tests/aio/fakenet.py): deterministic, no sockets.

Send and receive (events, ``messages()``, ``accept()``), back-pressure on both sides, the
graceful close serving repairs while lingering, abort and the exception that aborts, a
cancelled ``send``, unrecoverable loss as an event, timers that never drift, a failing
transport, and API misuse.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from pgm import wire
from pgm.asyncio import AsyncReceiver, AsyncSource, SessionLost, SessionReset
from pgm.engine import (
    DataReceived,
    EndReason,
    NotConnected,
    ReceiverConfig,
    SessionEnded,
    SessionStarted,
    SourceConfig,
    UnrecoverableLoss,
)
from tests.aio.fakenet import PORT, FakeNet, FakeTransport, run

RATE = 2_000_000  # bit/s: a few seconds of virtual time per test


def _messages(n: int, seed: int = 0) -> list[bytes]:
    """Messages of varied sizes: empty, small, one full packet, several fragments."""
    sizes = [0, 1, 100, 1400, 1500, 4000, 9000]
    return [bytes([(i + seed) % 251]) * sizes[(i * 5 + seed) % len(sizes)] for i in range(n)]


def _cfg(**kw: Any) -> SourceConfig:
    kw.setdefault("rate_bps", RATE)
    kw.setdefault("linger_secs", 3.0)
    return SourceConfig(**kw)


def _data_sqn(pkt: Any) -> int | None:
    return pkt.data_sqn if isinstance(pkt, wire.ODATA | wire.RDATA) else None


async def _collect(rx: AsyncReceiver) -> list[Any]:
    """The events up to the first session's end."""
    out: list[Any] = []
    async for e in rx:
        out.append(e)
        if isinstance(e, SessionEnded):
            break
    return out


def _data(events: list[Any]) -> list[bytes]:
    return [e.data for e in events if isinstance(e, DataReceived)]


def _ends(events: list[Any]) -> list[Any]:
    return [e.reason for e in events if isinstance(e, SessionEnded)]


# -- send and receive ----------------------------------------------------------------------------


def test_messages_reach_every_receiver_exactly_events_and_follow_styles() -> None:
    msgs = _messages(300)

    async def main() -> None:
        net = FakeNet(asyncio.get_running_loop())
        rx_events = AsyncReceiver(net.receiver("10.0.0.2"), PORT)
        rx_follow = AsyncReceiver(net.receiver("10.0.0.3", seed=3), PORT)
        got_events: list[Any] = []

        async def events() -> None:
            async for e in rx_events:
                got_events.append(e)
                if isinstance(e, SessionEnded):
                    return

        async def follow() -> list[Any]:
            return [m async for m in rx_follow.messages()]

        t_events = asyncio.create_task(events())
        t_follow = asyncio.create_task(follow())
        async with AsyncSource(net.source(config=_cfg()), PORT) as src:
            for m in msgs:
                await src.send(m)
            await src.drain()
            assert src.engine.pending_bytes == 0
        assert src.closed and src.protocol.stopped
        assert src.protocol.transport.closed  # type: ignore[attr-defined]
        assert await asyncio.wait_for(t_follow, 60) == msgs
        await asyncio.wait_for(t_events, 60)
        assert isinstance(got_events[0], SessionStarted)
        assert _data(got_events) == msgs
        assert _ends(got_events) == [EndReason.FIN]
        assert rx_follow.followed == src.tsi
        rx_events.close()
        rx_follow.close()
        assert await rx_events.next_events() == []  # closed: iteration ends

    run(main())


def test_await_open_and_send_many_keep_boundaries() -> None:
    msgs = _messages(50, seed=7)

    async def main() -> None:
        net = FakeNet(asyncio.get_running_loop())
        rx = AsyncReceiver(net.receiver("10.0.0.2"), PORT)
        src = AsyncSource(net.source(config=_cfg()), PORT)
        first = await src.send_many(msgs)
        assert first >= 0
        task = asyncio.create_task(_collect(rx))
        await src.close()
        assert _data(await asyncio.wait_for(task, 5)) == msgs
        rx.close()

    run(main())


# -- back-pressure -------------------------------------------------------------------------------


def test_send_waits_while_the_buffer_is_full_and_the_rate_holds() -> None:
    size, count, buf = 1000, 400, 8000

    async def main() -> None:
        loop = asyncio.get_running_loop()
        net = FakeNet(loop)
        rx = AsyncReceiver(net.receiver("10.0.0.2"), PORT)
        task = asyncio.create_task(_collect(rx))
        src = AsyncSource(net.source(config=_cfg(send_buffer_bytes=buf)), PORT)
        t0 = loop.time()
        peak = 0
        for i in range(count):
            await src.send(i.to_bytes(4, "big") * (size // 4))
            peak = max(peak, src.engine.pending_bytes)
        elapsed = loop.time() - t0
        await src.close()
        got = _data(await asyncio.wait_for(task, 5))
        rx.close()
        assert peak <= buf
        # every byte but the last buffer-full went out at the rate before send returned
        assert elapsed >= (count * size - buf) * 8 / RATE * 0.9
        assert got == [i.to_bytes(4, "big") * (size // 4) for i in range(count)]

    run(main())


def test_receiver_stops_reading_while_the_application_is_behind() -> None:
    msgs = [bytes([i % 256]) * 1000 for i in range(200)]

    async def main() -> None:
        net = FakeNet(asyncio.get_running_loop())
        rx = AsyncReceiver(net.receiver("10.0.0.2"), PORT, max_queue_bytes=5000)
        src = AsyncSource(net.source(config=_cfg(linger_secs=30.0)), PORT)
        await src.send_many(msgs)
        await asyncio.sleep(1.0)  # the application does not read for a while
        assert not rx.protocol._reading  # paused: the queue is over its budget
        assert rx._queued_bytes <= 5000 + 64 * 1400
        got: list[bytes] = []
        while len(got) < len(msgs):
            e = await asyncio.wait_for(rx.next_event(), 60)
            if isinstance(e, DataReceived):
                got.append(e.data)
        assert got == msgs
        src.abort()
        rx.close()

    run(main())


# -- ending: close serving repairs, abort, exceptions --------------------------------------------


def test_close_lingers_serving_repairs_for_the_last_packets() -> None:
    msgs = [bytes([i]) * 1200 for i in range(40)]
    lost = {36, 37, 38, 39}  # the tail: only NAKs during the linger can bring it back

    def drop(pkt: Any, sender: FakeTransport, receiver: FakeTransport) -> bool:
        return isinstance(pkt, wire.ODATA) and _data_sqn(pkt) in lost

    async def main() -> None:
        net = FakeNet(asyncio.get_running_loop(), drop)
        rx = AsyncReceiver(net.receiver("10.0.0.2"), PORT)
        task = asyncio.create_task(_collect(rx))
        async with AsyncSource(net.source(config=_cfg()), PORT) as src:
            await src.send_many(msgs)
        assert src.closed
        assert src.engine.stats.repair_packets_sent >= len(lost)
        events = await asyncio.wait_for(task, 5)
        rx.close()
        assert _data(events) == msgs
        assert _ends(events) == [EndReason.FIN]

    run(main())


def test_abort_sends_rst_and_releases_at_once() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        net = FakeNet(loop)
        rx = AsyncReceiver(net.receiver("10.0.0.2"), PORT)
        src = AsyncSource(net.source(config=_cfg(linger_secs=60.0)), PORT)
        await src.send(b"before")
        t0 = loop.time()
        src.abort()
        assert loop.time() == t0 and src.protocol.stopped
        assert src.protocol.transport.closed  # type: ignore[attr-defined]
        src.abort()  # idempotent
        with pytest.raises(NotConnected):
            await src.send(b"after")
        e = await asyncio.wait_for(rx.next_event(), 5)
        assert isinstance(e, SessionStarted)
        e = await asyncio.wait_for(rx.next_event(), 5)
        assert isinstance(e, DataReceived) and e.data == b"before"
        e = await asyncio.wait_for(rx.next_event(), 5)
        assert isinstance(e, SessionEnded) and e.reason is EndReason.RST
        rx.close()

    run(main())


def test_an_exception_inside_async_with_aborts_the_session() -> None:
    async def main() -> None:
        net = FakeNet(asyncio.get_running_loop())
        rx = AsyncReceiver(net.receiver("10.0.0.2"), PORT)
        with pytest.raises(KeyError):
            async with AsyncSource(net.source(config=_cfg(linger_secs=60.0)), PORT) as src:
                await src.send(b"one")
                raise KeyError("boom")
        assert src.protocol.stopped and not src.engine.stats.repair_packets_sent
        with pytest.raises(SessionReset) as info:
            async for _ in rx.messages():
                pass
        assert "OPT_RST" in str(info.value)
        rx.close()

    run(main())


def test_a_cancelled_task_inside_async_with_aborts_the_session() -> None:
    async def main() -> None:
        net = FakeNet(asyncio.get_running_loop())
        rx = AsyncReceiver(net.receiver("10.0.0.2"), PORT)
        sources: list[AsyncSource] = []

        async def sender() -> None:
            async with AsyncSource(net.source(config=_cfg(linger_secs=60.0)), PORT) as src:
                sources.append(src)
                await src.send(b"one")
                await asyncio.sleep(3600)

        task = asyncio.create_task(sender())
        await asyncio.sleep(1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert sources[0].protocol.stopped
        events = await asyncio.wait_for(_collect(rx), 5)
        assert _data(events) == [b"one"] and _ends(events) == [EndReason.RST]
        rx.close()

    run(main())


def test_a_cancelled_close_aborts() -> None:
    async def main() -> None:
        net = FakeNet(asyncio.get_running_loop())
        rx = AsyncReceiver(net.receiver("10.0.0.2"), PORT)
        src = AsyncSource(net.source(config=_cfg(linger_secs=600.0)), PORT)
        await src.send(b"x")
        task = asyncio.create_task(src.close())
        await asyncio.sleep(5)  # lingering
        assert not task.done()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert src.protocol.stopped
        events = await asyncio.wait_for(_collect(rx), 5)
        assert _ends(events) == [EndReason.FIN] or _ends(events) == [EndReason.RST]
        rx.close()

    run(main())


# -- cancellation ----------------------------------------------------------------------------------


def test_cancelling_send_leaves_the_session_consistent() -> None:
    async def main() -> None:
        net = FakeNet(asyncio.get_running_loop())
        rx = AsyncReceiver(net.receiver("10.0.0.2"), PORT)
        task_rx = asyncio.create_task(_collect(rx))
        src = AsyncSource(net.source(config=_cfg(send_buffer_bytes=4000)), PORT)
        sent: list[bytes] = []
        for round_ in range(5):
            msgs = [bytes([round_, i]) * 500 for i in range(30)]

            async def push(msgs: list[bytes] = msgs) -> None:
                for m in msgs:
                    await src.send(m)
                    sent.append(m)

            t = asyncio.create_task(push())
            await asyncio.sleep(0.004)  # a few messages in: the task waits for room
            assert not t.done()
            t.cancel()
            with pytest.raises(asyncio.CancelledError):
                await t
        assert 0 < len(sent) < 150
        await src.send(b"last")
        sent.append(b"last")
        await src.close()
        events = await asyncio.wait_for(task_rx, 5)
        rx.close()
        assert _data(events) == sent  # exactly what send() returned for, in order
        assert _ends(events) == [EndReason.FIN]

    run(main())


# -- loss ------------------------------------------------------------------------------------------


def _never_repaired(lost: set[int]) -> Any:
    def drop(pkt: Any, sender: FakeTransport, receiver: FakeTransport) -> bool:
        return _data_sqn(pkt) in lost

    return drop


_FAST_GIVE_UP = ReceiverConfig(nak_ncf_retries=2, nak_data_retries=2)


def test_unrecoverable_loss_is_an_event() -> None:
    msgs = [bytes([i]) * 1000 for i in range(30)]

    async def main() -> None:
        net = FakeNet(asyncio.get_running_loop(), _never_repaired({10, 11}))
        rx = AsyncReceiver(net.receiver("10.0.0.2", _FAST_GIVE_UP), PORT)
        task = asyncio.create_task(_collect(rx))
        async with AsyncSource(net.source(config=_cfg()), PORT) as src:
            await src.send_many(msgs)
        events = await asyncio.wait_for(task, 30)
        losses = [e for e in events if isinstance(e, UnrecoverableLoss)]
        assert [(e.first, e.last) for e in losses] == [(10, 11)]
        assert _data(events) == msgs[:10] + msgs[12:]
        rx.close()

    run(main())


def test_messages_raise_on_loss_or_yield_it_in_line() -> None:
    msgs = [bytes([i]) * 1000 for i in range(30)]

    async def main() -> None:
        net = FakeNet(asyncio.get_running_loop(), _never_repaired({10}))
        strict = AsyncReceiver(net.receiver("10.0.0.2", _FAST_GIVE_UP), PORT)
        lenient = AsyncReceiver(net.receiver("10.0.0.3", _FAST_GIVE_UP, seed=3), PORT)

        async def read_strict() -> tuple[list[Any], BaseException | None]:
            got: list[Any] = []
            try:
                async for m in strict.messages():
                    got.append(m)
            except SessionLost as exc:
                return got, exc
            return got, None

        async def read_lenient() -> list[Any]:
            return [m async for m in lenient.messages(losses=True)]

        t1, t2 = asyncio.create_task(read_strict()), asyncio.create_task(read_lenient())
        async with AsyncSource(net.source(config=_cfg()), PORT) as src:
            await src.send_many(msgs)
        got, exc = await asyncio.wait_for(t1, 30)
        assert got == msgs[:10]
        assert isinstance(exc, SessionLost) and (exc.event.first, exc.event.last) == (10, 10)
        items = await asyncio.wait_for(t2, 30)
        assert items[:10] == msgs[:10] and items[11:] == msgs[11:]
        assert isinstance(items[10], UnrecoverableLoss) and items[10].tsi == src.tsi
        strict.close()
        lenient.close()

    run(main())


# -- accept: one session at a time ---------------------------------------------------------------


def test_accept_hands_out_each_session_with_its_own_messages() -> None:
    async def main() -> None:
        net = FakeNet(asyncio.get_running_loop())
        rx = AsyncReceiver(net.receiver("10.0.0.9"), PORT)
        a = AsyncSource(net.source("10.0.0.1", _cfg(), seed=11), PORT)
        b = AsyncSource(net.source("10.0.0.2", _cfg(), seed=12), PORT)
        want = {a.tsi: _messages(40, 1), b.tsi: _messages(60, 2)}
        await a.send_many(want[a.tsi])
        await b.send_many(want[b.tsi])
        closing = [asyncio.create_task(s.close()) for s in (a, b)]
        got = {}
        for _ in range(2):
            session = await asyncio.wait_for(rx.accept(), 30)
            got[session.tsi] = [m async for m in session]
            assert session.end is not None and session.end.graceful
            session.close()
        await asyncio.gather(*closing)
        assert got == want
        rx.close()
        with pytest.raises(ConnectionAbortedError):
            await rx.accept()

    run(main())


# -- timers, failures, misuse --------------------------------------------------------------------


def test_timers_never_drift() -> None:
    ivl = 0.25

    async def main() -> None:
        loop = asyncio.get_running_loop()
        net = FakeNet(loop)
        net.transport("10.0.0.5", "listener")
        src = AsyncSource(net.source(config=_cfg(spm_ambient_ivl=ivl)), PORT)
        await asyncio.sleep(60)
        spms = [t for t, _who, p in net.log if isinstance(p, wire.SPM)]
        gaps = [b - a for a, b in zip(spms[-200:], spms[-199:], strict=False)]
        assert len(spms) >= 60 / ivl - 5
        assert all(abs(g - ivl) < 1e-6 for g in gaps), gaps[:5]
        # one timer, moved only when the deadline moves: about one step per SPM
        assert src.protocol.steps < 2 * len(spms) + 50
        assert src.protocol.timer_at == src.engine.next_timer()
        src.abort()

    run(main())


def test_a_failing_transport_surfaces_in_the_next_call() -> None:
    async def main() -> None:
        net = FakeNet(asyncio.get_running_loop())
        src = AsyncSource(net.source(config=_cfg(send_buffer_bytes=2000)), PORT)
        await src.send(b"a" * 1000)
        src.protocol.transport.fail_with = OSError(5, "device gone")  # type: ignore[attr-defined]
        with pytest.raises(OSError, match="device gone"):  # the call that hit it
            for _ in range(100):
                await src.send(b"b" * 1000)
        assert src.protocol.stopped
        with pytest.raises(RuntimeError, match=r"PGM I/O failed.*device gone"):  # later calls
            await src.send(b"c")
        src.abort()  # harmless now

    run(main())


def test_misuse_raises_clear_errors() -> None:
    async def main() -> None:
        net = FakeNet(asyncio.get_running_loop())
        rx = AsyncReceiver(net.receiver("10.0.0.2"), PORT)
        src = AsyncSource(net.source(config=_cfg(max_apdu=10_000)), PORT)
        with pytest.raises(ValueError, match="max_apdu"):
            await src.send(b"x" * 10_001)
        await src.send(b"ok")
        await rx.next_event()
        with pytest.raises(ValueError, match="split the events"):
            rx.messages()
        with pytest.raises(ValueError, match="max_queue_bytes"):
            AsyncReceiver(net.receiver("10.0.0.3"), PORT, max_queue_bytes=0)
        src.abort()
        rx.close()

    run(main())


def test_closing_the_receiver_ends_every_reader() -> None:
    async def main() -> None:
        net = FakeNet(asyncio.get_running_loop())
        rx_events = AsyncReceiver(net.receiver("10.0.0.2"), PORT)
        rx_follow = AsyncReceiver(net.receiver("10.0.0.3"), PORT)
        rx_accept = AsyncReceiver(net.receiver("10.0.0.4"), PORT)

        async def follow() -> list[Any]:
            return [m async for m in rx_follow.messages()]

        async def accept() -> BaseException | None:
            try:
                await rx_accept.accept()
            except ConnectionAbortedError as exc:
                return exc
            return None

        tasks = [asyncio.create_task(c) for c in (_collect(rx_events), follow(), accept())]
        await asyncio.sleep(10)  # nothing sent: every reader waits
        assert not any(t.done() for t in tasks)
        for rx in (rx_events, rx_follow, rx_accept):
            rx.close()
        got = await asyncio.wait_for(asyncio.gather(*tasks), 1)
        assert got[0] == [] and got[1] == [] and isinstance(got[2], ConnectionAbortedError)

    run(main())


def test_open_takes_iface_and_ifaces_like_the_blocking_api() -> None:
    from pgm.asyncio import open_receiver, open_source

    with pytest.raises(ValueError, match="not both"):
        open_source("239.192.0.1", iface="lo", ifaces="lo")
    with pytest.raises(ValueError, match="one interface"):
        open_source("239.192.0.1", ifaces=["a", "b"])
    with pytest.raises(ValueError, match="not both"):
        open_receiver("239.192.0.1", iface="lo", ifaces=["lo"])
