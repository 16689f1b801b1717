"""``pgm.socket(AF_INET, SOCK_RDM, IPPROTO_RM)``: Windows' Reliable Multicast sockets, ported.

Code written for the Windows PGM provider ports line by line: the same calls in the same order,
the same ``RM_*`` options and structures (:mod:`pgm.rm`), the same errors (an :class:`OSError`
whose message names the Winsock error).  docs/windows-porting.md maps every call and option.

Sender::

    s = pgm.socket(pgm.AF_INET, pgm.SOCK_RDM, pgm.IPPROTO_RM)
    s.bind(("0.0.0.0", 0))                       # any address; the port is ignored
    s.setsockopt(pgm.IPPROTO_RM, pgm.RM_RATE_WINDOW_SIZE, pgm.RM_SEND_WINDOW(10_000, 5000, 0))
    s.connect(("234.5.6.7", 7500))               # starts the session (SPMs)
    s.send(b"one message")

Receiver::

    s = pgm.socket(pgm.AF_INET, pgm.SOCK_RDM, pgm.IPPROTO_RM)
    s.bind(("234.5.6.7", 7500))                  # the group and the sender's port
    s.setsockopt(pgm.IPPROTO_RM, pgm.RM_ADD_RECEIVE_IF, socket.inet_aton("10.0.0.2"))
    s.listen(10)
    conn, (sender_ip, source_port) = s.accept()   # one socket per sender session
    data = conn.recv(65536)                      # b"" once the session ended gracefully

Theory of operation
-------------------
A socket's role follows from ``bind()``, as on Windows: bound to a multicast group it is a
*receiver* (``listen``/``accept``, :mod:`pgm.rm.listener`), bound to anything else a *sender*
(``connect``/``send``, :mod:`pgm.rm.sender`); ``accept()`` returns sockets in the *session*
role (``recv``, :mod:`pgm.rm.session`).  :class:`RMSocket` holds what every role shares — the
:mod:`socket`-shaped calls, timeouts, readiness, the option dispatch — and hands the rest to its
role object.  Options are recorded until ``connect()`` / ``listen()``; every rule and handler
comes from :data:`pgm.rm.OPTIONS`.

``fileno()`` is one end of a socket pair holding one byte exactly while the socket is readable
(a session to accept, a message, the end of the session), so ``select``/``selectors`` work on
every OS.
"""

from __future__ import annotations

import contextlib
from ipaddress import IPv4Address
from typing import Any

from ..io import PgmReceiver, PgmSender
from . import constants as c
from .addresses import socket_address
from .base import DEFAULT_LINGER, SocketBase, SocketState, local_address, no_flags
from .errors import RMMessageSize, rm_error
from .listener import ListenerRole
from .sender import SenderRole, source_config
from .session import SessionRole

__all__ = ["DEFAULT_LINGER", "RMSocket", "socket"]


