"""The sender role of a Windows-style PGM socket: ``connect`` / ``send`` / ``shutdown``.

Theory of operation: a socket bound to a non-multicast address (or connected without a bind)
is a sender.  Until ``connect()`` it only stores options (:class:`~pgm.rm.options.SocketOptions`);
``connect()`` translates them onto a :class:`~pgm.engine.SourceConfig` and starts a
:class:`~pgm.io.PgmSender`, whose reactor thread runs the protocol from then on.  SOCK_RDM
sends one message per call, or gathers the pieces of the message announced with
RM_SET_MESSAGE_BOUNDARY; SOCK_STREAM cuts the bytes into full packets.  Ending is graceful
(OPT_FIN after the queued data, repairs served until the window passes the end or the linger
runs out, then OPT_RST for receivers still repairing) or abortive (OPT_RST at once).
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
import time
from ipaddress import IPv4Address
from typing import Any

from ..engine import ConfigError, NotConnected, SourceConfig, WouldBlock
from ..interfaces import InterfaceError
from ..io import PgmSender
from .constants import MAX_MESSAGE_BYTES
from .errors import rm_error
from .options import OptionRule, SocketOptions
from .stats import sender_stats
from .structs import RM_SENDER_STATS

__all__ = ["SenderRole", "source_config"]

_clock = time.monotonic


def _fec_fields(opts: SocketOptions) -> dict[str, Any]:
    """RM_USE_FEC (already validated by check_fec) as SourceConfig's FEC fields (docs/fec.md);
    nothing when it was never set."""
    f = opts.fec
    if not f.FECGroupSize:
        return {}
    return {
        "fec_block_size": f.FECBlockSize,
        "fec_group_size": f.FECGroupSize,
        "fec_proactive": f.FECProActivePackets,
        "fec_ondemand": bool(f.fFECOnDemandParityEnabled),
    }


def source_config(base: SourceConfig | None, opts: SocketOptions) -> SourceConfig:
    """The engine configuration for ``connect()``: ``base`` (or the defaults) with the rate,
    window, advance step, late join and FEC of the RM_* options (WSAEINVAL if the engine
    rejects them)."""
    cfg = base if base is not None else SourceConfig()
    w = opts.window
    try:
        return dataclasses.replace(
            cfg,
            rate_bps=w.RateKbitsPerSec * 1000,
            window_secs=w.WindowSizeInMSecs / 1000,
            window_bytes=w.WindowSizeInBytes,
            window_advance_pct=float(opts.adv_rate),
            send_buffer_bytes=max(1, min(cfg.send_buffer_bytes, w.WindowSizeInBytes)),
            linger_secs=None,  # after shutdown/close: repairs until the window passes the end
            late_join=float(opts.latejoin),  # RM_LATEJOIN: OPT_JOIN (RFC 3208 §9.5)
            **_fec_fields(opts),
        )
    except ConfigError as exc:
        raise rm_error("WSAEINVAL", f"connect: {exc}") from None


def _tx_send(tx: PgmSender, messages: list[bytes], timeout: float | None) -> None:
    """Hand messages to the sender, with its failures as Winsock errors."""
    try:
        tx.send_many(messages, timeout)
    except WouldBlock:
        raise rm_error(
            "WSAEWOULDBLOCK", "send would block: the send window is full (non-blocking socket)"
        ) from None
    except TimeoutError:
        raise rm_error("WSAETIMEDOUT", f"send timed out after {timeout} s") from None
    except NotConnected as exc:
        raise rm_error("WSAENOTCONN", f"send: {exc}") from None
    except ValueError as exc:
        raise rm_error("WSAEMSGSIZE", f"send: {exc}") from None
    except RuntimeError as exc:
        raise rm_error("WSAENETDOWN", f"send: {exc}") from None


class SenderRole:
    """A sender socket's own state: the :class:`~pgm.io.PgmSender` once connected and the
    RM_SET_MESSAGE_BOUNDARY message being gathered.  ``lock`` is the socket's."""

    kind = "sender"

    def __init__(self, lock: threading.RLock) -> None:
        self._lock = lock
        self.tx: PgmSender | None = None
        """The sender, once connected."""
        self.shut_wr = False
        """Shut down for sending (shutdown, close)."""
        self.partial_dropped = 0
        """RM_SET_MESSAGE_BOUNDARY messages dropped incomplete (reported in the statistics)."""
        self._boundary: int | None = None
        self._parts: list[bytes] = []
        self._parts_len = 0

    # -- connect ----------------------------------------------------------------------------------

    def connect(
        self,
        group: IPv4Address,
        port: int,
        *,
        iface: str | None,
        transport: str,
        config: SourceConfig,
        ttl: int,
        loop: bool,
    ) -> None:
        """Start the session (SPMs go out at once)."""
        try:
            self.tx = PgmSender(
                str(group),
                port,
                iface=iface,
                transport=transport,
                config=config,
                ttl=ttl,
                loop=loop,
            )
        except InterfaceError as exc:
            raise rm_error("WSAEADDRNOTAVAIL", f"connect: {exc}") from None
        except ConfigError as exc:
            raise rm_error("WSAEINVAL", f"connect: {exc}") from None

    def ready(self, what: str) -> PgmSender:
        """The sender, if sending is possible now (else WSAESHUTDOWN / WSAENOTCONN)."""
        if self.shut_wr:
            raise rm_error("WSAESHUTDOWN", f"{what}: the socket was shut down for sending")
        if self.tx is None:
            raise rm_error("WSAENOTCONN", f"{what}: connect() the sender first")
        return self.tx

    def sending_interface(self) -> IPv4Address | None:
        """The address the session sends from, once connected."""
        return IPv4Address(str(self.tx.nla)) if self.tx is not None else None

    # -- sending ----------------------------------------------------------------------------------

    def set_message_boundary(self, rule: OptionRule, size: int) -> None:
        """RM_SET_MESSAGE_BOUNDARY: the next sends gather one ``size``-byte message."""
        if self._parts:
            raise rm_error(
                "WSAEINVAL",
                f"setsockopt: {rule.name}: {self._parts_len} of the {self._boundary} "
                "bytes announced before are still to be sent",
            )
        self._boundary = size

    def send_message(self, tx: PgmSender, buf: bytes, timeout: float | None) -> int:
        """SOCK_RDM: one message, or a piece of the announced one (sent once complete)."""
        n = len(buf)
        with self._lock:
            b = self._boundary
            if b is not None:
                have = self._parts_len
                if have + n > b:
                    raise rm_error(
                        "WSAEMSGSIZE",
                        f"send of {n} bytes overruns the {b}-byte message announced with "
                        f"RM_SET_MESSAGE_BOUNDARY ({have} bytes gathered)",
                    )
                if have + n < b:
                    self._parts.append(buf)
                    self._parts_len += n
                    return n
                buf = b"".join([*self._parts, buf])
        if b is not None:
            # The last piece: the whole message goes out (the lock is not held while blocked).
            _tx_send(tx, [buf], timeout)
            with self._lock:
                self._parts.clear()
                self._parts_len = 0
                self._boundary = None
            return n
        if n > MAX_MESSAGE_BYTES:
            raise rm_error("WSAEMSGSIZE", f"message of {n} bytes exceeds {MAX_MESSAGE_BYTES} bytes")
        _tx_send(tx, [buf], timeout)
        return n

    def send_stream(self, tx: PgmSender, buf: bytes, timeout: float | None) -> int:
        """SOCK_STREAM: full packets; with a timeout, the bytes taken before it passed."""
        step = tx.max_tsdu
        chunks = [buf[i : i + step] for i in range(0, len(buf), step)]
        if timeout is None:
            _tx_send(tx, chunks, None)
            return len(buf)
        end = _clock() + timeout
        sent = 0
        for c in chunks:
            try:
                _tx_send(tx, [c], 0.0 if timeout == 0 else max(1e-6, end - _clock()))
            except (BlockingIOError, TimeoutError):
                if sent:
                    return sent
                raise
            sent += len(c)
        return sent

    def sendall_stream(self, tx: PgmSender, buf: bytes, timeout: float | None) -> None:
        """SOCK_STREAM sendall: every byte, or WSAEWOULDBLOCK / WSAETIMEDOUT."""
        if timeout is None:
            self.send_stream(tx, buf, None)
            return
        end = _clock() + timeout
        off = 0
        while off < len(buf):
            left = 0.0
            if timeout:
                left = end - _clock()
                if left <= 0:
                    raise rm_error("WSAETIMEDOUT", f"sendall timed out after {timeout} s")
            off += self.send_stream(tx, buf[off:], left)

    # -- statistics -------------------------------------------------------------------------------

    def statistics(self) -> RM_SENDER_STATS:
        """Live RM_SENDER_STATISTICS."""
        if self.tx is None:
            raise rm_error("WSAENOTCONN", "getsockopt: RM_SENDER_STATISTICS needs connect()")
        return sender_stats(self.tx.info(), self.partial_dropped)

    # -- ending -----------------------------------------------------------------------------------

    def finish(self) -> None:
        """End the session gracefully without waiting: an incomplete boundary message is
        dropped (counted), OPT_FIN follows the queued data, and repairs stay available until
        the window passes the last sequence number (Windows; :meth:`close` cuts it short)."""
        with self._lock:
            tx = self.tx
            if tx is None or self.shut_wr:
                return
            self.shut_wr = True
            if self._parts:
                self.partial_dropped += 1
                self._parts.clear()
                self._parts_len = 0
            self._boundary = None
            with contextlib.suppress(RuntimeError):  # a failed I/O thread: close() aborts
                tx.shutdown(linger=tx.config.window_secs)

    def close(self, linger_secs: float) -> None:
        """Graceful close: transmit what is queued, serve repairs for up to ``linger_secs``,
        then release — or reset (OPT_RST) if the window has not passed the end by then."""
        tx = self.tx
        if tx is None:
            return
        self.finish()
        tx.flush()  # a graceful close transmits what is queued
        if tx.wait_closed(linger_secs):
            tx.close(linger=0)  # the window already passed the end: release
        else:
            tx.abort()  # linger over: OPT_RST tells receivers still repairing at once

    def abort(self) -> None:
        """Abortive close: queued data dropped, OPT_RST at once."""
        if self.tx is not None:
            self.tx.abort()
