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
moto_start
export OPS_CONSOLE_TEST_MOTO_URL="$MOTO_URL" OPS_CONSOLE_TEST_MOTO_SEED="$MOTO_SEED"
oidc_start
export OPS_CONSOLE_TEST_OIDC_URL="$OIDC_URL"

echo "== Rust tests (SQLite and Postgres: $PG_URL; AWS: moto at $MOTO_URL)"
cargo test -p app -p server --features app/ssr

echo "== Browser tests (Debian chromium via playwright-core)"
# The demo environments plus one moto-backed environment.
cat >"$PEERS_DIR/e2e.toml" <<TOML
demo = true
[[environments]]
name = "moto-taskflow"
tier = "prod"
region = "us-east-1"
endpoint_url = "$MOTO_URL"
selector = { tag_key = "Environment", tag_value = "production" }
TOML
OPS_CONSOLE_CONFIG="$PEERS_DIR/e2e.toml" console_start
(cd end2end && BASE_URL="$CONSOLE_URL" node --test --test-concurrency=1 tests/)
