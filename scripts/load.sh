#!/usr/bin/env bash
# The load benchmark (part of `make bench`; figures for docs/PERFORMANCE.md, "Load"): the release
# console with the demo environments on SQLite, 200 signed-in viewers (half with the viewer role,
# half signed in without a role) going round the overview, an environment page, an incident page
# and /access for LOAD_SECONDS (60) with wrk (Debian's, installed here when missing), then:
#   - every response completed: timeouts at 5 s, 5xx (goal: 0 and 0);
#   - RSS idle, after the load and after REPEATS (3) more loads (goal: no growth, <= 64 MB);
#   - P1: the environment page against the JSON of the same cached data, 32 connections;
#   - the overview's throughput at 32 connections;
#   - the bytes of a first visit of the overview (and of an environment page, an incident page
#     and /access) as the browser receives them (brotli); over 150,000 B for the overview fails.
# Fails (exit 1) when a goal of the load is missed.
set -euo pipefail
cd "$(dirname "$0")/.."
LOAD_SECONDS=${LOAD_SECONDS:-60}
# The parts to run (all by default): demo (the load, RSS, P1, throughput, first visit), slow (slow
# AWS), size (P7).
PARTS=${PARTS:-demo slow size}
part() { [[ " $PARTS " == *" $1 "* ]]; }
REPEATS=${REPEATS:-3}
VIEWERS=${VIEWERS:-200}

# wrk is the load generator; binaryen's wasm-opt makes the release wasm what ships (the first
# visit's bytes).
need=()
command -v wrk >/dev/null || need+=(wrk)
command -v wasm-opt >/dev/null || need+=(binaryen)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  else
    echo "missing: ${need[*]}: sudo apt-get install ${need[*]}" >&2; exit 1
  fi
fi
if [ "${LOAD_SITE:-1}" = 1 ]; then
  echo "load: release build (make build PROFILE=release)…" >&2
  make --no-print-directory build PROFILE=release >&2
else # LOAD_SITE=0: the server only, serving the site built before (when iterating on the server)
  cargo build -p server --release >&2
fi

