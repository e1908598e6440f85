#!/usr/bin/env bash
# Tests the framework adapters that need environments of their own against the frameworks
# themselves: TRL's older releases, ms-swift, SkyRL, slime and rLLM
# (python/maxk/integrations/{trl,swift,skyrl,slime,rllm}.py). The pinned TRL (1.16.0), verl and
# OpenRLHF run in the main suite (scripts/test-python.sh).
#
#   scripts/test-frameworks.sh [pytest args...]
#   MAXK_FRAMEWORKS="trl swift" scripts/test-frameworks.sh  # some of: trl unsloth swift skyrl slime-rllm
#
# - TRL: one venv per release of $MAXK_TRL_VERSIONS (default 1.13.0 1.14.2 1.15.0; 1.15.0 is the
#   newest Unsloth allows), .venv-trl-<version>, each with that TRL and the main suite's torch,
#   transformers, accelerate and datasets, running the suite's own TRL tests unchanged:
#   test_trl.py (the real 3-step CPU GRPO runs, the hook checks) and test_trl_multiprocess.py
#   (accelerate launch, 2 processes).
# - Unsloth: unsloth / unsloth_zoo 2026.10.9 with TRL 1.15.0 in .venv-unsloth:
#   test_trl_unsloth.py (MaxKGRPOTrainer on Unsloth's compiled UnslothGRPOTrainer, on the CPU).
#   Unsloth pins torch < 2.15, whose CUDA wheels would be another ~3 GB download: it is installed
#   with --no-deps next to the main suite's torch 2.15.0, with its other dependencies listed here.
# - ms-swift: ms-swift 4.6.0 from PyPI with its own dependencies (it pins trl < 1.0, peft < 0.21,
#   datasets < 4.8.5) in .venv-swift: test_swift.py and the docs block.
# - SkyRL: skyrl 0.4.0 and skyrl-gym 0.4.0 from PyPI in their own venv ($MAXK_SKYRL_VENV,
#   default .venv-skyrl), since SkyRL pins ray 2.57 and transformers 5.6+ against verl's. SkyRL
#   declares Python >= 3.12: the venv is made with the first Python >= 3.12 found
#   ($MAXK_SKYRL_PYTHON, python3.12-3.14 on PATH, pyenv's installed versions) and SkyRL is
#   installed normally (`pip install skyrl==0.4.0` plus its `skyrl-train` extra less the CUDA
#   build flash-attn). uv cannot download a CPython here (only package registries are reachable)
#   and Debian 12 has no python3.12 package; with no Python >= 3.12 on the machine the script
#   falls back to the wheels installed with --ignore-requires-python on the older interpreter,
#   importing only the modules of the advantage step (tests/python/conftest.py, skyrl_ppo_utils),
#   and says so.
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
FRAMEWORKS="${MAXK_FRAMEWORKS:-trl unsloth swift skyrl slime-rllm}"
wants() { [[ " $FRAMEWORKS " == *" $1 "* ]]; }

# The maxk wheel, built once and installed into every venv below.
WHEEL_DIR="$(mktemp -d)"
trap 'rm -rf "$WHEEL_DIR"' EXIT
[[ -x "$MAIN_VENV/bin/python" ]] || bash scripts/test-python.sh --co -q >/dev/null
"$MAIN_VENV/bin/maturin" build --quiet --release -o "$WHEEL_DIR" >/dev/null
WHEEL="$(ls "$WHEEL_DIR"/maxk-*.whl)"

# new_venv DIR PACKAGES...: a venv with uv, the packages and the maxk wheel.
new_venv() {
    local dir="$1"
    shift
    [[ -x "$dir/bin/python" ]] || python3 -m venv "$dir"
    "$dir/bin/uv" --version 2>/dev/null | grep -q " $UV_VERSION" || "$dir/bin/python" -m pip install --quiet "uv==$UV_VERSION"
    UV_PYTHON="$dir/bin/python" "$dir/bin/uv" pip install --quiet "$@"
    UV_PYTHON="$dir/bin/python" "$dir/bin/uv" pip install --quiet --reinstall --no-deps "$WHEEL"
}

if wants trl; then
    for version in ${MAXK_TRL_VERSIONS:-1.13.0 1.14.2 1.15.0}; do
        venv="$ROOT/.venv-trl-$version"
        echo "== TRL $version ($venv)"
        t0=$(date +%s)
        # requests: TRL 1.13.0's GRPOTrainer imports it at import time; TRL declares it only in its vllm extra
        new_venv "$venv" "trl==$version" "torch==2.15.0" "transformers==5.10.4" "accelerate==1.15.0" \
            "datasets==5.2.0" "pytest==9.2.0" numpy requests
        # TRITON_INTERPRET=1: TRL 1.15.0's GRPOTrainer computes log-probs with a Triton kernel even
        # on the CPU, where it fails in TRL's own loss ("0 active drivers"; 1.16 falls back to
        # torch); Triton's interpreter runs that kernel on the CPU. No effect on the other releases.
        (cd tests/python && TRITON_INTERPRET=1 MAXK_REQUIRE_FRAMEWORKS=1 "$venv/bin/python" -m pytest \
            -p no:cacheprovider -q test_trl.py test_trl_multiprocess.py "$@") || status=$?
        echo "== TRL $version: $(($(date +%s) - t0)) s"
    done
fi

