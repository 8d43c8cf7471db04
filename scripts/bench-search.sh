#!/usr/bin/env bash
# Search benchmarks (docs/benchmarks.md "Missing-person search"): starts the test services, then
# runs benches/search.rs (speed: a 60 s 720p clip searched by 1 and 2 worker processes), or with
# `recall` benches/search_recall.rs (recall by face size on footage with known truth).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$VIGIL_ROOT"
ensure_test_services
# The dev profile (dependencies and the vision crate optimised) is the one the tests build.
cargo build --bin vigil
if [[ "${1:-}" == recall ]]; then
  shift
  cargo bench --profile dev --bench search_recall "$@"
else
  cargo bench --profile dev --bench search "$@"
fi
