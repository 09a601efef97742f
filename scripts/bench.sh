#!/usr/bin/env bash
# `just bench`: Portcullis' hot paths next to a bare actix-web route, measured in one run.
#
# Builds release binaries, pins the server under test to one core and wrk to another, and
# measures, each for SECS seconds over CONNS connections:
#   - the bare route (examples/bare_route.rs: fixed JSON, same worker count);
#   - GET /api/auth/current-user by Bearer token, by the access_token cookie, by X-API-Key;
#   - POST /api/auth/token, refresh grant: one chain per connection, each answer's refresh
#     token used for the next request (rotation, reuse detection and all);
#   - POST /api/auth/login (bcrypt at COST);
#   - current-user's p99 alone and during a login flood;
# on SQLite and on PostgreSQL (a fresh database, dropped afterwards), and prints each as a
# ratio of the bare route, with the machine and the settings. Idle RSS is read from /proc.
#
#   just bench                                   # or scripts/bench.sh
#   SECS=20 COST=12 DATABASES=postgres scripts/bench.sh
#   PORTCULLIS_BIN=/tmp/portcullis-main scripts/bench.sh   # another build, same yardstick
#   BASELINE_BIN=/tmp/portcullis-main ROUNDS=3 scripts/bench.sh
#       # this tree's build and another, interleaved phase by phase, each ROUNDS times;
#       # the summary gives medians and now/before for every row
#
# Runs on these machines vary by 15-20 % from one to the next, so compare builds with
# BASELINE_BIN and ROUNDS of 3 or more rather than two separate runs.
#
# Needs wrk (apt-get install wrk) and, for PostgreSQL, psql and a server at
# PORTCULLIS_TEST_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/postgres).
# Talks only to 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."

COST=${COST:-10}
SECS=${SECS:-10}
CONNS=${CONNS:-16}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
DATABASES=${DATABASES:-sqlite postgres}
PG_URL=${PORTCULLIS_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}
PORT=${PORT:-18999}
BARE_PORT=${BARE_PORT:-18998}
BASE="http://127.0.0.1:$PORT"
# Another build to measure instead of this tree's (say, main's, to compare in one run).
TARGET_DIR=${CARGO_TARGET_DIR:-target}
PORTCULLIS_BIN=${PORTCULLIS_BIN:-$TARGET_DIR/release/portcullis}
BASELINE_BIN=${BASELINE_BIN:-}
ROUNDS=${ROUNDS:-1}

command -v wrk >/dev/null || { echo "bench: wrk is needed (apt-get install wrk)" >&2; exit 1; }
command -v taskset >/dev/null || { echo "bench: taskset is needed (util-linux)" >&2; exit 1; }

echo "building release binaries..."
cargo build --release --quiet --bin portcullis --example bare_route

work=$(mktemp -d)
server=""
pg_db=""
cleanup() {
    if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
    if [ -n "$pg_db" ]; then psql -q "$PG_URL" -c "DROP DATABASE IF EXISTS $pg_db WITH (FORCE)" >/dev/null 2>&1 || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

# p99 of a wrk --latency report, in milliseconds.
p99_ms() {
    awk '$1 == "99%" { v = $2;
        if (v ~ /us$/) { sub(/us$/, "", v); v = v / 1000 }
        else if (v ~ /ms$/) { sub(/ms$/, "", v) }
        else if (v ~ /s$/) { sub(/s$/, "", v); v = v * 1000 }
        printf "%.2f", v }' "$1"
}
rps() { awk '/Requests\/sec/ { printf "%.0f", $2 }' "$1"; }
failures() {
    awk '/Non-2xx/ { bad += $NF } /Socket errors/ { gsub(/,/, ""); bad += $4 + $6 + $8 + $10 } END { print bad + 0 }' "$1"
}

