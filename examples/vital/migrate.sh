#!/usr/bin/env bash
# The VITAL migration, phase by phase, as a DBA's tool. Connection: the usual libpq variables
# (PGHOST, PGPORT, PGUSER, PGDATABASE); run it as a superuser (a DBA).
#
#   migrate.sh plan     [tenant]             preflight: what each phase would do, what it needs
#                                            and whether it is there; changes nothing; exits 1
#                                            when something a phase needs is missing
#   migrate.sh apply    <1-4|all> [tenant]   the preflight, then (for all) a verified backup,
#                                            then the phase(s) and their verification in one
#                                            transaction (phase 4: all or one tenant's slug)
#   migrate.sh verify   <1-4|all> [tenant]
#   migrate.sh rollback <1-4|all> [tenant]   'all' rolls back 4, 3, 2, 1 (one transaction)
#   migrate.sh backup                        pg_dump -Fc, verified with pg_restore --list,
#                                            recorded in $VITAL_BACKUP_DIR/backups.tsv
#   migrate.sh restore-backup [path] [--force]
#                                            last resort: the database replaced by a backup
#                                            (default: its latest); --force ends other sessions
#   migrate.sh rehearse                      the whole round trip on a copy, then a report
#
# VITAL_ROLE_PREFIX (default vital) names the app roles <prefix>_app_platform|dhs|pharma.
# VITAL_DATA_DIR (default examples/vital/data): the tenants, template selection and seed data.
# VITAL_BACKUP_DIR (default ~/vital-backups): where backups go and are recorded (backups.tsv).
# VITAL_SKIP_BACKUP=1: apply all without the automatic backup (rehearse uses it on its copy).
# VITAL_MAINTENANCE_DB (default postgres): where restore-backup and rehearse connect to create,
# rename and drop databases.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
usage="usage: migrate.sh plan [tenant] | apply|verify|rollback <1-4|all> [tenant] | backup | restore-backup [path] [--force] | rehearse"
action=${1:?$usage}
prefix=${VITAL_ROLE_PREFIX:-vital}
VITAL_DATA_DIR="$(cd "${VITAL_DATA_DIR:-$here/data}" 2>/dev/null && pwd)" \
    || { echo "migrate.sh: data directory ${VITAL_DATA_DIR:-$here/data} does not exist" >&2; exit 2; }
VITAL_MIGRATE="$here/migrate.sh"
export VITAL_DATA_DIR VITAL_MIGRATE
backup_dir=${VITAL_BACKUP_DIR:-$HOME/vital-backups}
maintenance_db=${VITAL_MAINTENANCE_DB:-postgres}

die() { echo "migrate.sh: $*" >&2; exit 1; }
admin() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$maintenance_db" "$@"; }
current_db() { psql -X -q -At -v ON_ERROR_STOP=1 -c "SELECT current_database()"; }

# run_sql <tenant> <file>...: the phase files in one session from stdin (so that NOTICEs read
# without file positions), in one transaction: an error anywhere rolls all of them back.
run_sql() {
    local tenant=$1; shift
    (cd "$here/phases" && { echo 'BEGIN;'; cat "$@"; echo 'COMMIT;'; } |
         psql -X -q -v ON_ERROR_STOP=1 -v tenant="$tenant" -v role_prefix="$prefix")
}

# run_plan <tenant> [phases]: the preflight (phases/plan.sql) for the phases about to run
# (default all four); fails when it finds an error.
run_plan() {
    (cd "$here/phases" && psql -X -q -v ON_ERROR_STOP=1 -v tenant="$1" -v role_prefix="$prefix" \
         -v phases="${2:-1 2 3 4}" < plan.sql)
}

# check_pg_dump: the backup's pg_dump and pg_restore exist and are not older than the server
# (pg_dump refuses a newer server); one preflight line.
check_pg_dump() {
    local server dump
    server=$(psql -X -q -At -c "SELECT current_setting('server_version_num')::int / 10000")
    dump=$(pg_dump --version 2>/dev/null | sed -n 's/^pg_dump (PostgreSQL) \([0-9]*\).*/\1/p')
    if [ -z "$dump" ] || ! command -v pg_restore >/dev/null; then
        echo "backup   [ERROR] pg_dump or pg_restore is not on PATH: the backup before phase 1 cannot be made"
        return 1
    elif [ "$dump" -lt "$server" ]; then
        echo "backup   [ERROR] pg_dump $dump is older than the server ($server): put PostgreSQL $server's bin directory first on PATH"
        return 1
    fi
    echo "backup   [ok]   pg_dump $dump for PostgreSQL $server; backups go to $backup_dir"
}

