#!/usr/bin/env bash
# Load check: does a login flood starve token checks?
#
# Starts a release build of Portcullis on a throw-away SQLite database, signs a user up,
# then measures GET /api/auth/current-user (Bearer) with wrk: alone, and again while a
# second wrk floods POST /api/auth/login; and by X-API-Key (a database read per request).
# Prints the latency summaries.
#
#   scripts/load.sh            # bcrypt cost 10, 10 s per phase
#   COST=12 SECS=20 scripts/load.sh
#
# Needs wrk (apt-get install wrk). Talks only to 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."
COST=${COST:-10}
SECS=${SECS:-10}
PORT=${PORT:-18999}
BASE="http://127.0.0.1:$PORT"
command -v wrk >/dev/null || { echo "wrk is needed: apt-get install wrk" >&2; exit 1; }

cargo build --release --quiet
work=$(mktemp -d)
trap 'kill "$server" 2>/dev/null || true; rm -rf "$work"' EXIT
PORTCULLIS_DATABASE_URL="sqlite://$work/load.db" PORTCULLIS_BIND="127.0.0.1:$PORT" \
  PORTCULLIS_BCRYPT_COST="$COST" PORTCULLIS_RATE_LIMIT_PER_MINUTE=0 PORTCULLIS_LOCKOUT_THRESHOLD=0 \
  PORTCULLIS_LOG=warn target/release/portcullis serve &
server=$!
for _ in $(seq 50); do curl -fs "$BASE/health/ready" >/dev/null && break; sleep 0.2; done

body='{"name":"Load","email":"load@example.com","password":"Trellis-Quartz-Harbor-48"}'
curl -fs "$BASE/api/auth/signup" -H 'content-type: application/json' -d "$body" >/dev/null
login='{"email":"load@example.com","password":"Trellis-Quartz-Harbor-48"}'
token=$(curl -fs -D - -o /dev/null "$BASE/api/auth/login" -H 'content-type: application/json' -d "$login" \
  | sed -n 's/^set-cookie: access_token=\([^;]*\).*/\1/Ip')

key=$(curl -fs "$BASE/api/auth/api-keys" -H "Authorization: Bearer $token" -H 'content-type: application/json' \
  -d '{"name":"load"}' | sed -n 's/.*"key":"\([^"]*\)".*/\1/p')

cat > "$work/login.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '$login'
LUA

echo "== current-user alone (16 connections, ${SECS}s)"
wrk -t1 -c16 -d"${SECS}s" --latency -H "Authorization: Bearer $token" "$BASE/api/auth/current-user" \
  | grep -E 'Requests/sec|50%|99%|Non-2xx'

echo "== current-user by API key (a database read per request; 16 connections, ${SECS}s)"
wrk -t1 -c16 -d"${SECS}s" --latency -H "X-API-Key: $key" "$BASE/api/auth/current-user" \
  | grep -E 'Requests/sec|50%|99%|Non-2xx'

echo "== current-user during a login flood (16 + 16 connections, ${SECS}s, bcrypt cost $COST)"
wrk -t1 -c16 -d"$((SECS + 2))s" --latency -s "$work/login.lua" "$BASE/api/auth/login" > "$work/flood.txt" &
flood=$!
sleep 1
wrk -t1 -c16 -d"${SECS}s" --latency -H "Authorization: Bearer $token" "$BASE/api/auth/current-user" \
  | grep -E 'Requests/sec|50%|99%|Non-2xx'
wait "$flood"
echo "== the login flood itself"
grep -E 'Requests/sec|50%|99%|Non-2xx' "$work/flood.txt"
