#!/usr/bin/env bash
# Checks the OpenAPI document against the running server with schemathesis (PyPI).
#   tests/fuzz/schemathesis.sh path/to/blog-api [max-examples] [max-seconds-per-pass]
# Starts the binary on a free 127.0.0.1 port with a fresh data directory, signs up a user, fuzzes
# every operation with its bearer token, and stops the server. Excluded checks are explained in
# docs/testing.md.
set -euo pipefail

BINARY=${1:?usage: schemathesis.sh path/to/blog-api [max-examples] [max-seconds]}
EXAMPLES=${2:-40}
SECONDS_PER_PASS=${3:-90}
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
BASE=http://127.0.0.1:$PORT
DATA=$(mktemp -d)
REPORTS=${REPORTS:-target/schemathesis}
mkdir -p "$REPORTS"

# The abuse limits would answer most of the fuzzer's auth requests with 429 (documented, but it
# hides the handlers behind them); they have their own tests in tests/api/limits.rs.
BLOG_LISTEN=127.0.0.1:$PORT BLOG_DATA_DIR=$DATA BLOG_LOG=warn \
  BLOG_AUTH_BURST=1000000 BLOG_AUTH_RATE_PER_MINUTE=1000000 BLOG_LOGIN_FAILURE_LIMIT=1000000 \
  BLOG_LOGIN_ACCOUNT_FAILURES_PER_HOUR=1000000 \
  "$BINARY" > "$REPORTS/server.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true; wait $SERVER 2>/dev/null || true; rm -rf "$DATA"' EXIT
for _ in $(seq 100); do curl -sf "$BASE/health" > /dev/null && break; sleep 0.1; done

# A fresh account and token for one pass.
token() {
  curl -sf "$BASE/api/v1/auth/signup" -H 'content-type: application/json' \
    -d "{\"username\":\"$1\",\"email\":\"$1@example.com\",\"password\":\"correct horse battery staple\"}" \
    | python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])'
}

run() {
  local name=$1 token=$2
  shift 2
  echo "== schemathesis: $name"
  st --config-file "$(dirname "$0")/schemathesis.toml" run "$BASE/api/v1/openapi.json" --url "$BASE" \
    -H "Authorization: Bearer $token" \
    --checks all \
    --exclude-checks positive_data_acceptance \
    --max-examples "$EXAMPLES" --max-time "$SECONDS_PER_PASS" --seed 20261123 \
    --request-timeout 10 \
    --report junit --report-dir "$REPORTS/$name" \
    "$@"
}

# Logging out, ending a session, deleting the account or changing the password can end the very
# session whose token the fuzzer uses, turning every later operation into a 401; those run last,
# with a token of their own.
ENDERS=(logout end_session delete_me change_password)
run main "$(token fuzzer)" "${ENDERS[@]/#/--exclude-operation-id=}"
run session-enders "$(token ender)" "${ENDERS[@]/#/--include-operation-id=}"
