#!/usr/bin/env bash
# Runs every test against real peers it starts and stops itself on loopback:
# PostgreSQL (Debian's) for the storage tests, the console itself and Debian's Chromium for the
# browser tests. Called by `make test` after the build.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/peers.sh
trap peers_stop EXIT

pg_start
export OPS_CONSOLE_TEST_POSTGRES_URL="$PG_URL"

echo "== Rust tests (SQLite and Postgres: $PG_URL)"
cargo test -p app -p server --features app/ssr

echo "== Browser tests (Debian chromium via playwright-core)"
console_start
(cd end2end && BASE_URL="$CONSOLE_URL" node --test --test-concurrency=1 tests/)
