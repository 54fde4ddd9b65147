#!/usr/bin/env bash
# The browser tests, from a fresh machine: installs Debian's chromium if missing (never a
# downloaded browser), npm ci in tests/browser, builds dist/, computes native digests, serves
# dist/ on a free localhost port and runs the end-to-end and determinism tests.
#   WEB_PROFILE=dev        test a debug build (faster to build, slower to run)
#   DETERMINISM_SEEDS=N    seeds per scenario for the cross-target digest check (default 100)
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${CHROMIUM:-}" ]; then
  if ! command -v chromium >/dev/null 2>&1; then
    SUDO=""
    if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi
    $SUDO apt-get update
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends chromium chromium-driver
  fi
  CHROMIUM="$(command -v chromium)"
fi
export CHROMIUM

(cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)
scripts/build-web.sh

mkdir -p tests/artifacts
cargo build --release --bin kafka-sandbox
NATIVE_DIGESTS="$PWD/tests/artifacts/native-digests.json"
node tests/browser/native-digests.mjs target/release/kafka-sandbox scenarios "${DETERMINISM_SEEDS:-100}" "$NATIVE_DIGESTS"
export NATIVE_DIGESTS

LOG="$(mktemp)"
node scripts/serve.mjs dist 127.0.0.1 0 >"$LOG" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true; rm -f "$LOG"' EXIT
for _ in $(seq 1 100); do
  if grep -q 'serving' "$LOG"; then break; fi
  sleep 0.1
done
BASE_URL="$(grep -o 'http://[0-9.:]*/' "$LOG" | head -1)"
if [ -z "$BASE_URL" ]; then
  echo "test-browser: the static server did not start:" >&2
  cat "$LOG" >&2
  exit 1
fi
export BASE_URL
echo "test-browser: testing $BASE_URL with $CHROMIUM"
(cd tests/browser && npm test)
