#!/usr/bin/env bash
# Runs every check QuickFix has, on a fresh machine as on a laptop:
#   1. installs and starts the pinned MongoDB-compatible server and SNS/SQS emulator, and
#      installs the end-to-end tools (npm packages from tests/e2e/package-lock.json, Debian's
#      chromium),
#   2. cargo fmt --check, cargo clippy -D warnings,
#   3. the whole test suite against the real adapters and the embedded ones,
#   4. API conformance: schemathesis (pinned, every check) against the running server's
#      /openapi.json as a customer, an agent and an admin (scripts/conformance.sh),
#   5. stops what it started.
# CI=true makes tests that need a service fail, not skip, when it is missing.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

step() { printf '\n==> %s\n' "$*"; }

# A clean build gains nothing from incremental state, which would double the workspace's share of
# target/ (one directory per test binary).
if [[ "${CI:-}" == "true" ]]; then
  export CARGO_INCREMENTAL=0
fi

PYTHON_HCL2_VERSION="7.3.1"
CHECKOV_VERSION="3.2.4"

step "starting MongoDB-compatible server and SNS/SQS emulator"
trap 'scripts/services.sh stop' EXIT
scripts/services.sh start
# shellcheck disable=SC1091
source .test-services/env

step "installing the end-to-end tools (socket.io-client, playwright-core, chromium, compose)"
npm ci --prefix tests/e2e --no-audit --no-fund --loglevel=error
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
# `docker compose config` when the Docker CLI has the plugin; Debian's docker-compose otherwise.
docker compose version >/dev/null 2>&1 || command -v docker-compose >/dev/null 2>&1 \
  || missing+=(docker-compose)
if [ "${#missing[@]}" -gt 0 ]; then
  as_root=""
  [ "$(id -u)" -ne 0 ] && as_root="sudo"
  $as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
if docker compose version >/dev/null 2>&1; then
  export QUICKFIX_TEST_COMPOSE="docker compose"
else
  export QUICKFIX_TEST_COMPOSE="docker-compose"
fi
export QUICKFIX_TEST_E2E_DIR="$root/tests/e2e"
QUICKFIX_TEST_CHROMIUM="$(command -v chromium)"
export QUICKFIX_TEST_CHROMIUM

step "Terraform: parse every file (python-hcl2), then the security scan (checkov, also the Dockerfile)"
# Two virtualenvs: checkov vendors its own fork of the HCL parser under the same module name.
tool_venv() {
  local dir="$root/.venv-infra/$1"
  shift
  [ -x "$dir/bin/python" ] || python3 -m venv "$dir"
  "$dir/bin/pip" install --quiet --disable-pip-version-check "$@"
  printf '%s' "$dir"
}
hcl_venv="$(tool_venv hcl2 "python-hcl2==$PYTHON_HCL2_VERSION")"
checkov_venv="$(tool_venv checkov "checkov==$CHECKOV_VERSION")"
export QUICKFIX_TEST_PYTHON="$hcl_venv/bin/python"
"$QUICKFIX_TEST_PYTHON" scripts/terraform_topology.py infra/terraform >/dev/null
"$checkov_venv/bin/checkov" --directory infra/terraform --framework terraform --compact --quiet \
  --skip-download
"$checkov_venv/bin/checkov" --file Dockerfile --framework dockerfile --compact --quiet --skip-download

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy --all-targets -- -D warnings"
cargo clippy --all-targets --locked -- -D warnings

step "cargo test (embedded backends, MongoDB, SNS/SQS)"
cargo test --workspace --lib --bins --tests --locked -- --color never "$@"

step "API conformance: schemathesis against /openapi.json as customer, agent and admin"
# The binary the tests above built: `cargo build --bin quickfix` alone resolves features without
# the test dependencies and would build the whole dependency tree a second time.
QUICKFIX_BIN="$root/target/debug/quickfix" scripts/conformance.sh

step "chaos suite: api ×2 and worker ×3 through kills, an emulator freeze and presence changes"
# On an empty database server: the suite measures QuickFix, not the databases the tests above
# left in the (single-threaded) server.
scripts/services.sh fresh-db
cargo test --locked --test chaos -- --ignored --nocapture --color never

step "all checks passed"
