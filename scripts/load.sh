#!/usr/bin/env bash
# The load benchmark (part of `make bench`; figures for docs/PERFORMANCE.md, "Load"): the release
# console with the demo environments on SQLite, 200 signed-in viewers (half with the viewer role,
# half signed in without a role) going round the overview, an environment page, an incident page
# and /access for LOAD_SECONDS (60) with wrk (Debian's, installed here when missing), then:
#   - every response completed: timeouts at 5 s, 5xx (goal: 0 and 0);
#   - RSS idle, after the load and after REPEATS (3) more loads (goal: no growth, <= 64 MB);
#   - P1: the environment page against the JSON of the same cached data, 32 connections;
#   - the overview's throughput at 32 connections;
#   - the bytes of a first visit of the overview as the browser receives them (brotli).
# Fails (exit 1) when a goal of the load is missed.
set -euo pipefail
cd "$(dirname "$0")/.."
LOAD_SECONDS=${LOAD_SECONDS:-60}
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
echo "load: release build (make build PROFILE=release)…" >&2
make --no-print-directory build PROFILE=release >&2

source scripts/peers.sh
trap peers_stop EXIT
mkdir -p "$PEERS_DIR/console0"
export OPS_CONSOLE__DATABASE_URL="sqlite://$PEERS_DIR/console0/ops-console.db"
cargo run --quiet -p server --example sessions -- --count "$VIEWERS" >"$PEERS_DIR/cookies.txt"
CONSOLE_BIN=target/release/ops-console console_start >&2
pid=${CONSOLE_PIDS[0]}
rss() { awk '/VmRSS/ {printf "%.1f", $2 / 1024}' "/proc/$pid/status"; }

# An incident to look at, declared by the on-call.
curl -sf -c "$PEERS_DIR/alice" -o /dev/null -d user=alice "$CONSOLE_URL/auth/dev-login"
incident=$(curl -sf -b "$PEERS_DIR/alice" -H "origin: $CONSOLE_URL" \
  -d environment=taskflow-production -d title="Load benchmark" -d severity=2 \
  "$CONSOLE_URL/api/v1/incidents/declare")
PAGES="/,/env/taskflow-production,/incidents/$incident,/access"
# Warm: every page once (the first render of each fills the caches), then idle RSS.
for p in ${PAGES//,/ }; do curl -sf -o /dev/null -b "ops_console_session=$(head -1 "$PEERS_DIR/cookies.txt")" "$CONSOLE_URL$p"; done
sleep 1
rss_idle=$(rss)

load() { # seconds connections pages [extra env]
  COOKIES="$PEERS_DIR/cookies.txt" PAGES="$3" ORIGIN="$CONSOLE_URL" \
    wrk -t1 -c"$2" -d"$1"s --timeout 5s -s scripts/load/viewers.lua "$CONSOLE_URL" | grep '^RESULT'
}
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$2"; }

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

# First visit of the overview, as a browser receives it: the HTML and what it loads.
first_visit() {
  local html="$PEERS_DIR/overview.html" total name
  local cookie="ops_console_session=$(head -1 "$PEERS_DIR/cookies.txt")"
  total=$(curl -sf -H 'accept-encoding: br, gzip' -b "$cookie" -o /dev/null -w '%{size_download}' "$CONSOLE_URL/")
  curl -sf -b "$cookie" -o "$html" "$CONSOLE_URL/"
  name=$(grep -o '/pkg/ops-console\.[0-9a-f]\{16\}\.js' "$html" | head -1 | sed 's/\.js$//')
  for ext in js wasm css; do
    total=$((total + $(curl -sf -H 'accept-encoding: br, gzip' -o /dev/null -w '%{size_download}' "$CONSOLE_URL$name.$ext")))
  done
  echo "$total"
}
bytes=$(first_visit)

cat <<EOF

### Load ($(date -u +%F), \`make bench\`, release build, $(nproc) cores, wrk -t1 on the same machine)

| | figure | goal |
|---|---|---|
| $VIEWERS viewers × ${LOAD_SECONDS} s on 4 pages | $(field requests "$main") responses, $(field rps "$main") req/s, p50 $(field p50_ms "$main") ms, p99 $(field p99_ms "$main") ms, max $(field max_ms "$main") ms | |
| timeouts at 5 s / 5xx / connect+read errors | $(field timeouts "$main") / $(field status5xx "$main") / $(field connect_errors "$main")+$(field read_errors "$main") | 0 / 0 |
| 4xx (expected 0: pages answer 200 with what the role may see) | $(field status4xx "$main") | |
| RSS idle → after the load → after $REPEATS more loads of 20 s | $rss_idle → $rss_load → ${rss_after[*]} MB | no growth, ≤ 64 MB |
| P1: environment page p99 ÷ its JSON p99 (32 connections) | $(field p99_ms "$page") ms ÷ $(field p99_ms "$json") ms; $(field rps "$page") vs $(field rps "$json") req/s | ≤ 3× |
| overview at 32 connections | $(field rps "$overview") req/s, p99 $(field p99_ms "$overview") ms | |
| first visit of the overview (HTML gzip + JS, wasm, CSS brotli) | $bytes B | 150 KB (issue 15) |
EOF

fail=0
[ "$(field timeouts "$main")" = 0 ] || { echo "load: responses timed out" >&2; fail=1; }
[ "$(field status5xx "$main")" = 0 ] || { echo "load: 5xx answers" >&2; fail=1; }
exit $fail
