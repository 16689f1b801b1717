"""Scenario files for ``pgm sim``: sources, receivers, links, transfer, seed — and sweeps.

Theory of operation
-------------------
A scenario is a TOML file (read with the standard library's :mod:`tomllib`, Python 3.11+) or
the same structure as JSON (any Python).  :func:`load` reads it into a plain ``dict``;
:func:`parse` validates that dict into a frozen :class:`Scenario`.  Keeping the dict around
makes sweeps simple: :func:`override` sets one dotted parameter in a copy of the dict and the
copy is parsed again, so every point of a sweep is validated exactly like a file.

Engine settings pass through by name: every key of ``[source]`` / ``[[sources]]`` other than
``name``, ``start`` and ``transfer`` is a :class:`~pgm.engine.SourceConfig` field, every key of
``[receivers]`` / ``[[receivers]]`` other than ``count``, ``name``, ``join_at`` and ``link`` a
:class:`~pgm.engine.ReceiverConfig` field, and the dataclasses validate them — so a field added
to either config (FEC, late join, ...) works in scenarios the day it lands.  Lists become
tuples (``spm_heartbeats``).  One sim default differs from the engine's: receivers do not verify
checksums (``verify_checksum = false``; the simulated network corrupts nothing) unless the
scenario says so.

Sweep parameters (:func:`override`): ``receivers`` (the count of every receiver group),
``loss`` (every group's link loss), ``seed``, ``messages``, or a dotted path — ``source.FIELD``,
``receiver.FIELD``, ``link.FIELD``, ``burst.FIELD``, ``transfer.FIELD`` — applied to every
source / receiver group.  See docs/sim.md for the format.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from ..engine import ReceiverConfig, SourceConfig
from .models import GilbertElliott, LinkModel

__all__ = [
    "ReceiverGroup",
    "Scenario",
    "ScenarioError",
    "SourceSpec",
    "Sweep",
    "Transfer",
    "load",
    "override",
    "parse",
    "parse_sweep",
]

MAX_RECEIVERS = 65_000
"""Receivers per scenario (addresses 10.1.0.1 onwards; memory grows with each)."""

_SOURCE_KEYS = frozenset({"name", "start", "transfer"})
_GROUP_KEYS = frozenset({"count", "name", "join_at", "link"})
_TOP_KEYS = frozenset(
    {"name", "seed", "group", "time_limit", "capture", "transfer", "source", "sources"}
    | {"receivers", "sweep", "description"}
)
_ALIASES = {
    "receivers": ("receivers", ".", "count"),
    "loss": ("link", ".", "loss"),
    "messages": ("transfer", ".", "messages"),
}

C = TypeVar("C")


class ScenarioError(ValueError):
    """A scenario file that cannot be read or does not describe a valid experiment."""


@dataclass(frozen=True)
class Transfer:
    """What each source sends: ``messages`` of ``message_size`` bytes."""

    messages: int = 1000
    """Number of messages (APDUs)."""
    message_size: int = 1000
    """Bytes per message; at most the source's ``max_tsdu`` keeps one message per packet."""

    def __post_init__(self) -> None:
        if not isinstance(self.messages, int) or self.messages < 1:
            raise ScenarioError(f"transfer.messages must be an integer >= 1: {self.messages!r}")
        if not isinstance(self.message_size, int) or self.message_size < 1:
            raise ScenarioError(f"transfer.message_size must be >= 1: {self.message_size!r}")

    @property
    def total_bytes(self) -> int:
        """Application bytes sent by each source."""
        return self.messages * self.message_size


@dataclass(frozen=True)
class SourceSpec:
    """One source: its engine configuration, when it starts, what it sends."""

    name: str
    config: SourceConfig
    transfer: Transfer
    start: float = 0.01
    """Virtual time of the first send (seconds)."""


@dataclass(frozen=True)
class ReceiverGroup:
    """``count`` receivers alike: configuration, link model, join time."""

    name: str
    count: int
    config: ReceiverConfig
    link: LinkModel
    join_at: float = 0.0
    """Virtual time they join the group (> 0: late joiners)."""


@dataclass(frozen=True)
class Sweep:
    """One parameter and the values a sweep runs the scenario with."""

    param: str
    values: tuple[Any, ...]

    def __post_init__(self) -> None:
        if not self.values:
            raise ScenarioError(f"sweep of {self.param!r} has no values")


