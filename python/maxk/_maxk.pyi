"""Type stubs of the private native module ``maxk._maxk`` (crates/maxk-py). Use ``maxk`` instead."""

import numpy as np
import numpy.typing as npt

__all__ = [
    "__version__",
    "advantages",
    "grouped_advantages",
    "max_at_k",
    "pass_at_k",
    "estimator_table",
    "scales",
]

__version__: str

def advantages(
    rewards: npt.NDArray[np.float64] | npt.NDArray[np.float32],
    k: int,
    estimator: str = "maxpo",
    scale: str = "none",
) -> npt.NDArray[np.float64] | npt.NDArray[np.float32]: ...
def grouped_advantages(
    scores: npt.NDArray[np.float64] | npt.NDArray[np.float32],
    group_ids: npt.NDArray[np.uint64],
    k: int,
    estimator: str = "maxpo",
    scale: str = "none",
) -> npt.NDArray[np.float64] | npt.NDArray[np.float32]: ...
def max_at_k(
    rewards: npt.NDArray[np.float64] | npt.NDArray[np.float32], k: int
) -> float | npt.NDArray[np.float64]: ...
def pass_at_k(n: int, c: int, k: int) -> float: ...
def estimator_table() -> list[tuple[str, str, bool, bool, str, str, bool, str, int]]: ...
def scales() -> list[str]: ...
