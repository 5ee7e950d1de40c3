#!/usr/bin/env bash
# Prints ready-to-paste dev tokens plus one curl and one WebSocket example.
set -euo pipefail
cd "$(dirname "$0")/.."
PORT="${PORT:-8787}"
cargo build -q --example token
tok() { target/debug/examples/token "$1" "$1-$2" "$2"; }
echo
echo "Pulse dev server: http://127.0.0.1:$PORT   (seeded tenants: demo, acme; tokens valid 7 days)"
echo "API docs: http://127.0.0.1:$PORT/api/docs   (OpenAPI 3.1: /api/openapi.json)"
platform=$(sed -n 's/^PLATFORM_TOKEN="\(.*\)"$/\1/p' .dev.vars 2>/dev/null || true)
echo "Operator (adds brokerages with POST /api/platform/tenants): export PLATFORM_TOKEN=$platform"
for t in demo acme; do
  for r in admin broker viewer; do
    printf 'export %s_%s=%s\n' "$(echo "$t" | tr a-z A-Z)" "$(echo "$r" | tr a-z A-Z)" "$(tok "$t" "$r")"
  done
done
echo
echo "# curl: create a customer as demo's broker"
echo "curl -s -X POST http://127.0.0.1:$PORT/api/crm/customers -H \"Authorization: Bearer \$DEMO_BROKER\" -H 'Content-Type: application/json' -d '{\"name\":\"Ada Lovelace\",\"email\":\"ada@example.com\"}'"
echo
echo "# WebSocket (Node 24's global WebSocket): tenant demo's events, replayed from the start, then live"
echo "node_modules/.bin/node -e 'const ws=new WebSocket(\"ws://127.0.0.1:$PORT/api/realtime/ws?token=\"+process.env.DEMO_ADMIN);ws.onopen=()=>ws.send(JSON.stringify({op:\"subscribe\",channels:[\"tenant\"],since:0}));ws.onmessage=e=>console.log(e.data)'"
echo
