#!/usr/bin/env bash
# The bench pipeline compiled to WASM and timed under Node, next to the native figure.
# Prints JSON (records/s both ways and the WASM/native ratio; the trace digests must match).
#   scripts/bench-wasm.sh [records]   (default 200000)
set -euo pipefail
cd "$(dirname "$0")/.."
rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown
WBG_VERSION="$(awk '$0 == "name = \"wasm-bindgen\"" { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)"
if ! wasm-bindgen --version 2>/dev/null | grep -qx "wasm-bindgen $WBG_VERSION"; then
  cargo install wasm-bindgen-cli --version "$WBG_VERSION"
fi
cargo build --release --quiet -p kafka-sandbox
cargo build --release --quiet -p sandbox-wasm-bench --target wasm32-unknown-unknown
OUT="target/wasm-bench"
mkdir -p "$OUT"
wasm-bindgen --target nodejs --no-typescript --out-dir "$OUT" \
  target/wasm32-unknown-unknown/release/sandbox_wasm_bench.wasm
node tests/wasm-bench/run.mjs "$OUT" target/release/kafka-sandbox "${1:-200000}"
