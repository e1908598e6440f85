#!/usr/bin/env bash
# The estimator benchmarks behind docs/performance.md and the README's "Benchmarks" section,
# in one command (about 3-5 minutes on a quiet 2-core machine, builds included):
#
#   bash scripts/bench-estimators.sh [OUT_DIR]        (default docs/performance)
#
# 1. `maxk bench` (release build of the estimator filter): one group vs the paper's O(N^2)
#    algorithm, the [4096, 64] batch on one thread and on all vs sorting its rows, [G, N]
#    shapes, mixtures and maj@K vs single-K MaxPO, one huge group through the CLI vs dr-grpo
#    (its files in the temp dir, then again in /dev/shm where there is one).
# 2. benches/python/bench_advantages.py (the wheel, rebuilt from this checkout): the batch vs
#    np.sort and the vectorized numpy MaxPO, f64 and f32, maxk on all threads and on one, and
#    the [G, N] shapes.
# 3. benches/python/bench_scaling.py on one thread: time per group and per sample for
#    N = 2 ... 10^7, written to OUT_DIR/scaling.{csv,md,png}.
#
# Every ratio is printed with its baseline, measured in the same run from interleaved
# repetitions (median [min, max]). Everything printed goes to OUT_DIR/bench-estimators.txt
# too. Needs the Python venv of scripts/test-python.sh ($MAXK_VENV, default .venv): run that
# once first. matplotlib (for the figure) is added to that venv.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="${MAXK_VENV:-$ROOT/.venv}"
PY="$VENV/bin/python"
OUT="${1:-$ROOT/docs/performance}"
MATPLOTLIB_VERSION="3.11.2"
# maturin (the build backend) runs from the venv.
export PATH="$VENV/bin:$PATH"
# numpy's OpenBLAS starts a worker thread per CPU at import that spins waiting for work (about
# 6 % of the samples of a bare np.sort loop here); neither side calls BLAS, and on 2 cores the
# spinner takes time from maxk's second thread. One BLAS thread keeps numpy single-threaded,
# as the tables say it is, and the cores free.
export OPENBLAS_NUM_THREADS=1

if [[ ! -x "$PY" || ! -x "$VENV/bin/uv" ]]; then
    echo "no Python venv at $VENV: run scripts/test-python.sh once first" >&2
    exit 2
fi
mkdir -p "$OUT"
exec > >(tee "$OUT/bench-estimators.txt") 2>&1

t0=$(date +%s)
echo "== $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, load average: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== building maxk (release, estimator filter only) and the wheel"
cargo build --quiet --release -p maxk-cli --no-default-features
"$PY" -m pip install --quiet --no-build-isolation --force-reinstall --no-deps .
"$VENV/bin/uv" pip install --python "$PY" --quiet "matplotlib==$MATPLOTLIB_VERSION"
t1=$(date +%s)
echo "== built in $((t1 - t0)) s"

echo "== maxk bench"
target/release/maxk bench
echo
if [[ -d /dev/shm && -w /dev/shm ]]; then
    # The huge group's files once more in memory: no disk writeback in the spread.
    echo "== maxk bench --only huge, TMPDIR=/dev/shm"
    TMPDIR=/dev/shm target/release/maxk bench --only huge
    echo
fi
echo "== benches/python/bench_advantages.py, maxk on every CPU"
"$PY" benches/python/bench_advantages.py --shapes
echo
echo "== benches/python/bench_advantages.py, maxk on one thread"
RAYON_NUM_THREADS=1 "$PY" benches/python/bench_advantages.py
echo
echo "== benches/python/bench_scaling.py, maxk on one thread"
RAYON_NUM_THREADS=1 "$PY" benches/python/bench_scaling.py --out "$OUT"
echo "== load average after: $(cut -d' ' -f1-3 /proc/loadavg); total $(($(date +%s) - t0)) s"
