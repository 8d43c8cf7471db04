#!/usr/bin/env bash
# Runs the whole test suite on a fresh or prepared machine: installs and starts what the tests
# need (system packages, PostgreSQL, Redis, an S3 server that checks signatures, an SMTP server),
# then formatting, lints and every test. Idempotent; safe to rerun.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$VIGIL_ROOT"

ensure_test_services

# Databases of earlier runs that were interrupted before their tests cleaned up.
stale=$(psql "$VIGIL_TEST_DATABASE_URL" -qAtc "select datname from pg_database where datname like 'vigil_test_%'" || true)
for db in $stale; do psql "$VIGIL_TEST_DATABASE_URL" -qc "drop database if exists \"$db\" with (force)" >/dev/null || true; done

say "cargo fmt --check"
cargo fmt --all -- --check
say "cargo clippy (warnings are errors)"
cargo clippy --workspace --all-targets --quiet -- -D warnings
say "cargo test"
# Most integration tests wait on workers, streams and timers rather than the CPU: four at a time
# on 2 cores keeps the suite's wall time down without starving the model-bound ones.
export RUST_TEST_THREADS="${RUST_TEST_THREADS:-4}"
cargo test --workspace "$@"
