"""``pgm recv``'s output in batches (issue 17, pgm.cli.output): one ``os.writev`` per flush.

:meth:`Output.write` queues, :meth:`Output.flush` writes everything queued with one
``writev`` (partial writes resumed), the queue flushes by itself beyond ``IOV_MAX`` messages,
a rewind drops what is queued too, and a standard output without a descriptor gets plain
writes.  In memory and in a temporary directory: no network.
"""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from pgm.cli import output
from pgm.cli.output import IOV_MAX, Output


class _Writev:
    """``os.writev`` counting calls, optionally writing at most ``limit`` bytes per call."""

    def __init__(self, limit: int | None = None) -> None:
        self.calls = 0
        self.limit = limit
        self._real = os.writev

    def __call__(self, fd: int, bufs: Sequence[Any]) -> int:
        self.calls += 1
        if self.limit is None:
            return self._real(fd, bufs)
        data = b"".join(bytes(b) for b in bufs)[: self.limit]
        return os.write(fd, data)


@pytest.fixture
def writev(monkeypatch: pytest.MonkeyPatch) -> _Writev:
    w = _Writev()
    monkeypatch.setattr(output.os, "writev", w)
    return w


def _messages(n: int) -> list[bytes]:
    return [b"%06d:" % i + bytes([i % 251]) * (i % 97) for i in range(n)]


def test_one_writev_per_flush(tmp_path: Path, writev: _Writev) -> None:
    out = Output(str(tmp_path / "f"))
    msgs = _messages(300)
    for m in msgs[:200]:
        out.write(m)
    assert writev.calls == 0  # queued, not written
    out.flush()
    assert writev.calls == 1
    for m in msgs[200:]:
        out.write(m)
    out.write(b"")  # an empty message queues nothing
    out.finish(keep_empty=False)
    assert writev.calls == 2
    assert (tmp_path / "f").read_bytes() == b"".join(msgs)
    assert out.written == sum(map(len, msgs))


def test_the_queue_flushes_by_itself_beyond_iov_max(tmp_path: Path, writev: _Writev) -> None:
    out = Output(str(tmp_path / "f"))
    msgs = _messages(IOV_MAX * 2 + 5)
    for m in msgs:
        out.write(m)
    assert writev.calls == 2
    out.finish(keep_empty=False)
    assert (tmp_path / "f").read_bytes() == b"".join(msgs)


def test_partial_writes_are_resumed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    w = _Writev(limit=7)
    monkeypatch.setattr(output.os, "writev", w)
    out = Output(str(tmp_path / "f"))
    msgs = _messages(40)
    for m in msgs:
        out.write(m)
    out.flush()
    assert w.calls > 40
    out.finish(keep_empty=False)
    assert (tmp_path / "f").read_bytes() == b"".join(msgs)


def test_rewind_drops_the_queue_too(tmp_path: Path, writev: _Writev) -> None:
    out = Output(str(tmp_path / "f"))
    out.write(b"written ")
    out.flush()
    out.write(b"queued")
    assert out.rewind()
    out.write(b"fresh")
    out.finish(keep_empty=False)
    assert (tmp_path / "f").read_bytes() == b"fresh"


def test_a_fifo_is_written_directly(tmp_path: Path) -> None:
    path = tmp_path / "fifo"
    os.mkfifo(path)
    reader = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        out = Output(str(path))
        out.write(b"abc")
        out.write(b"def")
        out.flush()
        assert os.read(reader, 100) == b"abcdef"
        assert not out.rewind()  # a FIFO cannot be taken back
        out.finish(keep_empty=False)
    finally:
        os.close(reader)


def test_stdout_without_a_descriptor_gets_plain_writes(
    monkeypatch: pytest.MonkeyPatch, writev: _Writev
) -> None:
    buf = io.BytesIO()
    fake = io.TextIOWrapper(buf)
    monkeypatch.setattr(sys, "stdout", fake)
    out = Output("-")
    for m in (b"one", b"two"):
        out.write(m)
    out.finish(keep_empty=False)
    assert buf.getvalue() == b"onetwo"
    assert writev.calls == 0
