#!/usr/bin/env bash
# Load benchmarks for isms (whole server, release build, SQLite).
#
#   bash bench/run.sh            # all scenarios, 10 s each
#   DURATION=30s bash bench/run.sh
#   BENCH_REDIS_URL=redis://127.0.0.1:6379 bash bench/run.sh   # Redis limiter too
#
# Needs wrk (Debian: apt-get install wrk). Scenarios, each against a fresh
# server on 127.0.0.1 with logs discarded:
#   health      GET /api/v1/health, full middleware stack, rate limiting off
#   users_me    GET /api/v1/users/me with a valid token (signature, session,
#               revocation, policy and tenant checks all on), rate limiting off
#   users_me_limited_in_process / users_me_limited_redis
#               the same with rate limiting on (limits set high, so every
#               request pays for two limiter checks, IP and user, and none
#               is refused); the Redis one runs when BENCH_REDIS_URL is set
#               or a Redis answers on 127.0.0.1:6379
#   login_storm 64 concurrent logins, with GET /api/v1/health measured
#               alongside (hashing must not starve the runtime), and where
#               the CPU went meanwhile (the server, its hashing threads, and
#               how busy the whole machine was)
#
#   SCENARIOS="health login_storm" bash bench/run.sh   # only some of them
#   ISMS_BIN=/path/to/isms bash bench/run.sh            # that binary, no build
#   CEILING=0 ...                                       # skip the Argon2 ceilings
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

DURATION="${DURATION:-10s}"
SCENARIOS="${SCENARIOS:-health users_me users_me_limited_in_process users_me_limited_redis login_storm}"
want() { [[ " $SCENARIOS " == *" $1 "* ]]; }
CONNECTIONS="${CONNECTIONS:-32}"
THREADS="${THREADS:-2}"
command -v wrk >/dev/null || { echo "wrk is required (apt-get install wrk)" >&2; exit 1; }
if [ -z "${BENCH_REDIS_URL:-}" ] && command -v redis-cli >/dev/null &&
    [ "$(redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null)" = PONG ]; then
    BENCH_REDIS_URL=redis://127.0.0.1:6379
fi

if [ -n "${ISMS_BIN:-}" ]; then
    BIN="$ISMS_BIN" # a binary built elsewhere (e.g. to compare two builds)
else
    cargo build --release --locked -p isms >/dev/null
    BIN="$(cd "${CARGO_TARGET_DIR:-target}" && pwd)/release/isms"
fi

PID=""
WORK=""
stop_server() {
    if [ -n "$PID" ]; then
        kill "$PID" 2>/dev/null || true
        wait "$PID" 2>/dev/null || true
    fi
    [ -n "$WORK" ] && rm -rf "$WORK"
    PID=""
    WORK=""
}
trap stop_server EXIT

export ISMS_BENCH_EMAIL=admin@isms.local
export ISMS_BENCH_PASSWORD="bench passphrase for load runs"

# start_server [VAR=value ...]: a fresh server and data directory; sets
# BASE and TOKEN (the bootstrap admin, password changed).
start_server() {
    stop_server
    WORK=$(mktemp -d)
    local port
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    BASE="http://127.0.0.1:${port}"
    # exec: $PID is the server itself, so stop_server stops it (a plain
    # subshell would leave each scenario's server running into the next).
    (cd "$WORK" && exec env ISMS_BIND="127.0.0.1:${port}" ISMS_LOG=info "$@" "$BIN" >"$WORK/stdout" 2>/dev/null) &
    PID=$!
    for _ in $(seq 1 100); do
        kill -0 "$PID" 2>/dev/null || { echo "server failed to start" >&2; exit 1; }
        curl -fs "$BASE/api/v1/health" >/dev/null 2>&1 && break
        sleep 0.1
    done
    local one_time first
    one_time=$(awk '/password:/ {print $2}' "$WORK/stdout")
    first=$(token "$one_time")
    curl -fs -o /dev/null "$BASE/api/v1/users/me/password" -H "authorization: Bearer $first" \
        -H 'content-type: application/json' \
        -d "{\"current_password\":\"$one_time\",\"new_password\":\"$ISMS_BENCH_PASSWORD\"}"
    TOKEN=$(token "$ISMS_BENCH_PASSWORD")
}

token() {
    curl -fs "$BASE/api/v1/auth/login" -H 'content-type: application/json' \
        -d "{\"email\":\"$ISMS_BENCH_EMAIL\",\"password\":\"$1\"}" |
        python3 -c 'import sys,json; print(json.load(sys.stdin)["access_token"])'
}

summary() { grep -E "Requests/sec|50%|99%|Non-2xx"; }

users_me() {
    echo "== $1: wrk -t$THREADS -c$CONNECTIONS -d$DURATION --latency -H 'Authorization: Bearer …' $BASE/api/v1/users/me"
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -H "Authorization: Bearer $TOKEN" \
        "$BASE/api/v1/users/me" | summary
}

OFF=(ISMS_RATE_LIMIT_ENABLED=false)
# High enough that a run never spends them: every request is checked,
# none refused.
HIGH=(ISMS_RATE_LIMIT_ENABLED=true ISMS_RATE_LIMIT_READ_PER_MIN=10000000
    ISMS_RATE_LIMIT_WRITE_PER_MIN=10000000 ISMS_RATE_LIMIT_AUTH_PER_MIN=10000000)

