#!/usr/bin/env bash
# Builds the web app into dist/: a static directory publishable as is (GitHub Pages).
#   scripts/build-web.sh            release build (profile wasm-release: size-tuned)
#   WEB_PROFILE=dev scripts/build-web.sh   quick debug build while iterating
# Installs what a fresh machine lacks: the wasm32 target and wasm-bindgen-cli at exactly the
# wasm-bindgen version in Cargo.lock. Runs wasm-opt (npm package `binaryen`) when available.
set -euo pipefail
cd "$(dirname "$0")/.."
PROFILE="${WEB_PROFILE:-wasm-release}"

if command -v rustup >/dev/null 2>&1; then
  if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    rustup target add wasm32-unknown-unknown
  fi
fi

WBG_VERSION="$(awk '$0 == "name = \"wasm-bindgen\"" { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)"
if [ -z "$WBG_VERSION" ]; then
  echo "build-web: no wasm-bindgen in Cargo.lock" >&2
  exit 1
fi
if ! wasm-bindgen --version 2>/dev/null | grep -qx "wasm-bindgen $WBG_VERSION"; then
  echo "build-web: installing wasm-bindgen-cli $WBG_VERSION (once)"
  cargo install wasm-bindgen-cli --version "$WBG_VERSION"
fi

cargo build -p sandbox-web --target wasm32-unknown-unknown --profile "$PROFILE"
case "$PROFILE" in
  dev) OUT_DIR=debug ;;
  release) OUT_DIR=release ;;
  *) OUT_DIR="$PROFILE" ;;
esac
WASM="target/wasm32-unknown-unknown/$OUT_DIR/sandbox_web.wasm"

STAGE="$(mktemp -d dist.XXXXXX)"
trap 'rm -rf "$STAGE"' EXIT
mkdir -p "$STAGE/pkg"
wasm-bindgen --target web --no-typescript --out-dir "$STAGE/pkg" --out-name sandbox_web "$WASM"

# wasm-opt: Debian's binaryen is too old for current wasm-bindgen output; the npm package works.
WASM_OPT=""
if [ -x tests/browser/node_modules/.bin/wasm-opt ]; then
  WASM_OPT=tests/browser/node_modules/.bin/wasm-opt
elif command -v npm >/dev/null 2>&1 && [ "${WEB_NO_NPM:-}" != 1 ]; then
  (cd tests/browser && npm ci --no-audit --no-fund --loglevel=error) && WASM_OPT=tests/browser/node_modules/.bin/wasm-opt
fi
if [ "$PROFILE" != dev ] && [ -n "$WASM_OPT" ] && [ -x "$WASM_OPT" ]; then
  # -Oz twice (the second pass still finds ~4 KB), and --low-memory-unused: nothing lives
  # below address 1024 (rust-lld puts the 1 MiB stack first, data after it), so loads and
  # stores may fold constant offsets (~6 KB more). Both measured in BENCHMARKS.md.
  if "$WASM_OPT" -Oz -Oz --low-memory-unused --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
      --enable-reference-types --enable-multivalue --enable-mutable-globals \
      "$STAGE/pkg/sandbox_web_bg.wasm" -o "$STAGE/pkg/sandbox_web_bg.opt.wasm"; then
    mv "$STAGE/pkg/sandbox_web_bg.opt.wasm" "$STAGE/pkg/sandbox_web_bg.wasm"
  else
    echo "build-web: wasm-opt failed; keeping the unoptimized module" >&2
    rm -f "$STAGE/pkg/sandbox_web_bg.opt.wasm"
  fi
elif [ "$PROFILE" != dev ]; then
  echo "build-web: wasm-opt not available (npm install in tests/browser provides it); skipping" >&2
fi

cp index.html "$STAGE/index.html"
touch "$STAGE/.nojekyll"
rm -rf dist
mv "$STAGE" dist
trap - EXIT
chmod 755 dist
echo "build-web: dist/ ready ($(du -sh dist | cut -f1))"
