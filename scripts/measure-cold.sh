#!/usr/bin/env bash
# Times the README's two commands as a fresh machine runs them: each in its own fresh clone of
# this repository's HEAD (committed files only), with empty cargo, uv and pip caches; the Rust
# toolchain stays (rustup's toolchains are part of the machine image, not a cache). Prints the
# wall and CPU (user + system) time of each command and of its phases, with the load average,
# for the README's table.
#
#   bash scripts/measure-cold.sh [1|2|both]      default both
#
# The commands are read from the README's first ```bash block (line 1: command 1, line 2:
# command 2), so the script times what the README says. Command 1 is split into its build
# (the same `cargo run` flags, as `cargo build`) and the run itself; command 2 is timed as a
# whole, with the wall time of each of its `== ` phases (the Python dependencies install in the
# background during the Rust phase, so its CPU time is not split). Needs crates.io and PyPI,
# and about 3 GB (command 1) and 15 GB (command 2) of disk under $MEASURE_DIR (default
# $TMPDIR or /tmp); everything is deleted at the end unless MEASURE_KEEP=1. A quiet machine
# gives the README's figures: other jobs inflate the wall times (the CPU times much less).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
which="${1:-both}"
case "$which" in 1 | 2 | both) ;; *)
    echo "usage: bash scripts/measure-cold.sh [1|2|both] (got '$which')" >&2
    exit 2
    ;;
esac

mapfile -t commands < <(awk '/^```bash$/ {on = 1; next} on && /^```/ {exit} on {print}' "$ROOT/README.md")
if [[ ${#commands[@]} -lt 2 ]]; then
    echo "README.md: expected two commands in the first \`\`\`bash block, found ${#commands[@]}" >&2
    exit 1
fi
cmd1="${commands[0]}"
cmd2="${commands[1]}"
if [[ "$cmd1" != "cargo run "*" -- "* ]]; then
    echo "README.md command 1 is not 'cargo run ... -- ...': $cmd1" >&2
    exit 1
fi
build1="cargo build ${cmd1#cargo run }"
build1="${build1%% -- *}"

WORK="$(mktemp -d "${MEASURE_DIR:-${TMPDIR:-/tmp}}/maxk-cold.XXXXXX")"
cleanup() {
    if [[ "${MEASURE_KEEP:-0}" == 1 ]]; then
        echo "kept $WORK"
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT

# rustup's proxies find the toolchains through RUSTUP_HOME (default ~/.rustup), not CARGO_HOME:
# pin it, then point CARGO_HOME at an empty folder (no registry, no git checkouts).
export RUSTUP_HOME="${RUSTUP_HOME:-$HOME/.rustup}"
PATH="$(dirname "$(command -v cargo)"):$PATH"
export PATH CARGO_TERM_COLOR=never
unset CARGO_TARGET_DIR RUSTC_WRAPPER MAXK_VENV

summary=()
load() { cut -d' ' -f1 /proc/loadavg; }

# Prefixes each line with the seconds since the start, as it comes.
stamp() {
    local start=$SECONDS line
    while IFS= read -r line || [[ -n "$line" ]]; do
        printf '[%4d s] %s\n' $((SECONDS - start)) "$line"
    done
}

# phase LABEL DIR COMMAND: runs COMMAND with bash in DIR, output to $WORK/LABEL.log (with the
# seconds since the start before each line), and records its wall and CPU time.
phase() {
    local label="$1" dir="$2" cmd="$3" log="$WORK/$1.log" t status=0 before after
    before="$(load)"
    echo "== $label: $cmd (log $log)"
    t="$( { TIMEFORMAT='%R %U %S'; time (cd "$dir" && bash -c "$cmd" 2>&1 | stamp >"$log"; exit "${PIPESTATUS[0]}"); } 2>&1)" || status=$?
    after="$(load)"
    if [[ $status -ne 0 ]]; then
        tail -40 "$log"
        echo "$label failed (exit status $status)" >&2
        exit "$status"
    fi
    read -r wall user sys <<<"$t"
    local line
    line="$(awk -v l="$label" -v w="$wall" -v u="$user" -v s="$sys" -v a="$before" -v b="$after" \
        'BEGIN { printf "%-22s wall %6.0f s (%4.1f min)  CPU %6.0f s (user %.0f, sys %.0f)  load %s -> %s", l, w, w / 60, u + s, u, s, a, b }')"
    echo "$line"
    summary+=("$line")
}

# fresh NAME: a clone of HEAD in $repo, and empty caches for one command.
fresh() {
    local dir="$WORK/$1"
    repo="$dir/repo"
    git clone --quiet --no-hardlinks "$ROOT" "$repo"
    mkdir -p "$dir/cargo-home" "$dir/uv-cache" "$dir/pip-cache"
    export CARGO_HOME="$dir/cargo-home" UV_CACHE_DIR="$dir/uv-cache" PIP_CACHE_DIR="$dir/pip-cache"
}

commit="$(git -C "$ROOT" rev-parse --short HEAD)"
echo "commit $commit, $(nproc) CPUs, load $(load), $(date -u +%FT%TZ)"
if [[ "$which" != 2 ]]; then
    fresh cmd1
    phase "command 1 build" "$repo" "$build1"
    phase "command 1 run" "$repo" "$cmd1"
fi
if [[ "$which" != 1 ]]; then
    fresh cmd2
    phase "command 2" "$repo" "$cmd2"
    echo "-- command 2 phases (wall, from the start):"
    grep -E '^\[ *[0-9]+ s\] (== |.*(passed|failed))' "$WORK/command 2.log" || true
fi
echo
echo "== summary (commit $commit, $(nproc) CPUs)"
printf '%s\n' "${summary[@]}"
