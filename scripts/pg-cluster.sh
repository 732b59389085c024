#!/usr/bin/env bash
# A throwaway PostgreSQL cluster on loopback, for the tests, the bench and
# `make cluster`. It lives in one folder (data, socket, log) and is run by
# the `postgres` user when called as root (initdb refuses root); nothing
# outside that folder is touched.
#
#   pg-cluster.sh install            install PostgreSQL with apt if missing
#   pg-cluster.sh start DIR [PORT]   create (once) and start a cluster in DIR;
#                                    prints its URL (postgres://postgres@127.0.0.1:PORT/postgres)
#   pg-cluster.sh stop DIR [MODE]    stop it (MODE: fast, the default, or immediate)
#   pg-cluster.sh run CMD...         start a cluster in a temporary folder, run
#                                    CMD with CHARM_HOST_TEST_PG set to its URL,
#                                    then stop it and remove the folder
#
# PG_SETTINGS adds server settings; `run` uses "-c fsync=off" unless it is
# set (to nothing, for PostgreSQL's defaults).
set -euo pipefail

bindir() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }

as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

install() {
  if [ -z "$(bindir)" ]; then
    echo "installing postgresql (apt)" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  fi
}

start() {
  local dir=$1 port=${2:-} bin
  install
  bin=$(bindir)
  mkdir -p "$dir"
  if [ "$(id -u)" = 0 ]; then chown postgres: "$dir"; fi
  if [ ! -f "$dir/data/PG_VERSION" ]; then
    as_owner "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --no-sync >"$dir/initdb.log" 2>&1 \
      || { cat "$dir/initdb.log" >&2; exit 1; }
  fi
  if [ -z "$port" ]; then
    port=$(cat "$dir/port" 2>/dev/null || free_port)
  fi
  echo "$port" | as_owner tee "$dir/port" >/dev/null
  # shellcheck disable=SC2086
  as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=200 ${PG_SETTINGS:-}" start >/dev/null \
    || { tail -n 20 "$dir/server.log" >&2; exit 1; }
  echo "postgres://postgres@127.0.0.1:$port/postgres"
}

stop() {
  local dir=$1 mode=${2:-fast}
  if [ -f "$dir/data/postmaster.pid" ]; then
    as_owner "$(bindir)/pg_ctl" -D "$dir/data" -m "$mode" -w stop >/dev/null 2>&1 || true
  fi
}

case "${1:-}" in
  install) install ;;
  start) shift; start "$@" ;;
  stop) shift; stop "$@" ;;
  run)
    shift
    dir=$(mktemp -d "${TMPDIR:-/tmp}/charm-host-pg.XXXXXX")
    trap 'stop "$dir" immediate; rm -rf "$dir"' EXIT
    # Tests need no durability across a crash of the machine; the bench sets
    # PG_SETTINGS= to measure with PostgreSQL's defaults.
    url=$(PG_SETTINGS="${PG_SETTINGS--c fsync=off}" start "$dir")
    CHARM_HOST_TEST_PG=$url "$@"
    ;;
  *) sed -n '2,17p' "$0" >&2; exit 2 ;;
esac
