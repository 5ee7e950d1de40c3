#!/usr/bin/env bash
# Creates .dev.vars (git-ignored, dev only) with a random JWT_SECRET when it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -f .dev.vars ]; then
  secret=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')
  printf 'JWT_SECRET="%s"\nPULSE_ENV="dev"\nCORS_ORIGINS="*"\n' "$secret" > .dev.vars
  chmod 600 .dev.vars
  echo "[dev-vars] created .dev.vars with a random JWT_SECRET" >&2
fi
