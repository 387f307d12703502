#!/usr/bin/env bash
# What per-tenant monitoring (vital.tenant_stats(), tenant_stats.rs) costs reads: benchmark 1a
# (point read and latest-20 list as the application role, tenant set once per connection) on
# a server that preloads vital_tenancy, with vital.track_tenant_stats on and off, alternating
# within each round. The goal (issue "Per-tenant monitoring"): on >= 0.95 of off.
#
#   ./bench/tenant_stats.sh           release build, full size; writes its section of docs/benchmarks.md
#   ./bench/tenant_stats.sh --smoke   tiny data, one short round, the installed build
set -euo pipefail
source "$(dirname "$0")/../scripts/lib.sh"
cd "$REPO_ROOT"

SMOKE=0
[ "${1:-}" = "--smoke" ] && SMOKE=1
if [ $SMOKE = 1 ]; then
    ROUNDS=1; SECS=1; ROWS=20000
else
    ROUNDS=${VITAL_BENCH_ROUNDS:-5}; SECS=${VITAL_BENCH_SECONDS:-10}; ROWS=1000000
    ensure_toolchain
    CARGO_TARGET_DIR="$REPO_ROOT/target/bench" install_extension --release
fi
CLIENTS=${VITAL_BENCH_CLIENTS:-4}
CLUSTER=/tmp/vital_bench_stats_cluster
PORT=${VITAL_BENCH_STATS_PORT:-55436}

start_cluster "$CLUSTER" "$PORT" "-c shared_preload_libraries=vital_tenancy"
trap 'stop_cluster "$CLUSTER"' EXIT
export PGHOST=127.0.0.1 PGPORT=$PORT PGUSER=postgres
PSQL=(psql -X -q -At -v ON_ERROR_STOP=1)
"${PSQL[@]}" -d postgres -c "CREATE DATABASE bench"
"${PSQL[@]}" -d bench -c "CREATE EXTENSION vital_tenancy"
say "bench data: $ROWS notes over 100 tenants"
"${PSQL[@]}" -d bench -v rows="$ROWS" -v tenants=100 -f bench/reads_setup.sql

median() { sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
tracking() {  # tracking on|off: server-wide, for the connections pgbench opens next
    "${PSQL[@]}" -d postgres -c "ALTER SYSTEM SET vital.track_tenant_stats = $1" \
        -c "SELECT pg_reload_conf()" >/dev/null
}
tenant_calls() {  # statements counted for the benchmark's tenant (tenant 7)
    "${PSQL[@]}" -d bench -c "SELECT coalesce(sum(calls), 0) FROM vital.tenant_stats()
                               WHERE tenant = 'b0000000-0000-0000-0000-000000000007'"
}
RESULTS=$(mktemp)

compare_tracking() {  # compare_tracking <label> <pgbench script>
    local label=$1 script=$2 on=() off=() r side before out
    say "bench: $label, vital.track_tenant_stats on and off"
    for r in $(seq "$ROUNDS"); do
        for side in $(if [ $((r % 2)) = 1 ]; then echo on off; else echo off on; fi); do
            tracking "$side"
            before=$(tenant_calls)
            out=$(pgbench -n -U bench_app -c "$CLIENTS" -j 2 -T "$SECS" -f "bench/pgbench/$script" bench 2>&1 |
                  awk '/^tps/ {print $3}')
            # The counts prove which side ran with statistics.
            if [ "$side" = on ] && [ "$(tenant_calls)" -le "$before" ]; then
                echo "statements were not counted with tracking on" >&2; exit 1
            fi
            if [ "$side" = off ] && [ "$(tenant_calls)" -ne "$before" ]; then
                echo "statements were counted with tracking off" >&2; exit 1
            fi
            if [ "$side" = on ]; then on+=("$out"); else off+=("$out"); fi
        done
    done
    local a b
    a=$(printf '%s\n' "${on[@]}" | median); b=$(printf '%s\n' "${off[@]}" | median)
    printf '| %s (tps, median of %s x %ss, %s clients) | %.0f | %.0f | %s |\n' "$label" "$ROUNDS" "$SECS" \
        "$CLIENTS" "$a" "$b" "$(awk -v a="$a" -v b="$b" 'BEGIN {printf "%.2f", a / b}')" | tee -a "$RESULTS"
}

compare_tracking "1a. point read by id, tenant set once per connection" vital_point.sql
compare_tracking "1a. latest-20 list, tenant set once per connection" vital_latest.sql
tracking on

if [ $SMOKE = 1 ]; then
    [ "$(wc -l < "$RESULTS")" -eq 2 ] || { echo "expected 2 result lines" >&2; exit 1; }
    exit 0
fi

# Its own section of docs/benchmarks.md, replaced in place (bench/run.sh writes the rest).
section=$(mktemp)
{
    echo "<!-- tenant-stats: written by ./bench/tenant_stats.sh -->"
    echo "## Per-tenant monitoring: statistics on against off"
    echo
    echo "Written by \`./bench/tenant_stats.sh\` on $(date -u +%Y-%m-%d): the same machine and build as"
    echo "above, a server with \`shared_preload_libraries = 'vital_tenancy'\`, the 1a reads as the"
    echo "application role with \`vital.track_tenant_stats\` on and off (server-wide, alternating"
    echo "within each round; the counts are checked to move only when on). Goal: on >= 0.95 of off."
    echo
    echo "| benchmark | stats on | stats off | ratio (on / off throughput) |"
    echo "|---|---|---|---|"
    cat "$RESULTS"
    echo "<!-- tenant-stats end -->"
} > "$section"
if grep -q '^<!-- tenant-stats:' docs/benchmarks.md; then
    awk -v file="$section" '
        /^<!-- tenant-stats:/ {while ((getline line < file) > 0) print line; skip = 1; next}
        /^<!-- tenant-stats end -->/ {skip = 0; next}
        !skip' docs/benchmarks.md > "$section.doc"
    mv "$section.doc" docs/benchmarks.md
else
    { echo; cat "$section"; } >> docs/benchmarks.md
fi
say "wrote its section of docs/benchmarks.md"
cat "$RESULTS"
