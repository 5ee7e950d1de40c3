#!/usr/bin/env bash
# Fuzzes the API from its own published OpenAPI document: starts a fresh `wrangler dev` on
# a free port with throw-away state (migrations and the dev seed applied, like the e2e
# harness), logs in as the seeded admin, runs schemathesis (pinned by scripts/bootstrap.sh)
# with positive and negative data against GET /api/openapi.json, stops the server by its
# process group, and fails on any failed check with a summary by operation and check.
#
#   scripts/fuzz.sh            (or `make fuzz`; `make test` runs it after the e2e suite)
#
# Knobs (environment): FUZZ_SEED (fixed by default, so a run is reproducible),
# FUZZ_MAX_EXAMPLES (cases per operation and phase), FUZZ_WORKERS, FUZZ_MAX_TIME (a hard
# stop in seconds), FUZZ_KEEP=1 keeps the run folder (state, server log, reports) under
# target/fuzz/. Extra arguments go to `st run` as they are (e.g. --include-path-regex).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
T0=$(date +%s)
say() { printf '[fuzz] %s\n' "$*" >&2; }
die() { say "ERROR: $*"; exit 1; }

[ -f .tools/env.sh ] || ./scripts/bootstrap.sh
. .tools/env.sh
# An env.sh written before schemathesis was part of the bootstrap: run it again.
[ -x "${SCHEMATHESIS_BIN:-}" ] || { ./scripts/bootstrap.sh && . .tools/env.sh; }
ST="${SCHEMATHESIS_BIN:-}"
[ -x "$ST" ] || die "schemathesis is not installed (SCHEMATHESIS_BIN='$ST'): run scripts/bootstrap.sh"
[ -f build/index.js ] || die "no Worker build: run \`make build\` first"
WRANGLER="$ROOT/node_modules/.bin/wrangler"
export WRANGLER_SEND_METRICS=false
export PATH="$ROOT/node_modules/.bin:$PATH"

SEED="${FUZZ_SEED:-20261101}"
MAX_EXAMPLES="${FUZZ_MAX_EXAMPLES:-20}"
WORKERS="${FUZZ_WORKERS:-2}"
MAX_TIME="${FUZZ_MAX_TIME:-210}"

RUN="$ROOT/target/fuzz/$$-$(od -An -tx1 -N4 /dev/urandom | tr -d ' \n')"
mkdir -p "$RUN/state" "$RUN/report"
LOG="$RUN/wrangler.log"
# The fuzz server's own wrangler config: the committed one with the per-caller API limit
# (a rate-limiting binding, not a var) raised, since one admin sends far more than 600
# requests a minute here, and without the [build] step (`make fuzz` builds first). It must
# sit beside wrangler.toml for the relative paths.
CONFIG="$ROOT/.fuzz-wrangler-$$.toml"
SERVER_PGID=""

cleanup() {
  local rc=$?
  if [ -n "$SERVER_PGID" ]; then
    kill -TERM -- "-$SERVER_PGID" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 -- "-$SERVER_PGID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$SERVER_PGID" 2>/dev/null || true
  fi
  rm -f "$CONFIG"
  if [ "${FUZZ_KEEP:-0}" = 1 ] || [ "$rc" != 0 ]; then
    say "run folder kept: ${RUN#"$ROOT"/} (server log, reports)"
  else
    rm -rf "$RUN"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

sed -E -e 's/^(simple = \{ limit = )[0-9]+/\11000000/' -e '/^\[build\]$/,/^$/d' wrangler.toml > "$CONFIG"
grep -q 'limit = 1000000' "$CONFIG" && ! grep -q '^\[build\]' "$CONFIG" \
  || die "could not derive the fuzz config from wrangler.toml (API_LIMITER limit, [build])"

wr() { "$WRANGLER" "$@" </dev/null; }
wr d1 migrations apply DB --local --persist-to "$RUN/state" -c "$CONFIG" >"$RUN/migrate.log" 2>&1 \
  || { cat "$RUN/migrate.log" >&2; die "applying migrations failed"; }
wr d1 execute DB --local --persist-to "$RUN/state" -c "$CONFIG" --file seeds/dev.sql >>"$RUN/migrate.log" 2>&1 \
  || { cat "$RUN/migrate.log" >&2; die "seeding failed"; }

say "local D1 migrated and seeded in $(( $(date +%s) - T0 )) s"
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
BASE="http://127.0.0.1:$PORT"
SECRET=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')
PLATFORM=$(od -An -tx1 -N24 /dev/urandom | tr -d ' \n')
# Test-run settings: PULSE_ENV=dev so the documented dev routes answer too; login limits
# far above what a fuzzer's failed logins reach; no blocklist cache.
VARS=(
  --var "JWT_SECRET:$SECRET"
  --var "PLATFORM_TOKEN:$PLATFORM"
  --var "PULSE_ENV:dev"
  --var "LOGIN_ACCOUNT_LIMIT:1000000"
  --var "LOGIN_IP_LIMIT:1000000"
  --var "BLOCKLIST_CACHE_MS:0"
  --var "PROVIDER_TIMEOUT_MS:1500"
)
say "starting wrangler dev on $BASE"
setsid "$WRANGLER" dev -c "$CONFIG" --ip 127.0.0.1 --port "$PORT" --persist-to "$RUN/state" \
  --show-interactive-dev-session=false "${VARS[@]}" </dev/null >"$LOG" 2>&1 &
SERVER_PGID=$!
for i in $(seq 1 600); do
  curl -fsS -o /dev/null --max-time 5 "$BASE/health" 2>/dev/null && break
  kill -0 "$SERVER_PGID" 2>/dev/null || { tail -40 "$LOG" >&2; die "wrangler dev exited"; }
  [ "$i" = 600 ] && { tail -40 "$LOG" >&2; die "wrangler dev did not become healthy in 180 s"; }
  sleep 0.3
done

say "server up in $(( $(date +%s) - T0 )) s"
TOKEN=$(curl -fsS --max-time 30 -H 'content-type: application/json' \
  -d '{"tenant":"demo","email":"admin@demo.test","password":"pulse-dev-password"}' \
  "$BASE/api/auth/login" | python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])') \
  || die "logging in as the seeded admin failed"

