#!/usr/bin/env bash
# Benchmarks QuickFix and prints tables: the API under load on the embedded backends and on
# MongoDB (SecantusDB, a correctness backend: take its figures as a floor, not a reference),
# the worker, the escalation scan over 100,000 open tickets, live fan-out to 1,000 sockets, and
# a flood of 500 concurrent sign-ins against the abuse limits, and a fleet of 1, 2 and 4 worker
# processes on the emulators (scaling, publishes per event), and the event log (search over
# 1,000,000 events, replay rate against the emulator's raw publish rate).
#   BENCH_SECONDS=10 BENCH_CONCURRENCY=16 scripts/bench.sh
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
trap 'scripts/services.sh stop' EXIT
scripts/services.sh start
# shellcheck disable=SC1091
source .test-services/env
cargo bench --bench api_load
cargo bench --bench worker_load
cargo bench --bench sla_scan
cargo bench --bench live_fanout
cargo bench --bench login_flood
cargo bench --bench fleet
cargo bench --bench event_log
