#!/usr/bin/env bash
# Installs and runs the real services the tests use, with no Docker:
#   SecantusDB (MongoDB wire protocol) and moto (SNS + SQS), pinned, in a local virtualenv.
#
#   scripts/services.sh start   # install if needed, start on free ports, write .test-services/env
#   scripts/services.sh stop    # stop what start started
#
# After `start`, `source .test-services/env` exports QUICKFIX_TEST_MONGODB_URI,
# QUICKFIX_TEST_AWS_ENDPOINT and dummy AWS credentials.
set -euo pipefail

SECANTUSDB_VERSION="0.7.0b3"
MOTO_VERSION="5.2.5"

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
state="$root/.test-services"
venv="$root/.venv"

log() { printf '[services] %s\n' "$*" >&2; }

install() {
  local python="${PYTHON:-python3}"
  if [[ ! -x "$venv/bin/python" ]]; then
    log "creating virtualenv $venv"
    "$python" -m venv "$venv"
  fi
  # Capture first: `pip show | grep -q` fails under pipefail when grep closes the pipe early.
  local have_db have_moto
  have_db="$("$venv/bin/pip" show secantusdb 2>/dev/null || true)"
  have_moto="$("$venv/bin/pip" show moto 2>/dev/null || true)"
  if [[ "$have_db" != *"Version: $SECANTUSDB_VERSION"* || "$have_moto" != *"Version: $MOTO_VERSION"* ]]; then
    log "installing secantusdb==$SECANTUSDB_VERSION and moto[server]==$MOTO_VERSION"
    "$venv/bin/pip" install --quiet --disable-pip-version-check \
      "secantusdb==$SECANTUSDB_VERSION" "moto[server]==$MOTO_VERSION"
  fi
}

free_port() {
  "$venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

wait_for_port() {
  local name="$1" port="$2" pid="$3" deadline=$((SECONDS + 60))
  until "$venv/bin/python" -c "import socket,sys; s=socket.socket(); s.settimeout(0.5); sys.exit(s.connect_ex(('127.0.0.1',$port)))" 2>/dev/null; do
    if ! kill -0 "$pid" 2>/dev/null; then
      log "$name exited during start-up; its log:"; cat "$state/$name.log" >&2; exit 1
    fi
    if (( SECONDS > deadline )); then
      log "$name did not listen on port $port within 60 s; its log:"; cat "$state/$name.log" >&2; exit 1
    fi
    sleep 0.2
  done
  log "$name is up on 127.0.0.1:$port (pid $pid)"
}

start() {
  install
  stop quiet
  mkdir -p "$state"
  local mongo_port aws_port
  mongo_port="$(free_port)"
  aws_port="$(free_port)"

  "$venv/bin/secantusd-py" --host 127.0.0.1 --port "$mongo_port" --storage-path :memory: \
    >"$state/secantusdb.log" 2>&1 &
  echo $! >"$state/secantusdb.pid"
  "$venv/bin/moto_server" -H 127.0.0.1 -p "$aws_port" >"$state/moto.log" 2>&1 &
  echo $! >"$state/moto.pid"

  wait_for_port secantusdb "$mongo_port" "$(cat "$state/secantusdb.pid")"
  wait_for_port moto "$aws_port" "$(cat "$state/moto.pid")"

  cat >"$state/env" <<ENV
export QUICKFIX_TEST_MONGODB_URI=mongodb://127.0.0.1:$mongo_port/
export QUICKFIX_TEST_AWS_ENDPOINT=http://127.0.0.1:$aws_port
export AWS_REGION=us-east-1
export AWS_ACCESS_KEY_ID=test
export AWS_SECRET_ACCESS_KEY=test
ENV
}

stop() {
  local quiet="${1:-}"
  for name in secantusdb moto; do
    local pidfile="$state/$name.pid"
    [[ -f "$pidfile" ]] || continue
    local pid; pid="$(cat "$pidfile")"
    if kill -0 "$pid" 2>/dev/null; then
      kill "$pid" 2>/dev/null || true
      # SecantusDB takes a few seconds to exit after SIGTERM.
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
      kill -9 "$pid" 2>/dev/null || true
      [[ -n "$quiet" ]] || log "stopped $name (pid $pid)"
    fi
    rm -f "$pidfile"
  done
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  install) install ;;
  *) echo "usage: $0 start|stop|install" >&2; exit 2 ;;
esac
