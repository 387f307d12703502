#!/usr/bin/env bash
# Benchmarks: what tenancy costs, as ratios against the plain-SQL way in the same run.
#
#   ./bench/run.sh            release build, scratch cluster, full sizes; writes docs/benchmarks.md
#   ./bench/run.sh --smoke    tiny sizes, one short round each, against the installed build, on
#                             a scratch cluster of its own: checks that the scripts still run
#
# Every comparison runs the vital way and the plain-SQL way on identical data in the same run,
# alternating which goes first, and reports medians. A ratio is vital's throughput over plain's
# (equivalently plain's time over vital's): 1.00 means tenancy is free, higher is better.
set -euo pipefail
source "$(dirname "$0")/../scripts/lib.sh"
cd "$REPO_ROOT"

SMOKE=0
[ "${1:-}" = "--smoke" ] && SMOKE=1

CLUSTER=/tmp/vital_bench_cluster
PORT=${VITAL_BENCH_PORT:-55435}
if [ $SMOKE = 1 ]; then
    ROUNDS=1; SECS=1; CLONE_TEMPLATES=200; ROWS=20000; REG_ROWS=20000; CALLS=2000
    MESSAGES=22000; SESSIONS=2200; KNOWLEDGE=2200
else
    ROUNDS=${VITAL_BENCH_ROUNDS:-5}; SECS=${VITAL_BENCH_SECONDS:-10}; CLONE_TEMPLATES=33334
    ROWS=1000000; REG_ROWS=1000000; CALLS=100000
    MESSAGES=1000000; SESSIONS=50000; KNOWLEDGE=100000
    ensure_toolchain
    # A target directory of its own keeps the slow fat-LTO build from locking the debug one.
    CARGO_TARGET_DIR="$REPO_ROOT/target/bench" install_extension --release
fi
CLIENTS=${VITAL_BENCH_CLIENTS:-4}

start_cluster "$CLUSTER" "$PORT"
trap 'stop_cluster "$CLUSTER"' EXIT
export PGHOST=127.0.0.1 PGPORT=$PORT PGUSER=postgres
PSQL=(psql -X -q -At -v ON_ERROR_STOP=1)
"${PSQL[@]}" -d postgres -c "CREATE DATABASE bench" -c "CREATE DATABASE pages"
"${PSQL[@]}" -d bench -c "CREATE EXTENSION vital_tenancy"

RESULTS=$(mktemp)
NOTES=$(mktemp)
median() { sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }

sqlbench() {  # sqlbench <db> <script> [psql -v assignments...]: the script prints result rows
    local db=$1 script=$2; shift 2
    say "bench: $script"
    "${PSQL[@]}" -d "$db" "$@" -f "bench/$script" | grep '^|' | tee -a "$RESULTS"
}

pgb() {  # pgb <db> <user> <script> [pgbench args...]: prints "tps latency_ms"
    local db=$1 user=$2 script=$3; shift 3
    pgbench -n -U "$user" -c "$CLIENTS" -j 2 -T "$SECS" -f "bench/pgbench/$script" "$@" "$db" 2>&1 |
        awk '/^latency average/ {lat=$4} /^tps/ {tps=$3} END {if (tps == "") exit 1; print tps, lat}'
}

compare() {  # compare <label> <vital script> <vital user> <plain script> <plain user> [pgbench args]
    local label=$1 vs=$2 vu=$3 ps=$4 pu=$5; shift 5
    local vt=() pt=() vl=() r out
    say "bench: $label"
    for r in $(seq "$ROUNDS"); do
        for side in $(if [ $((r % 2)) = 1 ]; then echo vital plain; else echo plain vital; fi); do
            if [ "$side" = vital ]; then
                out=$(pgb bench "$vu" "$vs" "$@"); vt+=("${out% *}"); vl+=("${out#* }")
            else
                out=$(pgb bench "$pu" "$ps" "$@"); pt+=("${out% *}")
            fi
        done
    done
    local v p l
    v=$(printf '%s\n' "${vt[@]}" | median); p=$(printf '%s\n' "${pt[@]}" | median)
    l=$(printf '%s\n' "${vl[@]}" | median)
    printf '| %s (tps, median of %s x %ss, %s clients) | %.0f | %.0f | %s |\n' \
        "$label" "$ROUNDS" "$SECS" "$CLIENTS" "$v" "$p" "$(ratio "$v" "$p")" | tee -a "$RESULTS"
    echo "$label vital_tps=$v plain_tps=$p vital_latency_ms=$l" >> "$NOTES"
}

