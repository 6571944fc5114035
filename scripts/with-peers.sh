#!/usr/bin/env bash
# Runs one command with the test peers up (PostgreSQL, moto, the OIDC provider) and their URLs in
# the environment, as scripts/test.sh does, then stops them: the way to run a few tests by hand,
#   bash scripts/with-peers.sh cargo test -p server --test aws moto_access
# Needs `make py-deps` once (moto and the OIDC provider in target/venv).
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
"$@"
