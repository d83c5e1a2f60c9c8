#!/usr/bin/env bash
# Runs openai-client.mjs with the `openai` npm package pinned in package-lock.json, installed with
# `npm ci` into this folder's node_modules (git-ignored) on first use; later runs reuse it.
#
#   bash integrations/server/src/test/node/openai-client.sh --base URL --key KEY --model ID \
#        --image FILE.png --prompt TEXT --schema JSON
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"
if [ ! -f node_modules/openai/package.json ]; then
  echo "openai-client: installing openai (npm ci) ..." >&2
  npm ci --no-audit --no-fund --loglevel=error >&2
fi
exec node openai-client.mjs "$@"
