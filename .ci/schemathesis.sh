#!/usr/bin/env bash
# Schemathesis against the real server: start the debug binary on a free port with a fresh
# SQLite database, sign in an admin, and let schemathesis (pinned, in a cached venv) test
# every operation of /api/openapi.json with that admin's Bearer token. Exits non-zero on any
# failure it reports. Called at the end of .ci/run; runs on its own too (`bash .ci/schemathesis.sh`).
#
# Knobs: SCHEMATHESIS_MAX_EXAMPLES (cases per operation and phase), SCHEMATHESIS_SEED,
# SCHEMATHESIS_TIMEOUT (hard limit of the whole schemathesis run, seconds),
# SCHEMATHESIS_CHECKS (comma-separated, default the four below),
# SCHEMATHESIS_REPORT_DIR (keep a JUnit and an NDJSON report and the server's log there).
set -euo pipefail

log() { printf '\n==> %s\n' "$*"; }

SCHEMATHESIS_VERSION=4.32.5
max_examples="${SCHEMATHESIS_MAX_EXAMPLES:-100}"
seed="${SCHEMATHESIS_SEED:-20261204}"
run_timeout="${SCHEMATHESIS_TIMEOUT:-300}"
report_dir="${SCHEMATHESIS_REPORT_DIR:-}"
if [ -n "$report_dir" ]; then
    mkdir -p "$report_dir"
    report_dir="$(cd "$report_dir" && pwd)"
fi

cd "$(dirname "${BASH_SOURCE[0]}")/.."

# --- schemathesis, in a venv kept between runs ----------------------------------------------
venv="${XDG_CACHE_HOME:-$HOME/.cache}/portcullis-ci/schemathesis-venv"
if [ "$("$venv/bin/schemathesis" --version 2>/dev/null)" != "schemathesis, version $SCHEMATHESIS_VERSION" ]; then
    log "installing schemathesis $SCHEMATHESIS_VERSION into $venv"
    rm -rf "$venv"
    mkdir -p "$(dirname "$venv")"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi
py="$venv/bin/python"

# --- the server under test ----------------------------------------------------------------
bin="${CARGO_TARGET_DIR:-target}/debug/portcullis"
if [ ! -x "$bin" ]; then
    log "cargo build --bin portcullis"
    cargo build --quiet --bin portcullis
fi
bin="$(cd "$(dirname "$bin")" && pwd)/portcullis"