BARE_RPS=""
report_row() {
    local name=$1 file=$2 r ratio="-"
    r=$(rps "$file")
    [ -n "$BARE_RPS" ] && ratio=$(awk -v a="$r" -v b="$BARE_RPS" 'BEGIN { printf "%.3f", a / b }')
    printf '%-45s %8s req/s  p99 %8s ms  ratio %6s  failed %s\n' "$name" "$r" "$(p99_ms "$file")" "$ratio" "$(failures "$file")"
}
# Every measured row, for the summary: build label, row name, req/s, p99 ms (tab-separated).
record() {
    printf '%s\t%s\t%s\t%s\n' "$LABEL" "$1" "$(rps "$2")" "$(p99_ms "$2")" >>"$work/results.tsv"
}
# run_wrk NAME WRK-ARGS...: measures, prints and records a row; the report stays in $work/NAME.txt.
run_wrk() {
    local name=$1
    shift
    taskset -c "$CLIENT_CPU" wrk --latency -d"${SECS}s" "$@" >"$work/$name.txt"
    report_row "$LABEL $name" "$work/$name.txt"
    record "$name" "$work/$name.txt"
}

echo
echo "== machine: $(nproc) cores ($(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)), $(uname -sr)"
echo "== build under test (now): $PORTCULLIS_BIN"
[ -n "$BASELINE_BIN" ] && echo "== baseline (before), interleaved with it: $BASELINE_BIN"
echo "== rounds: $ROUNDS (the summary gives medians)"
echo "== settings: server on CPU $SERVER_CPU, wrk on CPU $CLIENT_CPU, $CONNS connections, ${SECS}s per phase, bcrypt cost $COST, release build"
echo "== ratio: requests per second as a fraction of the bare actix-web route's in this run"
echo

measure_bare() {
    taskset -c "$SERVER_CPU" "$TARGET_DIR/release/examples/bare_route" "127.0.0.1:$BARE_PORT" &
    server=$!
    for _ in $(seq 50); do curl -fs "http://127.0.0.1:$BARE_PORT/bare" >/dev/null && break; sleep 0.1; done
    BARE_RPS=""
    LABEL=bare run_wrk "actix-web route" -t1 -c"$CONNS" "http://127.0.0.1:$BARE_PORT/bare"
    BARE_RPS=$(rps "$work/actix-web route.txt")
    kill "$server"; wait "$server" 2>/dev/null || true; server=""
    echo
}

start_portcullis() {
    PORTCULLIS_DATABASE_URL="$1" PORTCULLIS_BIND="127.0.0.1:$PORT" PORTCULLIS_BCRYPT_COST="$COST" \
        PORTCULLIS_RATE_LIMIT_PER_MINUTE=0 PORTCULLIS_LOCKOUT_THRESHOLD=0 PORTCULLIS_MAIL_DIR="$work/mail" \
        PORTCULLIS_LOG=warn taskset -c "$SERVER_CPU" "$2" serve &
    server=$!
    for _ in $(seq 100); do curl -fs "$BASE/health/ready" >/dev/null && return 0; sleep 0.1; done
    echo "bench: Portcullis did not become ready" >&2
    exit 1
}

