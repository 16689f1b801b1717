"""``pgm recv --out``: where the data goes, opened only once data arrives.

Theory of operation: :class:`Output` is checked when the command starts (the directory of
``--out FILE`` must exist and be writable; standard output must not be a terminal unless asked
for with ``--out -``, as curl refuses to print binary data to one) but opens nothing.  The first
:meth:`Output.write` creates a temporary file next to FILE (``.FILE.XXXX.part``);
:meth:`Output.finish` renames it over FILE — so an existing FILE is replaced only once data
arrived (or an empty session ended successfully) and never truncated by a run that heard
nothing, failed to open its socket, or was interrupted before the first byte.  FILE that exists
and is not a regular file (``/dev/null``, a FIFO) is written directly, never renamed over; so is
every FILE with ``in_place`` (``recv --keep-going``, whose output grows while it runs).

Writes are batched: :meth:`Output.write` only queues a message (no copy), and
:meth:`Output.flush` — ``pgm recv`` calls it once per batch of events, i.e. once per drain of
the socket — hands everything queued to the kernel with one ``os.writev`` (up to
:data:`IOV_MAX` buffers, partial writes resumed).  The queue flushes by itself beyond
:data:`IOV_MAX` messages or :data:`PENDING_BYTES` bytes, so it stays bounded.  A standard output
without a descriptor (an in-process test's capture) gets plain writes instead.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import sys
import tempfile
from typing import IO

__all__ = ["IOV_MAX", "MESSAGE_MODES", "PENDING_BYTES", "Output", "OutputError", "frame_message"]

IOV_MAX = 1024
"""Buffers per ``os.writev`` (Linux's ``IOV_MAX``; POSIX guarantees at least 16, see below)."""
if hasattr(os, "sysconf"):
    with contextlib.suppress(ValueError, OSError):
        IOV_MAX = max(16, min(IOV_MAX, os.sysconf("SC_IOV_MAX")))

PENDING_BYTES = 1 << 20
"""Bytes queued before :meth:`Output.write` flushes by itself."""

MESSAGE_MODES = ("length", "line")
"""``--per-message`` modes: a 4-byte big-endian length before each message, or a newline after
each; without one, messages are written back to back (the byte stream a file transfer is)."""


def frame_message(msg: bytes, mode: str | None) -> bytes:
    """``msg`` as ``--per-message MODE`` writes it."""
    if mode == "length":
        return len(msg).to_bytes(4, "big") + msg
    if mode == "line":
        return msg + b"\n"
    return msg


class OutputError(OSError):
    """``--out`` cannot be used (the message says why)."""


def _umask_mode() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


class Output:
    """``--out`` (None: standard output, refused on a terminal; ``-``: standard output)."""

    def __init__(self, path: str | None, *, in_place: bool = False) -> None:
        self.path = path
        self.written = 0
        """Bytes written (or queued to be, see :meth:`flush`) so far."""
        self._f: IO[bytes] | None = None
        self._fd: int | None = None  # where os.writev writes; None: self._f.write
        self._pending: list[bytes] = []
        self._pending_bytes = 0
        self._tmp: str | None = None
        if path is None or path == "-":
            if path is None and sys.stdout.isatty():
                raise OutputError(
                    "not writing binary data to a terminal: add --out FILE (or --out - to "
                    "write to the terminal anyway)"
                )
            self._f = sys.stdout.buffer
            self._fd = _descriptor(self._f)
            return
        self._direct = in_place  # written as it arrives (recv --keep-going), no rename
        try:
            st = os.stat(path)
        except FileNotFoundError:
            st = None
        except OSError as exc:
            raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from None
        if st is not None and stat.S_ISDIR(st.st_mode):
            raise OutputError(f"cannot write {path}: is a directory")
        if st is not None and not stat.S_ISREG(st.st_mode):
            self._direct = True  # a device or FIFO: write to it, never rename over it
            return
        folder = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(folder):
            raise OutputError(f"cannot write {path}: no such directory {folder}")
        if not os.access(folder, os.W_OK | os.X_OK):
            raise OutputError(f"cannot write {path}: the directory {folder} is not writable")

    @property
    def is_stdout(self) -> bool:
        """True when the data goes to standard output."""
        return self.path is None or self.path == "-"

    def _open(self) -> IO[bytes]:
        assert self.path is not None
        try:
            if self._direct:
                self._f = open(self.path, "wb")  # noqa: SIM115 - closed by finish()
            else:
                folder, name = os.path.split(os.path.abspath(self.path))
                fd, self._tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".part", dir=folder)
                os.fchmod(fd, _umask_mode())
                self._f = os.fdopen(fd, "wb")
        except OSError as exc:
            raise OutputError(f"cannot write {self.path}: {exc.strerror or exc}") from None
        self._fd = _descriptor(self._f)
        return self._f

    def write(self, data: bytes) -> None:
        """Queue ``data`` for the next :meth:`flush` (opening the output on the first call);
        written at once beyond :data:`IOV_MAX` messages or :data:`PENDING_BYTES` bytes."""
        if self._f is None:
            self._open()
        if data:
            pending = self._pending
            pending.append(data)
            self._pending_bytes += len(data)
            if len(pending) >= IOV_MAX or self._pending_bytes >= PENDING_BYTES:
                self._write_out()
        self.written += len(data)

    def _write_out(self) -> None:
        """Hand what is queued to the kernel: one ``os.writev`` (more only for partial writes)."""
        chunks, total = self._pending, self._pending_bytes
        if not chunks:
            return
        self._pending, self._pending_bytes = [], 0
        f, fd = self._f, self._fd
        assert f is not None
        if fd is None:
            for c in chunks:
                f.write(c)
            return
        f.flush()  # nothing is buffered there, unless someone else wrote to it
        _writev_all(fd, chunks, total)

    def rewind(self) -> bool:
        """Take back everything written (``recv``: the data of a session given up for
        another); False when that cannot be done — standard output, a device or FIFO — and
        something was written."""
        if not self.written:
            return True
        f = self._f
        if self.is_stdout or f is None or not f.seekable():
            return False
        self._pending, self._pending_bytes = [], 0
        f.flush()
        f.seek(0)
        f.truncate()
        self.written = 0
        return True

    def flush(self) -> None:
        """Write out what is queued and flush it (nothing to do before the first write)."""
        if self._f is not None:
            self._write_out()
            self._f.flush()

    def finish(self, keep_empty: bool) -> None:
        """Close the output; the temporary file replaces FILE if anything was written, or
        (``keep_empty``: a successful empty session) an empty FILE is created.  OSError when
        the data cannot be written out."""
        if self.is_stdout:
            with contextlib.suppress(OSError):
                self.flush()
            return
        if self._f is None:
            if not keep_empty:
                return  # nothing arrived: FILE is left as it was
            self._open()
        f = self._f
        assert f is not None
        try:
            self._write_out()
            self._f = None
            f.close()
            if self._tmp is not None:
                os.replace(self._tmp, self.path or "")
                self._tmp = None
        finally:
            if self._tmp is not None:
                with contextlib.suppress(OSError):
                    os.unlink(self._tmp)


def _descriptor(f: IO[bytes]) -> int | None:
    """``f``'s file descriptor, or None when it has none (a capture in tests)."""
    try:
        return f.fileno()
    except (OSError, ValueError, AttributeError):
        return None


def _writev_all(fd: int, chunks: list[bytes], total: int) -> None:
    """Write every byte of ``chunks`` (``total`` bytes) to ``fd``, resuming partial writes."""
    todo: list[bytes | memoryview] = list(chunks)
    while True:
        n = os.writev(fd, todo)
        if n == total:
            return
        if n <= 0:
            raise OSError(errno.EIO, f"writev wrote {n} of {total} bytes")
        total -= n
        i = 0
        while n >= len(todo[i]):
            n -= len(todo[i])
            i += 1
        todo = todo[i:]
        if n:
            todo[0] = memoryview(todo[0])[n:]
