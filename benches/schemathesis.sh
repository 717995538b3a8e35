#!/usr/bin/env bash
# Schema-driven API fuzzing: schemathesis (from PyPI) against the OpenAPI document a running
# `marketplace-server` serves. It generates requests for every operation — from the
# documented schemas, and statefully along the links between them — and fails on any 5xx,
# any response that does not match its documented schema, content type or status.
#
#   benches/schemathesis.sh            # a short pass: 10 examples per operation, seed 1
#   EXAMPLES=200 SEED=7 benches/schemathesis.sh
#
# It starts the debug server binary (`cargo build -p http-adapter` first) on a fresh SQLite
# file, registers an agent whose key the generated requests carry, and leaves out direct
# execution and webhook pings (they would make outbound requests), key revocation (it
# would revoke that key mid-run) and the live event stream (its answer never ends).
set -euo pipefail
cd "$(dirname "$0")/.."

EXAMPLES="${EXAMPLES:-10}"
SEED="${SEED:-1}"
PORT="${PORT:-18181}"
SCHEMATHESIS_VERSION="4.32.5"

if ! command -v st >/dev/null 2>&1 || ! st --version 2>/dev/null | grep -q "$SCHEMATHESIS_VERSION"; then
    python3 -m pip install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi
ST="$(command -v st || echo "$(python3 -m site --user-base)/bin/st")"

server="$(pwd)/${SERVER:-target/debug/marketplace-server}"
[ -x "$server" ] || cargo build -p http-adapter --bin marketplace-server
work="$(mktemp -d)"
"$server" --listen "127.0.0.1:$PORT" --database-url "sqlite://$work/market.db" \
    --blob-dir "$work/blobs" --rate-limit-ip 0 --rate-limit-identity 0 >"$work/server.log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 1 50); do
    curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break
    sleep 0.2
done
key="$(curl -sf -X POST "http://127.0.0.1:$PORT/api/v1/auth/register" -d '{"alias":"schemathesis"}' |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["api_key"])')"

# Run from the scratch directory: schemathesis keeps its cache in the working directory.
cd "$work"
"$ST" run "http://127.0.0.1:$PORT/api/v1/openapi.json" \
    --checks not_a_server_error,response_schema_conformance,content_type_conformance,status_code_conformance \
    --header "Authorization: Bearer $key" \
    --max-examples "$EXAMPLES" --seed "$SEED" \
    --exclude-path /api/execute --exclude-path /api/v1/webhooks/test \
    --exclude-path '/api/v1/auth/keys/{prefix}' \
    --exclude-path /api/v1/events