# Not fuzzed: the WebSocket upgrades (a 101 needs a handshake no HTTP fuzzer makes: a
# plain GET is 426), the SSE stream (never ends, so every case would time out) and
# Socket.IO (a protocol of its own, tested by clients/js/test/socketio.test.mjs).
EXCLUDE=(--exclude-path-regex '/ws$' --exclude-path /api/realtime/stream --exclude-path /socket.io/)
# positive_data_acceptance_or_stated_rule (scripts/fuzz_hooks.py): schemathesis'
# positive_data_acceptance, except a refusal under a rule the operation states (x-rules).
CHECKS=not_a_server_error,status_code_conformance,positive_data_acceptance_or_stated_rule,negative_data_rejection

# The operator's route takes the PLATFORM_TOKEN secret, not the admin's JWT: it is fuzzed in a
# run of its own with that token (a few seconds), so its bodies are checked for real.
PLATFORM_PATH=/api/platform/tenants
say "schemathesis $("$ST" --version | awk '{print $NF}'): seed $SEED, $MAX_EXAMPLES examples per operation, $WORKERS workers"
start=$(date +%s)
set +e
fuzz() { # fuzz <report dir> <log> <bearer> <st args...>
  local report="$1" log="$2" bearer="$3"
  shift 3
  SCHEMATHESIS_HOOKS="$ROOT/scripts/fuzz_hooks.py" FUZZ_EXCUSED="$RUN/excused.ndjson" \
    timeout --signal=INT --kill-after=20 "$MAX_TIME" "$ST" --config-file "$ROOT/scripts/fuzz.toml" run "$BASE/api/openapi.json" --url "$BASE" \
    -H "Authorization: Bearer $bearer" -H "Accept: application/json" \
    --mode all --checks "$CHECKS" --seed "$SEED" --max-examples "$MAX_EXAMPLES" \
    --workers "$WORKERS" --generation-database none \
    --continue-on-failure --request-timeout 20 --no-color --output-truncate false --output-sanitize false \
    --report junit,ndjson --report-dir "$report" \
    "$@" >"$log" 2>&1
}
fuzz "$RUN/report" "$RUN/schemathesis.log" "$TOKEN" "${EXCLUDE[@]}" --exclude-path "$PLATFORM_PATH" "$@"
rc=$?
if [ "$rc" = 0 ] && [ $# = 0 ]; then
  fuzz "$RUN/report" "$RUN/schemathesis-platform.log" "$PLATFORM" --include-path "$PLATFORM_PATH"
  rc=$?
fi
took=$(( $(date +%s) - start ))
[ "$rc" = 124 ] && say "schemathesis was stopped at the time limit ($MAX_TIME s): lower FUZZ_MAX_EXAMPLES"
FUZZ_CHECKS="$CHECKS" python3 "$ROOT/scripts/fuzz_summary.py" "$RUN/report" "$took" "$RUN/failures.md"
src=$?
set -e
# A failure the report does not show (a crash, a schema that did not load): the log says.
[ "$rc" != 0 ] && [ "$src" = 0 ] && tail -40 "$RUN/schemathesis.log" >&2
[ "$src" = 0 ] && [ "$rc" = 0 ] && say "passed (all $((  $(date +%s) - T0 )) s)"
[ "$src" = 0 ] && [ "$rc" = 0 ] || { say "FAILED: full output in ${RUN#"$ROOT"/}/schemathesis.log, table in failures.md"; exit 1; }
