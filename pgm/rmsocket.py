"""Compatibility module: the Windows-style socket now lives in :mod:`pgm.rm` (:mod:`pgm.rm.sock`).

``from pgm.rmsocket import RMSocket, socket, DEFAULT_LINGER`` keeps working.
"""

from __future__ import annotations

from .rm.sock import DEFAULT_LINGER, RMSocket, socket

__all__ = ["DEFAULT_LINGER", "RMSocket", "socket"]
