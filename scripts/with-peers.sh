#!/usr/bin/env bash
# Runs one command with the test peers up (PostgreSQL, moto, the OIDC provider) and their URLs in
# the environment, as scripts/test.sh does, then stops them: the way to run a few tests by hand,
#   bash scripts/with-peers.sh cargo test -p server --test aws moto_access
# Needs `make py-deps` once (moto and the OIDC provider in target/venv).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/peers.sh
trap peers_stop EXIT
peers_start_for_tests
"$@"
