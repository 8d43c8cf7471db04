#!/bin/sh
# Creates Vigil's bucket and its lifecycle rules in MinIO (run once by the minio-init service;
# idempotent).
set -eu
bucket="${VIGIL_S3_BUCKET:-vigil}"
mc alias set vigil http://minio:9000 "$MINIO_ROOT_USER" "$MINIO_ROOT_PASSWORD"
mc mb --ignore-existing "vigil/$bucket"
mc ilm import "vigil/$bucket" < /minio/lifecycle.json
echo "bucket $bucket ready"