# -- cloning (issue: clone_for_tenant) ------------------------------------------------------
sqlbench bench clone.sql -v templates="$CLONE_TEMPLATES" -v rounds="$ROUNDS"

# -- 1. reads and 2. writes -----------------------------------------------------------------
say "bench data: $ROWS notes over 100 tenants, twice"
"${PSQL[@]}" -d bench -v rows="$ROWS" -v tenants=100 -f bench/reads_setup.sql
compare "1a. point read by id, tenant set once per connection" vital_point.sql bench_app plain_point.sql bench_plain
compare "1a. latest-20 list, tenant set once per connection" vital_latest.sql bench_app plain_latest.sql bench_plain
say "bench: server_reads.sql"
PGUSER=bench_app "${PSQL[@]}" -d bench -v calls="$([ $SMOKE = 1 ] && echo 200 || echo 20000)" \
    -f bench/server_reads.sql | grep '^|' | tee -a "$RESULTS"
compare "1b. pooled point read, BEGIN + set_tenant(t, true) + read + COMMIT, one statement per round trip" \
    vital_pooled_point.sql bench_app plain_pooled_point.sql bench_plain
compare "1b. pooled point read, the same four statements in one round trip (simple query)" \
    vital_pooled_point_1rt.sql bench_app plain_pooled_point.sql bench_plain
compare "1b. pooled point read, the same four statements pipelined (extended protocol)" \
    vital_pooled_point_pipeline.sql bench_app plain_pooled_point.sql bench_plain -M extended
compare "2. insert, tenant set once per connection" vital_insert.sql bench_app plain_insert.sql bench_plain
compare "2. update by id, tenant set once per connection" vital_update.sql bench_app plain_update.sql bench_plain

# -- 8. what vital's statement hooks (statement_guard.rs: LOCK and EXPLAIN checks) cost a
#       statement that is neither, and what loading vital at session start costs a connection
#       (session_preload_libraries, which the hooks need from a session's first statement)
"${PSQL[@]}" -d bench -c "DO \$\$ BEGIN
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'bench_hooked') THEN
            CREATE ROLE bench_hooked LOGIN NOSUPERUSER NOBYPASSRLS;
        END IF; END \$\$" \
    -c "GRANT SELECT ON notes_plain TO bench_hooked" \
    -c "ALTER ROLE bench_hooked SET session_preload_libraries = 'vital_tenancy'"
compare "8. point read of a table vital does not manage, in sessions that loaded vital (its hooks run) vs not" \
    plain_point.sql bench_hooked plain_point.sql bench_plain
compare "8. the same, a new connection per read (pgbench -C): loading vital at session start" \
    plain_point.sql bench_hooked plain_point.sql bench_plain -C

# -- 3. registration ------------------------------------------------------------------------
sqlbench bench registration.sql -v rows="$REG_ROWS" -v rounds="$([ $SMOKE = 1 ] && echo 1 || echo 3)"

# -- 6. the privilege model's per-row paths: foreign-key guard and compat propagation -------
sqlbench bench privilege.sql -v rows="$([ $SMOKE = 1 ] && echo 2000 || echo 100000)" \
    -v refs="$([ $SMOKE = 1 ] && echo 1000 || echo 50000)" -v rounds="$ROUNDS"

# -- 7. the event triggers' cost per DDL command, with 500 registered tables ----------------
sqlbench bench ddl.sql -v tables="$([ $SMOKE = 1 ] && echo 20 || echo 500)" \
    -v iterations="$([ $SMOKE = 1 ] && echo 5 || echo 100)" -v rounds="$ROUNDS"