app_roles() {  # the three app role names of this prefix
    echo "${1}_app_platform ${1}_app_dhs ${1}_app_pharma"
}

# backup: pg_dump -Fc of the current database into $backup_dir, verified with pg_restore --list
# and recorded (one line in $backup_dir/backups.tsv: time, database, path, bytes, archive
# entries, and which app roles existed, so that restore-backup drops only those made since).
do_backup() {
    local db path bytes entries started pid roles="" role size
    db=$(current_db)
    mkdir -p "$backup_dir"
    path="$backup_dir/$db-$(date -u +%Y%m%dT%H%M%SZ).dump"
    [ -e "$path" ] && path="${path%.dump}-$$.dump"
    size=$(psql -X -q -At -c "SELECT pg_size_pretty(pg_database_size(current_database()))")
    echo "backup: pg_dump -Fc of database $db ($size) to $path"
    started=$SECONDS
    pg_dump -Fc -d "$db" -f "$path" &
    pid=$!
    local ticks=0
    while kill -0 "$pid" 2>/dev/null; do   # progress every 5 seconds
        sleep 0.2
        ticks=$((ticks + 1))
        if [ $((ticks % 25)) = 0 ] && kill -0 "$pid" 2>/dev/null; then
            echo "backup: ... $(du -h "$path" 2>/dev/null | cut -f1) written after $((SECONDS - started)) s"
        fi
    done
    wait "$pid" || { rm -f "$path"; die "backup: pg_dump failed: no backup was made, nothing was changed"; }
    entries=$(pg_restore --list "$path" | grep -c -v '^;') \
        || die "backup: pg_restore --list cannot read $path: it is not a usable backup"
    bytes=$(stat -c %s "$path")
    for role in $(app_roles "$prefix"); do
        if [ "$(psql -X -q -At -v role="$role" <<< "SELECT count(*) FROM pg_roles WHERE rolname = :'role'")" = 1 ]; then
            roles="${roles:+$roles,}$role"
        fi
    done
    [ -f "$backup_dir/backups.tsv" ] || printf 'time\tdatabase\tpath\tbytes\tentries\tapp_roles_before\n' > "$backup_dir/backups.tsv"
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$(date -u +%FT%TZ)" "$db" "$path" "$bytes" "$entries" "$roles" >> "$backup_dir/backups.tsv"
    echo "backup: $path: $bytes bytes, $entries archive entries (read back with pg_restore --list), $((SECONDS - started)) s;" \
         "recorded in $backup_dir/backups.tsv"
}