@dataclass(frozen=True)
class Scenario:
    """A validated experiment (build one with :func:`parse` or :func:`load` + :func:`parse`)."""

    name: str
    seed: int
    group: str
    sources: tuple[SourceSpec, ...]
    receivers: tuple[ReceiverGroup, ...]
    time_limit: float
    """Virtual seconds after which the run stops even if receivers are still waiting."""
    capture: tuple[str, ...] = ()
    """Node names ("s0", "r3") whose traffic is written to a pcap file each."""
    sweep: Sweep | None = None
    raw: Mapping[str, Any] = dataclasses.field(default_factory=dict, compare=False, repr=False)
    """The dict it was parsed from (for sweeps and the results folder)."""

    @property
    def receiver_count(self) -> int:
        """Receivers in all groups."""
        return sum(g.count for g in self.receivers)


# -- reading -------------------------------------------------------------------------------------


def load(path: str | Path) -> dict[str, Any]:
    """Read a scenario file (``.toml``, or ``.json``) into a dict; ScenarioError if unreadable."""
    p = Path(path)
    try:
        text = p.read_bytes()
    except OSError as e:
        raise ScenarioError(f"cannot read scenario {p}: {e.strerror or e}") from None
    if p.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except (ValueError, UnicodeDecodeError) as e:
            raise ScenarioError(f"{p}: not valid JSON: {e}") from None
    else:
        data = _toml(p, text)
    if not isinstance(data, dict):
        raise ScenarioError(f"{p}: a scenario is a table (object) at the top level")
    data.setdefault("name", p.stem)
    return data


