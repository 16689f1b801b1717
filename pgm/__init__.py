"""pgm — a pure-Python PGM (RFC 3208) reliable-multicast stack.

Layers (see README.md and docs/): :mod:`pgm.wire` (packet codec), the sans-I/O engine, the
transports (raw IP protocol 113, UDP encapsulation) and a Windows-style socket facade.  Only the
layers that do not touch sockets are imported here, so ``import pgm`` works on every OS.

The Windows Reliable Multicast names are available here, loaded on first use:
``pgm.socket(pgm.AF_INET, pgm.SOCK_RDM, pgm.IPPROTO_RM)`` (:mod:`pgm.rm.sock`) and every
constant, structure and error of :mod:`pgm.rm` (``pgm.RM_RATE_WINDOW_SIZE``,
``pgm.RM_SEND_WINDOW``, ``pgm.RMError``, ...).  See docs/windows-porting.md.
"""

import sys
from importlib import import_module
from importlib.util import find_spec
from typing import TYPE_CHECKING, Any

from ._version import __version__

if TYPE_CHECKING:  # the names __getattr__ provides, for type checkers
    from .rm import *  # noqa: F403
    from .rm.sock import RMSocket as RMSocket
    from .rm.sock import socket as socket

__all__ = ["__version__"]

_SOCKET_NAMES = frozenset({"socket", "RMSocket"})


def __getattr__(name: str) -> Any:
    """Load the Windows-style facade lazily: :mod:`pgm.rm` needs only ctypes; ``socket`` and
    ``RMSocket`` import the socket layer, so a bare ``import pgm`` never does."""
    if name in _SOCKET_NAMES:
        return getattr(import_module("pgm.rm.sock"), name)
    if not name.startswith("_") and name not in ("rm", "rmsocket"):
        if "pgm.rm" not in sys.modules and find_spec(f"{__name__}.{name}") is not None:
            # a subpackage not imported yet (`from pgm import io`): the import system loads
            # it after this AttributeError, without pgm.rm
            raise AttributeError(f"module 'pgm' has no attribute {name!r}")
        rm = import_module("pgm.rm")
        if name in rm.__all__:
            value = getattr(rm, name)
            globals()[name] = value  # found once: later look-ups skip this function
            return value
    raise AttributeError(f"module 'pgm' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *import_module("pgm.rm").__all__, *_SOCKET_NAMES})
