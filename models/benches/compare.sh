#!/usr/bin/env bash
# Side-by-side speed run: the reference JavaScript implementation (tfjs-wasm, 1 thread) and
# Vigil's candle models, back to back on the same machine.
#
#   models/benches/compare.sh [REFERENCE_HARNESS_DIR] [RUNS]
#
# REFERENCE_HARNESS_DIR defaults to ../shared/reference/harness copied to a temp dir (the shared
# folder is read-only); its setup.sh installs the pinned reference packages with npm.
set -euo pipefail
here="$(cd "$(dirname "$0")/../.." && pwd)"
src="${1:-$here/../shared/reference/harness}"
runs="${2:-5}"
work="${TMPDIR:-/tmp}/vigil-reference-harness"
if [ ! -f "$work/ref_faceapi.js" ]; then
  mkdir -p "$work"
  cp -r "$src"/. "$work"/
  chmod -R u+w "$work"
fi
(cd "$work" && ./setup.sh >/dev/null)
echo "== reference: face-api (tfjs-wasm, 1 thread)"
(cd "$work" && node ref_faceapi.js wasm "$runs" | grep '^sample')
echo "== reference: human CenterNet (tfjs-wasm, 1 thread)"
(cd "$work" && node ref_human.js wasm centernet "$runs" | grep '^sample')
cd "$here"
echo "== vigil-models (candle, release, all cores)"
CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}" VIGIL_BENCH_RUNS="$runs" \
  cargo bench -q -p vigil-models --bench vision
echo "== vigil-models (candle, release, 1 thread)"
CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}" VIGIL_BENCH_RUNS="$runs" VIGIL_THREADS=1 \
  cargo bench -q -p vigil-models --bench vision