# -- 4. set_tenant's cost -------------------------------------------------------------------
say "bench: set_tenant_cost.sql"
"${PSQL[@]}" -d bench -v calls="$CALLS" -f bench/set_tenant_cost.sql > "$NOTES.st"
grep '^|' "$NOTES.st" | tee -a "$RESULTS"
st_us=$(sed -n 's/^set_tenant_us=//p' "$NOTES.st")
pooled_ms=$(sed -n 's/^1b. pooled point read, BEGIN.* vital_latency_ms=//p' "$NOTES")
share=$(awk -v us="$st_us" -v ms="$pooled_ms" -v c="$CLIENTS" 'BEGIN {printf "%.1f", 100 * us / (ms * 1000 / c)}')
echo "| 4. set_tenant's share of a pooled one-row-read transaction ($st_us us of ${pooled_ms} ms latency at $CLIENTS clients) | $share % | | |" |
    tee -a "$RESULTS"

# -- 5. page latency on the migrated VITAL database -----------------------------------------
say "bench data: the VITAL database, migrated, grown to $MESSAGES chat messages"
"${PSQL[@]}" -d pages -c "CREATE EXTENSION vital_tenancy" -f examples/vital/schema.sql -f examples/vital/seed.sql
PGDATABASE=pages VITAL_ROLE_PREFIX=vital VITAL_SKIP_BACKUP=1 examples/vital/migrate.sh apply all > "$NOTES.migrate" 2>&1 ||
    { cat "$NOTES.migrate"; exit 1; }
"${PSQL[@]}" -d pages -v sessions="$SESSIONS" -v messages="$MESSAGES" -v knowledge="$KNOWLEDGE" \
    -f bench/pages_setup.sql
LOGDIR=$(mktemp -d); chmod 777 "$LOGDIR"
pages=(page_agents page_chat page_sessions page_tools page_knowledge)
say "bench: page latency as the Digital Health Startup app"
(cd "$LOGDIR" && pgbench -n -U vital_app_dhs -c "$CLIENTS" -j 2 -T "$((SECS * 3))" \
    -D sessions_per_tenant="$((SESSIONS / 22))" -l --log-prefix=pages \
    $(for p in "${pages[@]}"; do echo -f "$REPO_ROOT/bench/pgbench/$p.sql"; done) pages > /dev/null)
for i in "${!pages[@]}"; do
    cat "$LOGDIR"/pages* | awk -v s="$i" '$4 == s {print $3 / 1000}' | sort -g > "$LOGDIR/lat"
    read -r p50 p99 n <<< "$(percentiles "$LOGDIR/lat")"
    echo "| 5. page ${pages[$i]#page_}: latency p50 / p99 in ms ($n queries, 1M-row tables) | $p50 / $p99 | target p99 < 200 | |" |
        tee -a "$RESULTS"
done

if [ $SMOKE = 1 ]; then
    lines=$(wc -l < "$RESULTS")
    [ "$lines" -ge 20 ] || { echo "bench smoke run produced $lines result lines, expected 20" >&2; exit 1; }
    say "bench smoke run: $lines result lines"
    say "bench smoke run: per-tenant statistics on and off (bench/tenant_stats.sh --smoke)"
    bench/tenant_stats.sh --smoke
    exit 0
fi

{
    echo "# Benchmarks"
    echo
    echo "Written by \`./bench/run.sh\` on $(date -u +%Y-%m-%d). Machine: $(nproc) cores,"
    echo "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(free -g | awk '/Mem:/ {print $2}') GiB RAM,"
    echo "$("$PG_BIN/postgres" --version), vital_tenancy built with \`--release\`, default postgresql.conf,"
    echo "pgbench with $CLIENTS clients on the same machine (loopback TCP)."
    echo "Each figure is a median over $ROUNDS rounds; vital and the plain-SQL way alternate within a round."
    echo
    echo "| benchmark | vital | plain SQL | ratio (vital / plain throughput) |"
    echo "|---|---|---|---|"
    cat "$RESULTS"
    cat bench/notes.md
} > docs/benchmarks.md
say "wrote docs/benchmarks.md"
stop_cluster "$CLUSTER"
# Per-tenant monitoring's cost, on a server that preloads the library: a section of its own.
bench/tenant_stats.sh
cat docs/benchmarks.md
