#!/usr/bin/env bash
# Installs and runs the real services the tests use, with no Docker:
#   SecantusDB (MongoDB wire protocol), pinned, in the virtualenv .venv, and LocalStack
#   (SNS + SQS, localstack-core in host mode), pinned, in .venv-ls on Python 3.13 or newer
#   (localstack-core 2026.3 needs it; pyenv's is found, or set PYTHON313).
#
#   scripts/services.sh start   # install if needed, start on free ports, write .test-services/env
#   scripts/services.sh stop    # stop what start started
#   scripts/services.sh fresh-db  # restart the database server, empty, on the same port
#
# After `start`, `source .test-services/env` exports QUICKFIX_TEST_MONGODB_URI,
# QUICKFIX_TEST_AWS_ENDPOINT, QUICKFIX_TEST_AWS_PID (the emulator's process, which the chaos
# suite freezes and thaws) and dummy AWS credentials.
set -euo pipefail

SECANTUSDB_VERSION="0.7.0b3"
LOCALSTACK_VERSION="2026.3.0"
# What localstack-core 2026.3 needs beside it on a host (see ../shared/LOCAL-SERVICES.md).
LOCALSTACK_PINS=("cbor2<6" "pyopenssl==25.1.0" "cryptography>=45,<46" "service_identity")

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
state="$root/.test-services"
venv="$root/.venv"
ls_venv="$root/.venv-ls"

log() { printf '[services] %s\n' "$*" >&2; }

install() {
  local python="${PYTHON:-python3}"
  if [[ ! -x "$venv/bin/python" ]]; then
    log "creating virtualenv $venv"
    "$python" -m venv "$venv"
  fi
  # Capture first: `pip show | grep -q` fails under pipefail when grep closes the pipe early.
  local have_db
  have_db="$("$venv/bin/pip" show secantusdb 2>/dev/null || true)"
  if [[ "$have_db" != *"Version: $SECANTUSDB_VERSION"* ]]; then
    log "installing secantusdb==$SECANTUSDB_VERSION"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "secantusdb==$SECANTUSDB_VERSION"
  fi
  install_localstack
}

# A Python 3.13 or newer: $PYTHON313, python3.13 on the PATH, or one of pyenv's.
python313() {
  local candidates=("${PYTHON313:-}" "$(command -v python3.13 || true)")
  if command -v pyenv >/dev/null 2>&1 || [[ -d "${PYENV_ROOT:-$HOME/.pyenv}" ]]; then
    local pyenv_root
    pyenv_root="$(pyenv root 2>/dev/null || echo "${PYENV_ROOT:-$HOME/.pyenv}")"
    candidates+=("$pyenv_root"/versions/3.1[3-9]*/bin/python3)
  fi
  local p
  for p in "${candidates[@]}"; do
    if [[ -n "$p" && -x "$p" ]] \
      && "$p" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 13) else 1)' 2>/dev/null; then
      printf '%s' "$p"
      return 0
    fi
  done
  return 1
}

install_localstack() {
  local have_ls
  have_ls="$("$ls_venv/bin/pip" show localstack-core 2>/dev/null || true)"
  [[ "$have_ls" == *"Version: $LOCALSTACK_VERSION"* ]] && return 0
  local python
  if ! python="$(python313)"; then
    log "LocalStack $LOCALSTACK_VERSION needs Python 3.13 or newer and none was found:"
    log "install one (e.g. pyenv install 3.13) or point PYTHON313 at it"
    exit 1
  fi
  log "installing localstack-core==$LOCALSTACK_VERSION on $python (about a minute)"
  rm -rf "$ls_venv"
  "$python" -m venv "$ls_venv"
  "$ls_venv/bin/pip" install --quiet --disable-pip-version-check \
    "localstack-core[runtime]==$LOCALSTACK_VERSION" "${LOCALSTACK_PINS[@]}"
}

