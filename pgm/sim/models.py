"""Link models for experiments: Bernoulli and Gilbert–Elliott loss, delay, jitter, reordering.

Theory of operation
-------------------
A :class:`LinkModel` is the validated, immutable description of the path between a source and
a receiver as a scenario states it (:mod:`pgm.sim.scenario`).  :meth:`LinkModel.links` turns it
into the network's :class:`~pgm.sim.links.Link` objects, one for the downstream direction
(source -> receiver: ODATA, RDATA, parity, SPM, NCF) and one for the upstream direction
(receiver -> source and other receivers: NAK, SPMR).

* **Bernoulli loss** (``loss``) and **delay, jitter, reordering, duplication** map straight onto
  :class:`~pgm.sim.links.Link` fields: the network draws them per copy from its seeded RNG, so a
  model without burst loss or scripted drops is one Link shared by every receiver that uses it.
* **Gilbert–Elliott burst loss** (:class:`GilbertElliott`) is a two-state Markov chain — GOOD and
  BAD, each with its own loss probability, moving GOOD -> BAD with probability ``p`` and BAD ->
  GOOD with ``r`` per packet — so it has state: each receiver gets its own chain, with its own
  RNG derived from the scenario seed and the receiver's name (reproducible, and independent of
  the network's draws).  It runs as the Link's ``drop`` predicate, which the network calls once
  per datagram per Link object: once per packet for a per-receiver Link.
* **Scripted drops** (``drop_sqns``) lose the first transmission of the listed ODATA sequence
  numbers (:func:`~pgm.sim.links.drop_sqns`), per receiver: the known-outcome experiments.

The mean loss of a Gilbert–Elliott chain is ``(p * loss_bad + r * loss_good) / (p + r)``
(:attr:`GilbertElliott.mean_loss`); its mean burst length in the BAD state is ``1 / r``.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from enum import Enum

from .links import DropPredicate, Link, drop_sqns

__all__ = ["GeState", "GilbertElliott", "LinkModel"]


class GeState(Enum):
    """The two states of a Gilbert–Elliott chain."""

    GOOD = "good"
    BAD = "bad"


def _probability(owner: str, name: str, value: float) -> None:
    if not (isinstance(value, int | float) and 0.0 <= value <= 1.0):
        raise ValueError(f"{owner}.{name} must be a probability in [0, 1], not {value!r}")


def _seconds(owner: str, name: str, value: float) -> None:
    if not (isinstance(value, int | float) and value >= 0.0 and math.isfinite(value)):
        raise ValueError(f"{owner}.{name} must be a finite number of seconds >= 0, not {value!r}")


@dataclass(frozen=True)
class GilbertElliott:
    """Parameters of Gilbert–Elliott burst loss (one chain per receiver, see the module doc)."""

    p: float = 0.01
    """Per-packet probability of moving GOOD -> BAD."""
    r: float = 0.25
    """Per-packet probability of moving BAD -> GOOD (mean burst length ``1 / r`` packets)."""
    loss_good: float = 0.0
    """Loss probability in the GOOD state."""
    loss_bad: float = 1.0
    """Loss probability in the BAD state."""

    def __post_init__(self) -> None:
        for name in ("p", "r", "loss_good", "loss_bad"):
            _probability("burst", name, getattr(self, name))
        if self.p + self.r == 0:
            raise ValueError("burst.p and burst.r cannot both be 0")

    @property
    def mean_loss(self) -> float:
        """Long-run loss probability of the chain."""
        return (self.p * self.loss_bad + self.r * self.loss_good) / (self.p + self.r)

    def predicate(self, rng: random.Random) -> DropPredicate:
        """A fresh chain (starting GOOD) as a drop predicate drawing from ``rng``."""
        state = [GeState.GOOD]
        p, r, lg, lb = self.p, self.r, self.loss_good, self.loss_bad
        draw = rng.random

        def lost(data: bytes) -> bool:
            if state[0] is GeState.GOOD:
                if draw() < p:
                    state[0] = GeState.BAD
            elif draw() < r:
                state[0] = GeState.GOOD
            return draw() < (lb if state[0] is GeState.BAD else lg)

        return lost


@dataclass(frozen=True)
class LinkModel:
    """The path between the sources and one receiver (or a group of receivers).

    Times in seconds.  Upstream (NAK, SPMR) traffic gets the same delay and ``upstream_loss``.
    """

    loss: float = 0.0
    """Bernoulli loss: each downstream copy is lost with this probability."""
    burst: GilbertElliott | None = None
    """Gilbert–Elliott burst loss on top of ``loss`` (one chain per receiver)."""
    delay: float = 0.010
    """One-way delay."""
    jitter: float = 0.0
    """Extra delay drawn uniformly from ``[0, jitter)`` per copy (reorders packets)."""
    reorder: float = 0.0
    """Probability that a downstream copy is held back by ``reorder_delay``."""
    reorder_delay: float = 0.0
    """How long a held-back copy is delayed further."""
    duplicate: float = 0.0
    """Probability that a downstream copy arrives twice."""
    upstream_loss: float = 0.0
    """Bernoulli loss on NAKs and SPMRs (receiver -> source, receiver -> receivers)."""
    drop_sqns: tuple[int, ...] = ()
    """Scripted loss: the first ODATA with each of these sequence numbers is lost."""

    def __post_init__(self) -> None:
        for name in ("loss", "reorder", "duplicate", "upstream_loss"):
            _probability("link", name, getattr(self, name))
        for name in ("delay", "jitter", "reorder_delay"):
            _seconds("link", name, getattr(self, name))
        if self.burst is not None and not isinstance(self.burst, GilbertElliott):
            raise ValueError(f"link.burst must be a GilbertElliott, not {self.burst!r}")
        if any(not isinstance(q, int) or not 0 <= q < 1 << 32 for q in self.drop_sqns):
            raise ValueError(f"link.drop_sqns must be 32-bit sequence numbers: {self.drop_sqns}")

    @property
    def stateful(self) -> bool:
        """Whether each receiver needs its own downstream Link (burst chain, scripted drops)."""
        return self.burst is not None or bool(self.drop_sqns)

    @property
    def mean_loss(self) -> float:
        """Expected downstream loss probability (Bernoulli and burst combined)."""
        burst = self.burst.mean_loss if self.burst is not None else 0.0
        return 1.0 - (1.0 - self.loss) * (1.0 - burst)

    def downstream(self, rng: random.Random | None = None) -> Link:
        """The source -> receiver Link; ``rng`` drives a burst chain (required with ``burst``)."""
        drop = self._drop(rng)
        return Link(
            loss=self.loss,
            delay=self.delay,
            jitter=self.jitter,
            duplicate=self.duplicate,
            reorder=self.reorder,
            reorder_delay=self.reorder_delay,
            drop=drop,
        )

    def upstream(self) -> Link:
        """The receiver -> source (and receiver -> receivers) Link."""
        return Link(loss=self.upstream_loss, delay=self.delay)

    def _drop(self, rng: random.Random | None) -> DropPredicate | None:
        rules: list[DropPredicate] = []
        if self.drop_sqns:
            rules.append(drop_sqns(self.drop_sqns))
        if self.burst is not None:
            if rng is None:
                raise ValueError("a burst-loss link needs an RNG per receiver")
            rules.append(self.burst.predicate(rng))
        if not rules:
            return None
        if len(rules) == 1:
            return rules[0]
        first, second = rules

        def both(data: bytes) -> bool:
            hit = first(data)  # the scripted rule is charged even when the chain also loses
            return second(data) or hit

        return both
