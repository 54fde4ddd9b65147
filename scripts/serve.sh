#!/usr/bin/env bash
# Builds the web app and serves it on http://127.0.0.1:8080 (PORT=... to change).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build-web.sh
PORT="${PORT:-8080}"
if command -v node >/dev/null 2>&1; then
  exec node scripts/serve.mjs dist 127.0.0.1 "$PORT"
elif command -v python3 >/dev/null 2>&1; then
  echo "serving dist on http://127.0.0.1:$PORT/"
  exec python3 -m http.server --bind 127.0.0.1 --directory dist "$PORT"
else
  echo "serve: needs node or python3 to serve dist/ (or publish dist/ with any static server)" >&2
  exit 1
fi
