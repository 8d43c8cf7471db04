#!/usr/bin/env bash
# Attendance benchmark (docs/benchmarks.md "Attendance"): starts the test services, then runs
# benches/attendance.rs: capture → decision latency (p50/p95/p99) of 1080p JPEGs with one
# enrolled face at 5, 10 and 20 captures/s with 1 and 2 worker processes, and the latency of
# GET /detections/live at 500 requests/s; with `faces`, benches/camera_faces.rs instead: camera
# face recognition on footage with known truth (enrolled people and strangers crossing).
#   scripts/bench-attendance.sh
#   scripts/bench-attendance.sh faces
#   VIGIL_BENCH_RATES=10 VIGIL_BENCH_WORKERS=1 VIGIL_BENCH_LIVE_RATE=500 scripts/bench-attendance.sh
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$VIGIL_ROOT"
ensure_test_services
# The dev profile (dependencies and the vision crate optimised) is the one the tests build.
cargo build --bin vigil
if [[ "${1:-}" == faces ]]; then
  shift
  cargo bench --profile dev --bench camera_faces "$@"
else
  cargo bench --profile dev --bench attendance "$@"
fi
