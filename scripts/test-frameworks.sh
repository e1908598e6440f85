#!/usr/bin/env bash
# Tests the SkyRL, slime and rLLM adapters (python/maxk/integrations/{skyrl,slime,rllm}.py)
# against the frameworks themselves.
#
#   scripts/test-frameworks.sh [pytest args...]
#
# - SkyRL: skyrl 0.4.0 and skyrl-gym 0.4.0 from PyPI in their own venv ($MAXK_SKYRL_VENV,
#   default .venv-skyrl), since SkyRL pins ray 2.57 and transformers 5.6+ against verl's. SkyRL
#   declares Python >= 3.12; on an older interpreter its wheels are installed with
#   --ignore-requires-python and without their CUDA/GPU extras (flash-attn, vLLM), and only the
#   modules of the advantage step are imported (tests/python/conftest.py, skyrl_ppo_utils).
# - slime and rLLM are not on PyPI (their own install is `pip install -e .` of a checkout): give
#   their source trees as SLIME_SRC and RLLM_SRC; they run in the main test venv
#   ($MAXK_VENV, made by scripts/test-python.sh). Without them their tests skip.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
SKYRL_VENV="${MAXK_SKYRL_VENV:-$ROOT/.venv-skyrl}"
MAIN_VENV="${MAXK_VENV:-$ROOT/.venv}"
SKYRL_VERSION="0.4.0"
UV_VERSION="0.13.9"
if [[ -z "${SSL_CERT_FILE:-}" && -n "${PIP_CERT:-}" ]]; then
    export SSL_CERT_FILE="$PIP_CERT"
fi

status=0

echo "== SkyRL $SKYRL_VERSION ($SKYRL_VENV)"
PY="$SKYRL_VENV/bin/python"
[[ -x "$PY" ]] || python3 -m venv "$SKYRL_VENV"
"$SKYRL_VENV/bin/uv" --version 2>/dev/null | grep -q " $UV_VERSION" || "$PY" -m pip install --quiet "uv==$UV_VERSION"
# The imports of SkyRL's advantage step and config (its wheel's core requirements, less the GPU ones).
UV_PYTHON="$PY" "$SKYRL_VENV/bin/uv" pip install --quiet "torch==2.15.0" numpy "pytest==9.2.0" "maturin==1.16.0" \
    "ray[default]==2.57.0" jaxtyping loguru omegaconf "hydra-core==1.3.4" cloudpathlib pyyaml \
    "transformers>=5.6.1,<=5.16.1" "datasets>=4.0.0" tensordict polars orjson aiohttp httpx pybase64
WHEELS="$(mktemp -d)"
trap 'rm -rf "$WHEELS"' EXIT
"$PY" -m pip download --quiet --no-deps --python-version 3.12 --only-binary=:all: -d "$WHEELS" \
    "skyrl==$SKYRL_VERSION" "skyrl-gym==$SKYRL_VERSION"
"$PY" -m pip install --quiet --no-deps --ignore-requires-python "$WHEELS"/*.whl
(export PATH="$SKYRL_VENV/bin:$PATH"; "$PY" -m pip install --quiet --no-build-isolation --force-reinstall --no-deps .)
(cd tests/python && MAXK_REQUIRE_SKYRL=1 "$PY" -m pytest -p no:cacheprovider test_skyrl.py test_docs.py -k "skyrl" "$@") || status=$?

echo "== slime (${SLIME_SRC:-SLIME_SRC unset: skipped}) and rLLM (${RLLM_SRC:-RLLM_SRC unset: skipped})"
[[ -x "$MAIN_VENV/bin/python" ]] || bash scripts/test-python.sh --co -q >/dev/null
(cd tests/python && PYTHONPATH="${SLIME_SRC:-}:${RLLM_SRC:-}" "$MAIN_VENV/bin/python" -m pytest -p no:cacheprovider \
    test_slime.py test_rllm.py test_docs.py -k "slime or rllm" -rs "$@") || status=$?
exit "$status"