# bench_database DB URL BINARY: every Portcullis row on one fresh database, with one build.
bench_database() {
    local db=$1 url=$2 binary=$3
    start_portcullis "$url" "$binary"
    sleep 1
    local rss
    rss=$(awk '/VmRSS/ { printf "%.1f", $2 / 1024 }' "/proc/$server/status")
    echo "-- $LABEL $db: idle RSS $rss MiB"
    printf '%s\t%s\t%s\t-\n' "$LABEL" "$db idle RSS MiB" "$rss" >>"$work/results.tsv"

    local password="Trellis-Quartz-Harbor-48"
    curl -fs "$BASE/api/auth/signup" -H 'content-type: application/json' \
        -d "{\"name\":\"Bench\",\"email\":\"bench@example.com\",\"password\":\"$password\"}" >/dev/null
    local login="{\"email\":\"bench@example.com\",\"password\":\"$password\"}"
    local token key
    token=$(curl -fs -D - -o /dev/null "$BASE/api/auth/login" -H 'content-type: application/json' -d "$login" \
        | sed -n 's/^set-cookie: access_token=\([^;]*\).*/\1/Ip')
    key=$(curl -fs "$BASE/api/auth/api-keys" -H "Authorization: Bearer $token" -H 'content-type: application/json' \
        -d '{"name":"bench"}' | sed -n 's/.*"key":"\([^"]*\)".*/\1/p')

    run_wrk "$db current-user bearer" -t1 -c"$CONNS" -H "Authorization: Bearer $token" "$BASE/api/auth/current-user"
    run_wrk "$db current-user cookie" -t1 -c"$CONNS" -H "Cookie: access_token=$token" "$BASE/api/auth/current-user"
    run_wrk "$db current-user x-api-key" -t1 -c"$CONNS" -H "X-API-Key: $key" "$BASE/api/auth/current-user"

    # One refresh chain per connection: wrk gives each thread its own Lua state.
    : >"$work/refresh-tokens"
    for _ in $(seq "$CONNS"); do
        # (printf: the answer has no final newline, and sed keeps it that way)
        printf '%s\n' "$(curl -fs "$BASE/api/auth/token" \
            -d "grant_type=password&username=bench@example.com&password=$password" \
            | sed -n 's/.*"refresh_token":"\([^"]*\)".*/\1/p')" >>"$work/refresh-tokens"
    done
    if [ "$(grep -c . "$work/refresh-tokens")" -ne "$CONNS" ]; then
        echo "bench: could not sign in $CONNS times through the token endpoint" >&2
        exit 1
    fi
    cat >"$work/refresh.lua" <<LUA
local counter = 0
function setup(thread)
  counter = counter + 1
  thread:set("index", counter)
end
function init(args)
  local i = 0
  for line in io.lines("$work/refresh-tokens") do
    i = i + 1
    if i == index then token = line end
  end
end
function request()
  return wrk.format("POST", "/api/auth/token", { ["Content-Type"] = "application/x-www-form-urlencoded" },
    "grant_type=refresh_token&refresh_token=" .. token)
end
function response(status, headers, body)
  local next_token = body:match('"refresh_token":"([^"]+)"')
  if next_token then token = next_token end
end
LUA
    run_wrk "$db refresh (token endpoint)" -t"$CONNS" -c"$CONNS" -s "$work/refresh.lua" "$BASE/api/auth/token"

    cat >"$work/login.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '$login'
LUA
    run_wrk "$db login" --timeout 10s -t1 -c"$CONNS" -s "$work/login.lua" "$BASE/api/auth/login"

    # current-user's p99 during a login flood, next to its idle p99 (the bearer run above).
    taskset -c "$CLIENT_CPU" wrk --latency --timeout 10s -t1 -c"$CONNS" -d"$((SECS + 2))s" -s "$work/login.lua" \
        "$BASE/api/auth/login" >"$work/flood.txt" &
    local flood=$!
    sleep 1
    run_wrk "$db current-user during login flood" -t1 -c"$CONNS" -H "Authorization: Bearer $token" \
        "$BASE/api/auth/current-user"
    wait "$flood" || true
    report_row "$LABEL $db   (the login flood itself)" "$work/flood.txt"
    record "$db   (the login flood itself)" "$work/flood.txt"
    awk -v a="$(p99_ms "$work/$db current-user during login flood.txt")" \
        -v b="$(p99_ms "$work/$db current-user bearer.txt")" -v db="$LABEL $db" \
        'BEGIN { printf "%-45s %.2f\n", db " current-user p99 flood/idle", (b > 0 ? a / b : 0) }'

    kill "$server"; wait "$server" 2>/dev/null || true; server=""
    echo
}

# bench_build DB LABEL BINARY: one database's rows for one build (PostgreSQL: a fresh database).
bench_build() {
    local db=$1
    LABEL=$2
    case "$db" in
        sqlite)
            rm -f "$work"/bench.db*
            bench_database sqlite "sqlite://$work/bench.db" "$3"
            ;;
        postgres)
            if ! command -v psql >/dev/null || ! psql -q "$PG_URL" -c 'select 1' >/dev/null 2>&1; then
                echo "-- postgres: SKIPPED, no PostgreSQL at $PG_URL (or no psql)" >&2
                return 0
            fi
            pg_db="portcullis_bench_$$"
            psql -q "$PG_URL" -c "DROP DATABASE IF EXISTS $pg_db WITH (FORCE)" -c "CREATE DATABASE $pg_db" >/dev/null 2>&1
            bench_database postgres "${PG_URL%/*}/$pg_db" "$3"
            psql -q "$PG_URL" -c "DROP DATABASE IF EXISTS $pg_db WITH (FORCE)" >/dev/null
            pg_db=""
            ;;
        *) echo "bench: unknown database $db (sqlite, postgres)" >&2; exit 1 ;;
    esac
}

