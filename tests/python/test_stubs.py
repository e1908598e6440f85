"""The type stubs agree with the code, so that a change on one side fails CI.

- mypy's stubtest imports the built native module ``maxk._maxk`` and compares every name,
  parameter and default with ``python/maxk/_maxk.pyi``;
- mypy type-checks the public module ``maxk`` (its inline annotations and how it calls the
  native module through the stubs).

mypy is pinned in requirements.in / requirements.txt.
"""

from __future__ import annotations

import pathlib
import subprocess
import sys



def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True, check=False)


def test_native_stubs_match_the_built_module(tmp_path):
    # stubtest compares names, parameters, kinds and defaults of the runtime module with the
    # stub; numpy's own stubs add nothing to that comparison and are most of mypy's work (30 s
    # of a 35 s run), so its imports are not followed (numpy types read as Any here; the strict
    # check below follows them).
    config = tmp_path / "mypy.ini"
    config.write_text("[mypy]\nfollow_imports = skip\n")
    result = _run("mypy.stubtest", "--mypy-config-file", str(config), "maxk._maxk")
    assert result.returncode == 0, result.stdout + result.stderr


def test_public_module_type_checks_against_the_stubs(tmp_path):
    # The source tree, where ``maxk._maxk`` is only its stub: mypy sees exactly what the stubs
    # promise. Imports (numpy, torch) are followed silently for their types.
    source = pathlib.Path(__file__).resolve().parents[2] / "python"
    config = tmp_path / "mypy.ini"
    config.write_text("[mypy]\nstrict = True\nfollow_imports = silent\n")
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", str(config), "--no-incremental",
         "--cache-dir", str(tmp_path / "cache"), "maxk/__init__.py", "maxk/_maxk.pyi"],
        capture_output=True, text=True, check=False, cwd=source,
    )
    assert result.returncode == 0, result.stdout + result.stderr
