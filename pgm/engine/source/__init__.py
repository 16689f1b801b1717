"""The PGM source (sender) engine: :class:`Source` and its parts.

:mod:`.source` holds the public API and the scheduler, :mod:`.txw` the transmit window,
:mod:`.spm` the SPM schedule, :mod:`.repair` the NAK handling and repair queue and :mod:`.info`
the states and the :class:`SourceInfo` snapshot; each opens with its theory of operation.
"""

from ..api import Outgoing
from .source import Source, SourceInfo, SourceState
from .stats import SourceStats

__all__ = ["Outgoing", "Source", "SourceInfo", "SourceState", "SourceStats"]
