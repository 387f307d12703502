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
# VITAL_BACKUP_DIR (default ./vital-backups): where backups go and are recorded.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
usage="usage: migrate.sh plan [tenant] | apply|verify|rollback <1-4|all> [tenant] | backup | restore-backup [path] [--force] | rehearse"
action=${1:?$usage}
prefix=${VITAL_ROLE_PREFIX:-vital}
VITAL_DATA_DIR="$(cd "${VITAL_DATA_DIR:-$here/data}" 2>/dev/null && pwd)" \
    || { echo "migrate.sh: data directory ${VITAL_DATA_DIR:-$here/data} does not exist" >&2; exit 2; }
VITAL_MIGRATE="$here/migrate.sh"
export VITAL_DATA_DIR VITAL_MIGRATE
backup_dir=${VITAL_BACKUP_DIR:-$PWD/vital-backups}
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

# run_plan <tenant>: the preflight (phases/plan.sql); fails when it finds an error.
run_plan() {
    (cd "$here/phases" && psql -X -q -v ON_ERROR_STOP=1 -v tenant="$1" -v role_prefix="$prefix" < plan.sql)
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
            printf '%s\t%s\n' "$(basename "$f")" "$(head -n 1 "$f" | tr -d '\r\t\\')"
        done
        ;;
    plan)
        echo "== preflight of database $(current_db) (data: $VITAL_DATA_DIR, app roles: ${prefix}_app_*)"
        run_plan "${2:-all}" || exit 1
        ;;
    apply|verify|rollback)
        phase=${2:?$usage}
        tenant=${3:-all}
        phases=$(phases_for "$action" "$phase")
        if [ "$action" = apply ]; then
            echo "== preflight of database $(current_db)"
            run_plan "$tenant" || die "apply refused: the preflight found errors (above); nothing was changed"
        fi
        files=()
        for p in $phases; do
            files+=("$p-$action.sql")
            [ "$action" = apply ] && files+=("$p-verify.sql")
        done
        echo "== phases $phases: $action"
        run_sql "$tenant" "${files[@]}"
        ;;
    *) echo "$usage" >&2; exit 2 ;;
esac
