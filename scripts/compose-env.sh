#!/usr/bin/env bash
# Writes .env for docker-compose with freshly generated secrets (database, MinIO root, the
# bucket-scoped MinIO user Vigil connects as, Vigil's signing key). Never overwrites an
# existing .env: secrets that are in use must not change under a running deployment.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -e .env ]; then
  echo ".env exists; leaving it as it is" >&2
  exit 0
fi
rand() { head -c "$1" /dev/urandom | od -An -tx1 | tr -d ' \n'; }
umask 077
cat > .env <<ENV
POSTGRES_PASSWORD=$(rand 24)
MINIO_ROOT_USER=root-$(rand 4)
MINIO_ROOT_PASSWORD=$(rand 24)
VIGIL_S3_ACCESS_KEY_ID=vigil-$(rand 4)
VIGIL_S3_SECRET_ACCESS_KEY=$(rand 24)
VIGIL_SECRET_KEY=$(rand 32)
# The first admin (created at first start while no admin exists): uncomment and set both,
# or create one later with: docker compose run --rm api vigil user create --role admin ...
# VIGIL_ADMIN_EMAIL=admin@your.domain
# VIGIL_ADMIN_PASSWORD=
ENV
echo "wrote .env (mode 600) with generated secrets"
