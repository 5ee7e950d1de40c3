# Pulse: the two commands are `make dev` and `make test` (see README.md).
SHELL := /bin/bash
PORT ?= 8787
STATE := .state
WRANGLER := node_modules/.bin/wrangler
export WRANGLER_SEND_METRICS := false
# Node 24 from the npm package `node` (wrangler refuses older Node).
export PATH := $(CURDIR)/node_modules/.bin:$(PATH)

.PHONY: dev test bootstrap build unit e2e fuzz deploy-check reset token fmt lint bench

## Serve the real Worker locally on 127.0.0.1:$(PORT) with persisted local state.
dev: bootstrap
	@./scripts/dev-vars.sh
	@./scripts/build.sh
	@$(WRANGLER) d1 migrations apply DB --local --persist-to $(STATE) >/dev/null
	@$(WRANGLER) d1 execute DB --local --persist-to $(STATE) --file seeds/dev.sql >/dev/null
	@PORT=$(PORT) ./scripts/dev-banner.sh
	@$(WRANGLER) dev --ip 127.0.0.1 --port $(PORT) --persist-to $(STATE) --test-scheduled

## Every test: native unit tests, end-to-end tests against wrangler dev, the OpenAPI fuzz
## run, deploy dry run.
test: bootstrap unit e2e fuzz deploy-check

bootstrap:
	@./scripts/bootstrap.sh

build: bootstrap
	@./scripts/build.sh

# Native builds share compiled dependencies with every clone of this user (see
# scripts/shared-target.sh; PULSE_SHARED_TARGET=0 keeps ./target).
CARGO_SHARED := ./scripts/shared-target.sh native cargo

unit:
	$(CARGO_SHARED) test --lib --examples

e2e: build
	$(CARGO_SHARED) test --test e2e

## schemathesis against the served OpenAPI document on a fresh wrangler dev (scripts/fuzz.sh).
fuzz: build
	@./scripts/fuzz.sh

## `wrangler deploy --dry-run`: checks the config and bundle, prints the upload size.
deploy-check: bootstrap
	@set -o pipefail; $(WRANGLER) deploy --dry-run --outdir target/deploy-dry-run 2>&1 | grep -E "Total Upload|--dry-run|ERROR|rror"

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
	cargo clippy --all-targets -- -D warnings
	cargo clippy --test e2e -- -D warnings

## Benchmarks against the peers (not part of `make test`): QUICK=1 for a short run,
## ONLY=fanout,rest,resume,idle,size for some scenarios. See BENCHMARKS.md.
bench:
	@./bench/run.sh
