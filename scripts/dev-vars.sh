#!/usr/bin/env bash
# Creates .dev.vars (git-ignored, dev only) with a random JWT_SECRET when it is missing, and
# adds a random PLATFORM_TOKEN (the operator's token for POST /api/platform/tenants) to one
# that has none.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -f .dev.vars ]; then
  secret=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')
  printf 'JWT_SECRET="%s"\nPULSE_ENV="dev"\nCORS_ORIGINS="*"\n' "$secret" > .dev.vars
  chmod 600 .dev.vars
  echo "[dev-vars] created .dev.vars with a random JWT_SECRET" >&2
fi
if ! grep -q '^PLATFORM_TOKEN=' .dev.vars; then
  token=$(od -An -tx1 -N24 /dev/urandom | tr -d ' \n')
  printf 'PLATFORM_TOKEN="%s"\n' "$token" >> .dev.vars
  echo "[dev-vars] added a random PLATFORM_TOKEN to .dev.vars" >&2
fi
