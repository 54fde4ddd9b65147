#!/usr/bin/env bash
# Runs every fuzz target for a bounded time (default 20 s each) on the committed corpus.
# cargo-fuzz needs nightly flags; RUSTC_BOOTSTRAP lets the stable toolchain accept them,
# and without a sanitizer libFuzzer still finds panics, hangs and stack overflows.
# Usage: ./scripts/fuzz.sh [seconds-per-target] [target...]
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
seconds=${1:-20}
shift || true
if ! command -v cargo-fuzz >/dev/null 2>&1; then
  cargo install cargo-fuzz --version 0.13.2
fi
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(scenario_toml assign_json schema_check_json avro_schema streams_json fragment ksql)
fi
export RUSTC_BOOTSTRAP=1
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t"
  echo "==> fuzz $t for ${seconds}s"
  # New inputs go to a scratch directory; the committed corpus only seeds the run.
  scratch=$(mktemp -d)
  cargo fuzz run --sanitizer none "$t" "$scratch" "corpus/$t" -- -max_total_time="$seconds" -max_len=8192 -timeout=10 2>&1 | tail -3
  rm -rf "$scratch"
done
