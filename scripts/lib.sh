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
