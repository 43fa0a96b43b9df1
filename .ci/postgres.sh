# A throwaway PostgreSQL server for one CI run. Sourced by .ci/run (bash), not executed.
#
#   pg_install_if_missing   installs Debian's `postgresql` when no server binaries are present
#   pg_start                initdb + pg_ctl start in a temp dir, on 127.0.0.1 and a free port;
#                           creates a CREATEDB role and its database; exports DATABASE_URL
#   pg_stop                 stops that server and removes the temp dir (safe to call twice)
#
# The server listens only on 127.0.0.1 with trust auth (no password), its socket and data live in
# the temp dir, and fsync is off: fine for a test run, never for data you want to keep.

PG_DB_USER=vectorstores
PG_DB_NAME=vectorstores
PG_DIR=""

pg_bindir() {
    # The newest installed major version's binaries, if any.
    local postgres
    postgres=$( (ls -d /usr/lib/postgresql/*/bin/postgres 2>/dev/null || true) | sort -V | tail -n 1)
    [ -n "$postgres" ] && dirname "$postgres"
}

pg_install_if_missing() {
    if pg_bindir >/dev/null; then
        return 0
    fi
    if [ "$(id -u)" -ne 0 ]; then
        echo "PostgreSQL server binaries not found and not root: install Debian's 'postgresql' package." >&2
        return 1
    fi
    echo "Installing PostgreSQL from Debian's packages..."
    # Keep the package from starting its default cluster: we run our own, and nothing may outlive the run.
    local policy=${PG_POLICY_RC_D:-/usr/sbin/policy-rc.d} added_policy=""
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && added_policy=1
    fi
    local status=0
    {
        DEBIAN_FRONTEND=noninteractive apt-get update -q &&
            DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends postgresql
    } || status=$?
    [ -n "$added_policy" ] && rm -f "$policy"
    [ "$status" -eq 0 ] || return "$status"
    # Should the package's default cluster have started anyway, stop it.
    if command -v pg_lsclusters >/dev/null; then
        pg_lsclusters --no-header 2>/dev/null | while read -r version cluster _port state _rest; do
            [ "$state" = online ] && pg_ctlcluster "$version" "$cluster" stop || true
        done || true
    fi
    pg_bindir >/dev/null || { echo "PostgreSQL installed but no server binaries found." >&2; return 1; }
}

# Run a command as the `postgres` system user when root (PostgreSQL refuses to run as root),
# from the temp dir (the postgres user may not be allowed into the checkout).
pg_as_owner() {
    if [ "$(id -u)" -eq 0 ]; then
        (cd "$PG_DIR" && runuser -u postgres -- "$@")
    else
        (cd "$PG_DIR" && "$@")
    fi
}

pg_free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

pg_start() {
    local bin port
    bin=$(pg_bindir) || { echo "No PostgreSQL server binaries." >&2; return 1; }
    PG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/ci-postgres.XXXXXX")
    [ "$(id -u)" -eq 0 ] && chown postgres: "$PG_DIR"
    port=$(pg_free_port)
    echo "$("$bin/postgres" --version) in $PG_DIR on 127.0.0.1:$port"

    pg_as_owner "$bin/initdb" -D "$PG_DIR/data" -U postgres --auth=trust --encoding=UTF8 --locale=C \
        >"$PG_DIR/initdb.log" 2>&1 || { cat "$PG_DIR/initdb.log" >&2; return 1; }
    # Throwaway data: no durability needed, which makes creating the test databases much faster.
    if ! pg_as_owner "$bin/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 60 start -o \
        "-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories=$PG_DIR -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
        >/dev/null; then
        cat "$PG_DIR/server.log" >&2
        return 1
    fi

    pg_as_owner "$bin/psql" -X -q -v ON_ERROR_STOP=1 -h "$PG_DIR" -p "$port" -U postgres -d postgres \
        -c "CREATE ROLE $PG_DB_USER LOGIN CREATEDB" \
        -c "CREATE DATABASE $PG_DB_NAME OWNER $PG_DB_USER"
    export DATABASE_URL="postgres://$PG_DB_USER@127.0.0.1:$port/$PG_DB_NAME"
    echo "DATABASE_URL=$DATABASE_URL"
}

pg_stop() {
    [ -n "$PG_DIR" ] || return 0
    local bin
    if [ -f "$PG_DIR/data/postmaster.pid" ] && bin=$(pg_bindir); then
        pg_as_owner "$bin/pg_ctl" -D "$PG_DIR/data" -m fast -w -t 60 stop >/dev/null ||
            pg_as_owner "$bin/pg_ctl" -D "$PG_DIR/data" -m immediate -w stop >/dev/null || true
    fi
    rm -rf "$PG_DIR"
    PG_DIR=""
}
