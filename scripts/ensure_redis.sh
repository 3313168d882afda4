#!/usr/bin/env bash
# Make a Redis server reachable on 127.0.0.1 and print the URL the tests use (database 15).
# Starts Debian's redis-server (installed by `scripts/bootstrap.sh test`) when none answers,
# keeping nothing on disk. Without redis-server, prints nothing and exits 1: the tests that need
# Redis then skip and say so (in CI they fail instead).
set -euo pipefail
port="${WATCHFLOOR_REDIS_PORT:-6379}"
url="redis://127.0.0.1:${port}/15"

say() { printf '[redis] %s\n' "$*" >&2; }

if command -v redis-cli >/dev/null 2>&1 && redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null | grep -q PONG; then
  echo "$url"; exit 0
fi
if ! command -v redis-server >/dev/null 2>&1; then
  say "redis-server is not installed (scripts/bootstrap.sh test installs it as root)."
  exit 1
fi
say "starting redis-server on 127.0.0.1:${port}"
redis-server --daemonize yes --bind 127.0.0.1 --port "$port" --save "" --appendonly no \
  --dir /tmp --logfile /tmp/watchfloor-redis.log >/dev/null
for _ in $(seq 1 30); do
  redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null | grep -q PONG && { echo "$url"; exit 0; }
  sleep 0.2
done
say "redis-server did not answer on port ${port}"
exit 1
