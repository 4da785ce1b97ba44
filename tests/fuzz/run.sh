#!/usr/bin/env bash
# Builds every fuzz target once and runs each for SECONDS on its corpus (libFuzzer);
# prints one line per target and exits non-zero when any target crashed.
#
#   bash tests/fuzz/run.sh SECONDS [TARGET...]      (`make fuzz`, and briefly `make test`)
#
# The build uses the pinned stable toolchain (rust-toolchain.toml) with `--sanitizer none`:
# the code under test is safe Rust (unsafe_code = "forbid" in the workspace), so
# AddressSanitizer would find nothing libFuzzer's own checks miss, and without it no
# nightly-only flag is needed. Debug assertions and overflow checks are on.
#
# libFuzzer writes the inputs it finds into the first corpus directory it is given: that is
# a scratch directory of the run under $SWITCHBOARD_FUZZ_OUT (default
# ~/.cache/switchboard/fuzz-runs, where the newest five runs are kept), with the
# repository's corpus (tests/fuzz/corpus/TARGET) second and only read, so a run leaves
# the work tree as it was. A crash's input, log and the scratch corpus stay there;
# the table names the directory.
set -euo pipefail

FUZZ="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$FUZZ/../.." && pwd)"
SECONDS_EACH="${1:?usage: $0 SECONDS [TARGET...]}"
shift
CARGO_FUZZ_ROOT="${SWITCHBOARD_CARGO_FUZZ:-$HOME/.cache/switchboard/cargo-fuzz}"
TARGET_DIR="${SWITCHBOARD_FUZZ_TARGET_DIR:-$HOME/.cache/switchboard/fuzz-target}"
RUNS="${SWITCHBOARD_FUZZ_OUT:-$HOME/.cache/switchboard/fuzz-runs}"
OUT="$RUNS/$(date +%Y%m%d-%H%M%S)"
# Runs kept: this one and the four before it.
KEEP_RUNS=5
BIN="$TARGET_DIR/x86_64-unknown-linux-gnu/release"
export PATH="$CARGO_FUZZ_ROOT/bin:$PATH"

log() { printf '[fuzz] %s\n' "$*"; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

command -v cargo-fuzz >/dev/null || {
    log "cargo-fuzz not found in $CARGO_FUZZ_ROOT: run bash tests/setup.sh"
    exit 1
}
# From the repository root, so that rust-toolchain.toml picks the toolchain.
cd "$REPO"

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    mapfile -t targets < <(cargo fuzz list --fuzz-dir tests/fuzz)
fi

mkdir -p "$OUT"
find "$RUNS" -mindepth 1 -maxdepth 1 -type d -name '20*' | sort | head -n -"$KEEP_RUNS" |
    while read -r old; do rm -rf "$old"; done
start=$(now)
log "building the fuzz targets"
# 16 codegen units: a much shorter build for a few percent of speed.
if ! cargo fuzz build --fuzz-dir tests/fuzz --sanitizer none --target-dir "$TARGET_DIR" \
    --codegen-units 16 >"$OUT/build.log" 2>&1; then
    tail -40 "$OUT/build.log"
    log "build failed: $OUT/build.log"
    exit 1
fi
log "built in $(since "$start") s; running ${#targets[@]} targets for $SECONDS_EACH s each"

dict_of() {
    case "$1" in
        legacy_sse) echo sse ;;
        names) echo names ;;
        import_*) echo config ;;
        *) echo json ;;
    esac
}

# The last value of a libFuzzer statistic in a log.
stat() { sed -n "s/^stat::$2: *//p" "$1" | tail -1; }

rows=()
failed=0
for target in "${targets[@]}"; do
    scratch="$OUT/corpus/$target"
    artifacts="$OUT/artifacts/$target"
    mkdir -p "$scratch" "$artifacts"
    run_log="$OUT/$target.log"
    started=$(now)
    status=0
    "$BIN/$target" "$scratch" "tests/fuzz/corpus/$target" \
        -dict="tests/fuzz/dicts/$(dict_of "$target").dict" \
        -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$artifacts/" >"$run_log" 2>&1 || status=$?
    took=$(since "$started")
    execs=$(stat "$run_log" number_of_executed_units)
    rate=$(awk -v n="${execs:-0}" -v s="$took" 'BEGIN { printf "%d", (s > 0 ? n / s : 0) }')
    # Corpus entries at the end: libFuzzer's last status line ("corp: N/size").
    corpus=$(grep -o 'corp: [0-9]*' "$run_log" | tail -1 | cut -d' ' -f2)
    crashes=$(find "$artifacts" -type f | wc -l)
    if [ "$status" -ne 0 ] || [ "$crashes" -ne 0 ]; then
        failed=1
        [ "$crashes" -ne 0 ] || crashes="exit $status"
        log "$target FAILED: log $run_log, input in $artifacts"
        grep -m1 -A4 'panicked at' "$run_log" || tail -5 "$run_log"
    fi
    rows+=("$(printf '%-22s %12s %8s %9s %8s %8s' "$target" "${execs:-?}" "$took" "$rate" "${corpus:-?}" "$crashes")")
done

printf '\n%-22s %12s %8s %9s %8s %8s\n' target execs seconds execs/s corpus crashes
printf '%s\n' "${rows[@]}"
log "done in $(since "$start") s; logs, scratch corpora and any crash inputs in $OUT"
exit "$failed"
