# Pulse: the two commands are `make dev` and `make test` (see README.md).
SHELL := /bin/bash
PORT ?= 8787
STATE := .state
WRANGLER := node_modules/.bin/wrangler
export WRANGLER_SEND_METRICS := false
# Node 24 from the npm package `node` (wrangler refuses older Node).
export PATH := $(CURDIR)/node_modules/.bin:$(PATH)

.PHONY: dev test bootstrap build unit test-binaries e2e client-test browser-test fuzz deploy-check reset token fmt lint bench

## Serve the real Worker locally on 127.0.0.1:$(PORT) with persisted local state.
dev: bootstrap
	@./scripts/dev-vars.sh
	@./scripts/build.sh
	@$(WRANGLER) d1 migrations apply DB --local --persist-to $(STATE) >/dev/null
	@$(WRANGLER) d1 execute DB --local --persist-to $(STATE) --file seeds/dev.sql >/dev/null
	@PORT=$(PORT) ./scripts/dev-banner.sh
	@$(WRANGLER) dev --ip 127.0.0.1 --port $(PORT) --persist-to $(STATE) --test-scheduled

## Every test: native unit tests, end-to-end tests against wrangler dev, the JS client's
## tests, the console in headless chromium, the OpenAPI fuzz run, deploy dry run. The
## native test binaries compile beside bootstrap and the Worker build (two cores), then
## the tests run.
test:
	@$(MAKE) --no-print-directory -j2 test-binaries build
	@$(MAKE) --no-print-directory unit
	$(CARGO_SHARED) test --test e2e
	@$(MAKE) --no-print-directory client-test
	$(BROWSER_TEST)
	@./scripts/fuzz.sh
	@$(MAKE) --no-print-directory deploy-check

# Cargo and rustc ignore make's jobserver (`make test` runs two of them side by side with
# -j2 and passes them no jobserver descriptors).
NO_JOBSERVER := MAKEFLAGS= MFLAGS=

bootstrap:
	@$(NO_JOBSERVER) ./scripts/bootstrap.sh

build: bootstrap
	@$(NO_JOBSERVER) ./scripts/build.sh

# Native builds share compiled dependencies with every clone of this user (see
# scripts/shared-target.sh; PULSE_SHARED_TARGET=0 keeps ./target).
CARGO_SHARED := ./scripts/shared-target.sh native cargo

unit:
	$(CARGO_SHARED) test --workspace --lib --examples

# Niced: beside it, the Worker's build (one LTO unit, one core) is the longer path.
test-binaries:
	$(NO_JOBSERVER) nice -n 10 $(CARGO_SHARED) test --no-run --lib --examples --test e2e

e2e: build
	$(CARGO_SHARED) test --test e2e

## The JS client (clients/js, @pulse/client): builds dist/, then node's test runner checks
## the generated files, the types and the bundle size, and runs the client against its own
## wrangler dev (test/server.mjs).
CLIENT_TESTS := test/unit.test.mjs test/build.test.mjs test/realtime.test.mjs test/workers.test.mjs test/socketio.test.mjs
client-test: build
	cd clients/js && node scripts/build.mjs && \
	  node --experimental-eventsource --disable-warning=ExperimentalWarning --test --test-concurrency=1 --test-timeout=60000 --test-force-exit $(CLIENT_TESTS)

## The live console (/console) in headless Debian chromium, driven by playwright-core
## (clients/console/test, pinned by its own lock file) against a wrangler dev it starts,
## kills and restarts. PULSE_WRITE_SCREENSHOTS=1 also updates docs/console-*.png.
BROWSER_TEST := node --test --test-concurrency=1 "clients/console/test/*.test.mjs"
browser-test: build
	$(BROWSER_TEST)

## schemathesis against the served OpenAPI document on a fresh wrangler dev (scripts/fuzz.sh).
fuzz: build
	@./scripts/fuzz.sh

## `wrangler deploy --dry-run`: checks the config and bundle, prints the upload size.
# wrangler's build step keeps a Worker that is newer than its sources (scripts/build.sh).
deploy-check: bootstrap
	@set -o pipefail; PULSE_BUILD_IF_STALE=1 $(WRANGLER) deploy --dry-run --outdir target/deploy-dry-run 2>&1 | grep -E "Total Upload|--dry-run|ERROR|rror"

## Wipe the local dev state (D1, Durable Objects, Queues).
reset:
	rm -rf $(STATE) .wrangler/state
	@echo "local dev state wiped"

## Mint a dev token: make token TENANT=demo USER_ID=demo-admin ROLE=admin
TENANT ?= demo
ROLE ?= admin
USER_ID ?= $(TENANT)-$(ROLE)
token:
	@./scripts/dev-vars.sh
	@$(CARGO_SHARED) run -q --example token -- $(TENANT) $(USER_ID) $(ROLE)

fmt:
	cargo fmt

lint:
	cargo fmt --check
	cargo clippy --workspace --all-targets -- -D warnings
	cargo clippy --test e2e -- -D warnings
	cd clients/js && node scripts/gen.mjs --check && node_modules/.bin/tsc -p . --noEmit && node_modules/.bin/tsc -p test/tsconfig.json

## Benchmarks against the peers (not part of `make test`): QUICK=1 for a short run,
## ONLY=fanout,rest,resume,idle,size for some scenarios. See BENCHMARKS.md.
bench:
	@./bench/run.sh
