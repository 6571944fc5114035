#!/usr/bin/env bash
# Runs every test against real peers it starts and stops itself on loopback:
# PostgreSQL (Debian's) for the storage tests, the console itself and Debian's Chromium for the
# browser tests. Called by `make test` after the build.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/peers.sh
trap peers_stop EXIT

peers_start_for_tests

echo "== Rust tests (SQLite and Postgres: $PG_URL; AWS: moto at $MOTO_URL)"
# A hung test must not hold CI for its whole budget.
timeout 1200 cargo test -p app -p server --features app/ssr

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
# Rollback on (moto's STS hands out the role): nojs.test.mjs rolls a service back without script.
operator_role_arn = "arn:aws:iam::123456789012:role/ops-console-operate"
# A second environment's profile, so that the request form's profile list has something to leave
# out (access.test.mjs).
[[environments.access_profiles]]
name = "moto-readonly"
role_arn = "arn:aws:iam::123456789012:role/moto-readonly"
max_minutes = 15
requester_groups = ["oncall"]
approver_groups = ["tech-leads"]
TOML
OPS_CONSOLE_CONFIG="$PEERS_DIR/e2e.toml" console_start
E2E_URL="$CONSOLE_URL"
# A second console that signs people in through the OIDC provider.
echo "e2e-client-secret" >"$PEERS_DIR/oidc-secret"
cat >"$PEERS_DIR/e2e-oidc.toml" <<TOML
[auth]
mode = "oidc"
issuer_url = "$OIDC_URL"
client_id = "ops-console-e2e"
client_secret_file = "$PEERS_DIR/oidc-secret"
[roles]
viewer = ["ops-readers"]
TOML
echo "e2e-audit-key-0123456789abcdef" >"$PEERS_DIR/audit.key"
OPS_CONSOLE__AUDIT__KEY_FILE="\"$PEERS_DIR/audit.key\"" OPS_CONSOLE_CONFIG="$PEERS_DIR/e2e-oidc.toml" console_start
(cd end2end && BASE_URL="$E2E_URL" OIDC_CONSOLE_URL="$CONSOLE_URL" OIDC_URL="$OIDC_URL" MOTO_URL="$MOTO_URL" node --test --test-concurrency=1 tests/)