def _toml(p: Path, text: bytes) -> dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib

        try:
            return tomllib.loads(text.decode("utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
            raise ScenarioError(f"{p}: not valid TOML: {e}") from None
    raise ScenarioError(
        f"{p}: TOML scenarios need Python 3.11 or later (tomllib); on Python "
        f"{sys.version_info[0]}.{sys.version_info[1]} write the same structure as JSON "
        "(scenario.json)"
    )


# -- validating ----------------------------------------------------------------------------------


def parse(data: Mapping[str, Any]) -> Scenario:
    """Validate a scenario dict (as :func:`load` returns) into a :class:`Scenario`."""
    unknown = set(data) - _TOP_KEYS
    if unknown:
        raise ScenarioError(f"unknown scenario keys {sorted(unknown)} (known: {sorted(_TOP_KEYS)})")
    seed = data.get("seed", 0)
    if not isinstance(seed, int):
        raise ScenarioError(f"seed must be an integer, not {seed!r}")
    transfer = _transfer(data.get("transfer", {}))
    sources = tuple(
        _source(t, i, transfer) for i, t in enumerate(_tables(data, "source", "sources"))
    )
    if not sources:
        sources = (_source({}, 0, transfer),)
    groups = tuple(_group(t, i) for i, t in enumerate(_tables(data, "receivers", "receivers")))
    if not groups:
        raise ScenarioError("a scenario needs receivers: a [receivers] table with count = N")
    total = sum(g.count for g in groups)
    if total > MAX_RECEIVERS:
        raise ScenarioError(f"{total} receivers: at most {MAX_RECEIVERS}")
    time_limit = data.get("time_limit", 300.0)
    if not (isinstance(time_limit, int | float) and time_limit > 0 and math.isfinite(time_limit)):
        raise ScenarioError(f"time_limit must be a positive number of seconds: {time_limit!r}")
    capture = data.get("capture", [])
    if not isinstance(capture, list) or not all(isinstance(c, str) for c in capture):
        raise ScenarioError(f"capture must be a list of node names: {capture!r}")
    sweep = data.get("sweep")
    return Scenario(
        name=str(data.get("name", "scenario")),
        seed=seed,
        group=str(data.get("group", "239.192.0.1")),
        sources=sources,
        receivers=groups,
        time_limit=float(time_limit),
        capture=tuple(capture),
        sweep=None if sweep is None else _sweep(sweep),
        raw=copy.deepcopy(dict(data)),
    )


def _tables(data: Mapping[str, Any], one: str, many: str) -> list[Mapping[str, Any]]:
    """``[one]`` (a table) or ``[[many]]`` (a list of tables) as a list of tables."""
    found: list[Mapping[str, Any]] = []
    for key in dict.fromkeys((one, many)):
        value = data.get(key)
        if value is None:
            continue
        items = [value] if isinstance(value, Mapping) else value
        if not isinstance(items, list) or not all(isinstance(t, Mapping) for t in items):
            raise ScenarioError(f"{key} must be a table or a list of tables")
        found.extend(items)
    return found


def _config(cls: type[C], fields: Mapping[str, Any], where: str) -> C:
    """``cls(**fields)`` with lists as tuples; unknown or invalid fields are ScenarioError."""
    known = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = set(fields) - known
    if unknown:
        raise ScenarioError(
            f"{where}: unknown {cls.__name__} fields {sorted(unknown)} (known: {sorted(known)})"
        )
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in fields.items()}
    try:
        return cls(**values)
    except (ValueError, TypeError) as e:
        raise ScenarioError(f"{where}: {e}") from None


def _number(value: Any, name: str) -> float:
    if not (isinstance(value, int | float) and value >= 0 and math.isfinite(value)):
        raise ScenarioError(f"{name} must be a number >= 0, not {value!r}")
    return float(value)


def _transfer(t: Any, where: str = "transfer") -> Transfer:
    if not isinstance(t, Mapping):
        raise ScenarioError(f"{where} must be a table")
    return _config(Transfer, t, where)


def _source(t: Mapping[str, Any], i: int, transfer: Transfer) -> SourceSpec:
    where = f"sources[{i}]"
    fields = {k: v for k, v in t.items() if k not in _SOURCE_KEYS}
    config = _config(SourceConfig, fields, where)
    own = t.get("transfer")
    return SourceSpec(
        name=str(t.get("name", f"s{i}")),
        config=config,
        transfer=transfer if own is None else _transfer(own, f"{where}.transfer"),
        start=_number(t.get("start", 0.01), f"{where}.start"),
    )


def _group(t: Mapping[str, Any], i: int) -> ReceiverGroup:
    where = f"receivers[{i}]"
    count = t.get("count", 1)
    if not isinstance(count, int) or count < 0:
        raise ScenarioError(f"{where}.count must be an integer >= 0, not {count!r}")
    fields = {"verify_checksum": False}
    fields.update({k: v for k, v in t.items() if k not in _GROUP_KEYS})
    return ReceiverGroup(
        name=str(t.get("name", "r" if i == 0 else f"g{i}r")),
        count=count,
        config=_config(ReceiverConfig, fields, where),
        link=_link(t.get("link", {}), f"{where}.link"),
        join_at=_number(t.get("join_at", 0.0), f"{where}.join_at"),
    )


def _link(t: Any, where: str) -> LinkModel:
    if not isinstance(t, Mapping):
        raise ScenarioError(f"{where} must be a table")
    fields = dict(t)
    burst = fields.pop("burst", None)
    if burst is not None:
        if not isinstance(burst, Mapping):
            raise ScenarioError(f"{where}.burst must be a table (p, r, loss_good, loss_bad)")
        fields["burst"] = _config(GilbertElliott, burst, f"{where}.burst")
    return _config(LinkModel, fields, where)


def _sweep(t: Any) -> Sweep:
    if not isinstance(t, Mapping) or set(t) != {"param", "values"}:
        raise ScenarioError("sweep must be a table with param = NAME and values = [...]")
    values = t["values"]
    if not isinstance(values, list):
        raise ScenarioError("sweep.values must be a list")
    return Sweep(str(t["param"]), tuple(values))


# -- sweeps --------------------------------------------------------------------------------------


def parse_sweep(text: str) -> Sweep:
    """``"receivers=1,10,100"`` -> Sweep (numbers as int or float, else strings, true/false)."""
    param, sep, values = text.partition("=")
    if not sep or not param.strip() or not values.strip():
        raise ScenarioError(f"--sweep wants PARAM=V1,V2,...: {text!r}")
    return Sweep(param.strip(), tuple(_scalar(v.strip()) for v in values.split(",")))


def _scalar(v: str) -> Any:
    if v in ("true", "false"):
        return v == "true"
    for conv in (int, float):
        try:
            return conv(v)
        except ValueError:
            pass
    return v


def override(data: Mapping[str, Any], param: str, value: Any) -> dict[str, Any]:
    """A copy of scenario dict ``data`` with ``param`` set to ``value`` (see the module doc)."""
    out = copy.deepcopy(dict(data))
    out.pop("sweep", None)
    section, _, field = _ALIASES.get(param, tuple(param.partition(".")))
    if not field:
        if section not in _TOP_KEYS or section in ("source", "sources", "receivers", "sweep"):
            raise ScenarioError(f"cannot sweep {param!r}: see docs/sim.md for parameters")
        out[section] = value
        return out
    if section == "transfer":
        out.setdefault("transfer", {})[field] = value
    elif section == "source":
        for t in _ensure(out, "source", "sources"):
            t[field] = value
    elif section in ("receiver", "receivers", "link", "burst"):
        for t in _ensure(out, "receivers", "receivers"):
            if section in ("link", "burst"):
                t = t.setdefault("link", {})
                if section == "burst":
                    t = t.setdefault("burst", {})
            t[field] = value
    else:
        raise ScenarioError(f"cannot sweep {param!r}: see docs/sim.md for parameters")
    return out


def _ensure(out: dict[str, Any], one: str, many: str) -> Sequence[dict[str, Any]]:
    """The tables of ``[one]`` / ``[[many]]`` in ``out``, creating ``[one]`` if neither exists."""
    tables = _tables(out, one, many)
    if not tables:
        out[one] = {}
        tables = [out[one]]
    return tables  # type: ignore[return-value]