source scripts/peers.sh
trap peers_stop EXIT
load() { # seconds connections pages [extra env]
  COOKIES="$PEERS_DIR/cookies.txt" PAGES="$3" ORIGIN="$CONSOLE_URL" \
    wrk -t1 -c"$2" -d"$1"s --timeout 5s -s scripts/load/viewers.lua "$CONSOLE_URL" | grep '^RESULT'
}
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$2"; }
# An incident on taskflow-production, declared by the on-call (alice): its id.
declare() {
  curl -sf -c "$PEERS_DIR/alice" -o /dev/null -d user=alice "$CONSOLE_URL/auth/dev-login"
  curl -sf -b "$PEERS_DIR/alice" -H "origin: $CONSOLE_URL" \
    -d environment=taskflow-production -d title="$1" -d severity=2 "$CONSOLE_URL/api/v1/incidents/declare"
}
# Every page of PAGES once, as the first session (the first render of each fills the caches).
warm() {
  local p
  for p in ${PAGES//,/ }; do curl -sf -o /dev/null -b "ops_console_session=$(head -1 "$PEERS_DIR/cookies.txt")" "$CONSOLE_URL$p"; done
}
fail=0

if part demo; then
mkdir -p "$PEERS_DIR/console0"
export OPS_CONSOLE__DATABASE_URL="sqlite://$PEERS_DIR/console0/ops-console.db"
cargo run --quiet -p server --example sessions -- --count "$VIEWERS" >"$PEERS_DIR/cookies.txt"
CONSOLE_BIN=target/release/ops-console console_start >&2
pid=${CONSOLE_PIDS[0]}
rss() { awk '/VmRSS/ {printf "%.1f", $2 / 1024}' "/proc/$pid/status"; }

incident=$(declare "Load benchmark")
PAGES="/,/env/taskflow-production,/incidents/$incident,/access"
# Warm: every page once (the first render of each fills the caches), then idle RSS.
warm
sleep 1
rss_idle=$(rss)

echo "load: $VIEWERS viewers on $PAGES for ${LOAD_SECONDS}s…" >&2
main=$(load "$LOAD_SECONDS" "$VIEWERS" "$PAGES")
rss_load=$(rss)
rss_after=()
for _ in $(seq "$REPEATS"); do
  load 20 "$VIEWERS" "$PAGES" >/dev/null
  rss_after+=("$(rss)")
done

echo "load: P1 and throughput at 32 connections…" >&2
page=$(load 15 32 "/env/taskflow-production")
json=$(METHOD=POST BODY="name=taskflow-production" load 15 32 "/api/v1/environments/get")
overview=$(load 15 32 "/")
# Issue 16: a log page (an hour of a demo function's lines, 500 shown) and the changes of a day.
LOGS_PAGE="/env/curriculum-alignment-prod/logs?source=lambda%3Acurriculum-alignment-prod-document-processing&minutes=60"
logs=$(load 15 32 "$LOGS_PAGE")
changes=$(load 15 32 "/env/taskflow-production/changes?since=24h")

# First visit of a page (the overview by default), as a browser receives it: the HTML and what
# it loads (compressed as negotiated).
first_visit() {
  local path="${1:-/}" html="$PEERS_DIR/first-visit.html" total name
  local cookie="ops_console_session=$(head -1 "$PEERS_DIR/cookies.txt")"
  total=$(curl -sf -H 'accept-encoding: br, gzip' -b "$cookie" -o /dev/null -w '%{size_download}' "$CONSOLE_URL$path")
  curl -sf -b "$cookie" -o "$html" "$CONSOLE_URL$path"
  name=$(grep -o '/pkg/ops-console\.[0-9a-f]\{16\}\.js' "$html" | head -1 | sed 's/\.js$//')
  for ext in js wasm css; do
    total=$((total + $(curl -sf -H 'accept-encoding: br, gzip' -o /dev/null -w '%{size_download}' "$CONSOLE_URL$name.$ext")))
  done
  echo "$total"
}
bytes=$(first_visit /)
bytes_env=$(first_visit /env/taskflow-production)
bytes_incident=$(first_visit "/incidents/$incident")
bytes_access=$(first_visit /access)

cat <<EOF

### Load ($(date -u +%F), \`make bench\`, release build, $(nproc) cores, wrk -t1 on the same machine)

| | figure | goal |
|---|---|---|
| $VIEWERS viewers × ${LOAD_SECONDS} s on 4 pages | $(field requests "$main") responses, $(field rps "$main") req/s, p50 $(field p50_ms "$main") ms, p99 $(field p99_ms "$main") ms, max $(field max_ms "$main") ms | |
| timeouts at 5 s / 5xx / connect+read errors | $(field timeouts "$main") / $(field status5xx "$main") / $(field connect_errors "$main")+$(field read_errors "$main") | 0 / 0 |
| 4xx (the viewers without a role: each of their pages answers 403 with the no-access notice; half) | $(field status4xx "$main") | |
| RSS idle → after the load → after $REPEATS more loads of 20 s | $rss_idle → $rss_load → ${rss_after[*]} MB | no growth, ≤ 64 MB |
| P1: environment page p99 ÷ its JSON p99 (32 connections) | $(field p99_ms "$page") ms ÷ $(field p99_ms "$json") ms; $(field rps "$page") vs $(field rps "$json") req/s | ≤ 3× |
| overview at 32 connections | $(field rps "$overview") req/s, p99 $(field p99_ms "$overview") ms | |
| first visit of the overview (HTML gzip + JS, wasm, CSS brotli) | $bytes B | ≤ 150,000 B (issue 15) |
| first visit of an environment page / an incident page / /access | $bytes_env / $bytes_incident / $bytes_access B | |
| log page (an hour of a demo function, 500 lines) at 32 connections | $(field rps "$logs") req/s, p99 $(field p99_ms "$logs") ms | |
| changes page (a day of a demo environment) at 32 connections | $(field rps "$changes") req/s, p99 $(field p99_ms "$changes") ms | |
EOF

# The budget of issue 15: a first visit of the overview within 150,000 bytes on the wire.
if [ "$bytes" -gt 150000 ]; then
  echo "FAIL: first visit of the overview $bytes B > 150000 B" >&2
  fail=1
fi

[ "$(field timeouts "$main")" = 0 ] || { echo "load: responses timed out" >&2; fail=1; }
[ "$(field status5xx "$main")" = 0 ] || { echo "load: 5xx answers" >&2; fail=1; }
console_stop
fi

# Slow AWS (issue 14, item 4): the same viewers on a live environment read from moto through a
# proxy that answers every call after SLOW_MS (500) ms, and the AWS calls they cost against those
# of one viewer going round the same pages for the same time.
if part slow; then
incident="" # of the slow part's own database
echo "load: slow AWS: moto seeded with TaskFlow behind a ${SLOW_MS:=500} ms proxy…" >&2
bash scripts/py-deps.sh >&2
moto_start >&2
cargo build --quiet -p server --example slow_aws
target/debug/examples/slow_aws --upstream "$MOTO_URL" --delay-ms "$SLOW_MS" >"$PEERS_DIR/slow.url" 2>"$PEERS_DIR/slow.log" &
SLOW_PID=$!
trap 'kill $SLOW_PID 2>/dev/null || true; peers_stop' EXIT
wait_for 30 test -s "$PEERS_DIR/slow.url"
SLOW_URL=$(head -1 "$PEERS_DIR/slow.url")
calls() { curl -sf "$SLOW_URL/__slow_aws/calls"; }
# The calls between two snapshots of calls(): "N (service n, …)".
calls_between() {
  python3 -c 'import json,sys; a,b=json.loads(sys.argv[1]),json.loads(sys.argv[2]); d={k:v-a["by_service"].get(k,0) for k,v in b["by_service"].items() if v-a["by_service"].get(k,0)}; print(b["total"]-a["total"], "(" + ", ".join(f"{k} {v}" for k,v in sorted(d.items())) + ")")' "$1" "$2"
}
cat >"$PEERS_DIR/slow.toml" <<TOML
demo = false
[[environments]]
name = "taskflow-production"
tier = "prod"
region = "us-east-1"
endpoint_url = "$SLOW_URL"
selector = { tag_key = "Environment", tag_value = "production" }
TOML
rm -rf "$PEERS_DIR/console0"; mkdir -p "$PEERS_DIR/console0"
export OPS_CONSOLE__DATABASE_URL="sqlite://$PEERS_DIR/console0/ops-console.db"
export OPS_CONSOLE_CONFIG="$PEERS_DIR/slow.toml"
cargo run --quiet -p server --example sessions -- --count "$VIEWERS" >"$PEERS_DIR/cookies.txt"
# Each run on a console started afresh (empty caches, the same database), warmed by one view of
# each page, so that both count the calls of the same stretch of every cache's life.
slow_run() { # connections → the RESULT line in $run_result, the calls in $run_calls
  CONSOLE_BIN=target/release/ops-console console_start >&2
  [ -n "$incident" ] || incident=$(declare "Slow AWS benchmark")
  PAGES="/,/env/taskflow-production,/incidents/$incident,/access"
  warm
  local c0; c0=$(calls)
  run_result=$(load "$LOAD_SECONDS" "$1" "$PAGES")
  run_calls=$(calls_between "$c0" "$(calls)")
  console_stop
}
slow_run 1; one=$run_result; one_calls=$run_calls
slow_run "$VIEWERS"; many=$run_result; many_calls=$run_calls
ratio=$(python3 -c "print(f'{${many_calls%% *} / max(${one_calls%% *}, 1):.2f}')")

cat <<EOF

### Slow AWS ($(date -u +%F), \`make bench\`, release build; moto seeded with TaskFlow behind a proxy answering every call after $SLOW_MS ms)

| | 1 viewer × ${LOAD_SECONDS} s | $VIEWERS viewers × ${LOAD_SECONDS} s | goal |
|---|---|---|---|
| responses | $(field requests "$one") | $(field requests "$many") ($(field rps "$many") req/s) | |
| page p50 / p99 / max | $(field p50_ms "$one") / $(field p99_ms "$one") / $(field max_ms "$one") ms | $(field p50_ms "$many") / $(field p99_ms "$many") / $(field max_ms "$many") ms | p99 ≤ 1,000 ms |
| timeouts at 5 s / 5xx / connect+read errors | $(field timeouts "$one") / $(field status5xx "$one") / $(field connect_errors "$one")+$(field read_errors "$one") | $(field timeouts "$many") / $(field status5xx "$many") / $(field connect_errors "$many")+$(field read_errors "$many") | 0 |
| AWS calls (counted by the proxy) | $one_calls | $many_calls (${ratio}×) | ≤ 1.1× |
EOF
for r in "$one" "$many"; do
  [ "$(field timeouts "$r")" = 0 ] || { echo "load: slow AWS: responses timed out" >&2; fail=1; }
  [ "$(field status5xx "$r")" = 0 ] || { echo "load: slow AWS: 5xx answers" >&2; fail=1; }
done
kill "$SLOW_PID" 2>/dev/null || true
fi

# P7 (issue 14): the render time of an environment of SIZE_BIG (500) services against one of
# SIZE_SMALL (50), both read from moto (4 tasks a service, the same 40 functions and other kinds),
# one viewer with a role asking for the page for 15 s each once its inventory is complete.
if part size; then
SIZE_SMALL=${SIZE_SMALL:-50}; SIZE_BIG=${SIZE_BIG:-500}
echo "load: P7: moto seeded with $SIZE_SMALL and $SIZE_BIG services…" >&2
bash scripts/py-deps.sh >&2
[ -n "$MOTO_PID" ] || moto_start >&2
for spec in "eu-west-1 $SIZE_SMALL" "eu-west-2 $SIZE_BIG"; do
  set -- $spec
  target/venv/bin/python scripts/seed_moto.py --endpoint "$MOTO_URL" bench --region "$1" \
    --services "$2" --tasks $(($2 * 4)) --functions 40 >/dev/null
done
cat >"$PEERS_DIR/size.toml" <<TOML
demo = false
[[environments]]
name = "bench-small"
tier = "prod"
region = "eu-west-1"
endpoint_url = "$MOTO_URL"

[[environments]]
name = "bench-big"
tier = "prod"
region = "eu-west-2"
endpoint_url = "$MOTO_URL"
TOML
rm -rf "$PEERS_DIR/console0"; mkdir -p "$PEERS_DIR/console0"
export OPS_CONSOLE__DATABASE_URL="sqlite://$PEERS_DIR/console0/ops-console.db"
export OPS_CONSOLE_CONFIG="$PEERS_DIR/size.toml"
cargo run --quiet -p server --example sessions -- --count 2 | sed -n 1p >"$PEERS_DIR/cookies.txt"
CONSOLE_BIN=target/release/ops-console console_start >&2
cookie="ops_console_session=$(head -1 "$PEERS_DIR/cookies.txt")"
# The services an environment's data lists (its JSON), read until all are there: moto answers a
# first read of 500 services and their tasks more slowly than a page waits.
services_of() {
  curl -sf -b "$cookie" -H "origin: $CONSOLE_URL" -d "name=$1" "$CONSOLE_URL/api/v1/environments/get" \
    | grep -o '"bench-svc-[0-9]*"' | sort -u | wc -l
}
lists_all() { [ "$(services_of "$1")" -ge "$2" ]; }
for spec in "bench-small $SIZE_SMALL" "bench-big $SIZE_BIG"; do
  set -- $spec
  wait_for 120 lists_all "$1" "$2" || { echo "load: P7: $1 lists $(services_of "$1") of $2 services" >&2; fail=1; }
  curl -sf -o /dev/null -b "$cookie" "$CONSOLE_URL/env/$1"
done
small=$(load 15 1 "/env/bench-small")
big=$(load 15 1 "/env/bench-big")
bytes_small=$(curl -sf -b "$cookie" -o /dev/null -w '%{size_download}' "$CONSOLE_URL/env/bench-small")
bytes_big=$(curl -sf -b "$cookie" -o /dev/null -w '%{size_download}' "$CONSOLE_URL/env/bench-big")
p7=$(python3 -c "print(f'{$(field p50_ms "$big") / $(field p50_ms "$small"):.1f}')")

cat <<EOF

### P7: render time against size ($(date -u +%F), \`make bench\`, release build, moto, 1 viewer × 15 s each)

| environment page | services / tasks | HTML bytes | p50 / p99 | req/s |
|---|---|---|---|---|
| /env/bench-small | $(services_of bench-small) / $((SIZE_SMALL * 4)) | $bytes_small | $(field p50_ms "$small") / $(field p99_ms "$small") ms | $(field rps "$small") |
| /env/bench-big | $(services_of bench-big) / $((SIZE_BIG * 4)) | $bytes_big | $(field p50_ms "$big") / $(field p99_ms "$big") ms | $(field rps "$big") |

P7 = p50 of the big ÷ p50 of the small: **${p7}×** (goal ≤ 12×, i.e. linear).
EOF
for r in "$small" "$big"; do
  [ "$(field status5xx "$r")" = 0 ] || { echo "load: P7: 5xx answers" >&2; fail=1; }
  [ "$(field status4xx "$r")" = 0 ] || { echo "load: P7: 4xx answers" >&2; fail=1; }
done
console_stop
fi

exit $fail