# restore-backup [path] [--force]: the last-resort rollback. The current database is set aside
# (renamed), the backup restored under its name with pg_restore --create (its settings and
# privileges too), then the set-aside copy dropped; if the restore fails, the database is put
# back as it was. App roles made since the backup are dropped when nothing uses them.
do_restore() {
    local path=${1:-} force=${2:-} db dumped others aside before role answer
    if [ "$path" = --force ]; then path=""; force=--force; fi
    db=$(current_db)
    if [ -z "$path" ]; then
        path=$(awk -F'\t' -v db="$db" '$2 == db { p = $3 } END { print p }' "$backup_dir/backups.tsv" 2>/dev/null || true)
        [ -n "$path" ] || die "restore-backup: no backup of $db is recorded in $backup_dir/backups.tsv; name the file"
    fi
    [ -f "$path" ] || die "restore-backup: no such file: $path"
    dumped=$(pg_restore --list "$path" | sed -n 's/^;[[:space:]]*dbname: //p') \
        || die "restore-backup: $path is not a readable pg_dump archive"
    [ "$dumped" = "$db" ] || die "restore-backup: $path is a backup of database $dumped, not of $db"
    others=$(admin -v db="$db" <<< "SELECT string_agg(format('%s (pid %s)', usename, pid), ', ') FROM pg_stat_activity
                                     WHERE datname = :'db' AND pid <> pg_backend_pid()")
    if [ -n "$others" ]; then
        [ "$force" = --force ] || die "restore-backup: other sessions use $db: $others. End them, or run with --force to end them"
        echo "restore-backup: ending the sessions on $db: $others"
        admin -v db="$db" <<< "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :'db' AND pid <> pg_backend_pid()" >/dev/null
    fi
    if [ -t 0 ]; then
        read -r -p "restore-backup: replace database $db by $path? Type its name to confirm: " answer
        [ "$answer" = "$db" ] || die "restore-backup: not confirmed; nothing was changed"
    fi
    aside="${db:0:40}_replaced_$(date -u +%Y%m%d%H%M%S)"
    echo "restore-backup: database $db set aside as $aside"
    admin -v db="$db" -v aside="$aside" <<< 'ALTER DATABASE :"db" RENAME TO :"aside"'
    echo "restore-backup: pg_restore --create of $path"
    if ! pg_restore --create --exit-on-error -d "$maintenance_db" "$path"; then
        echo "restore-backup: the restore failed: $db is put back as it was" >&2
        admin -v db="$db" <<< 'DROP DATABASE IF EXISTS :"db"'
        admin -v db="$db" -v aside="$aside" <<< 'ALTER DATABASE :"aside" RENAME TO :"db"'
        exit 1
    fi
    admin -v aside="$aside" <<< 'DROP DATABASE :"aside"'
    before=$(awk -F'\t' -v p="$path" '$3 == p { r = $6 } END { print r }' "$backup_dir/backups.tsv" 2>/dev/null || true)
    for role in $(app_roles "$prefix"); do
        case ",$before," in *",$role,"*) continue ;; esac
        [ "$(admin -v role="$role" <<< "SELECT count(*) FROM pg_roles WHERE rolname = :'role'")" = 1 ] || continue
        if admin -v role="$role" <<< 'DROP ROLE :"role"' 2>/dev/null; then
            echo "restore-backup: dropped role $role (made by the migration after the backup)"
        else
            echo "restore-backup: kept role $role: it holds privileges in another database"
        fi
    done
    echo "restore-backup: $db is as it was when $path was made"
}

# rehearse: the round trip on a copy of the database, then a report.
do_rehearse() {
    local db copy method others logs rprefix t0 status=0 before after line
    local -a report=()
    db=$(current_db)
    copy="${db:0:40}_vital_rehearsal"
    rprefix="${prefix}_rehearsal"
    logs=$(mktemp -d /tmp/vital-rehearsal.XXXXXX)
    others=$(admin -v db="$db" <<< "SELECT count(*) FROM pg_stat_activity WHERE datname = :'db' AND pid <> pg_backend_pid()")
    admin -v copy="$copy" <<< 'DROP DATABASE IF EXISTS :"copy"' 2>/dev/null
    t0=$EPOCHREALTIME
    if [ "$others" = 0 ]; then
        method="CREATE DATABASE ... TEMPLATE $db"
        admin -v db="$db" -v copy="$copy" <<< 'CREATE DATABASE :"copy" TEMPLATE :"db"'
    else
        method="pg_dump | pg_restore ($others other session(s) on $db)"
        admin -v copy="$copy" <<< 'CREATE DATABASE :"copy"'
        pg_dump -Fc -d "$db" -f "$logs/copy.dump"
        pg_restore --exit-on-error -d "$copy" "$logs/copy.dump" > "$logs/copy.log" 2>&1 \
            || { cat "$logs/copy.log" >&2; admin -v copy="$copy" <<< 'DROP DATABASE :"copy"'; die "rehearse: the copy failed"; }
    fi
    # shellcheck disable=SC2064
    trap "rehearse_cleanup '$copy' '$rprefix'" EXIT
    report+=("$(printf '%-28s %-9s %6.1f s   %s' "copy" ok "$(elapsed "$t0")" "$method")")
    before=$(PGDATABASE=$copy psql -X -q -At -f "$here/fingerprint.sql")
    for step in "apply all" "verify all" "rollback all"; do
        t0=$EPOCHREALTIME
        # shellcheck disable=SC2086
        if PGDATABASE=$copy VITAL_ROLE_PREFIX=$rprefix VITAL_SKIP_BACKUP=1 "$VITAL_MIGRATE" $step > "$logs/${step// /-}.log" 2>&1; then
            report+=("$(printf '%-28s %-9s %6.1f s' "$step" ok "$(elapsed "$t0")")")
        else
            report+=("$(printf '%-28s %-9s %6.1f s   see %s' "$step" FAILED "$(elapsed "$t0")" "$logs/${step// /-}.log")")
            status=1
        fi
    done
    after=$(PGDATABASE=$copy psql -X -q -At -f "$here/fingerprint.sql")
    if [ "$before" = "$after" ]; then
        report+=("$(printf '%-28s %-9s' "fingerprint after rollback" equal)")
    else
        report+=("$(printf '%-28s %-9s' "fingerprint after rollback" DIFFERENT)")
        diff <(echo "$before") <(echo "$after") > "$logs/fingerprint.diff" || true
        status=1
    fi
    rehearse_cleanup "$copy" "$rprefix"
    trap - EXIT
    echo "== rehearsal of database $db on a copy ($copy, app roles ${rprefix}_app_*)"
    printf '%s\n' "${report[@]}"
    grep -h "preflight:" "$logs/apply-all.log" | sed 's/^/  /' || true
    grep -h "page queries as" "$logs/verify-all.log" | sed 's/^NOTICE:  /  /' || true
    grep -h "WARNING" "$logs/verify-all.log" | sed 's/^/  /' || true
    echo "  the copy is dropped; $db was not changed. Logs: $logs"
    [ "$status" = 0 ] && echo "rehearsal passed" || echo "rehearsal FAILED" >&2
    return "$status"
}

elapsed() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }

rehearse_cleanup() {  # rehearse_cleanup <copy> <role prefix>: drop the copy, then its app roles
    local role
    admin -v copy="$1" <<< 'DROP DATABASE IF EXISTS :"copy" WITH (FORCE)' >/dev/null 2>&1 || true
    for role in $(app_roles "$2"); do
        admin -v role="$role" <<< 'DROP ROLE IF EXISTS :"role"' >/dev/null 2>&1 || true
    done
}

phases_for() {  # phases_for <action> <phase>
    case "$2" in
        all) if [ "$1" = rollback ]; then echo "4 3 2 1"; else echo "1 2 3 4"; fi ;;
        1|2|3|4) echo "$2" ;;
        *) echo "migrate.sh: unknown phase $2 (1-4 or all)" >&2; return 2 ;;
    esac
}

