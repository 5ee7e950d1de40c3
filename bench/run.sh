#!/usr/bin/env bash
# `make bench` (QUICK=1 for a short run): installs the peers, builds Pulse and the load
# generator, runs every scenario side by side, then draws the plots. BARE=1 serves every
# Worker from bare workerd (generated config, no wrangler) and writes *-bare.json instead
# (no plots: they are drawn from the wrangler-dev run).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/bootstrap.sh
export PATH="$PWD/node_modules/.bin:$PATH" WRANGLER_SEND_METRICS=false
if [ ! -d bench/peers/node_modules ] || [ bench/peers/package-lock.json -nt bench/peers/node_modules/.package-lock.json ]; then
  (cd bench/peers && npm ci --no-audit --no-fund --loglevel=error)
fi
./scripts/build.sh
(cd bench && cargo build --release -q)
args=()
[ "${QUICK:-}" = 1 ] && args+=(--quick)
[ -n "${ONLY:-}" ] && args+=(--only "$ONLY")
[ "${BARE:-}" = 1 ] && args+=(--bare)
bench/target/release/pulse-bench "${args[@]}"
[ "${BARE:-}" = 1 ] || python3 bench/plot.py "$([ "${QUICK:-}" = 1 ] && echo quick.json || echo results.json)"
