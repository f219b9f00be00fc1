#!/usr/bin/env bash
# Runs every fuzz target in fuzz/ for SECONDS each (default 600), starting
# from the seeds captured from real peers (fuzz/seeds/TARGET) and the
# corpus of earlier runs (fuzz/corpus/TARGET, not committed). A crash stops
# the run with the input in fuzz/artifacts/TARGET. Prints one line per
# target: executions, coverage (libFuzzer's cov:/ft:), corpus size.
#
#   scripts/fuzz.sh            10 minutes each
#   scripts/fuzz.sh 10         a smoke run (what scripts/test.sh does)
#   scripts/fuzz.sh 600 rtcp   one target
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

seconds="${1:-600}"
shift || true
need_rust
if ! rustup toolchain list | grep -q '^nightly'; then
    rustup toolchain install nightly --profile minimal
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    cargo install --locked cargo-fuzz
fi

cd fuzz
cargo +nightly fuzz build -O
targets=("$@")
if [ "${#targets[@]}" -eq 0 ]; then
    mapfile -t targets < <(cargo +nightly fuzz list)
fi
for target in "${targets[@]}"; do
    mkdir -p "corpus/$target"
    seeds=()
    [ -d "seeds/$target" ] && seeds=("seeds/$target")
    log="$(mktemp)"
    if ! cargo +nightly fuzz run -O "$target" "corpus/$target" "${seeds[@]}" -- \
        -max_total_time="$seconds" -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
        >"$log" 2>&1; then
        tail -60 "$log"
        echo "fuzz $target: FAILED (input in fuzz/artifacts/$target)"
        exit 1
    fi
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    coverage=$(grep -E '^#[0-9]+' "$log" | tail -1 | grep -oE 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+' || true)
    echo "fuzz $target: ${seconds}s, $runs executions, $coverage"
    rm -f "$log"
done