work="$(mktemp -d "${TMPDIR:-/tmp}/portcullis-schemathesis.XXXXXX")"
server_pid=""
run_pid=""
cleanup() {
    if [ -n "$run_pid" ] && kill -0 "$run_pid" 2>/dev/null; then
        kill -TERM "$run_pid" 2>/dev/null || true
        wait "$run_pid" 2>/dev/null || true
    fi
    if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
        kill -TERM "$server_pid" 2>/dev/null || true
        for _ in $(seq 1 50); do
            kill -0 "$server_pid" 2>/dev/null || break
            sleep 0.2
        done
        kill -KILL "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    if [ -n "$report_dir" ] && [ -f "$work/server.log" ]; then
        cp "$work/server.log" "$report_dir/server.log" || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# A free port: the kernel picks one, released just before the server binds it. (`:0` would
# avoid the race but the public URL, which passkeys need, has to name the port up front.)
port="$("$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
base="http://127.0.0.1:$port"

mkdir -p "$work/mail"
# Only the settings below: none of the caller's PORTCULLIS_* variables, and no portcullis.toml
# (the server runs in $work, where there is none).
while IFS= read -r variable; do unset "$variable"; done < <(compgen -e | grep '^PORTCULLIS_' || true)
export PORTCULLIS_DATABASE_URL="sqlite://$work/portcullis.db"
export PORTCULLIS_BIND="127.0.0.1:$port"
# localhost, not 127.0.0.1: a WebAuthn relying party id must be a name, and with an IP the
# passkey endpoints are switched off (127.0.0.1 is an allowed origin twin of localhost).
export PORTCULLIS_PUBLIC_URL="http://localhost:$port"
export PORTCULLIS_MAIL_DIR="$work/mail"
export PORTCULLIS_BCRYPT_COST=4
# Generated logins fail; without this the stateful sequences (signup, then login) would lock
# the new accounts and be answered 429 instead of exercising the login itself.
export PORTCULLIS_LOCKOUT_THRESHOLD=0
# Schemathesis sends thousands of requests from one IP: a limit this high is never reached,
# so the sensitive endpoints answer what they would and not 429 (the limiter still runs).
export PORTCULLIS_RATE_LIMIT_PER_MINUTE=1000000
# Let generated signups through the strength estimator, so signups succeed and give
# stateful testing users to work on.
export PORTCULLIS_MIN_PASSWORD_SCORE=0
# The admin's token must outlive the run.
export PORTCULLIS_ACCESS_TTL_SECS=3600
# Plain HTTP: cookies set during stateful sequences must come back.
export PORTCULLIS_COOKIE_SECURE=false
export PORTCULLIS_LOG=info
export PORTCULLIS_LOG_FORMAT=text

admin_email=schemathesis-admin@example.com
admin_password=Trellis-Quartz-Harbor-48
log "creating the admin $admin_email"
printf '%s\n' "$admin_password" |
    (cd "$work" && exec "$bin" user create --email "$admin_email" --name "Schemathesis Admin" --admin) >"$work/create-user.log" 2>&1 || {
    cat "$work/create-user.log" >&2
    exit 1
}

log "starting $bin on $base"
(cd "$work" && NO_COLOR=1 exec "$bin" serve) >"$work/server.log" 2>&1 &
server_pid=$!
ready=""
for _ in $(seq 1 100); do
    if ! kill -0 "$server_pid" 2>/dev/null; then
        break
    fi
    if curl -fsS -o /dev/null "$base/health/ready" 2>/dev/null; then
        ready=1
        break
    fi
    sleep 0.2
done
if [ -z "$ready" ]; then
    echo "error: the server did not become ready on $base" >&2
    cat "$work/server.log" >&2
    exit 1
fi

# A Bearer token by the OAuth password grant (the same login as POST /api/auth/login, which
# hands the token out only as a cookie).
token="$(curl -fsS "$base/api/auth/token" \
    --data-urlencode grant_type=password \
    --data-urlencode "username=$admin_email" \
    --data-urlencode "password=$admin_password" |
    "$py" -c 'import json, sys; print(json.load(sys.stdin)["access_token"])')"

# --- the run ------------------------------------------------------------------------------
checks="${SCHEMATHESIS_CHECKS:-not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance}"
cmd=(
    "$venv/bin/schemathesis" run "$base/api/openapi.json"
    --checks "$checks"
    --max-examples "$max_examples"
    --seed "$seed"
    --workers 2
    --request-timeout 10
    --continue-on-failure
    --no-color
    --generation-database none
    -H "Authorization: Bearer $token"
)
if [ -n "$report_dir" ]; then
    cmd+=(--report junit,ndjson --report-dir "$report_dir")
fi
log "schemathesis $SCHEMATHESIS_VERSION: checks $checks, $max_examples examples per operation, seed $seed, at most ${run_timeout}s"
started=$SECONDS
status=0
# In the background and waited for, so that a TERM or INT of this script is handled at once;
# in $work, so that schemathesis neither reads a config file nor leaves its cache
# (.schemathesis/) in the tree.
(cd "$work" && exec timeout --kill-after=10 "$run_timeout" "${cmd[@]}") &
run_pid=$!
wait "$run_pid" || status=$?
run_pid=""
elapsed=$((SECONDS - started))

server_errors="$(grep -cE ' status=5[0-9][0-9] ' "$work/server.log" || true)"
warnings="$(grep -cE ' (ERROR|WARN) ' "$work/server.log" || true)"
if [ "$status" -eq 124 ] || [ "$status" -eq 137 ]; then
    echo "schemathesis: timed out after ${run_timeout}s" >&2
    status=1
fi
if [ "$status" -ne 0 ]; then
    echo "--- server log, warnings and errors ---" >&2
    grep -E ' (ERROR|WARN) ' "$work/server.log" | tail -n 50 >&2 || true
fi
log "schemathesis: exit $status in ${elapsed}s; the server answered $server_errors 5xx and logged $warnings warning/error lines"
exit "$status"