case "$action" in
    data-headers)  # for phases/data.sql: "file<TAB>header" of every CSV file of the data directory
        for f in "$VITAL_DATA_DIR"/*.csv; do
            [ -f "$f" ] || continue
            # Without a spreadsheet's byte order mark, carriage return, tabs and backslashes.
            printf '%s\t%s\n' "$(basename "$f")" "$(head -n 1 "$f" | sed '1s/^\xEF\xBB\xBF//' | tr -d '\r\t\\')"
        done
        ;;
    plan)
        echo "== preflight of database $(current_db) (data: $VITAL_DATA_DIR, app roles: ${prefix}_app_*)"
        check_pg_dump || plan_failed=1
        run_plan "${2:-all}" || exit 1
        [ -z "${plan_failed:-}" ] || exit 1
        ;;
    apply|verify|rollback)
        phase=${2:?$usage}
        tenant=${3:-all}
        phases=$(phases_for "$action" "$phase")
        if [ "$action" = apply ]; then
            echo "== preflight of database $(current_db)"
            case "$phase" in
                all|1) [ "${VITAL_SKIP_BACKUP:-}" = 1 ] || check_pg_dump || die "apply refused: no usable pg_dump for the backup; nothing was changed" ;;
            esac
            run_plan "$tenant" "$phases" || die "apply refused: the preflight found errors (above); nothing was changed"
            # A verified backup before phase 1 changes anything.
            case "$phase" in all|1) [ "${VITAL_SKIP_BACKUP:-}" = 1 ] || do_backup ;; esac
        fi
        files=()
        for p in $phases; do
            files+=("$p-$action.sql")
            [ "$action" = apply ] && files+=("$p-verify.sql")
        done
        echo "== phases $phases: $action"
        run_sql "$tenant" "${files[@]}" \
            || die "$action of phases $phases failed (the error is above): its transaction rolled back, nothing of it was changed"
        ;;
    backup) do_backup ;;
    restore-backup) do_restore "${2:-}" "${3:-}" ;;
    rehearse) do_rehearse ;;
    *) echo "$usage" >&2; exit 2 ;;
esac
