#!/usr/bin/env bash
# `make serve`: runs charm-host serve on 127.0.0.1:8080 with its embedded
# SQLite database under ./.charm-host (override with CHARM_HOST_DATA_DIR),
# and registers the example charms once: a counter (every 10 s) and the RSS
# reader (every 30 s) reading examples/feed.xml from a loopback file server
# (python3's http.server), so it works without any network.
#
# Watch it:  target/release/charm-host charms list
#            target/release/charm-host charms state <id>
# The daemon makes an API token in the data directory on first start; the
# CLI finds it by itself, and the dashboard URL printed at the end carries it.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=$root/target/release/charm-host
data=${CHARM_HOST_DATA_DIR:-$root/.charm-host}
listen=${CHARM_HOST_LISTEN:-127.0.0.1:8080}
feed_port=${FEED_PORT:-8089}
export CHARM_HOST_URL=http://$listen
mkdir -p "$data"

python3 -m http.server "$feed_port" --bind 127.0.0.1 --directory "$root/examples" >"$data/feed-server.log" 2>&1 &
feed_pid=$!
# Overdue charms run as soon as the daemon starts: let the feed answer first.
for _ in $(seq 50); do
  curl -fsS "http://127.0.0.1:$feed_port/feed.xml" >/dev/null 2>&1 && break
  sleep 0.1
done
"$bin" serve --listen "$listen" --data-dir "$data" &
serve_pid=$!
trap 'kill $serve_pid $feed_pid 2>/dev/null; wait $serve_pid 2>/dev/null' EXIT INT TERM

for _ in $(seq 100); do
  curl -fsS "http://$listen/healthz" >/dev/null 2>&1 && break
  sleep 0.2
done
if [ -z "$("$bin" charms list --space examples | tail -n +2)" ]; then
  "$bin" charms add "$root/charms-fixtures/counter.js" --space examples --interval 10s >/dev/null
  "$bin" charms add "$root/charms-fixtures/rss.js" --space examples --interval 30s \
    --allow-host "127.0.0.1:$feed_port" --state "{\"feedUrl\": \"http://127.0.0.1:$feed_port/feed.xml\"}" >/dev/null
fi
token=${CHARM_HOST_TOKEN:-$(cat "$data/api-token" 2>/dev/null || true)}
echo "charm-host is serving on http://$listen with the example charms:"
"$bin" charms list --space examples
echo "dashboard: http://$listen/${token:+#token=$token}"
wait $serve_pid