if wants unsloth; then
    echo "== Unsloth 2026.10.9 with TRL 1.15.0 (.venv-unsloth)"
    new_venv "$ROOT/.venv-unsloth" "trl==1.15.0" "torch==2.15.0" "transformers==5.10.4" "accelerate==1.15.0" \
        "datasets==4.8.4" "pytest==9.2.0" numpy requests torchao tyro "peft==0.18.1" cut_cross_entropy einops \
        sentencepiece psutil protobuf hf_transfer pillow regex msgspec bitsandbytes diffusers pydantic typer rich \
        structlog json5 nest-asyncio
    UV_PYTHON="$ROOT/.venv-unsloth/bin/python" "$ROOT/.venv-unsloth/bin/uv" pip install --quiet --no-deps \
        "unsloth==2026.10.9" "unsloth_zoo==2026.10.9"
    (cd tests/python && "$ROOT/.venv-unsloth/bin/python" -m pytest -p no:cacheprovider -q test_trl_unsloth.py \
        "$@") || status=$?
fi

if wants swift; then
    echo "== ms-swift 4.6.0 (.venv-swift)"
    # msgspec: imported by swift.rlhf_trainers but not declared by ms-swift 4.6.0
    new_venv "$ROOT/.venv-swift" "ms-swift==4.6.0" msgspec "torch==2.15.0" "pytest==9.2.0" numpy
    (cd tests/python && MAXK_REQUIRE_FRAMEWORKS=1 "$ROOT/.venv-swift/bin/python" -m pytest -p no:cacheprovider -q \
        test_swift.py test_docs.py -k "swift" "$@") || status=$?
fi


# A Python >= 3.12 for SkyRL, or none.
find_python312() {
    local c v
    for c in "${MAXK_SKYRL_PYTHON:-}" python3.14 python3.13 python3.12 \
        "$(command -v pyenv >/dev/null && pyenv root)"/versions/3.1[234]*/bin/python3; do
        [[ -n "$c" ]] || continue
        v="$("$c" -c 'import sys; print(int(sys.version_info >= (3, 12)))' 2>/dev/null)" || continue
        if [[ "$v" == 1 ]]; then command -v "$c"; return 0; fi
    done
    return 1
}

if wants skyrl; then
    PY312="$(find_python312 || true)"
    echo "== SkyRL $SKYRL_VERSION ($SKYRL_VENV) with ${PY312:-no Python >= 3.12 found: python3 and --ignore-requires-python}"
    PY="$SKYRL_VENV/bin/python"
    if [[ -x "$PY" && -n "$PY312" ]] && ! "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 12))'; then
        echo "   $SKYRL_VENV has Python < 3.12 and $PY312 is available: recreating it"
        rm -rf "$SKYRL_VENV"
    fi
    [[ -x "$PY" ]] || "${PY312:-python3}" -m venv "$SKYRL_VENV"
    "$SKYRL_VENV/bin/uv" --version 2>/dev/null | grep -q " $UV_VERSION" || "$PY" -m pip install --quiet "uv==$UV_VERSION"
    # SkyRL's skyrl-train extra (its training stack: ray, hydra, tensordict, ...) less flash-attn,
    # which compiles against CUDA; torch and transformers pinned to the main test venv's versions.
    TRAIN_EXTRA=("torch==2.15.0" numpy "pytest==9.2.0" "maturin==1.16.0" "ray[default]==2.57.0" jaxtyping loguru
        omegaconf "hydra-core==1.3.4" cloudpathlib pyyaml "transformers>=5.6.1,<=5.16.1" "datasets>=4.0.0" tensordict
        polars orjson aiohttp httpx pybase64 tqdm accelerate torchdata "peft==0.18.1" func_timeout)
    if [[ -n "$PY312" ]]; then
        UV_PYTHON="$PY" "$SKYRL_VENV/bin/uv" pip install --quiet "${TRAIN_EXTRA[@]}" \
            "skyrl==$SKYRL_VERSION" "skyrl-gym==$SKYRL_VERSION"
    else
        UV_PYTHON="$PY" "$SKYRL_VENV/bin/uv" pip install --quiet "${TRAIN_EXTRA[@]}"
        mkdir -p "$WHEEL_DIR/skyrl"
        "$PY" -m pip download --quiet --no-deps --python-version 3.12 --only-binary=:all: -d "$WHEEL_DIR/skyrl" \
            "skyrl==$SKYRL_VERSION" "skyrl-gym==$SKYRL_VERSION"
        "$PY" -m pip install --quiet --no-deps --ignore-requires-python "$WHEEL_DIR/skyrl"/*.whl
    fi
    "$PY" -c 'import sys, skyrl; print("   Python", sys.version.split()[0], "skyrl from", skyrl.__path__[0])'
    UV_PYTHON="$PY" "$SKYRL_VENV/bin/uv" pip install --quiet --reinstall --no-deps "$WHEEL"
    (cd tests/python && MAXK_REQUIRE_SKYRL=1 "$PY" -m pytest -p no:cacheprovider test_skyrl.py test_docs.py -k "skyrl" "$@") || status=$?
fi

if wants slime-rllm; then
    echo "== slime (${SLIME_SRC:-SLIME_SRC unset: skipped}) and rLLM (${RLLM_SRC:-RLLM_SRC unset: skipped})"
    UV_PYTHON="$MAIN_VENV/bin/python" "$MAIN_VENV/bin/uv" pip install --quiet --reinstall --no-deps "$WHEEL"
    (cd tests/python && PYTHONPATH="${SLIME_SRC:-}:${RLLM_SRC:-}" "$MAIN_VENV/bin/python" -m pytest -p no:cacheprovider \
        test_slime.py test_rllm.py test_docs.py -k "slime or rllm" -rs "$@") || status=$?
fi
exit "$status"
