#!/bin/sh
# Creates Vigil's bucket, its lifecycle rules and the user Vigil connects as, allowed on that
# bucket only (run by the minio-init service; idempotent). The root account stays with MinIO.
set -eu
bucket="${VIGIL_S3_BUCKET:-vigil}"
mc alias set vigil http://minio:9000 "$MINIO_ROOT_USER" "$MINIO_ROOT_PASSWORD"
mc mb --ignore-existing "vigil/$bucket"
mc ilm import "vigil/$bucket" < /minio/lifecycle.json

policy=/tmp/vigil-bucket-policy.json
cat > "$policy" <<JSON
{
  "Version": "2012-10-17",
  "Statement": [
    { "Effect": "Allow",
      "Action": ["s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads"],
      "Resource": ["arn:aws:s3:::$bucket"] },
    { "Effect": "Allow",
      "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject",
                 "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"],
      "Resource": ["arn:aws:s3:::$bucket/*"] }
  ]
}
JSON
mc admin policy create vigil vigil-app "$policy" 2>/dev/null || true
mc admin user add vigil "$VIGIL_S3_ACCESS_KEY_ID" "$VIGIL_S3_SECRET_ACCESS_KEY"
mc admin policy attach vigil vigil-app --user "$VIGIL_S3_ACCESS_KEY_ID" 2>/dev/null || true
echo "bucket $bucket ready; user $VIGIL_S3_ACCESS_KEY_ID may use it"
