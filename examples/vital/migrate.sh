#!/usr/bin/env bash
# The VITAL migration, phase by phase. Connection: the usual libpq variables (PGHOST, PGPORT,
# PGUSER, PGDATABASE); run it as a superuser (a DBA).
#
#   migrate.sh apply    <1-4|all> [tenant]   apply a phase (phase 4: all, digital-health-startup
#                                            or pharmaceuticals), then verify it
#   migrate.sh verify   <1-4|all> [tenant]
#   migrate.sh rollback <1-4|all> [tenant]   'all' rolls back 4, 3, 2, 1
#
# VITAL_ROLE_PREFIX (default vital) names the app roles <prefix>_app_platform|dhs|pharma.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
action=${1:?usage: migrate.sh apply|verify|rollback PHASE [tenant]}
phase=${2:?usage: migrate.sh apply|verify|rollback PHASE [tenant]}
tenant=${3:-all}
prefix=${VITAL_ROLE_PREFIX:-vital}

run() {  # run <phase> <file-action>  (from stdin, so NOTICEs read without file positions)
    (cd "$here/phases" && psql -X -q -v ON_ERROR_STOP=1 -v tenant="$tenant" -v role_prefix="$prefix" \
         < "$1-$2.sql")
}

case "$action" in
    apply|verify|rollback) ;;
    *) echo "unknown action $action" >&2; exit 2 ;;
esac
if [ "$phase" = all ]; then
    phases="1 2 3 4"
    [ "$action" = rollback ] && phases="4 3 2 1"
else
    case "$phase" in 1|2|3|4) phases=$phase ;; *) echo "unknown phase $phase" >&2; exit 2 ;; esac
fi
for p in $phases; do
    echo "== phase $p: $action"
    run "$p" "$action"
    [ "$action" = apply ] && run "$p" verify
done
exit 0
