#!/usr/bin/env bash
# Load benchmarks for isms (whole server, release build, SQLite).
#
#   bash bench/run.sh            # all scenarios, 10 s each
#   DURATION=30s bash bench/run.sh
#
# Needs wrk (Debian: apt-get install wrk). Scenarios, each against a fresh
# server on 127.0.0.1 with rate limiting off and logs discarded:
#   health      GET /api/v1/health, full middleware stack
#   users_me    GET /api/v1/users/me with a valid token (signature, session,
#               revocation and tenant checks all on)
#   login_storm 64 concurrent logins, with GET /api/v1/health measured
#               alongside (hashing must not starve the runtime)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

DURATION="${DURATION:-10s}"
CONNECTIONS="${CONNECTIONS:-32}"
THREADS="${THREADS:-2}"
command -v wrk >/dev/null || { echo "wrk is required (apt-get install wrk)" >&2; exit 1; }

cargo build --release --locked -p isms >/dev/null
BIN="$(cd "${CARGO_TARGET_DIR:-target}" && pwd)/release/isms"

WORK=$(mktemp -d)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
BASE="http://127.0.0.1:${PORT}"
cleanup() { [ -n "${PID:-}" ] && kill "$PID" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT

(cd "$WORK" && ISMS_BIND="127.0.0.1:${PORT}" ISMS_LOG=info "$BIN" >"$WORK/stdout" 2>/dev/null) &
PID=$!
for _ in $(seq 1 100); do
    kill -0 "$PID" 2>/dev/null || { echo "server failed to start" >&2; exit 1; }
    curl -fs "$BASE/api/v1/health" >/dev/null 2>&1 && break
    sleep 0.1
done
ONE_TIME=$(awk '/password:/ {print $2}' "$WORK/stdout")
export ISMS_BENCH_EMAIL=admin@isms.local
export ISMS_BENCH_PASSWORD="bench passphrase for load runs"
token() {
    curl -fs "$BASE/api/v1/auth/login" -H 'content-type: application/json' \
        -d "{\"email\":\"$ISMS_BENCH_EMAIL\",\"password\":\"$1\"}" |
        python3 -c 'import sys,json; print(json.load(sys.stdin)["access_token"])'
}
FIRST=$(token "$ONE_TIME")
curl -fs -o /dev/null "$BASE/api/v1/users/me/password" -H "authorization: Bearer $FIRST" \
    -H 'content-type: application/json' \
    -d "{\"current_password\":\"$ONE_TIME\",\"new_password\":\"$ISMS_BENCH_PASSWORD\"}"
TOKEN=$(token "$ISMS_BENCH_PASSWORD")

echo "== health: wrk -t$THREADS -c$CONNECTIONS -d$DURATION --latency $BASE/api/v1/health"
wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency "$BASE/api/v1/health" | grep -E "Requests/sec|50%|99%|Non-2xx"

echo "== users_me: wrk -t$THREADS -c$CONNECTIONS -d$DURATION --latency -H 'Authorization: Bearer …' $BASE/api/v1/users/me"
wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -H "Authorization: Bearer $TOKEN" "$BASE/api/v1/users/me" |
    grep -E "Requests/sec|50%|99%|Non-2xx"

echo "== login_storm: wrk -t1 -c64 -d$DURATION -s bench/login.lua $BASE/api/v1/auth/login, health probed alongside (bench/probe.py)"
wrk -t1 -c64 -d"$DURATION" --latency -s bench/login.lua "$BASE/api/v1/auth/login" >"$WORK/storm" &
STORM=$!
sleep 1
python3 bench/probe.py "$BASE/api/v1/health" "$(( ${DURATION%s} - 2 ))" | sed 's/^/   health during storm: /'
wait "$STORM"
grep -E "Requests/sec|50%|99%|Non-2xx" "$WORK/storm" | sed 's/^/   logins: /'
echo "== argon2 ceiling: cargo bench -p isms-infra"
cargo bench -q -p isms-infra 2>/dev/null | grep argon2id
