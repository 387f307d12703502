#!/usr/bin/env bash
# The VITAL pages on Citus against one node: how many shards each page query touches, and its
# latency p50 / p99 as the Digital Health Startup app, on the same data in the same run.
#
#   ./bench/citus.sh            writes docs/benchmarks-citus.md
#   ./bench/citus.sh --smoke    tiny data, one short run: checks that the script still works
#
# Both sides: the migrated VITAL database grown by bench/pages_setup.sql, the tenant set per
# transaction (BEGIN; set_tenant(t, true); page; COMMIT), pgbench with the same clients. On
# Citus the tables are distributed by vital.distribute() (coordinator + two workers on this
# machine: the workers share its cores, so the latencies show Citus's overhead, not its scale).
set -euo pipefail
source "$(dirname "$0")/../scripts/lib.sh"
cd "$REPO_ROOT"
export VITAL_CITUS_COORD_PORT=55460 VITAL_CITUS_W1_PORT=55461 VITAL_CITUS_W2_PORT=55462
export VITAL_CITUS_COORD_DIR=/tmp/vital_bench_citus_coord VITAL_CITUS_W1_DIR=/tmp/vital_bench_citus_w1 \
       VITAL_CITUS_W2_DIR=/tmp/vital_bench_citus_w2
source scripts/citus.sh
reserve_test_ports

SMOKE=0
[ "${1:-}" = "--smoke" ] && SMOKE=1
if [ $SMOKE = 1 ]; then
    SECS=1; MESSAGES=22000; SESSIONS=2200; KNOWLEDGE=2200
else
    SECS=${VITAL_BENCH_SECONDS:-20}; MESSAGES=220000; SESSIONS=11000; KNOWLEDGE=22000
fi
CLIENTS=4
SINGLE_DIR=/tmp/vital_bench_single
SINGLE_PORT=55463
DHS=11111111-1111-1111-1111-111111111111

status=0
ensure_citus || status=$?
[ "$status" -eq 0 ] || { echo "Citus is not available (see above)" >&2; exit 1; }
cleanup() { stop_citus_cluster >/dev/null 2>&1 || true; stop_cluster "$SINGLE_DIR" >/dev/null 2>&1 || true; }
trap cleanup EXIT

say "bench (Citus): one node on $SINGLE_PORT, a coordinator and two workers on ${CITUS_PORTS[*]}"
start_cluster "$SINGLE_DIR" "$SINGLE_PORT"
psql -X -q -h 127.0.0.1 -p "$SINGLE_PORT" -U postgres -d postgres -c "CREATE DATABASE pages"
start_citus_cluster >/dev/null
citus_create_database pages >/dev/null

load() {   # PORT: the migrated VITAL database, grown
    PGHOST=127.0.0.1 PGPORT=$1 PGUSER=postgres PGDATABASE=pages VITAL_SKIP_BACKUP=1 bash -c '
        psql -X -q -v ON_ERROR_STOP=1 -c "CREATE EXTENSION vital_tenancy" -f examples/vital/schema.sql -f examples/vital/seed.sql &&
        examples/vital/migrate.sh apply all > /tmp/vital_bench_citus_migrate.log 2>&1 ' ||
        { tail -20 /tmp/vital_bench_citus_migrate.log; exit 1; }
    psql -X -q -h 127.0.0.1 -p "$1" -U postgres -d pages -v sessions="$SESSIONS" -v messages="$MESSAGES" \
         -v knowledge="$KNOWLEDGE" -f bench/pages_setup.sql > /dev/null
    # pages_setup gives the app a login tenant; here the tenant is set per transaction (a login
    # tenant cannot reach Citus's workers).
    psql -X -q -h 127.0.0.1 -p "$1" -U postgres -d pages -c "ALTER ROLE vital_app_dhs RESET vital.tenant"
}
say "bench data: the VITAL database, migrated, grown to $MESSAGES chat messages, on both"
load "$SINGLE_PORT"
load "${CITUS_PORTS[0]}"
psql -X -q -h 127.0.0.1 -p "${CITUS_PORTS[0]}" -U postgres -d pages -c "SET client_min_messages = warning" \
     -c "SELECT count(*) FROM vital.distribute()" > /dev/null
psql -X -q -h 127.0.0.1 -p "${CITUS_PORTS[0]}" -U postgres -d pages -c "VACUUM ANALYZE"