if want health || want users_me; then
    start_server "${OFF[@]}"
    if want health; then
        echo "== health: wrk -t$THREADS -c$CONNECTIONS -d$DURATION --latency $BASE/api/v1/health"
        wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency "$BASE/api/v1/health" | summary
    fi
    if want users_me; then users_me users_me; fi
fi

if want users_me_limited_in_process; then
    start_server "${HIGH[@]}"
    users_me users_me_limited_in_process
fi

if ! want users_me_limited_redis; then
    :
elif [ -n "${BENCH_REDIS_URL:-}" ]; then
    start_server "${HIGH[@]}" ISMS_REDIS_URL="$BENCH_REDIS_URL"
    backend=$(curl -fs "$BASE/api/v1/health/detailed" -H "authorization: Bearer $TOKEN" |
        python3 -c 'import sys,json; print(json.load(sys.stdin)["rate_limit"]["backend"])')
    [ "$backend" = redis ] || { echo "limiter backend is $backend, not redis" >&2; exit 1; }
    users_me users_me_limited_redis
else
    echo "== users_me_limited_redis: skipped (no BENCH_REDIS_URL, no Redis on 127.0.0.1:6379)"
fi

# CPU clock ticks of the server's threads (those whose name starts with
# $2, if given) and of the whole machine (busy, total).
thread_ticks() {
    local total=0 t
    for t in /proc/"$1"/task/*; do
        if [ -n "${2:-}" ] && [[ "$(cat "$t/comm" 2>/dev/null)" != "$2"* ]]; then continue; fi
        total=$((total + $(sed 's/.*) //' "$t/stat" 2>/dev/null | awk '{print $12 + $13}')))
    done
    echo "$total"
}
machine_ticks() { awk '/^cpu / {print $2+$3+$4+$7+$8, $2+$3+$4+$5+$6+$7+$8}' /proc/stat; }

# The Argon2 ceiling: hashes/s on every core with reused buffers, as the
# server verifies, over 5 s. The machine's speed drifts by up to a third
# within minutes, so the storm is compared with the mean of one ceiling
# taken right before it and one right after.
ceiling() {
    ARGON2_BENCH_ONLY=reused ARGON2_BENCH_SECS=5 cargo bench -q -p isms-infra --bench argon2_throughput 2>/dev/null |
        awk '/reused memory/ { for (i = 2; i <= NF; i++) if ($i == "hashes/s") print $(i - 1) }'
}
WITH_CEILING=0
if want login_storm && [ "${CEILING:-1}" != 0 ]; then
    WITH_CEILING=1
    cargo bench --no-run -q -p isms-infra --bench argon2_throughput >/dev/null 2>&1
fi

if want login_storm; then
    start_server "${OFF[@]}"
    SPID=$PID
    if [ "$WITH_CEILING" = 1 ]; then before=$(ceiling); fi
    echo "== login_storm: wrk -t1 -c64 -d$DURATION -s bench/login.lua $BASE/api/v1/auth/login, health probed alongside (bench/probe.py)"
    wrk -t1 -c64 -d"$DURATION" --latency -s bench/login.lua "$BASE/api/v1/auth/login" >"$WORK/storm" &
    STORM=$!
    sleep 1
    t0=$(date +%s.%N); s0=$(thread_ticks "$SPID"); h0=$(thread_ticks "$SPID" argon2-); read -r b0 m0 < <(machine_ticks)
    python3 bench/probe.py "$BASE/api/v1/health" "$(( ${DURATION%s} - 2 ))" | sed 's/^/   health during storm: /'
    t1=$(date +%s.%N); s1=$(thread_ticks "$SPID"); h1=$(thread_ticks "$SPID" argon2-); read -r b1 m1 < <(machine_ticks)
    wait "$STORM"
    summary <"$WORK/storm" | sed 's/^/   logins: /'
    tick=$(getconf CLK_TCK)
    awk -v s="$((s1 - s0))" -v h="$((h1 - h0))" -v b="$((b1 - b0))" -v m="$((m1 - m0))" \
        -v dt="$(echo "$t1 - $t0" | bc)" -v tick="$tick" -v n="$(nproc)" 'BEGIN {
        printf "   cpu during storm: server %.2f cores (hashing threads %.2f = %.0f%% of the cores), machine %.0f%% busy of %d cores\n",
            s / tick / dt, h / tick / dt, 100 * h / tick / dt / n, 100 * b / m, n }'
    # The hashing threads' share of the cores bounds logins/s against the
    # ceiling whatever the machine's speed does between the two runs; the
    # CPU a login's hash took compares with the ceiling's ms per hash.
    rate=$(awk '/Requests\/sec/ {print $2}' "$WORK/storm")
    awk -v h="$((h1 - h0))" -v dt="$(echo "$t1 - $t0" | bc)" -v tick="$tick" -v r="$rate" 'BEGIN {
        if (r > 0) printf "   hash cpu per login: %.1f ms\n", 1000 * h / tick / dt / r }'
    if [ "$WITH_CEILING" = 1 ]; then
        after=$(ceiling)
        echo "== argon2 ceiling: ARGON2_BENCH_ONLY=reused ARGON2_BENCH_SECS=5 cargo bench -p isms-infra --bench argon2_throughput, right before and after the storm"
        awk -v b="$before" -v a="$after" -v r="$rate" 'BEGIN {
            printf "   %.1f hashes/s before, %.1f after; logins/s %.1f = %.0f%% of their mean\n", b, a, r, 200 * r / (a + b) }'
    fi
fi
