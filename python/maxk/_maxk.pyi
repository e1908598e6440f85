"""Type stubs of the private native module ``maxk._maxk`` (crates/maxk-py). Use ``maxk`` instead."""

from typing import Any, final

import numpy as np
import numpy.typing as npt

__all__ = [
    "__version__",
    "advantages",
    "grouped_advantages",
    "grouped_step",
    "grouped_diagnostics",
    "grouped_max_at_k",
    "small_groups_rules",
    "multi_advantages",
    "max_at_k",
    "pass_at_k",
    "estimator_table",
    "scales",
    "mixture_advantages",
    "mixture_value",
    "mixture_terms",
    "maj_advantages",
    "maj_at_k",
    "plan",
    "KSchedule",
]

__version__: str

def advantages(
    rewards: npt.NDArray[np.float64] | npt.NDArray[np.float32],
    k: int,
    estimator: str = "maxpo",
    scale: str = "none",
    small_groups: str = "error",
) -> npt.NDArray[np.float64] | npt.NDArray[np.float32]: ...
def grouped_advantages(
    scores: npt.NDArray[np.float64] | npt.NDArray[np.float32],
    group_ids: npt.NDArray[np.uint64],
    k: int,
    estimator: str = "maxpo",
    scale: str = "none",
    small_groups: str = "error",
) -> npt.NDArray[np.float64] | npt.NDArray[np.float32]: ...
def grouped_step(
    scores: npt.NDArray[np.float64] | npt.NDArray[np.float32],
    group_ids: npt.NDArray[np.uint64],
    k: int,
    estimator: str = "maxpo",
    scale: str = "none",
    small_groups: str = "error",
) -> tuple[npt.NDArray[np.float64] | npt.NDArray[np.float32], dict[str, Any]]: ...
def grouped_diagnostics(
    rewards: npt.NDArray[np.float64],
    group_ids: npt.NDArray[np.uint64],
    advantages: npt.NDArray[np.float64],
    k: int,
    estimator: str | None = None,
    scale: str = "none",
    small_groups: str = "error",
) -> dict[str, Any]: ...
def grouped_max_at_k(
    rewards: npt.NDArray[np.float64], group_ids: npt.NDArray[np.uint64], k: int
) -> tuple[float | None, int, int]: ...
def multi_advantages(
    rewards: npt.NDArray[np.float64] | npt.NDArray[np.float32],
    ks: list[int],
    estimators: list[str],
    scales: list[str],
    weights: list[float],
    offsets: list[int] | None = None,
) -> npt.NDArray[np.float64] | npt.NDArray[np.float32]: ...
def max_at_k(
    rewards: npt.NDArray[np.float64] | npt.NDArray[np.float32], k: int
) -> float | npt.NDArray[np.float64]: ...
def pass_at_k(n: int, c: int, k: int) -> float: ...
def estimator_table() -> list[tuple[str, str, bool, bool, str, str, bool, str, int]]: ...
def scales() -> list[str]: ...
def small_groups_rules() -> list[str]: ...
def mixture_advantages(
    rewards: npt.NDArray[np.float64] | npt.NDArray[np.float32],
    mixture: str,
    group_ids: npt.NDArray[np.uint64] | None = None,
) -> npt.NDArray[np.float64] | npt.NDArray[np.float32]: ...
def mixture_value(rewards: list[float], mixture: str) -> float: ...
def mixture_terms(mixture: str) -> list[tuple[int, float]] | None: ...
def maj_advantages(
    answers: npt.NDArray[np.uint64],
    correct: npt.NDArray[np.bool_],
    k: int,
    ties: str = "split",
    group_ids: npt.NDArray[np.uint64] | None = None,
) -> npt.NDArray[np.float64]: ...
def maj_at_k(answers: npt.NDArray[np.uint64], correct: npt.NDArray[np.bool_], k: int, ties: str = "split") -> float: ...
def plan(
    rates: list[float], n: int, k: int, target: float | None = None, actions: int | None = None
) -> dict[str, Any]: ...

@final
class KSchedule:
    """The core's validated K schedule (``maxk_core::KSchedule``); see ``maxk.schedule``."""

    @staticmethod
    def constant(k: int) -> KSchedule: ...
    @staticmethod
    def linear(start: int, end: int, steps: int) -> KSchedule: ...
    @staticmethod
    def steps(milestones: list[tuple[int, int]]) -> KSchedule: ...
    @staticmethod
    def parse(text: str) -> KSchedule: ...
    @staticmethod
    def kinds() -> list[str]: ...
    @property
    def kind(self) -> str: ...
    def fields(self) -> dict[str, Any]: ...
    def k_at(self, step: int) -> int: ...
    def values(self) -> list[int]: ...
    def __eq__(self, value: object, /) -> bool: ...
    def __hash__(self) -> int: ...