: >"$work/results.tsv"
for round in $(seq "$ROUNDS"); do
    [ "$ROUNDS" -gt 1 ] && echo "== round $round of $ROUNDS"
    measure_bare
    for db in $DATABASES; do
        if [ -n "$BASELINE_BIN" ]; then bench_build "$db" before "$BASELINE_BIN"; fi
        bench_build "$db" now "$PORTCULLIS_BIN"
    done
done

# The summary: per row and build, the median over the rounds; ratio to the bare route's
# median; now/before when a baseline ran; and each database's p99 flood/idle from medians.
if [ "$ROUNDS" -gt 1 ] || [ -n "$BASELINE_BIN" ]; then
    echo "== summary: medians of $ROUNDS round(s)"
    awk -F'\t' '
        function median(list,   parts, n, i, j, v) {
            n = split(list, parts, " ")
            for (i = 2; i <= n; i++) { v = parts[i] + 0; for (j = i - 1; j >= 1 && parts[j] + 0 > v; j--) parts[j + 1] = parts[j]; parts[j + 1] = v }
            return parts[int((n + 1) / 2)]
        }
        { key = $1 SUBSEP $2; rps[key] = rps[key] " " $3; p99[key] = p99[key] " " $4;
          if (!(($2) in seen)) { seen[$2] = 1; order[++rows] = $2 } }
        END {
            bare = median(rps["bare" SUBSEP "actix-web route"])
            printf "%-40s %12s %12s %8s %10s\n", "row", "before", "now", "now/bef", "now/bare"
            for (i = 1; i <= rows; i++) {
                name = order[i]
                b = (("before" SUBSEP name) in rps) ? median(rps["before" SUBSEP name]) : "-"
                n = (("now" SUBSEP name) in rps) ? median(rps["now" SUBSEP name]) : median(rps["bare" SUBSEP name])
                change = (b != "-" && b > 0) ? sprintf("%.2f", n / b) : "-"
                share = (name !~ /RSS/ && bare > 0) ? sprintf("%.3f", n / bare) : "-"
                printf "%-40s %12s %12s %8s %10s\n", name, b, n, change, share
            }
            split("before now", labels, " ")
            for (l = 1; l <= 2; l++) for (i = 1; i <= rows; i++) {
                name = order[i]
                if (name !~ /current-user during login flood$/) continue
                db = name; sub(/ current-user during login flood$/, "", db)
                flood = labels[l] SUBSEP name; idle = labels[l] SUBSEP db " current-user bearer"
                if ((flood in p99) && (idle in p99) && median(p99[idle]) > 0)
                    printf "%-40s %s\n", labels[l] " " db " p99 flood/idle", sprintf("%.2f", median(p99[flood]) / median(p99[idle]))
            }
        }' "$work/results.tsv"
fi
