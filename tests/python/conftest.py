"""Shared helpers of the Python test suite.

Framework tests (verl, TRL, OpenRLHF) skip when the framework is not installed, unless
MAXK_REQUIRE_FRAMEWORKS=1 (set by scripts/test-python.sh), where a missing framework fails.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def require(module: str):
    """Imports ``module``; skips the calling test module when it is missing (fails under
    MAXK_REQUIRE_FRAMEWORKS=1)."""
    if os.environ.get("MAXK_REQUIRE_FRAMEWORKS") == "1":
        return importlib.import_module(module)
    return pytest.importorskip(module)


def skyrl_ppo_utils():
    """SkyRL 0.4.0's ``ppo_utils`` (the advantage registry and step), or skip.

    SkyRL declares Python >= 3.12: on 3.11 its ``skyrl.backends`` package ``__init__`` imports the
    Tinker API types, which pydantic rejects below 3.12. On such an interpreter (this project's
    test machines), the package is entered without running that ``__init__``; every module the
    advantage step uses (``ppo_utils``, the config, the registry actor) is SkyRL's own, unchanged.
    """
    import importlib.util
    import sys
    import types

    spec = importlib.util.find_spec("skyrl")
    if spec is None:
        if os.environ.get("MAXK_REQUIRE_SKYRL") == "1":
            raise ImportError("skyrl is not installed (MAXK_REQUIRE_SKYRL=1)")
        pytest.skip("skyrl is not installed (scripts/test-frameworks.sh installs it)", allow_module_level=True)
    if sys.version_info < (3, 12) and "skyrl.backends" not in sys.modules:
        package = types.ModuleType("skyrl.backends")
        package.__path__ = [str(Path(spec.submodule_search_locations[0]) / "backends")]
        sys.modules["skyrl.backends"] = package
    return importlib.import_module("skyrl.backends.skyrl_train.utils.ppo_utils")


def ray_init(attempts: int = 3, **kwargs):
    """``ray.init(**kwargs)``, retried when the local node misses Ray's fixed 30 s start-up
    deadline ("The current node timed out during startup"), which a loaded 2-core machine can."""
    import ray

    for attempt in range(attempts):
        try:
            return ray.init(**kwargs)
        except Exception as e:  # noqa: BLE001 - Ray raises a bare Exception for this
            if "timed out during startup" not in str(e) or attempt == attempts - 1:
                raise
            ray.shutdown()
