#!/usr/bin/env bash
# The official MCP conformance suite (@modelcontextprotocol/conformance, pinned) against a
# fresh server's /mcp, through a proxy that adds an API key (the suite sends none).
#
# The scenarios run are those any MCP server must pass. The suite's other server scenarios
# call the tools, prompts and resources of its own fixture server (`test_simple_text`,
# `test://static-text`, …) or capabilities this server does not offer (logging,
# completions, prompts, subscriptions, sampling, elicitation); they test that fixture, not
# a marketplace.
set -euo pipefail
cd "$(dirname "$0")/.."

# 0.1.13: the last release that runs on the machine's Node 20 (later ones call Node 22's
# fs.globSync).
VERSION=0.1.13
SCENARIOS="${SCENARIOS:-server-initialize ping tools-list resources-list dns-rebinding-protection}"

work="$(mktemp -d)"
cleanup() {
    kill $(jobs -p) 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

(cd "$work" && npm init -y >/dev/null && npm install --no-audit --no-fund --silent \
    "@modelcontextprotocol/conformance@$VERSION" >/dev/null)

cargo build -q -p http-adapter --bin marketplace-server
MARKETPLACE_SECRET=conformance RUST_LOG=error target/debug/marketplace-server serve \
    --listen 127.0.0.1:0 --database-url memory:// --blob-dir "$work/blobs" >"$work/server.out" &
for _ in $(seq 1 100); do
    grep -q "listening on" "$work/server.out" 2>/dev/null && break
    sleep 0.1
done
address="$(sed -n 's/.*listening on http:\/\///p' "$work/server.out")"
key="$(curl -sf -X POST "http://$address/api/v1/auth/register" \
    -H 'Content-Type: application/json' -d '{"alias":"conformance"}' |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["api_key"])')"

node .ci/mcp-auth-proxy.mjs 0 "${address##*:}" "$key" >"$work/proxy.out" &
for _ in $(seq 1 100); do
    [ -s "$work/proxy.out" ] && break
    sleep 0.1
done
proxy_port="$(head -n 1 "$work/proxy.out")"

failed=0
for scenario in $SCENARIOS; do
    echo "-- $scenario"
    if ! (cd "$work" && npx conformance server --url "http://127.0.0.1:$proxy_port/mcp" \
        --scenario "$scenario"); then
        failed=1
    fi
done
exit "$failed"
