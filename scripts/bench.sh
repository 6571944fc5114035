#!/usr/bin/env bash
# The fan-out benchmark: moto seeded with an environment of 50 services / 200 tasks, 40 Lambda
# functions, stacks, APIs, schedules and a cache, then AWS
# calls for one full refresh against the naive count, and with 10 concurrent viewers vs 1.
# Figures go to stdout (a Markdown table) for docs/PERFORMANCE.md.
set -euo pipefail
cd "$(dirname "$0")/.."
SERVICES=${SERVICES:-50}
TASKS=${TASKS:-200}
FUNCTIONS=${FUNCTIONS:-40}
bash scripts/py-deps.sh
source scripts/peers.sh
trap peers_stop EXIT
port=$(free_port)
target/venv/bin/moto_server -H 127.0.0.1 -p "$port" >"$PEERS_DIR/moto.log" 2>&1 &
MOTO_PID=$!
MOTO_URL="http://127.0.0.1:$port"
wait_for 60 curl -sf "$MOTO_URL/moto-api/data.json"
echo "seeding moto with $SERVICES services / $TASKS tasks / $FUNCTIONS functions and the other kinds…" >&2
target/venv/bin/python scripts/seed_moto.py --endpoint "$MOTO_URL" bench --region eu-west-1 \
  --services "$SERVICES" --tasks "$TASKS" --functions "$FUNCTIONS" >/dev/null
cargo run --quiet -p server --example fanout -- --endpoint "$MOTO_URL" --region eu-west-1
echo "access: approve → credentials and audit appends…" >&2
cargo run --quiet -p server --example access_bench -- --endpoint "$MOTO_URL"
