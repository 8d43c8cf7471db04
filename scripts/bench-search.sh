#!/usr/bin/env bash
# Search benchmark (docs/benchmarks.md "Missing-person search"): starts the test services, then
# runs benches/search.rs: a 60 s 720p clip searched by 1 and 2 worker processes.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$VIGIL_ROOT"
ensure_test_services
# The dev profile (dependencies and the vision crate optimised) is the one the tests build.
cargo build --bin vigil
cargo bench --profile dev --bench search "$@"
