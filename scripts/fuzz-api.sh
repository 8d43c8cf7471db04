#!/usr/bin/env bash
# Fuzzes the API from its own OpenAPI document with Schemathesis (pip-installed into a cached
# virtualenv) as an admin, bounded in examples per operation, and fails on any 5xx or any
# response that does not match its documented schema.
#
#   scripts/fuzz-api.sh [examples per operation, default 30]
#
# Against a running deployment: set VIGIL_FUZZ_URL (e.g. http://127.0.0.1:8080) and an admin's
# VIGIL_FUZZ_EMAIL and VIGIL_FUZZ_PASSWORD. It creates, changes and deletes data: never point it
# at a deployment that matters. Without VIGIL_FUZZ_URL it starts `vigil up` on the test services
# (scripts/test.sh's) with a throwaway database, storage directory and Redis prefix, and stops
# it afterwards.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$VIGIL_ROOT"

EXAMPLES="${1:-30}"
VENV="${XDG_CACHE_HOME:-$HOME/.cache}/vigil/fuzz-venv"
SCHEMATHESIS_VERSION="4.32.5"

if [ ! -x "$VENV/bin/st" ] || ! "$VENV/bin/st" --version 2>/dev/null | grep -q "$SCHEMATHESIS_VERSION"; then
  say "installing schemathesis $SCHEMATHESIS_VERSION into $VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet "schemathesis==$SCHEMATHESIS_VERSION"
fi

server_pid=""
work=""
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  if [ -n "${fuzz_db:-}" ]; then
    psql "$VIGIL_TEST_DATABASE_URL" -qc "drop database if exists \"$fuzz_db\" with (force)" >/dev/null 2>&1 || true
  fi
  if [ -n "$work" ]; then rm -rf "$work"; fi
}
trap cleanup EXIT

if [ -z "${VIGIL_FUZZ_URL:-}" ]; then
  ensure_test_services
  say "building vigil"
  cargo build --bin vigil --quiet
  work="$(mktemp -d)"
  fuzz_db="vigil_fuzz_$(date +%s)"
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  VIGIL_FUZZ_URL="http://127.0.0.1:$port"
  VIGIL_FUZZ_EMAIL="fuzz-admin@example.test"
  VIGIL_FUZZ_PASSWORD="fuzz-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  say "starting vigil up on $VIGIL_FUZZ_URL (log: $work/vigil.log)"
  DATABASE_URL="${VIGIL_TEST_DATABASE_URL%/*}/$fuzz_db" \
  REDIS_URL="$VIGIL_TEST_REDIS_URL" \
  VIGIL_REDIS_PREFIX="$fuzz_db" \
  VIGIL_HTTP_ADDR="127.0.0.1:$port" \
  VIGIL_STORAGE_DIR="$work/storage" \
  VIGIL_SMTP_URL="smtp://127.0.0.1:${VIGIL_TEST_SMTP_PORT:-2526}" \
  VIGIL_ADMIN_EMAIL="$VIGIL_FUZZ_EMAIL" VIGIL_ADMIN_PASSWORD="$VIGIL_FUZZ_PASSWORD" \
  VIGIL_RATE_LIMIT_PER_SECOND=100000 VIGIL_RATE_LIMIT_BURST=100000 \
  VIGIL_LOGIN_MAX_FAILURES_PER_ADDRESS=1000000 \
    "${CARGO_TARGET_DIR:-target}/debug/vigil" up >"$work/vigil.log" 2>&1 &
  server_pid=$!
  for _ in $(seq 1 300); do
    curl -fsS "$VIGIL_FUZZ_URL/health/live" >/dev/null 2>&1 && break
    kill -0 "$server_pid" 2>/dev/null || { tail -n 30 "$work/vigil.log"; die "vigil up exited"; }
    sleep 0.2
  done
fi
: "${VIGIL_FUZZ_EMAIL:?set VIGIL_FUZZ_EMAIL (an admin) with VIGIL_FUZZ_URL}"
: "${VIGIL_FUZZ_PASSWORD:?set VIGIL_FUZZ_PASSWORD with VIGIL_FUZZ_URL}"

token=$(curl -fsS -H 'content-type: application/json' \
  -d "{\"username\": \"$VIGIL_FUZZ_EMAIL\", \"password\": \"$VIGIL_FUZZ_PASSWORD\"}" \
  "$VIGIL_FUZZ_URL/api/v1/auth/login" | python3 -c 'import json, sys; print(json.load(sys.stdin)["data"]["accessToken"])')

# Logging out, refreshing or changing the admin's own password would end the run's session
# half-way; progress streams last as long as their job (or token).
say "fuzzing $VIGIL_FUZZ_URL ($EXAMPLES examples per operation)"
"$VENV/bin/st" --no-color run "$VIGIL_FUZZ_URL/api/v1/openapi.json" \
  --url "$VIGIL_FUZZ_URL" \
  --header "Authorization: Bearer $token" \
  --checks not_a_server_error,response_schema_conformance \
  --max-examples "$EXAMPLES" \
  --request-timeout 30 \
  --exclude-path-regex '^/api/v1/(auth/(logout|refresh)|users/\{id\}/password|jobs/\{id\}/events)$'
