#!/usr/bin/env bash
# Builds the release artefacts of the `maxk` Python package into dist/ and checks them the way
# a user gets them:
#
#   dist/maxk-<version>-cp310-abi3-manylinux_2_17_x86_64.manylinux2014_x86_64.whl
#   dist/maxk-<version>.tar.gz
#
#   scripts/build-wheels.sh            (needs python3 >= 3.11, cargo and PyPI)
#
# 1. The release files agree (scripts/check_release.py repo: one version, license files).
# 2. The wheel: `maturin build --release --zig --compatibility manylinux2014`. zig (PyPI
#    `ziglang`, pulled in by `maturin[zig]`) links against glibc 2.17 whatever the build
#    machine's glibc is; one abi3 wheel serves CPython >= 3.10. The sdist: `maturin sdist`.
# 3. `auditwheel show` must find the wheel consistent with manylinux_2_17_x86_64, and the
#    wheel's name, METADATA and license files must match (scripts/check_release.py wheel, sdist).
# 4. The wheel is installed with `pip install --only-binary=:all:` into a fresh venv whose PATH
#    has no cargo and no rustc (checked), once per CPython found among python3 and pyenv's 3.10
#    and 3.13, and tests/smoke/wheel_smoke.py runs there (the README's Python example, API
#    checks). numpy comes from PyPI.
# 5. The sdist is installed with pip (build isolation: maturin from PyPI, cargo from PATH) into
#    another fresh venv, and the smoke tests run again.
#
# Tools live in $MAXK_RELEASE_VENV (default .venv-release), pinned below; the sdist builds in
# target/sdist so that a second run is incremental.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
TOOLS="${MAXK_RELEASE_VENV:-$ROOT/.venv-release}"
OUT="$ROOT/dist"
PLATFORM="manylinux_2_17_x86_64"
MATURIN_VERSION="1.16.0"
AUDITWHEEL_VERSION="6.8.2"
if [[ -z "${SSL_CERT_FILE:-}" && -n "${PIP_CERT:-}" ]]; then
    export SSL_CERT_FILE="$PIP_CERT"
fi
export PIP_DISABLE_PIP_VERSION_CHECK=1

t0=$(date +%s)
step() { echo "== $* ($(($(date +%s) - t0)) s)"; }

step "release files (scripts/check_release.py repo)"
python3 scripts/check_release.py repo
version="$(python3 -c 'import tomllib; print(tomllib.load(open("Cargo.toml", "rb"))["workspace"]["package"]["version"])')"

step "tools: maturin[zig] $MATURIN_VERSION, auditwheel $AUDITWHEEL_VERSION ($TOOLS)"
[[ -x "$TOOLS/bin/python" ]] || python3 -m venv "$TOOLS"
"$TOOLS/bin/python" -m pip install --quiet "maturin[zig]==$MATURIN_VERSION" "auditwheel==$AUDITWHEEL_VERSION"

rm -rf "$OUT"
mkdir -p "$OUT"
step "wheel: maturin build --release --zig --compatibility manylinux2014"
# maturin finds zig as `python3 -m ziglang`: the tools venv comes first on PATH.
PATH="$TOOLS/bin:$PATH" maturin build --release --zig --compatibility manylinux2014 --interpreter python3 --out "$OUT"
step "sdist: maturin sdist"
"$TOOLS/bin/maturin" sdist --out "$OUT"

shopt -s nullglob
wheels=("$OUT"/*.whl)
sdists=("$OUT"/*.tar.gz)
shopt -u nullglob
if [[ ${#wheels[@]} -ne 1 || ${#sdists[@]} -ne 1 ]]; then
    echo "build-wheels: expected one wheel and one sdist in $OUT, found: $(ls "$OUT")" >&2
    exit 1
fi
wheel="${wheels[0]}"
sdist="${sdists[0]}"

step "auditwheel show $(basename "$wheel")"
"$TOOLS/bin/auditwheel" show "$wheel" | tee "$OUT/auditwheel.txt"
python3 scripts/check_release.py wheel "$wheel" --platform "$PLATFORM" --auditwheel "$OUT/auditwheel.txt"
python3 scripts/check_release.py sdist "$sdist"
rm "$OUT/auditwheel.txt"

# PATH without any directory that holds cargo or rustc (rustup's ~/.cargo/bin, a distro's
# /usr/bin, ...): the wheel must install and import with no Rust toolchain at all.
no_rust_path=""
IFS=: read -ra dirs <<<"$PATH"
for d in "${dirs[@]}"; do
    [[ -n "$d" && ! -e "$d/cargo" && ! -e "$d/rustc" ]] && no_rust_path="${no_rust_path:+$no_rust_path:}$d"
done

# The CPythons to install the wheel into: python3, and the abi3 floor (3.10) and a newer one
# (3.13) where pyenv has them.
pythons=("$(command -v python3)")
pyenv_root="$(command -v pyenv >/dev/null && pyenv root || true)"
for minor in 10 13; do
    for c in "$pyenv_root"/versions/3."$minor".*/bin/python3; do
        [[ -x "$c" ]] && { pythons+=("$c"); break; }
    done
done

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
smoke() { # PYTHON...: the smoke tests, run outside the source tree
    (cd "$scratch" && "$@" "$ROOT/tests/smoke/wheel_smoke.py" "$ROOT/README.md" "$version")
}

for i in "${!pythons[@]}"; do
    venv="$scratch/wheel-$i"
    step "wheel into a fresh venv without Rust: $("${pythons[$i]}" --version) ($venv)"
    "${pythons[$i]}" -m venv "$venv"
    without_rust=(env PATH="$venv/bin:$no_rust_path")
    if "${without_rust[@]}" bash -c 'command -v cargo || command -v rustc'; then
        echo "build-wheels: cargo or rustc is still on the PATH of the no-Rust venv" >&2
        exit 1
    fi
    echo "no cargo and no rustc on PATH"
    "${without_rust[@]}" python -m pip install --quiet --only-binary=:all: "$wheel"
    smoke "${without_rust[@]}" python
done

step "sdist into a fresh venv (pip builds it with cargo)"
venv="$scratch/sdist"
python3 -m venv "$venv"
CARGO_TARGET_DIR="$ROOT/target/sdist" "$venv/bin/python" -m pip install --quiet "$sdist"
smoke "$venv/bin/python"

step "done: $(basename "$wheel"), $(basename "$sdist") in dist/"
