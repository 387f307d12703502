#!/usr/bin/env bash
# Benchmarks: what tenancy costs, as ratios against the plain-SQL way in the same run.
#
#   ./bench/run.sh            release build, scratch cluster, full sizes; writes docs/benchmarks.md
#   ./bench/run.sh --smoke    tiny sizes against whatever vital_tenancy is installed, on a
#                             scratch cluster of its own; checks that the scripts still run
#
# Every benchmark is a psql script in bench/ that prints one or more markdown table rows:
# | what | vital | plain | ratio |, where ratio is vital's throughput over plain's (or plain's
# time over vital's), so 1.00 means "free" and higher is better.
set -euo pipefail
source "$(dirname "$0")/../scripts/lib.sh"
cd "$REPO_ROOT"

SMOKE=0
[ "${1:-}" = "--smoke" ] && SMOKE=1

CLUSTER=/tmp/vital_bench_cluster
PORT=${VITAL_BENCH_PORT:-55435}
if [ $SMOKE = 1 ]; then
    CLONE_TEMPLATES=200; ROUNDS=1
else
    CLONE_TEMPLATES=33334; ROUNDS=5
    ensure_toolchain
    install_extension --release
fi

start_cluster "$CLUSTER" "$PORT"
trap 'stop_cluster "$CLUSTER"' EXIT
PSQL=(psql -X -q -At -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PORT" -U postgres -d postgres)
"${PSQL[@]}" -c "CREATE EXTENSION vital_tenancy" >/dev/null

RESULTS=$(mktemp)
run() {  # run <script> [psql -v assignments...]
    local script=$1; shift
    say "bench: $script"
    "${PSQL[@]}" "$@" -f "bench/$script" | grep '^|' | tee -a "$RESULTS"
}

run clone.sql -v templates="$CLONE_TEMPLATES" -v rounds="$ROUNDS"

if [ $SMOKE = 1 ]; then
    lines=$(wc -l < "$RESULTS")
    [ "$lines" -ge 1 ] || { echo "bench smoke run produced no results" >&2; exit 1; }
    say "bench smoke run: $lines result lines"
    exit 0
fi

{
    echo "# Benchmarks"
    echo
    echo "Written by \`./bench/run.sh\` on $(date -u +%Y-%m-%d). Machine: $(nproc) cores,"
    echo "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(free -g | awk '/Mem:/ {print $2}') GiB RAM,"
    echo "$("$PG_BIN/postgres" --version), vital_tenancy built with \`--release\`, default postgresql.conf."
    echo "Each figure is the median of its rounds; vital and the plain-SQL way alternate within a round."
    echo
    echo "| benchmark | vital | plain SQL | ratio (vital / plain throughput) |"
    echo "|---|---|---|---|"
    cat "$RESULTS"
} > docs/benchmarks.md
say "wrote docs/benchmarks.md"
cat docs/benchmarks.md
