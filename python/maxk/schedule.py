"""K schedules: K of max@K as a function of the training step.

PKPO (Walder & Karkhanis 2025, arXiv 2505.15201) anneals K during training; every maxk adapter
and the Rust trainer (``[rl.k_schedule]`` in its TOML config) accept the same three schedules,
computed by one implementation, the Rust core's ``maxk_core::KSchedule`` (this module holds the
Python input forms and the adapters' :class:`ScheduledK`):

- ``constant``: ``K(step) = k``;
- ``linear``: from ``start`` at step 0 to ``end`` at step ``steps``, rounded half up, then held:
  ``K(s) = start + floor(((end - start) * 2 * min(s, steps) + steps) / (2 * steps))``;
- ``steps``: a step list ``[(0, k0), (s1, k1), ...]`` with ascending steps starting at 0;
  ``K(s)`` is the K of the last entry whose step is ``<= s``.

Every form can be written as an int (constant), a dict (``{"kind": "linear", "start": 2,
"end": 8, "steps": 1000}``, the TOML/YAML/Hydra form), or a string for command lines:
``"4"``, ``"linear:2:8:1000"``, ``"steps:0=2,100=4,200=8"``.

>>> from maxk.schedule import KSchedule
>>> s = KSchedule.parse("linear:2:8:4")
>>> [s.k_at(t) for t in range(6)]
[2, 4, 5, 7, 8, 8]
>>> KSchedule.parse({"kind": "steps", "milestones": [[0, 2], [10, 4]]}).k_at(12)
4

:class:`ScheduledK` is the one helper the adapters share: it resolves K for the current training
step (the framework's own step where it passes one, else the number of training calls so far),
logs it on the ``maxk.schedule`` logger and keeps the last value for the adapter's metrics.
"""

from __future__ import annotations

import logging
import operator
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from . import _maxk

__all__ = ["KSchedule", "ScheduledK"]

_LOG = logging.getLogger("maxk.schedule")


def _int(name: str, value: Any) -> int:
    """``value`` as a non-negative int: an int, or a string of digits from a command line or a
    YAML file. The ranges of each field are checked by the core (``maxk_core::KSchedule``)."""
    try:
        n = operator.index(value)
    except TypeError:
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            n = int(value)
        else:
            raise TypeError(f"K schedule: {name} must be an integer, got {value!r}") from None
    if n < 0:
        raise ValueError(f"K schedule: {name} = {n} must not be negative")
    return n


@dataclass(frozen=True)
class KSchedule:
    """K as a function of the training step; see the module docs for the three kinds.

    Build it with :meth:`constant`, :meth:`linear`, :meth:`step_list` or :meth:`parse`; the
    constructor validates every field (K >= 1, ``steps >= 1``, milestones ascending from 0).
    The schedule itself is the Rust core's (``maxk_core::KSchedule``, also the trainer's
    ``[rl.k_schedule]``): this class holds its fields and Python's input forms.
    """

    kind: str = "constant"
    k: int | None = None
    start: int | None = None
    end: int | None = None
    steps: int | None = None
    milestones: tuple[tuple[int, int], ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        # Builds (and so validates) the core's schedule and keeps the fields as it read them.
        for name, value in self._native.fields().items():
            object.__setattr__(self, name, tuple(map(tuple, value)) if name == "milestones" else value)

    @cached_property
    def _native(self) -> _maxk.KSchedule:
        if self.kind == "constant":
            return _maxk.KSchedule.constant(_int("k", self.k))
        if self.kind == "linear":
            return _maxk.KSchedule.linear(_int("start", self.start), _int("end", self.end), _int("steps", self.steps))
        if self.kind == "steps":
            return _maxk.KSchedule.steps([(_int("milestone step", s), _int("milestone k", k)) for s, k in self.milestones])
        raise ValueError(f"K schedule: unknown kind {self.kind!r}; known: {', '.join(_maxk.KSchedule.kinds())}")

    def __reduce__(self) -> tuple[Any, ...]:
        # The cached native schedule does not pickle; the fields rebuild it.
        return (type(self), (self.kind, self.k, self.start, self.end, self.steps, self.milestones))

    @classmethod
    def constant(cls, k: int) -> KSchedule:
        """``K(step) = k``."""
        return cls("constant", k=k)

    @classmethod
    def linear(cls, start: int, end: int, steps: int) -> KSchedule:
        """From ``start`` at step 0 to ``end`` at step ``steps`` (rounded half up), then ``end``."""
        return cls("linear", start=start, end=end, steps=steps)

    @classmethod
    def step_list(cls, milestones: Sequence[Sequence[int]]) -> KSchedule:
        """``[(0, k0), (s1, k1), ...]``: K of the last milestone at or before the step."""
        return cls("steps", milestones=tuple((m[0], m[1]) for m in milestones))

    @classmethod
    def parse(cls, value: Any) -> KSchedule:
        """A schedule from an int, a string (``"4"``, ``"linear:2:8:1000"``,
        ``"steps:0=2,100=4"``, read by the core), a mapping with ``kind`` (an omegaconf
        DictConfig works), or a :class:`KSchedule`."""
        if isinstance(value, KSchedule):
            return value
        if isinstance(value, str):
            native = _maxk.KSchedule.parse(value)
            return cls(native.kind, **native.fields())
        if isinstance(value, Mapping) or hasattr(value, "items"):
            d = dict(value.items())
            kind = d.pop("kind", "constant")
            known = {"k", "start", "end", "steps", "milestones"}
            if unknown := set(d) - known:
                raise ValueError(f"K schedule: unknown keys {sorted(unknown)}; known: kind, {', '.join(sorted(known))}")
            if "milestones" in d:
                d["milestones"] = tuple((m[0], m[1]) for m in d["milestones"])
            return cls(str(kind), **d)
        return cls.constant(_int("k", value))

    def k_at(self, step: int) -> int:
        """K at training step ``step`` (>= 0)."""
        return int(self._native.k_at(_int("step", step)))

    def values(self) -> list[int]:
        """Every K the schedule can take (to validate it against a group size up front)."""
        return list(self._native.values())

    def to_dict(self) -> dict[str, Any]:
        """The mapping form, as :meth:`parse` and the trainer's ``[rl.k_schedule]`` read it."""
        fields = self._native.fields()
        if "milestones" in fields:
            fields["milestones"] = [list(m) for m in fields["milestones"]]
        return {"kind": self.kind, **fields}


class ScheduledK:
    """K for each training call of an adapter, from a :class:`KSchedule`.

    ``k(step)`` uses the framework's step when the adapter has one; ``k()`` counts the training
    calls of this process instead (the adapters whose hook receives no step: verl, SkyRL's
    registry, rLLM), so a resumed run restarts the schedule unless ``start_step`` is set.
    Every call logs ``maxk K=<k> at step <s>`` on the ``maxk.schedule`` logger (INFO).
    """

    def __init__(self, schedule: KSchedule | Any, start_step: int = 0) -> None:
        self.schedule = KSchedule.parse(schedule)
        self._calls = _int("start_step", start_step)
        self.last_step: int | None = None
        self.last_k: int | None = None

    def k(self, step: int | None = None) -> int:
        """K for ``step`` (or for the next call when ``step`` is None), logged."""
        if step is None:
            step = self._calls
            self._calls += 1
        k = self.schedule.k_at(step)
        self.last_step, self.last_k = step, k
        _LOG.info("maxk K=%d at step %d", k, step)
        return k
