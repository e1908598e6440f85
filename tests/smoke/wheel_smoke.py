"""Smoke tests of an installed ``maxk`` wheel: run by ``scripts/build-wheels.sh`` in a fresh venv
that has only the wheel and numpy (no cargo, no rustc, no pytest).

    python tests/smoke/wheel_smoke.py README.md EXPECTED_VERSION

Runs the README's first Python example exactly as written, then checks a few properties of the
API that hold for any correct build (exact centering, the unbiased pass@k, the registry, errors
as ValueError) and that ``maxk`` was imported from the venv, not from a source tree. Prints one
line per check and a closing ``N passed, N failed`` line; exits 1 on any failure.
"""

from __future__ import annotations

import math
import re
import sys
import traceback
from pathlib import Path
from typing import Callable


def readme_python_example(readme: str) -> str:
    """The first ```python block after the README's "Use it in your RL framework" heading."""
    start = readme.find("## Use it in your RL framework")
    if start < 0:
        raise ValueError("README has no '## Use it in your RL framework' section")
    m = re.search(r"```python\n(.*?)```", readme[start:], re.S)
    if m is None:
        raise ValueError("the README's Python section has no ```python block")
    return m.group(1)


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    readme, expected_version = Path(argv[1]).read_text(encoding="utf-8"), argv[2]

    import numpy as np

    import maxk

    checks: list[tuple[str, Callable[[], None]]] = []

    def check(name: str) -> Callable[[Callable[[], None]], Callable[[], None]]:
        def register(f: Callable[[], None]) -> Callable[[], None]:
            checks.append((name, f))
            return f

        return register

    @check("maxk is the installed package, with its native module")
    def _() -> None:
        where = Path(maxk.__file__).resolve()
        assert "site-packages" in where.parts, f"maxk imported from {where}, not from a venv's site-packages"
        native = Path(maxk._maxk.__file__).name
        # Linux and macOS name an abi3 extension *.abi3.so; Windows names every extension *.pyd.
        assert native.endswith((".abi3.so", ".pyd")), f"native module {native} is not an abi3 build"

    @check("maxk.__version__ is the release version")
    def _() -> None:
        assert maxk.__version__ == expected_version, f"maxk.__version__ {maxk.__version__!r} != {expected_version!r}"

    @check("the README's Python example runs as written")
    def _() -> None:
        namespace: dict[str, object] = {}
        exec(compile(readme_python_example(readme), "README.md python example", "exec"), namespace)
        adv = np.asarray(namespace["adv"])
        assert adv.shape == (6,), f"README example: adv has shape {adv.shape}, expected (6,)"
        assert np.isfinite(adv).all(), f"README example: non-finite advantages {adv}"

    @check("MaxPO advantages sum to zero per group")
    def _() -> None:
        rewards = np.array([[0.1, 0.9, 0.4, 0.4, 0.0, 0.7], [1.0, 0.0, 0.0, 1.0, 0.5, 0.25]])
        adv = maxk.advantages(rewards, k=4)
        assert adv.shape == rewards.shape and adv.dtype == np.float64, (adv.shape, adv.dtype)
        assert np.abs(adv.sum(axis=1)).max() < 1e-12, f"row sums {adv.sum(axis=1)}"
        assert maxk.advantages(rewards.astype(np.float32), k=4).dtype == np.float32

    @check("max@K estimate and pass@k agree with their closed forms")
    def _() -> None:
        assert abs(maxk.max_at_k(np.array([0.0, 1.0, 0.0, 0.0]), 2) - 0.5) < 1e-12
        # pass@k = 1 - C(n-c, k) / C(n, k)
        assert abs(maxk.pass_at_k(10, 3, 4) - (1 - math.comb(7, 4) / math.comb(10, 4))) < 1e-12

    @check("every registry id computes")
    def _() -> None:
        table = maxk.estimators()
        assert {"maxpo", "pkpo", "pkpo-loo1", "grpo", "maxrl"} <= set(table), sorted(table)
        binary = np.array([1.0, 0.0, 0.0, 1.0, 0.0, 0.0])
        for name in table:
            adv = maxk.advantages(binary, k=2, estimator=name)
            assert adv.shape == (6,) and np.isfinite(adv).all(), (name, adv)

    @check("bad input is a ValueError naming the value")
    def _() -> None:
        try:
            maxk.advantages(np.array([0.1, 0.2, 0.3, 0.4]), k=4)
        except ValueError as e:
            assert "k = 4" in str(e), str(e)
        else:
            raise AssertionError("k = N for maxpo did not raise ValueError")

    passed = failed = 0
    for name, f in checks:
        try:
            f()
        except Exception:
            failed += 1
            print(f"FAIL {name}\n{traceback.format_exc()}", flush=True)
        else:
            passed += 1
            print(f"ok   {name}", flush=True)
    print(f"wheel smoke (Python {sys.version.split()[0]}): {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
