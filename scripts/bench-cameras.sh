#!/usr/bin/env bash
# Camera benchmark (docs/benchmarks.md "Cameras"): starts the test services, then runs
# benches/cameras.rs: N loopback 720p cameras counted at 1 sampled fps by 1 and 2 worker
# processes; prints CPU per camera, detector vs other time per frame, lag, and the largest N
# that keeps the lag under 2 s.
#   scripts/bench-cameras.sh                      # N = 4,8,12,16,20 with 1 and 2 workers
#   VIGIL_BENCH_CAMERAS=16 VIGIL_BENCH_WORKERS=2 scripts/bench-cameras.sh
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$VIGIL_ROOT"
ensure_test_services
export VIGIL_BENCH_WORKERS="${VIGIL_BENCH_WORKERS:-1,2}"
# The dev profile (dependencies and the vision crate optimised) is the one the tests build.
cargo build --bin vigil
cargo bench --profile dev --bench cameras "$@"
