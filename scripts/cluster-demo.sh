#!/usr/bin/env bash
# `make cluster`: PostgreSQL and three charm-host nodes on loopback, sharing
# one database, with the example charms (the counter every 10 s, the RSS
# reader every 30 s of examples/feed.xml served on loopback). Everything is
# kept under ./.charm-host-cluster (override with CLUSTER_DIR): the
# PostgreSQL cluster (run by the `postgres` user), each node's runtime cache
# and log. Ctrl-C stops the nodes (cleanly) and PostgreSQL.
#
# Watch it:  target/release/charm-host charms list --server http://127.0.0.1:8081
#            curl -s http://127.0.0.1:8082/metrics | grep -E 'nodes|claimed'
# Try a node dying: kill -9 one node's pid (listed at start); its runs are
# retried by the others within about 12 s.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=$root/target/release/charm-host
dir=${CLUSTER_DIR:-$root/.charm-host-cluster}
feed_port=${FEED_PORT:-8089}
ports=(8081 8082 8083)
mkdir -p "$dir"
chmod 755 "$dir"

url=$(PG_SETTINGS="" "$root/scripts/pg-cluster.sh" start "$dir/pg")
admin=$url
db_url=${url%/postgres}/charm_host
if [ "$(psql "$admin" -qAt -c "SELECT 1 FROM pg_database WHERE datname = 'charm_host'")" != 1 ]; then
  psql "$admin" -q -c "CREATE DATABASE charm_host"
fi

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  "$root/scripts/pg-cluster.sh" stop "$dir/pg"
}
trap cleanup EXIT INT TERM

python3 -m http.server "$feed_port" --bind 127.0.0.1 --directory "$root/examples" >"$dir/feed-server.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do
  curl -fsS "http://127.0.0.1:$feed_port/feed.xml" >/dev/null 2>&1 && break
  sleep 0.1
done

# One token for the whole cluster: each node would otherwise make its own in
# its data directory, and a client would need to know which node it talks to.
token_file=$dir/api-token
[ -s "$token_file" ] || (umask 077; head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$token_file")
export CHARM_HOST_TOKEN=$(cat "$token_file")
for i in 0 1 2; do
  node_dir=$dir/node-$((i + 1))
  mkdir -p "$node_dir"
  CHARM_HOST_LOG=${CHARM_HOST_LOG:-info} "$bin" serve --listen "127.0.0.1:${ports[$i]}" \
    --data-dir "$node_dir" --db "$db_url" 2>"$node_dir/serve.log" &
  pids+=($!)
done
for port in "${ports[@]}"; do
  for _ in $(seq 100); do
    curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
    sleep 0.2
  done
done

export CHARM_HOST_URL=http://127.0.0.1:${ports[0]}
if [ -z "$("$bin" charms list --space examples | tail -n +2)" ]; then
  "$bin" charms add "$root/charms-fixtures/counter.js" --space examples --interval 10s >/dev/null
  "$bin" charms add "$root/charms-fixtures/rss.js" --space examples --interval 30s \
    --allow-host "127.0.0.1:$feed_port" --state "{\"feedUrl\": \"http://127.0.0.1:$feed_port/feed.xml\"}" >/dev/null
fi
echo "PostgreSQL: $db_url (data in $dir/pg)"
echo "API token (every node): $token_file; dashboard: http://127.0.0.1:${ports[0]}/#token=$CHARM_HOST_TOKEN"
for i in 0 1 2; do
  echo "node $((i + 1)): http://127.0.0.1:${ports[$i]} (pid ${pids[$((i + 1))]}, log $dir/node-$((i + 1))/serve.log)"
done
"$bin" charms list --space examples
wait "${pids[1]}" "${pids[2]}" "${pids[3]}"
