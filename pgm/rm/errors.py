"""Winsock errors as Python exceptions.

Theory of operation: misuse raises :class:`RMError`, an :class:`OSError` whose ``errno`` is the
POSIX counterpart and whose message starts with the Winsock name and code (``"WSAEINVAL (10022):
..."``); ``wsaerror`` and ``wsaname`` hold them.  Where Python has a matching :class:`OSError`
subclass the error is also an instance of it: would-block is a :class:`BlockingIOError`, a reset
session a :class:`ConnectionResetError`, a timeout a :class:`TimeoutError`.  :func:`rm_error`
picks the class from the Winsock name.
"""

from __future__ import annotations

import errno as _errno

# -- Winsock errors -------------------------------------------------------------------------------

WSAEACCES = 10013
WSAEFAULT = 10014
WSAEINVAL = 10022
WSAENOTSOCK = 10038
WSAEWOULDBLOCK = 10035
WSAEMSGSIZE = 10040
WSAENOPROTOOPT = 10042
WSAEPROTONOSUPPORT = 10043
WSAESOCKTNOSUPPORT = 10044
WSAEOPNOTSUPP = 10045
WSAEAFNOSUPPORT = 10047
WSAEADDRNOTAVAIL = 10049
WSAENETDOWN = 10050
WSAECONNRESET = 10054
WSAEISCONN = 10056
WSAENOTCONN = 10057
WSAESHUTDOWN = 10058
WSAETIMEDOUT = 10060
WSAEDISCON = 10101


def _posix(name: str, fallback: int) -> int:
    return int(getattr(_errno, name, fallback))


#: Winsock error name -> (Winsock code, POSIX errno used for the OSError).  WSAENOTSOCK maps to
#: EBADF, what Python raises for a closed socket; WSAEDISCON has no POSIX counterpart and is never
#: raised (a graceful session end reads as ``b""``).
WSA_ERRORS: dict[str, tuple[int, int]] = {
    "WSAEACCES": (WSAEACCES, _posix("EACCES", WSAEACCES)),
    "WSAEFAULT": (WSAEFAULT, _posix("EFAULT", WSAEFAULT)),
    "WSAEINVAL": (WSAEINVAL, _posix("EINVAL", WSAEINVAL)),
    "WSAENOTSOCK": (WSAENOTSOCK, _posix("EBADF", WSAENOTSOCK)),
    "WSAEWOULDBLOCK": (WSAEWOULDBLOCK, _posix("EWOULDBLOCK", WSAEWOULDBLOCK)),
    "WSAEMSGSIZE": (WSAEMSGSIZE, _posix("EMSGSIZE", WSAEMSGSIZE)),
    "WSAENOPROTOOPT": (WSAENOPROTOOPT, _posix("ENOPROTOOPT", WSAENOPROTOOPT)),
    "WSAEPROTONOSUPPORT": (WSAEPROTONOSUPPORT, _posix("EPROTONOSUPPORT", WSAEPROTONOSUPPORT)),
    "WSAESOCKTNOSUPPORT": (WSAESOCKTNOSUPPORT, _posix("ESOCKTNOSUPPORT", WSAESOCKTNOSUPPORT)),
    "WSAEOPNOTSUPP": (WSAEOPNOTSUPP, _posix("EOPNOTSUPP", WSAEOPNOTSUPP)),
    "WSAEAFNOSUPPORT": (WSAEAFNOSUPPORT, _posix("EAFNOSUPPORT", WSAEAFNOSUPPORT)),
    "WSAEADDRNOTAVAIL": (WSAEADDRNOTAVAIL, _posix("EADDRNOTAVAIL", WSAEADDRNOTAVAIL)),
    "WSAENETDOWN": (WSAENETDOWN, _posix("ENETDOWN", WSAENETDOWN)),
    "WSAECONNRESET": (WSAECONNRESET, _posix("ECONNRESET", WSAECONNRESET)),
    "WSAEISCONN": (WSAEISCONN, _posix("EISCONN", WSAEISCONN)),
    "WSAENOTCONN": (WSAENOTCONN, _posix("ENOTCONN", WSAENOTCONN)),
    "WSAESHUTDOWN": (WSAESHUTDOWN, _posix("ESHUTDOWN", WSAESHUTDOWN)),
    "WSAETIMEDOUT": (WSAETIMEDOUT, _posix("ETIMEDOUT", WSAETIMEDOUT)),
    "WSAEDISCON": (WSAEDISCON, WSAEDISCON),
}


class RMError(OSError):
    """A Winsock-style failure: ``errno`` is the POSIX counterpart, the message starts with the
    Winsock name and code, ``wsaerror`` / ``wsaname`` hold them (e.g. 10022 / ``"WSAEINVAL"``)."""

    wsaerror: int
    """The Winsock error code (WSAGetLastError() on Windows)."""
    wsaname: str
    """Its name, e.g. ``"WSAEINVAL"``."""

    def __init__(self, wsaname: str, detail: str) -> None:
        code, eno = WSA_ERRORS[wsaname]
        super().__init__(eno, f"{wsaname} ({code}): {detail}")
        self.wsaerror = code
        self.wsaname = wsaname


class RMWouldBlock(RMError, BlockingIOError):
    """WSAEWOULDBLOCK: a non-blocking socket cannot complete the call now."""


class RMConnectionReset(RMError, ConnectionResetError):
    """WSAECONNRESET: the receiving session ended with data lost for good, or was aborted."""


class RMTimeout(RMError, TimeoutError):
    """WSAETIMEDOUT: the socket's timeout (``settimeout``) passed."""


class RMMessageSize(RMError):
    """WSAEMSGSIZE: the buffer was smaller than the message (receive), or the message is too
    large (send).  On receive, ``partial`` holds the part that fitted (``recv``) and ``nbytes``
    how many bytes were stored (``recv_into``); the rest of the message stays for the next call."""

    partial: bytes = b""
    """The part of the message returned with the error (``recv`` / ``recvfrom``)."""
    nbytes: int = 0
    """Bytes written into the caller's buffer (``recv_into`` / ``recvfrom_into``)."""


_ERROR_CLASSES: dict[str, type[RMError]] = {
    "WSAEWOULDBLOCK": RMWouldBlock,
    "WSAECONNRESET": RMConnectionReset,
    "WSAETIMEDOUT": RMTimeout,
    "WSAEMSGSIZE": RMMessageSize,
}


def rm_error(wsaname: str, detail: str) -> RMError:
    """The :class:`RMError` (sub)class instance for Winsock error ``wsaname``."""
    return _ERROR_CLASSES.get(wsaname, RMError)(wsaname, detail)