free_port() {
  "$venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# Whether something listens on 127.0.0.1:PORT.
port_open() {
  "$venv/bin/python" -c "import socket,sys; s=socket.socket(); s.settimeout(0.5); sys.exit(s.connect_ex(('127.0.0.1',$1)))" 2>/dev/null
}

# Whether LocalStack on PORT says SNS and SQS run (it listens before they do).
localstack_healthy() {
  "$venv/bin/python" -c "
import json, sys, urllib.request
try:
    h = json.load(urllib.request.urlopen('http://127.0.0.1:$1/_localstack/health', timeout=2))
    sys.exit(0 if all(h['services'].get(s) in ('running', 'available') for s in ('sns', 'sqs')) else 1)
except Exception:
    sys.exit(1)
" 2>/dev/null
}

# Waits until `PROBE PORT` succeeds; fails with the service's log when it exits or takes longer
# than SECONDS.
wait_until() {
  local name="$1" port="$2" pid="$3" seconds="$4" probe="$5" deadline=$((SECONDS + $4))
  until "$probe" "$port"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      log "$name exited during start-up; its log:"; cat "$state/$name.log" >&2; exit 1
    fi
    if (( SECONDS > deadline )); then
      log "$name was not ready on port $port within $seconds s; its log:"
      cat "$state/$name.log" >&2; exit 1
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
  # Its own session, so that stop can end it and anything it started.
  GATEWAY_LISTEN="127.0.0.1:$aws_port" SERVICES=sns,sqs EAGER_SERVICE_LOADING=1 DNS_ADDRESS=0 \
    PERSISTENCE=0 SQS_ENDPOINT_STRATEGY=path SKIP_SSL_CERT_DOWNLOAD=1 \
    setsid "$ls_venv/bin/python" -m localstack.runtime.main >"$state/localstack.log" 2>&1 &
  echo $! >"$state/localstack.pid"

  wait_until secantusdb "$mongo_port" "$(cat "$state/secantusdb.pid")" 60 port_open
  wait_until localstack "$aws_port" "$(cat "$state/localstack.pid")" 180 localstack_healthy

  cat >"$state/env" <<ENV
export QUICKFIX_TEST_MONGODB_URI=mongodb://127.0.0.1:$mongo_port/
export QUICKFIX_TEST_AWS_ENDPOINT=http://127.0.0.1:$aws_port
export QUICKFIX_TEST_AWS_PID=$(cat "$state/localstack.pid")
export AWS_REGION=us-east-1
export AWS_ACCESS_KEY_ID=test
export AWS_SECRET_ACCESS_KEY=test
ENV
}

stop() {
  local quiet="${1:-}"
  for name in secantusdb localstack; do
    local pidfile="$state/$name.pid"
    [[ -f "$pidfile" ]] || continue
    local pid; pid="$(cat "$pidfile")"
    if kill -0 "$pid" 2>/dev/null; then
      kill "$pid" 2>/dev/null || true
      # SecantusDB takes a few seconds to exit after SIGTERM.
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
      kill -9 "$pid" 2>/dev/null || true
      # LocalStack runs in a session of its own: end whatever it left.
      [[ "$name" != localstack ]] || kill -9 -- "-$pid" 2>/dev/null || true
      [[ -n "$quiet" ]] || log "stopped $name (pid $pid)"
    fi
    rm -f "$pidfile"
  done
}

# Restarts the MongoDB-compatible server on its port, empty (its storage is in memory): a long
# suite then measures QuickFix, not the databases every earlier test left behind.
fresh_db() {
  local pidfile="$state/secantusdb.pid" port
  port="$(sed -n 's|^export QUICKFIX_TEST_MONGODB_URI=mongodb://127.0.0.1:\([0-9]*\)/$|\1|p' "$state/env")"
  [[ -n "$port" && -f "$pidfile" ]] || { log "not running; use start"; exit 1; }
  local pid; pid="$(cat "$pidfile")"
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
  kill -9 "$pid" 2>/dev/null || true
  "$venv/bin/secantusd-py" --host 127.0.0.1 --port "$port" --storage-path :memory: \
    >"$state/secantusdb.log" 2>&1 &
  echo $! >"$pidfile"
  wait_until secantusdb "$port" "$(cat "$pidfile")" 60 port_open
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  fresh-db) fresh_db ;;
  install) install ;;
  *) echo "usage: $0 start|stop|fresh-db|install" >&2; exit 2 ;;
esac
