#!/usr/bin/env bash
# Runs a cargo command with a per-user CARGO_TARGET_DIR shared by every clone, so compiled
# dependencies are built once per toolchain, not once per clone.
#
#   scripts/shared-target.sh native|wasm COMMAND [ARGS...]
#
# The folder is ${XDG_CACHE_HOME:-~/.cache}/pulse/target/<kind>-<rustc version> ($RUSTC or
# rustc). PULSE_SHARED_TARGET=0 keeps the clone's own ./target instead.
#
# Two rules keep sharing correct:
# - One command at a time per folder (flock on <folder>/.lock, held for the whole command:
#   test binaries and the Worker's .wasm live there while they run or are post-processed).
# - Cargo hashes a path crate by its path relative to the workspace and decides freshness
#   by mtimes, so after a build from clone A it can call clone B's older files fresh and
#   reuse A's `pulse`. The folder remembers which clone built last; a build from another
#   clone first deletes the `pulse` fingerprints, so only Pulse's own crate is rebuilt.
set -euo pipefail
kind="${1:?usage: shared-target.sh native|wasm COMMAND...}"
shift
ROOT="$(cd "$(dirname "$0")/.." && pwd -P)"

if [ "${PULSE_SHARED_TARGET:-1}" = 0 ]; then
  export CARGO_TARGET_DIR="$ROOT/target"
  exec "$@"
fi

toolchain=$("${RUSTC:-rustc}" --version | awk '{print $2}')
dir="${XDG_CACHE_HOME:-${HOME:-/nonexistent}/.cache}/pulse/target/$kind-$toolchain"
if ! mkdir -p "$dir" 2>/dev/null || [ ! -w "$dir" ]; then
  printf '[shared-target] %s is not writable: using ./target\n' "$dir" >&2
  export CARGO_TARGET_DIR="$ROOT/target"
  exec "$@"
fi

# Take the folder's lock (once: a nested call for the same folder already holds it). This
# shell keeps it and waits; the command runs without the lock's fd, so a process it leaves
# behind (a stray wrangler dev) cannot keep the folder locked.
if [ "${PULSE_TARGET_LOCKED:-}" != "$dir" ] && command -v flock >/dev/null; then
  export PULSE_TARGET_LOCKED="$dir"
  exec 9>"$dir/.lock"
  if ! flock -n 9; then
    printf '[shared-target] waiting for %s (another clone is building or testing)\n' "$dir" >&2
    flock 9
  fi
fi

marker="$dir/.last-clone"
if [ "$(cat "$marker" 2>/dev/null)" != "$ROOT" ]; then
  find "$dir" -maxdepth 4 -type d -path '*/.fingerprint/pulse-*' -prune -exec rm -rf {} +
  printf '%s\n' "$ROOT" > "$marker"
fi
export CARGO_TARGET_DIR="$dir"
"$@" 9>&-
