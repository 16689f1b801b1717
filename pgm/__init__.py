"""pgm — a pure-Python PGM (RFC 3208) reliable-multicast stack.

Layers (see docs/architecture.md): :mod:`pgm.wire` (packet codec), the sans-I/O engine, the
transports (raw IP protocol 113, UDP encapsulation) and a Windows-style socket facade.  Only the
layers that do not touch sockets are imported here, so ``import pgm`` works on every OS.
"""

from ._version import __version__

__all__ = ["__version__"]
