#!/usr/bin/env bash
# The multi-process deployment on one machine, to try it or to test it: API replicas and a
# jobs worker on loopback, sharing the PostgreSQL, Redis and series store that the
# MINGZHOU_* variables name (see mingzhou.env.example). A proxy is not started: point
# nginx.conf's upstream at the replicas' ports, or talk to either replica directly.
#
#   deploy/local-cluster.sh start [RUN_DIR]    start, wait until every replica is healthy
#   deploy/local-cluster.sh stop [RUN_DIR]     SIGTERM everything started, wait for it
#
# MINGZHOU_PORTS (default "8101 8102") chooses the replicas' ports. Logs and pid files go
# to RUN_DIR (default .cluster).
set -euo pipefail

command=${1:?usage: $0 start|stop [RUN_DIR]}
run=${2:-.cluster}
here=$(cd "$(dirname "$0")" && pwd)
mingzhou=${MINGZHOU_BIN:-$here/../.venv/bin/mingzhou}
python=$(dirname "$mingzhou")/python
ports=${MINGZHOU_PORTS:-8101 8102}

healthy() {  # the replica on port $1 answers /health
  "$python" -c "import httpx,sys; sys.exit(httpx.get('http://127.0.0.1:$1/health', timeout=2).status_code != 200)" 2>/dev/null
}

case $command in
start)
  for name in MINGZHOU_SECRET MINGZHOU_METADATA MINGZHOU_STORAGE MINGZHOU_RATE_LIMITS MINGZHOU_BROKER_URL; do
    [ -n "${!name:-}" ] || { echo "$0: set $name (shared by every process; see deploy/mingzhou.env.example)" >&2; exit 2; }
  done
  case $MINGZHOU_RATE_LIMITS in memory://*)
    echo "$0: MINGZHOU_RATE_LIMITS=memory:// would give each replica its own limits; use redis://" >&2; exit 2;;
  esac
  mkdir -p "$run"
  # The first replica migrates the schema; the others would wait on Alembic's lock anyway.
  first=1
  for port in $ports; do
    "$mingzhou" cloud platform --port "$port" --log-level WARNING >"$run/api-$port.log" 2>&1 &
    echo $! >"$run/api-$port.pid"
    if [ $first = 1 ]; then
      for _ in $(seq 1 300); do healthy "$port" && break; sleep 0.2; done
      first=0
    fi
  done
  "$mingzhou" jobs worker --pool threads --concurrency 2 --beat \
    --schedule-file "$run/beat-schedule" >"$run/jobs.log" 2>&1 &
  echo $! >"$run/jobs.pid"
  for port in $ports; do
    for _ in $(seq 1 300); do healthy "$port" && break; sleep 0.2; done
    healthy "$port" || { echo "$0: the replica on port $port did not start; see $run/api-$port.log" >&2; exit 1; }
    echo "API replica on http://127.0.0.1:$port/ (log $run/api-$port.log)"
  done
  for _ in $(seq 1 300); do grep -q "jobs worker" "$run/jobs.log" && break; sleep 0.2; done
  grep -q "jobs worker" "$run/jobs.log" || { echo "$0: the jobs worker did not start; see $run/jobs.log" >&2; exit 1; }
  echo "jobs worker (log $run/jobs.log)"
  ;;
stop)
  pids=()
  for file in "$run"/*.pid; do
    [ -e "$file" ] || continue
    pid=$(cat "$file")
    kill -TERM "$pid" 2>/dev/null && pids+=("$pid")
    rm -f "$file"
  done
  for pid in "${pids[@]}"; do
    for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && { echo "$0: pid $pid did not stop in 30 s; killing it" >&2; kill -KILL "$pid"; }
  done
  echo "stopped ${#pids[@]} processes"
  ;;
*)
  echo "usage: $0 start|stop [RUN_DIR]" >&2; exit 2;;
esac
