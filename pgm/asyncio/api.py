"""``open_source`` / ``open_receiver``: the asyncio API's two entry points.

Theory of operation
-------------------
Each takes the arguments of its blocking counterpart (:class:`~pgm.io.PgmSender`,
:class:`~pgm.io.PgmReceiver`: ``iface`` / ``ifaces``, ``transport="raw"|"udp"``, ``config``,
...) and returns an :class:`_Opening`: ``async with open_source(...) as src`` opens the socket
on the running loop and ends the session on the way out (graceful close on a normal exit,
OPT_RST abort on an exception, cancellation included), and ``src = await open_source(...)``
opens it for a caller that ends it itself.  The socket, interface and engine are opened by the
same functions the threaded API uses (:func:`pgm.io.sender.open_source_endpoint`,
:func:`pgm.io.receiver.open_receiver_endpoint`), with the loop's clock.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Generator, Sequence
from typing import Any, Generic, TypeVar

from ..engine import ReceiverConfig, SourceConfig
from ..interfaces import Interface
from ..io.reactor import one_of
from ..io.receiver import open_receiver_endpoint
from ..io.sender import open_source_endpoint
from ..wire import NLA
from .receiver import AsyncReceiver
from .source import AsyncSource

__all__ = ["open_receiver", "open_source"]

T = TypeVar("T", bound="AsyncSource | AsyncReceiver")


class _Opening(Generic[T]):
    """Awaitable, or an async context manager: see the module docstring."""

    def __init__(self, make: Callable[[], T]) -> None:
        self._make: Callable[[], T] = make
        self._opened: T | None = None

    def __await__(self) -> Generator[Any, None, T]:
        async def opened() -> T:
            return self._make()

        return opened().__await__()

    async def __aenter__(self) -> T:
        self._opened = self._make()
        return self._opened

    async def __aexit__(self, *exc: Any) -> None:
        opened, self._opened = self._opened, None
        if opened is not None:
            await opened.__aexit__(*exc)


def open_source(
    group: str | NLA,
    port: int = 7500,
    *,
    iface: str | int | Interface | None = None,
    ifaces: Sequence[str | int | Interface] | str | int | Interface | None = None,
    transport: str = "raw",
    config: SourceConfig | None = None,
    ttl: int = 1,
    loop: bool = True,
    rng: random.Random | None = None,
) -> _Opening[AsyncSource]:
    """One PGM source session to ``group``:``port`` on the running loop.

    The arguments are :class:`~pgm.io.PgmSender`'s: ``iface`` an interface name, address or
    index (default: the first non-loopback one), ``transport`` ``"raw"`` (IP protocol 113,
    needs root / CAP_NET_RAW) or ``"udp"``, ``config`` a :class:`~pgm.engine.SourceConfig`
    (its ``ip_version`` / ``udp_encapsulation`` follow ``group`` and ``transport``), ``ttl`` the
    multicast TTL, ``loop`` whether this host's receivers hear it.  ``ifaces=`` is accepted too,
    as the receiver spells it (one interface).
    """
    if isinstance(ifaces, list | tuple):
        if len(ifaces) > 1:
            raise ValueError("an AsyncSource sends on one interface: pass one in iface=")
        ifaces = ifaces[0] if ifaces else None
    spec = one_of("iface", iface, "ifaces", ifaces)

    def make() -> AsyncSource:
        now = asyncio.get_running_loop().time()
        end = open_source_endpoint(
            group,
            port,
            iface=spec,
            transport=transport,
            config=config,
            ttl=ttl,
            loop=loop,
            rng=rng,
            now=now,
        )
        try:
            return AsyncSource(end, port)
        except BaseException:
            end.transport.close()
            raise

    return _Opening(make)


def open_receiver(
    group: str | NLA,
    port: int = 7500,
    *,
    ifaces: Sequence[str | int | Interface] | str | int | Interface | None = None,
    iface: str | int | Interface | None = None,
    transport: str = "raw",
    config: ReceiverConfig | None = None,
    max_queue_bytes: int = 64 * 1024 * 1024,
    loss: float = 0.0,
    loss_seed: int | None = None,
    rng: random.Random | None = None,
) -> _Opening[AsyncReceiver]:
    """Every PGM session sent to ``group``:``port``, on the running loop.

    The arguments are :class:`~pgm.io.PgmReceiver`'s: ``ifaces`` the interfaces to join on
    (default: one, chosen like the source's), ``transport``, ``config`` a
    :class:`~pgm.engine.ReceiverConfig`, ``max_queue_bytes`` the messages queued before the
    socket is no longer read, ``loss`` / ``loss_seed`` simulated loss of received data packets.
    ``iface=`` is accepted too, as the source spells it.
    """
    specs = one_of("ifaces", ifaces, "iface", iface)

    def make() -> AsyncReceiver:
        now = asyncio.get_running_loop().time()
        end = open_receiver_endpoint(
            group,
            port,
            ifaces=specs,
            transport=transport,
            config=config,
            loss=loss,
            loss_seed=loss_seed,
            rng=rng,
            now=now,
        )
        try:
            return AsyncReceiver(end, port, max_queue_bytes=max_queue_bytes)
        except BaseException:
            end.transport.close()
            raise

    return _Opening(make)
