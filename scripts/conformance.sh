#!/usr/bin/env bash
# API conformance: schemathesis (pinned) runs every check it has against the OpenAPI document a
# running server serves, signed in as a customer, an agent and an admin, and fails on any
# failure: an answer the document does not list, a body or header that breaks its schema, a
# request the document allows that the server refuses (or the reverse), a server error.
#
#   scripts/conformance.sh      # builds `quickfix` unless QUICKFIX_BIN names a binary
#
# The server is `quickfix dev` (embedded store and bus, demo accounts, the example SLA policy)
# on a free port, with its rate limits raised through its own settings so that the run's few thousand requests from one
# address are not refused with 429 halfway; the production defaults are untouched. Each role's
# run is bounded by SCHEMATHESIS_MAX_EXAMPLES per operation (default 25) and seeded by
# SCHEMATHESIS_SEED, so a run repeats the same requests.
#
# schemathesis is installed into .venv-infra/schemathesis (Python 3.10 or newer). Without one,
# the step fails under CI=true and is skipped with a message elsewhere.
set -euo pipefail

SCHEMATHESIS_VERSION="4.32.5"
MAX_EXAMPLES="${SCHEMATHESIS_MAX_EXAMPLES:-25}"
SEED="${SCHEMATHESIS_SEED:-20261203}"

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
here="$root/scripts/conformance"
venv="$root/.venv-infra/schemathesis"
state="$root/target/conformance"

log() { printf '[conformance] %s\n' "$*" >&2; }

missing_tool() {
  if [[ "${CI:-}" == "true" ]]; then
    log "$1 (CI=true: failing rather than skipping)"
    exit 1
  fi
  log "$1; skipping the conformance run"
  exit 0
}

# A Python 3.10 or newer with venv: python3, else one of pyenv's.
python_for_venv() {
  local candidates=("$(command -v python3 || true)")
  local pyenv_root="${PYENV_ROOT:-$HOME/.pyenv}"
  candidates+=("$pyenv_root"/versions/3.1[0-9]*/bin/python3)
  local p
  for p in "${candidates[@]}"; do
    if [[ -n "$p" && -x "$p" ]] && "$p" -c '
import sys, venv, ensurepip
sys.exit(0 if sys.version_info >= (3, 10) else 1)' 2>/dev/null; then
      printf '%s' "$p"
      return 0
    fi
  done
  return 1
}

install() {
  local have
  have="$("$venv/bin/pip" show schemathesis 2>/dev/null || true)"
  [[ "$have" == *"Version: $SCHEMATHESIS_VERSION"* ]] && return 0
  local python
  python="$(python_for_venv)" || missing_tool "no Python 3.10+ with venv to install schemathesis"
  log "installing schemathesis==$SCHEMATHESIS_VERSION with $python"
  rm -rf "$venv"
  "$python" -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION" \
    || missing_tool "schemathesis==$SCHEMATHESIS_VERSION could not be installed"
}

install

bin="${QUICKFIX_BIN:-}"
if [[ -z "$bin" ]]; then
  cargo build --locked --quiet --bin quickfix
  bin="$root/target/debug/quickfix"
fi

mkdir -p "$state"
port="$("$venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
base="http://127.0.0.1:$port"
# Rate limits raised for one busy test client; the example SLA policy, so that its plans and
# regions are in the document; every other setting is the default.
QUICKFIX_SLA_FILE="$root/config/sla.example.toml" \
  QUICKFIX_RATE_LIMIT_PER_SECOND=1000000 QUICKFIX_RATE_LIMIT_BURST=1000000 \
  QUICKFIX_SIGN_IN_PER_MINUTE=1000000 QUICKFIX_SIGN_IN_BURST=1000000 \
  QUICKFIX_ACCOUNT_FAILURES_PER_MINUTE=1000000 QUICKFIX_ACCOUNT_FAILURES_BURST=1000000 \
  RUST_LOG=warn LOG_FORMAT=json \
  "$bin" dev --addr "127.0.0.1:$port" >"$state/server.out" 2>"$state/server.log" &
server=$!
trap 'kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true' EXIT

# Ready when /readyz says so (the demo accounts exist before the server listens).
"$venv/bin/python" - "$base" <<'PY'
import sys, time, urllib.request
deadline = time.monotonic() + 60
while True:
    try:
        with urllib.request.urlopen(sys.argv[1] + "/readyz", timeout=2) as reply:
            if reply.status == 200:
                break
    except Exception:
        pass
    if time.monotonic() > deadline:
        sys.exit("the server was not ready within 60 s")
    time.sleep(0.2)
PY

export QUICKFIX_CONFORMANCE_PASSWORD="quickfix"
export SCHEMATHESIS_HOOKS="hooks"
export PYTHONDONTWRITEBYTECODE=1
export PYTHONPATH="$here${PYTHONPATH:+:$PYTHONPATH}"
failed=()
# schemathesis keeps its cache in the working directory: keep it under target/.
cd "$state"
# The admin goes last: its run may change other accounts (roles, presence, new users).
for account in customer1 agent1 admin; do
  export QUICKFIX_CONFORMANCE_EMAIL="$account@quickfix.dev"
  log "as $QUICKFIX_CONFORMANCE_EMAIL: $MAX_EXAMPLES examples per operation, seed $SEED"
  if ! "$venv/bin/schemathesis" --config-file "$here/schemathesis.toml" run "$base/openapi.json" \
      --checks all --max-examples "$MAX_EXAMPLES" --seed "$SEED" --workers 1 \
      --generation-database none --no-color \
      --report junit --report-dir "$state/$account"; then
    failed+=("$account")
  fi
done
if ! kill -0 "$server" 2>/dev/null; then
  log "the server exited during the run; its log:"; tail -50 "$state/server.log" >&2; exit 1
fi
if [[ "${#failed[@]}" -gt 0 ]]; then
  log "failures as: ${failed[*]} (reports in $state)"
  exit 1
fi
log "no failures as customer, agent and admin"