# Each page as the app runs it behind a pooler, and the same page with the tenant written into
# the query (what a DBA can ask the app to do on Citus: it lets the coordinator pick one shard).
WORK=$(mktemp -d); chmod 777 "$WORK"
pages=(page_agents page_chat page_sessions page_tools page_knowledge)
for p in "${pages[@]}"; do
    query=$(grep -v '^--' "bench/pgbench/$p.sql" | grep -v '^\\' )
    meta=$(grep '^\\' "bench/pgbench/$p.sql" || true)
    { echo "$meta"; echo "BEGIN;"; echo "SELECT vital.set_tenant('$DHS', true);"; echo "$query"; echo "COMMIT;"; } > "$WORK/$p.sql"
    # The tenant filter goes into the first WHERE (or before ORDER BY / GROUP BY when there is none).
    filtered=$(echo "$query" | python3 -c "
import re, sys
q = sys.stdin.read()
cond = \"tenant_id = '$DHS'\"
if re.search(r'\bWHERE\b', q):
    q = re.sub(r'\bWHERE\b', 'WHERE ' + cond + ' AND', q, count=1)
else:
    q = re.sub(r'\s(GROUP BY|ORDER BY)', ' WHERE a.' + cond + r' \1' if ' a ' in q else ' WHERE ' + cond + r' \1', q, count=1)
print(q)")
    { echo "$meta"; echo "BEGIN;"; echo "SELECT vital.set_tenant('$DHS', true);"; echo "$filtered"; echo "COMMIT;"; } > "$WORK/${p}_filtered.sql"
done

# Shards a query reaches: Citus's task count in EXPLAIN, as the superuser with the tenant set
# (the coordinator prunes shards from the query text; row level security applies on the shards).
tasks() {   # SCRIPT
    local sql
    sql=$(grep -v '^\\' "$1" | grep -v -e '^BEGIN;' -e '^COMMIT;' -e 'set_tenant' | sed "s/:s\b/1/g" | tr '\n' ' ')
    psql -X -q -At -h 127.0.0.1 -p "${CITUS_PORTS[0]}" -U postgres -d pages \
         -c "SET vital.tenant = '$DHS'" -c "EXPLAIN $sql" |
        awk '/Task Count:/ {n += $3} END {print n + 0}'
}

latency() {   # PORT SCRIPT -> "p50 p99 n"
    rm -f "$WORK"/lat*
    (cd "$WORK" && pgbench -n -h 127.0.0.1 -p "$1" -U vital_app_dhs -c $CLIENTS -j 2 -T "$SECS" \
        -D sessions_per_tenant="$((SESSIONS / 22))" -l --log-prefix=lat -f "$2" pages > /dev/null)
    cat "$WORK"/lat* | awk '{print $3 / 1000}' | sort -g > "$WORK/sorted"
    percentiles "$WORK/sorted"
}

RESULTS=$(mktemp)
say "bench (Citus): page latency as the Digital Health Startup app, one node vs Citus"
for p in "${pages[@]}"; do
    for variant in "" _filtered; do
        script="$WORK/$p$variant.sql"
        read -r s50 s99 sn <<< "$(latency "$SINGLE_PORT" "$script")"
        read -r c50 c99 cn <<< "$(latency "${CITUS_PORTS[0]}" "$script")"
        shards=$(tasks "$script")
        label="${p#page_}${variant:+ (with tenant_id = \$tenant in the query)}"
        echo "| $label | $shards | $s50 / $s99 | $c50 / $c99 | $sn / $cn |" | tee -a "$RESULTS"
    done
done

if [ $SMOKE = 1 ]; then
    lines=$(wc -l < "$RESULTS")
    [ "$lines" -eq 10 ] || { echo "Citus bench smoke run produced $lines result lines, expected 10" >&2; exit 1; }
    say "Citus bench smoke run: $lines result lines"
    exit 0
fi

{
    echo "# Benchmarks on Citus"
    echo
    echo "Written by \`./bench/citus.sh\` on $(date -u +%Y-%m-%d). Machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB RAM,"
    echo "$("$PG_BIN/postgres" --version), Citus 13.2.2, vital_tenancy as installed (debug build unless"
    echo "\`bench/run.sh\` installed the release one). One node and a Citus cluster (a coordinator and two"
    echo "workers, all on this machine) hold the same data: the migrated VITAL database grown to"
    echo "$MESSAGES chat messages, $SESSIONS sessions and $KNOWLEDGE knowledge rows over 22 tenants."
    echo "pgbench, $CLIENTS clients, $SECS s per page and side, as \`vital_app_dhs\`, each transaction"
    echo "\`BEGIN; SELECT vital.set_tenant(t, true); <page>; COMMIT\`. Latency is the whole transaction."
    echo
    echo "| page | shards the query reaches on Citus | one node p50 / p99 ms | Citus p50 / p99 ms | transactions (one node / Citus) |"
    echo "|---|---|---|---|---|"
    cat "$RESULTS"
    echo
    cat bench/citus_notes.md
} > docs/benchmarks-citus.md
say "wrote docs/benchmarks-citus.md"
cat docs/benchmarks-citus.md
