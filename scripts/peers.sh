# Test peers, started on loopback and stopped by peers_stop. Sourced by scripts/test.sh and
# scripts/bench.sh. Readiness is awaited by asking each peer, never by sleeping a fixed time.

PEERS_DIR=$(mktemp -d /tmp/ops-console-peers.XXXXXX)
PG_DATA=""
CONSOLE_PIDS=()
MOTO_PID=""

# The AWS SDK talks to moto only: fixed test keys, no instance metadata, no shared config files.
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_EC2_METADATA_DISABLED=true
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
unset AWS_PROFILE AWS_SESSION_TOKEN

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# Waits until `cmd...` succeeds, up to $1 seconds.
wait_for() {
  local limit=$1; shift
  local deadline=$((SECONDS + limit))
  until "$@" >/dev/null 2>&1; do
    if (( SECONDS >= deadline )); then echo "not ready after ${limit}s: $*" >&2; return 1; fi
    sleep 0.2
  done
}

as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

pg_start() {
  local bin
  bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)
  if [ -z "$bin" ]; then echo "PostgreSQL is not installed (apt-get install postgresql)" >&2; return 1; fi
  PG_DATA="$PEERS_DIR/pg"
  mkdir -p "$PG_DATA"
  [ "$(id -u)" = 0 ] && chown postgres "$PEERS_DIR" "$PG_DATA"
  chmod 755 "$PEERS_DIR"
  local port; port=$(free_port)
  as_pg "$bin/initdb" -D "$PG_DATA/data" -A trust -U postgres >"$PEERS_DIR/initdb.log" 2>&1
  # pg_ctl -w returns once the server accepts connections.
  as_pg "$bin/pg_ctl" -D "$PG_DATA/data" -l "$PG_DATA/server.log" -w -t 60 \
    -o "-p $port -k $PG_DATA -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null
  PG_BIN="$bin"
  PG_URL="postgres://postgres@127.0.0.1:$port/postgres"
  echo "postgres on 127.0.0.1:$port"
}

pg_stop() {
  if [ -n "$PG_DATA" ] && [ -d "$PG_DATA/data" ]; then
    as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA/data" -m fast -w stop >/dev/null 2>&1 || true
  fi
}

# moto's server on a free port (from the venv of scripts/py-deps.sh), seeded with the TaskFlow
# topology; MOTO_SEED is the JSON of what was created.
moto_start() {
  local port; port=$(free_port)
  target/venv/bin/moto_server -H 127.0.0.1 -p "$port" >"$PEERS_DIR/moto.log" 2>&1 &
  MOTO_PID=$!
  MOTO_URL="http://127.0.0.1:$port"
  if ! wait_for 60 curl -sf "$MOTO_URL/moto-api/data.json"; then cat "$PEERS_DIR/moto.log" >&2; return 1; fi
  MOTO_SEED="$PEERS_DIR/moto-seed.json"
  target/venv/bin/python scripts/seed_moto.py --endpoint "$MOTO_URL" taskflow >"$MOTO_SEED"
  echo "moto on $MOTO_URL (seeded: $MOTO_SEED)"
}

# oidc-provider-mock on a free port (users are added by the tests with PUT /users/{sub}).
# Its issuer follows the Host header, so 127.0.0.1 is used everywhere.
oidc_start() {
  local port; port=$(free_port)
  target/venv/bin/oidc-provider-mock -H 127.0.0.1 -p "$port" >"$PEERS_DIR/oidc.log" 2>&1 &
  OIDC_PID=$!
  OIDC_URL="http://127.0.0.1:$port"
  if ! wait_for 60 curl -sf "$OIDC_URL/.well-known/openid-configuration"; then cat "$PEERS_DIR/oidc.log" >&2; return 1; fi
  echo "oidc-provider-mock on $OIDC_URL"
}

oidc_stop() {
  if [ -n "${OIDC_PID:-}" ]; then kill "$OIDC_PID" 2>/dev/null || true; wait "$OIDC_PID" 2>/dev/null || true; fi
}

moto_stop() {
  if [ -n "$MOTO_PID" ]; then kill "$MOTO_PID" 2>/dev/null || true; wait "$MOTO_PID" 2>/dev/null || true; fi
}

# Starts the built console on a free port with a fresh SQLite database and the embedded
# defaults (demo environments, dev auth). Extra variables can be passed in the environment.
console_start() {
  local port; port=$(free_port)
  local n=${#CONSOLE_PIDS[@]}
  mkdir -p "$PEERS_DIR/console$n"
  CONSOLE_URL="http://127.0.0.1:$port"
  LEPTOS_SITE_ADDR="127.0.0.1:$port" \
  OPS_CONSOLE__DATABASE_URL="sqlite://$PEERS_DIR/console$n/ops-console.db" \
    "${CONSOLE_BIN:-target/debug/ops-console}" serve >"$PEERS_DIR/console$n.log" 2>&1 &
  CONSOLE_PIDS+=($!)
  if ! wait_for 60 curl -sf "$CONSOLE_URL/readyz"; then
    cat "$PEERS_DIR/console$n.log" >&2; return 1
  fi
  echo "console on $CONSOLE_URL"
}

console_stop() {
  local pid
  for pid in "${CONSOLE_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  CONSOLE_PIDS=()
}

# The peers of the Rust tests (PostgreSQL, moto, the OIDC provider), their URLs exported in the
# variables the tests read.
peers_start_for_tests() {
  pg_start
  export OPS_CONSOLE_TEST_POSTGRES_URL="$PG_URL"
  moto_start
  export OPS_CONSOLE_TEST_MOTO_URL="$MOTO_URL" OPS_CONSOLE_TEST_MOTO_SEED="$MOTO_SEED"
  oidc_start
  export OPS_CONSOLE_TEST_OIDC_URL="$OIDC_URL"
}

peers_stop() {
  console_stop
  moto_stop
  oidc_stop
  pg_stop
  rm -rf "$PEERS_DIR"
}
