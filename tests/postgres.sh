#!/usr/bin/env bash
# Runs a command beside a private PostgreSQL server: its own data and socket folder
# (removed afterwards), a free loopback port, trust authentication. The command sees
# SWITCHBOARD_TEST_POSTGRES=postgres://postgres@127.0.0.1:PORT/postgres; suites that
# read it make a database of their own on that server.
#
#   bash tests/postgres.sh CMD [ARGS...]
#
# Needs Debian's postgresql package (tests/setup.sh installs it). As root the server runs
# as the postgres user, which PostgreSQL requires.
set -euo pipefail

bin="${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}"
if [ ! -x "$bin/initdb" ]; then
    echo "postgres.sh: no PostgreSQL server (initdb) under /usr/lib/postgresql; run bash tests/setup.sh" >&2
    exit 1
fi
dir="$(mktemp -d -t switchboard-pg.XXXXXX)"
as_owner=()
if [ "$(id -u)" = 0 ]; then
    chown postgres: "$dir"
    as_owner=(runuser -u postgres --)
fi
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"

stop() {
    "${as_owner[@]}" "$bin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$dir"
}
trap stop EXIT

"${as_owner[@]}" "$bin/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --no-locale >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; exit 1; }
"${as_owner[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
    -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300" start >/dev/null \
    || { cat "$dir/server.log" >&2; exit 1; }
echo "[postgres] $("$bin/postgres" --version) on 127.0.0.1:$port" >&2

export SWITCHBOARD_TEST_POSTGRES="postgres://postgres@127.0.0.1:$port/postgres"
export SWITCHBOARD_TEST_PG_LOG="$dir/server.log"
"$@"
