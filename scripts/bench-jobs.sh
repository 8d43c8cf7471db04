#!/usr/bin/env bash
# Job-system benchmark (docs/benchmarks.md "Job system"): starts the test services, then runs
# benches/jobs.rs. Settings: VIGIL_BENCH_JOBS (backlog size), VIGIL_BENCH_RATE (submissions/s),
# VIGIL_BENCH_SECS (how long to submit).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$VIGIL_ROOT"
ensure_test_services
# The dev profile (dependencies optimised) is the one the tests build: no second full build.
cargo bench --profile dev --bench jobs "$@"
