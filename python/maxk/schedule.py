"""K schedules: K of max@K as a function of the training step.

PKPO (Walder & Karkhanis 2025, arXiv 2505.15201) anneals K during training; every maxk adapter
and the Rust trainer (``[rl.k_schedule]`` in its TOML config) accept the same three schedules:

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
from typing import Any

__all__ = ["KSchedule", "ScheduledK"]

_LOG = logging.getLogger("maxk.schedule")
_KINDS = ("constant", "linear", "steps")


def _int(name: str, value: Any, minimum: int) -> int:
    try:
        n = operator.index(value)
    except TypeError:
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            n = int(value)
        else:
            raise TypeError(f"K schedule: {name} must be an integer, got {value!r}") from None
    if n < minimum:
        raise ValueError(f"K schedule: {name} = {n} must be >= {minimum}")
    return n


@dataclass(frozen=True)
class KSchedule:
    """K as a function of the training step; see the module docs for the three kinds.

    Build it with :meth:`constant`, :meth:`linear`, :meth:`steps` or :meth:`parse`; the
    constructor validates every field (K >= 1, ``steps >= 1``, milestones ascending from 0).
    """

    kind: str = "constant"
    k: int | None = None
    start: int | None = None
    end: int | None = None
    steps: int | None = None
    milestones: tuple[tuple[int, int], ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if self.kind not in _KINDS:
            raise ValueError(f"K schedule: unknown kind {self.kind!r}; known: {', '.join(_KINDS)}")
        if self.kind == "constant":
            object.__setattr__(self, "k", _int("k", self.k, 1))
        elif self.kind == "linear":
            object.__setattr__(self, "start", _int("start", self.start, 1))
            object.__setattr__(self, "end", _int("end", self.end, 1))
            object.__setattr__(self, "steps", _int("steps", self.steps, 1))
        else:
            pairs = tuple((_int("milestone step", s, 0), _int("milestone k", k, 1)) for s, k in self.milestones)
            if not pairs or pairs[0][0] != 0:
                raise ValueError(f"K schedule: the step list must start at step 0, got {list(pairs)}")
            for (a, _), (b, _) in zip(pairs, pairs[1:]):
                if b <= a:
                    raise ValueError(f"K schedule: milestone steps must increase, got {a} then {b}")
            object.__setattr__(self, "milestones", pairs)

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
        ``"steps:0=2,100=4"``), a mapping with ``kind`` (an omegaconf DictConfig works), or a
        :class:`KSchedule`."""
        if isinstance(value, KSchedule):
            return value
        if isinstance(value, str):
            return cls._parse_str(value.strip())
        if isinstance(value, Mapping) or hasattr(value, "items"):
            d = dict(value.items())
            kind = d.pop("kind", "constant")
            known = {"k", "start", "end", "steps", "milestones"}
            if unknown := set(d) - known:
                raise ValueError(f"K schedule: unknown keys {sorted(unknown)}; known: kind, {', '.join(sorted(known))}")
            if "milestones" in d:
                d["milestones"] = tuple((m[0], m[1]) for m in d["milestones"])
            return cls(str(kind), **d)
        return cls.constant(_int("k", value, 1))

    @classmethod
    def _parse_str(cls, text: str) -> KSchedule:
        kind, _, rest = text.partition(":")
        if not rest:
            return cls.constant(_int("k", text, 1))
        if kind == "linear":
            parts = rest.split(":")
            if len(parts) != 3:
                raise ValueError(f"K schedule {text!r}: expected linear:START:END:STEPS, e.g. linear:2:8:1000")
            return cls.linear(*parts)  # type: ignore[arg-type]  # validated by __post_init__
        if kind == "steps":
            try:
                pairs = [tuple(p.split("=")) for p in rest.split(",")]
                milestones = [(s, k) for s, k in pairs]
            except ValueError:
                raise ValueError(f"K schedule {text!r}: expected steps:0=K0,STEP=K1,..., e.g. steps:0=2,100=4") from None
            return cls.step_list(milestones)  # type: ignore[arg-type]
        raise ValueError(f"K schedule {text!r}: expected an integer, linear:START:END:STEPS or steps:0=K0,STEP=K1,...")

    def k_at(self, step: int) -> int:
        """K at training step ``step`` (>= 0)."""
        step = _int("step", step, 0)
        if self.kind == "constant":
            return int(self.k)  # type: ignore[arg-type]
        if self.kind == "linear":
            start, end, steps = int(self.start), int(self.end), int(self.steps)  # type: ignore[arg-type]
            s = min(step, steps)
            return start + ((end - start) * 2 * s + steps) // (2 * steps)
        k = self.milestones[0][1]
        for at, value in self.milestones:
            if at > step:
                break
            k = value
        return k

    def values(self) -> list[int]:
        """Every K the schedule can take (to validate it against a group size up front)."""
        if self.kind == "constant":
            return [int(self.k)]  # type: ignore[arg-type]
        if self.kind == "linear":
            return [int(self.start), int(self.end)]  # type: ignore[arg-type]  # monotone: the extremes
        return [k for _, k in self.milestones]

    def to_dict(self) -> dict[str, Any]:
        """The mapping form, as :meth:`parse` reads it (for resolved-config files)."""
        if self.kind == "constant":
            return {"kind": "constant", "k": self.k}
        if self.kind == "linear":
            return {"kind": "linear", "start": self.start, "end": self.end, "steps": self.steps}
        return {"kind": "steps", "milestones": [list(m) for m in self.milestones]}


class ScheduledK:
    """K for each training call of an adapter, from a :class:`KSchedule`.

    ``k(step)`` uses the framework's step when the adapter has one; ``k()`` counts the training
    calls of this process instead (the adapters whose hook receives no step: verl, SkyRL's
    registry, rLLM), so a resumed run restarts the schedule unless ``start_step`` is set.
    Every call logs ``maxk K=<k> at step <s>`` on the ``maxk.schedule`` logger (INFO).
    """

    def __init__(self, schedule: KSchedule | Any, start_step: int = 0) -> None:
        self.schedule = KSchedule.parse(schedule)
        self._calls = _int("start_step", start_step, 0)
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