class RMSocket(SocketBase):
    """A Windows-style PGM socket; ``pgm.socket`` is this class.

    Shaped like :class:`socket.socket`: ``bind``, ``connect``, ``listen``, ``accept``, ``send``,
    ``sendall``, ``recv``, ``recv_into``, ``recvfrom``, ``recvmsg``, ``setsockopt``,
    ``getsockopt``, ``settimeout``/``setblocking``, ``fileno``, ``getsockname``,
    ``getpeername``, ``shutdown``, ``close`` and the context-manager protocol.  See the module
    docstring and docs/windows-porting.md for the Windows rules each one follows.

    ``family`` must be AF_INET (else WSAEAFNOSUPPORT), ``type`` SOCK_RDM (messages) or
    SOCK_STREAM (a byte stream) (else WSAESOCKTNOSUPPORT), ``proto`` IPPROTO_RM / IPPROTO_PGM
    (else WSAEPROTONOSUPPORT).  Keywords (no Windows counterpart):

    * ``transport``: ``"raw"`` (IP protocol 113 as on Windows; root or CAP_NET_RAW) or ``"udp"``
      (UDP encapsulation, OpenPGM/ZeroMQ compatible, no privileges);
    * ``loop``: whether this host's own receivers hear a sender (multicast loopback);
    * ``linger``: seconds a closed sender keeps serving repairs (default: the window time, at
      most :data:`DEFAULT_LINGER`);
    * ``sender_config`` / ``receiver_config``: engine settings the RM_* options do not cover
      (the rate, window and advance step always come from the RM_* options, whose defaults are
      Windows');
    * ``max_queue_bytes``: received data held for the application before reading pauses;
    * ``loss``: simulated loss of incoming data packets (demonstrations and tests).
    """

    def __enter__(self) -> RMSocket:
        return self

    def __exit__(self, *exc: object) -> None:
        if exc[0] is not None and self.sender is not None:
            self._abort()
        else:
            self.close()

    # -- bind / connect / listen / accept ---------------------------------------------------------

    def bind(self, address: tuple[str, int]) -> None:
        """Bind: to a multicast group and port for a receiver (then ``listen``), to any other
        address for a sender (then ``connect``; the port is ignored, as on Windows).  A specific
        local address on a sender selects the sending interface unless RM_SET_SEND_IF does."""
        with self._lock:
            self._check_open()
            if self._state is not SocketState.NEW:
                raise rm_error("WSAEINVAL", "bind: the socket is already bound")
            addr, port = socket_address(address, "bind")
            if addr.is_multicast:
                if port == 0:
                    raise rm_error(
                        "WSAEINVAL",
                        "bind: a receiver binds the group and the port its sender connects to",
                    )
                self._role = ListenerRole()
            else:
                if not addr.is_unspecified:
                    local_address(addr, "bind")
                self._role = SenderRole(self._lock)
            self._bound = (addr, port)
            self._state = SocketState.BOUND

    def connect(self, address: tuple[str, int]) -> None:
        """Start the sending session to ``(group, port)`` (no handshake: SPMs go out at once).

        Applies the sender options set so far; afterwards only RM_SET_MESSAGE_BOUNDARY may
        change.  Binds to INADDR_ANY first if the socket is not bound.
        """
        with self._lock:
            self._check_open()
            if self._state is SocketState.CONNECTED:
                raise rm_error("WSAEISCONN", "connect: the session is already connected")
            if self._kind in ("receiver", "session"):
                raise rm_error(
                    "WSAEINVAL",
                    "connect: this socket is bound to a multicast group, i.e. a receiver "
                    "(listen/accept); a sender binds a local address",
                )
            group, port = socket_address(address, "connect")
            if not group.is_multicast:
                raise rm_error("WSAEINVAL", f"connect: {group} is not a multicast group")
            if not 0 < port < 0x10000:
                raise rm_error("WSAEINVAL", "connect: the port must be 1..65535")
            if self._state is SocketState.NEW:
                self._role = SenderRole(self._lock)
                self._bound = (IPv4Address("0.0.0.0"), 0)
                self._state = SocketState.BOUND
            role = self._role
            assert isinstance(role, SenderRole) and self._bound is not None
            opts = self.options
            cfg = source_config(self._sender_config, opts)
            iface: str | None = None
            if opts.send_if is not None:
                iface = str(opts.send_if)
            elif not self._bound[0].is_unspecified:
                iface = str(self._bound[0])
            role.connect(
                group,
                port,
                iface=iface,
                transport=self._transport,
                config=cfg,
                ttl=opts.ttl,
                loop=self._loop,
            )
            self._peer = (str(group), port)
            self._state = SocketState.CONNECTED

    def connect_ex(self, address: tuple[str, int]) -> int:
        """:meth:`connect` returning 0 or the errno instead of raising."""
        try:
            self.connect(address)
        except OSError as exc:
            return exc.errno or -1
        return 0

    def listen(self, backlog: int = 5) -> None:
        """Start receiving on the bound group and port (joins on the RM_ADD_RECEIVE_IF
        interfaces, else the default one).  ``backlog`` is accepted for compatibility; pending
        sessions are bounded by ``ReceiverConfig.max_sessions``.  Calling it again is a no-op."""
        with self._lock:
            self._check_open()
            if self._state is SocketState.LISTENING:
                return
            if self._state is SocketState.NEW:
                raise rm_error("WSAEINVAL", "listen: bind() the group and port first")
            if self._kind == "sender":
                if self._state is SocketState.CONNECTED:
                    raise rm_error("WSAEISCONN", "listen: the socket is a connected sender")
                raise rm_error(
                    "WSAEINVAL",
                    "listen: the socket is bound to a non-multicast address, i.e. a sender; "
                    "a receiver binds the group address",
                )
            role = self._role
            if not isinstance(role, ListenerRole):
                raise rm_error("WSAEINVAL", "listen: this is an accepted session socket")
            assert self._bound is not None
            group, port = self._bound
            role.listen(
                self,
                group,
                port,
                ifaces=self.options.recv_ifs,
                transport=self._transport,
                config=self._receiver_config,
                max_queue_bytes=self._max_queue,
                loss=self._loss,
                only_source=self.options.only_source,
                only_tsi=self.options.only_tsi,
            )
            self._state = SocketState.LISTENING

    def accept(self) -> tuple[RMSocket, tuple[str, int]]:
        """The next sender session: ``(socket, (sender_ip, source_port))``.

        ``source_port`` is the PGM source port of the session's TSI (chosen by the sender's
        transport; not an address to send to).  The new socket is blocking (or has
        ``socket.getdefaulttimeout()``), like Python's ``socket.accept``.
        """
        self._check_open()
        role, hub = self._role, self._hub
        if (
            self._state is not SocketState.LISTENING
            or not isinstance(role, ListenerRole)
            or hub is None
        ):
            raise rm_error("WSAEINVAL", "accept: call listen() first")
        assert hub.cond is not None
        with hub.cond:
            self._wait(lambda: role.pending, "accept")
            sess = role.next_session()
            assert sess is not None
            self._set_readable(role.pending)
            conn = RMSocket(
                self._family,
                self._type,
                self._proto,
                transport=self._transport,
                loop=self._loop,
                linger=self._linger,
                max_queue_bytes=self._max_queue,
            )
            conn._role = SessionRole(hub, sess)
            conn._state = SocketState.ACCEPTED
            conn._bound = self._bound
            conn.options = self.options
            conn._peer = (str(sess.source), sess.tsi.source_port)
            sess.tag = conn
            hub.refs += 1
            conn._set_readable(sess.readable)
        return conn, conn._peer

    # -- sending ----------------------------------------------------------------------------------

    def _sending(self, what: str) -> tuple[SenderRole, PgmSender]:
        self._check_open()
        role = self._role
        if isinstance(role, ListenerRole | SessionRole):
            raise rm_error(
                "WSAEOPNOTSUPP", f"{what}: sending on a receiving socket is not supported"
            )
        if role is None:
            raise rm_error("WSAENOTCONN", f"{what}: connect() the sender first")
        return role, role.ready(what)

    def send(self, data: Any, flags: int = 0) -> int:
        """Send; returns the number of bytes taken.

        SOCK_RDM: one message per call, or part of the message announced with
        RM_SET_MESSAGE_BOUNDARY (sent once complete; a send that would overrun it fails with
        WSAEMSGSIZE and takes nothing).  SOCK_STREAM: bytes of a stream, cut into full packets.
        A full send window blocks (timeout: WSAETIMEDOUT; non-blocking: WSAEWOULDBLOCK, nothing
        taken — in stream mode the bytes taken so far are returned instead).  ``send(b"")``
        sends nothing and returns 0.
        """
        no_flags(flags, "send")
        role, tx = self._sending("send")
        buf = memoryview(data).cast("B").tobytes()
        if not buf:
            return 0
        if self._type == c.SOCK_STREAM:
            return role.send_stream(tx, buf, self._timeout)
        return role.send_message(tx, buf, self._timeout)

    def sendall(self, data: Any, flags: int = 0) -> None:
        """Send everything (SOCK_RDM: as :meth:`send`; SOCK_STREAM: until all bytes are taken,
        raising WSAEWOULDBLOCK / WSAETIMEDOUT if a non-blocking or timed socket cannot)."""
        if self._type == c.SOCK_RDM:
            self.send(data, flags)
            return
        no_flags(flags, "sendall")
        role, tx = self._sending("sendall")
        buf = memoryview(data).cast("B").tobytes()
        if buf:
            role.sendall_stream(tx, buf, self._timeout)

    def sendto(self, data: Any, *args: Any) -> int:
        """``sendto(data[, flags], address)``: as :meth:`send` (the address of a connected PGM
        socket is ignored, as on Windows)."""
        flags = args[0] if len(args) == 2 else 0
        return self.send(data, flags)

    # -- receiving --------------------------------------------------------------------------------

    def _take(self, bufsize: int, what: str) -> tuple[bytes, int]:
        """Up to ``bufsize`` bytes; returns (data, bytes of the message still unread)."""
        if bufsize < 0:
            raise ValueError("negative buffersize in recv")
        self._check_open()
        role = self._role
        if isinstance(role, SenderRole):
            raise rm_error(
                "WSAEOPNOTSUPP", f"{what}: receiving on a sender socket is not supported"
            )
        if not isinstance(role, SessionRole) or role.hub.cond is None:
            raise rm_error(
                "WSAENOTCONN", f"{what}: not a session socket (listen() and accept() first)"
            )
        if role.shut_rd:
            raise rm_error("WSAESHUTDOWN", f"{what}: the socket was shut down for receiving")
        if bufsize == 0:
            return b"", 0
        return role.take(bufsize, self._type == c.SOCK_RDM, self._wait, what)

    def _too_long(self, rest: int, bufsize: int) -> RMMessageSize:
        err = rm_error(
            "WSAEMSGSIZE",
            f"the message is longer than the {bufsize}-byte buffer: that part was returned, "
            f"{rest} more bytes of it follow on the next receive",
        )
        assert isinstance(err, RMMessageSize)
        return err

    def recv(self, bufsize: int, flags: int = 0) -> bytes:
        """Receive on an accepted socket.

        SOCK_RDM: one message, or its next ``bufsize`` bytes when it is longer — then
        :class:`~pgm.rm.RMMessageSize` (WSAEMSGSIZE) is raised carrying that part in
        ``partial``, and the rest comes with the next calls (the last piece returns normally),
        like Windows' recv.  :meth:`recvmsg` returns the pieces with MSG_PARTIAL instead.
        SOCK_STREAM: up to ``bufsize`` bytes across messages.  ``b""``: the session ended
        gracefully (every later call too).  Unrecoverable loss, a sender's abort or its silence:
        ConnectionResetError (WSAECONNRESET) once the data before it is read, and on every
        later call.
        """
        no_flags(flags, "recv")
        data, rest = self._take(bufsize, "recv")
        if rest:
            err = self._too_long(rest, bufsize)
            err.partial = data
            raise err
        return data

    def recvfrom(self, bufsize: int, flags: int = 0) -> tuple[bytes, tuple[str, int] | None]:
        """:meth:`recv` plus the sender's address (as returned by :meth:`accept`)."""
        return self.recv(bufsize, flags), self._peer

    def recv_into(self, buffer: Any, nbytes: int = 0, flags: int = 0) -> int:
        """:meth:`recv` into a writable buffer; returns the byte count.  A longer SOCK_RDM
        message fills ``nbytes`` and raises WSAEMSGSIZE with ``nbytes`` set on the error."""
        no_flags(flags, "recv_into")
        view = memoryview(buffer).cast("B")
        size = nbytes or len(view)
        if size > len(view):
            raise ValueError("buffer too small for requested bytes")
        data, rest = self._take(size, "recv_into")
        view[: len(data)] = data
        if rest:
            err = self._too_long(rest, size)
            err.nbytes = len(data)
            raise err
        return len(data)

    def recvfrom_into(
        self, buffer: Any, nbytes: int = 0, flags: int = 0
    ) -> tuple[int, tuple[str, int] | None]:
        """:meth:`recv_into` plus the sender's address."""
        return self.recv_into(buffer, nbytes, flags), self._peer

    def recvmsg(
        self, bufsize: int, ancbufsize: int = 0, flags: int = 0
    ) -> tuple[bytes, list[Any], int, tuple[str, int] | None]:
        """WSARecv-style: ``(data, [], msg_flags, address)``; ``msg_flags`` has
        :data:`~pgm.rm.MSG_PARTIAL` when more of the same SOCK_RDM message follows (no
        WSAEMSGSIZE).  End of session and reset as in :meth:`recv`."""
        no_flags(flags, "recvmsg")
        data, rest = self._take(bufsize, "recvmsg")
        return data, [], (c.MSG_PARTIAL if rest else 0), self._peer

    # -- ending -----------------------------------------------------------------------------------

    def shutdown(self, how: int) -> None:
        """SD_SEND / SD_BOTH on a sender: drop an incomplete RM_SET_MESSAGE_BOUNDARY message
        (counted), end the session gracefully (OPT_FIN after the queued data), and wait until
        every queued byte has been transmitted once; repairs are still served — until the
        window passes the last sequence number, or :meth:`close`'s linger ends.
        SD_RECEIVE / SD_BOTH on an accepted socket: later receives fail with WSAESHUTDOWN."""
        if how not in (c.SD_RECEIVE, c.SD_SEND, c.SD_BOTH):
            raise rm_error("WSAEINVAL", f"shutdown: how must be 0, 1 or 2, not {how}")
        self._check_open()
        role = self._role
        if isinstance(role, SenderRole):
            tx = role.tx
            if tx is None:
                raise rm_error("WSAENOTCONN", "shutdown: the sender is not connected")
            if how != c.SD_RECEIVE:
                role.finish()
                tx.flush()
            return
        if not isinstance(role, SessionRole):
            raise rm_error("WSAENOTCONN", "shutdown: not a connected socket")
        if how != c.SD_SEND:
            role.shut_rd = True

    def _abort(self) -> None:
        with self._lock:
            if self._state is SocketState.CLOSED:
                return
            role = self._role
        if isinstance(role, SenderRole):
            role.abort()
        self._release()

    def close(self) -> None:
        """Close (closesocket).  A connected sender ends its session gracefully (as
        :meth:`shutdown`: queued data is transmitted first), then lingers serving repairs for
        ``linger`` seconds (the keyword; default the window time, at most
        :data:`DEFAULT_LINGER`; SO_LINGER ``{1, n}`` makes it ``n``) — the call blocks that
        long.  If the window has not passed the last sequence number by then, the session is
        reset (OPT_RST), so receivers still repairing learn at once that no repair will come;
        receivers that have everything have already ended it.  SO_LINGER ``{1, 0}`` closes
        abortively instead: queued data is dropped and the session reset at once.  A receiver's
        PGM socket is released when the listening socket and every accepted one are closed.
        Idempotent."""
        with self._lock:
            if self._state is SocketState.CLOSED:
                return
            role = self._role
        if isinstance(role, SenderRole) and role.tx is not None:
            if self._so_linger == (1, 0):
                # SO_LINGER {1, 0}: the abortive close (OPT_RST, queued data dropped)
                self._abort()
                return
            role.close(self._linger_secs(role.tx.config))
        self._release()

    def _release(self) -> None:
        with self._lock:
            if self._state is SocketState.CLOSED:
                return
            role = self._role
            hub = self._hub
            rx_to_close: PgmReceiver | None = None
            if hub is not None and hub.cond is not None:
                with hub.cond:
                    if isinstance(role, ListenerRole):
                        hub.close_listener()
                    elif isinstance(role, SessionRole):
                        hub.drop(role.session)
                    hub.refs -= 1
                    if hub.refs == 0:
                        rx_to_close = hub.rx
                    self._state = SocketState.CLOSED
                    hub.cond.notify_all()
            self._state = SocketState.CLOSED
            for sock in (self._rsock, self._wsock):
                with contextlib.suppress(OSError):
                    sock.close()
        if rx_to_close is not None:
            rx_to_close.close()


#: ``pgm.socket(AF_INET, SOCK_RDM, IPPROTO_RM)``: the class itself, as :class:`socket.socket` is.
socket = RMSocket
