#!/usr/bin/env bash
# Measures the release build against the web budgets and prints JSON: compressed size,
# navigation-to-interactive, frames/s with 5 brokers x 24 partitions x RF 3, seek latency.
#   scripts/measure-web.sh --only fps --seconds 10 --out tests/artifacts/fps.json
# Needs what scripts/test-browser.sh installs (chromium, tests/browser/node_modules).
set -euo pipefail
cd "$(dirname "$0")/.."
export CHROMIUM="${CHROMIUM:-$(command -v chromium || echo /usr/bin/chromium)}"
(cd tests/browser && [ -d node_modules ] || npm ci --no-audit --no-fund --loglevel=error)
if [ "${SKIP_BUILD:-}" != 1 ]; then scripts/build-web.sh >&2; fi
LOG="$(mktemp)"
node scripts/serve.mjs dist 127.0.0.1 0 >"$LOG" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true; rm -f "$LOG"' EXIT
for _ in $(seq 1 100); do grep -q serving "$LOG" && break; sleep 0.1; done
BASE_URL="$(grep -o 'http://[0-9.:]*/' "$LOG" | head -1)"
BASE_URL="$BASE_URL" node tests/browser/measure.mjs dist "$BASE_URL" "$@"
