#!/usr/bin/env bash
# Runs every check of the project: formatting, lints, unit/property/CLI tests, scenario
# expectations and golden digests, the WASM build, and (when present) the browser tests.
# Installs what a fresh machine lacks. Usage: ./scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }
started=$(date +%s)

step "toolchain"
rustup component add rustfmt clippy >/dev/null 2>&1 || true
rustup target add wasm32-unknown-unknown >/dev/null

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (all targets, warnings are errors)"
cargo clippy --workspace --all-targets -- -D warnings

step "cargo test (unit, property, CLI)"
cargo test --workspace --release

step "scenarios: expectations and golden digests"
cargo run --release --quiet -- check scenarios

step "lessons: goals, scenarios, answers and break-it exercises"
cargo run --release --quiet -- lesson lint scenarios/lessons

step "sandbox-core and sandbox-web build for wasm32"
cargo build -p sandbox-core -p sandbox-web --target wasm32-unknown-unknown

step "fuzz targets (bounded run on the committed corpus)"
scripts/fuzz.sh "${FUZZ_SECONDS:-10}"

if [ -x scripts/test-browser.sh ]; then
  step "browser tests"
  scripts/test-browser.sh
fi

step "all checks passed in $(( $(date +%s) - started )) s"
