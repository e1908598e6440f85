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
