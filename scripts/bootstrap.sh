#!/usr/bin/env bash
# Installs everything Pulse needs to build, serve and test, idempotently.
# Only registry packages are downloaded (npm, crates.io, PyPI, Debian). The pinned cargo tools
# are cached per user, one folder per tool and version, shared by every clone:
# ${XDG_CACHE_HOME:-~/.cache}/pulse/tools/worker-build-<v>/, .../wasm-bindgen-cli-<v>/;
# so is the result of `npm ci` (.../node_modules/<digest>/), which each clone copies.
# It writes the clone's git-ignored .tools/env.sh, which the other scripts source to get
# the wasm32 build environment.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
TOOLS="$ROOT/.tools"
CACHE="${XDG_CACHE_HOME:-${HOME:-/nonexistent}/.cache}/pulse"
WORKER_BUILD_VERSION="0.8.7"
mkdir -p "$TOOLS"
say() { printf '[bootstrap] %s\n' "$*" >&2; }
if ! mkdir -p "$CACHE/tools" 2>/dev/null || [ ! -w "$CACHE/tools" ]; then
  say "$CACHE is not writable: caching tools in this clone's .tools/cache"
  CACHE="$TOOLS/cache"
  mkdir -p "$CACHE/tools"
fi
die() { printf '[bootstrap] ERROR: %s\n' "$*" >&2; exit 1; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo -n "$@"; else return 1; fi; }

command -v cargo >/dev/null || die "cargo is not on PATH: install Rust (rustup) first"
command -v npm >/dev/null || die "npm is not on PATH: install Node.js/npm first"
# swagger-ui-dist depends on @scarf/scarf, which reports installs unless told not to.
export SCARF_ANALYTICS=false

# 1. npm side: wrangler, Node 24 (the npm package 'node'), esbuild. Pinned by package-lock.json.
#    `npm ci` runs once per user and per digest of package.json, package-lock.json, the npm
#    version and the machine, in a temporary folder renamed into $CACHE/node_modules/<digest>
#    when complete (under a lock); each clone gets a plain copy of that (about 1 s instead
#    of 12 s). Without a writable cache, `npm ci` runs in the clone.
if [ ! -x node_modules/.bin/wrangler ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm_key=$( { cat package.json package-lock.json; npm --version; uname -sm; } | sha256sum | cut -c1-16)
  npm_entry="$CACHE/node_modules/$npm_key"
  if mkdir -p "$CACHE/node_modules" 2>/dev/null && [ -w "$CACHE/node_modules" ]; then
    if [ ! -x "$npm_entry/node_modules/.bin/wrangler" ]; then
      exec 7>"$CACHE/node_modules/.lock"
      if command -v flock >/dev/null && ! flock -n 7; then
        say "waiting for another clone running npm ci into $CACHE/node_modules"
        flock 7
      fi
      if [ ! -x "$npm_entry/node_modules/.bin/wrangler" ]; then
        say "npm ci (wrangler, node@24, esbuild, binaryen, swagger-ui-dist) into $npm_entry (once per user and lock file)"
        npm_tmp="$npm_entry.tmp.$$"
        rm -rf "$npm_tmp" && mkdir -p "$npm_tmp" && cp package.json package-lock.json "$npm_tmp/"
        (cd "$npm_tmp" && npm ci --no-audit --no-fund --loglevel=error) \
          || { rm -rf "$npm_tmp"; die "npm ci failed"; }
        rm -rf "$npm_entry" && mv "$npm_tmp" "$npm_entry"
      fi
      exec 7>&-
    fi
    say "node_modules: copied from $npm_entry"
    rm -rf node_modules
    cp -a "$npm_entry/node_modules" node_modules
    touch node_modules/.package-lock.json
  else
    say "npm ci (wrangler, node@24, esbuild, binaryen, swagger-ui-dist)"
    npm ci --no-audit --no-fund --loglevel=error
  fi
fi

# 1b. The JS client's dev dependencies (clients/js: TypeScript, esbuild, React for its
#     tests), pinned by its own package-lock.json; again only when the lock file changed.
if [ -f clients/js/package-lock.json ] && { [ ! -f clients/js/node_modules/.package-lock.json ] \
     || [ clients/js/package-lock.json -nt clients/js/node_modules/.package-lock.json ]; }; then
  say "npm ci in clients/js (TypeScript, esbuild, React for the client's tests)"
  (cd clients/js && npm ci --no-audit --no-fund --loglevel=error) || die "npm ci in clients/js failed"
  touch clients/js/node_modules/.package-lock.json
fi

# 2. The wasm32 target. Detect, don't assume.
WASM_ENV="native"
libdir=$(rustc --print target-libdir --target wasm32-unknown-unknown 2>/dev/null || true)
if [ -n "$libdir" ] && ls "$libdir"/libstd-*.rlib >/dev/null 2>&1; then
  say "wasm32-unknown-unknown: provided by $(rustc --version)"
else
  debian_ok() { [ -x /usr/bin/rustc ] && [ -x /usr/bin/cargo ] && [ -d /usr/lib/rustlib/src/rust/library ] \
                && command -v wasm-ld-22 >/dev/null && /usr/bin/rustc --version | grep -Eq ' 1\.(9[1-9]|[1-9][0-9][0-9])\.'; }
  if ! debian_ok && command -v apt-get >/dev/null; then
    say "wasm32 std is missing: installing Debian's rustc-web, cargo-web, rust-web-src and lld-22 (build-std route)"
    as_root apt-get update -qq || say "apt-get update failed (no root/sudo, or no network to Debian's mirror)"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq rustc-web cargo-web rust-web-src lld-22 >/dev/null \
      || say "apt-get install failed"
  fi
  if debian_ok; then
    WASM_ENV="debian"
    sysroot_lib="$(/usr/bin/rustc --print sysroot)/lib/rustlib/wasm32-unknown-unknown/lib"
    # worker-build checks that the target libdir exists; with build-std it stays empty.
    [ -d "$sysroot_lib" ] || as_root mkdir -p "$sysroot_lib" || die "cannot create $sysroot_lib (needs root)"
    say "wasm32-unknown-unknown: Debian $(/usr/bin/rustc --version) with build-std and wasm-ld-22"
  elif command -v rustup >/dev/null; then
    say "trying 'rustup target add wasm32-unknown-unknown' (60 s timeout; it needs static.rust-lang.org)"
    if timeout 60 rustup target add wasm32-unknown-unknown; then
      WASM_ENV="native"
    else
      die "no wasm32 target: rustc lacks it, Debian's rustc-web route is unavailable, and rustup could not download it (this network only reaches package registries)"
    fi
  else
    die "no wasm32 target and no way to get one (no apt-get, no rustup)"
  fi
fi

# 3. worker-build (pinned) and wasm-bindgen-cli (the version in Cargo.lock), each installed
#    once per user into its own versioned cache folder. An install goes to a temporary
#    folder that is renamed when complete, under a lock, so parallel clones never see half
#    a tool. A clone's old .tools/bin copy of the right version is adopted instead.
WB_VERSION=$(awk '/^name = "wasm-bindgen"$/{getline; gsub(/version = |"/,""); print; exit}' Cargo.lock)
[ -n "$WB_VERSION" ] || die "cannot read the wasm-bindgen version from Cargo.lock"
# has_version BIN VERSION: BIN runs and prints VERSION as a word ("0.8.7", "wasm-bindgen 0.2.130").
has_version() { "$1" --version 2>/dev/null | awk -v v="$2" '{for (i = 1; i <= NF; i++) if ($i == v) f = 1} END {exit !f}'; }
# cached_tool CRATE VERSION BIN: installs if needed, prints the tool's folder.
cached_tool() {
  local crate="$1" version="$2" bin="$3" dir="$CACHE/tools/$1-$2"
  has_version "$dir/bin/$bin" "$version" && { printf '%s\n' "$dir"; return; }
  exec 8>"$CACHE/tools/.lock"
  if command -v flock >/dev/null && ! flock -n 8; then
    say "waiting for another clone installing into $CACHE/tools"
    flock 8
  fi
  if ! has_version "$dir/bin/$bin" "$version"; then
    local tmp="$dir.tmp.$$"
    rm -rf "$tmp"
    if has_version "$TOOLS/bin/$bin" "$version"; then
      say "$crate $version: adopting this clone's .tools/bin/$bin into $dir"
      mkdir -p "$tmp/bin" && cp -p "$TOOLS/bin/$bin" "$tmp/bin/"
    else
      say "cargo install $crate $version into $dir (a few minutes, once per user)"
      # --locked first; without it when the tool's own lock names versions a registry
      # mirror lacks.
      cargo install -q --root "$tmp" "$crate" --version "$version" --locked \
        || cargo install -q --root "$tmp" "$crate" --version "$version" \
        || { rm -rf "$tmp"; die "cargo install $crate $version failed"; }
    fi
    rm -rf "$dir" && mv "$tmp" "$dir"
  fi
  exec 8>&-
  printf '%s\n' "$dir"
}
WORKER_BUILD_DIR=$(cached_tool worker-build "$WORKER_BUILD_VERSION" worker-build)
WASM_BINDGEN_DIR=$(cached_tool wasm-bindgen-cli "$WB_VERSION" wasm-bindgen)

# 4. A real browser for the EventSource/CORS end-to-end test: Debian's chromium. Without
#    one that test fails, so a missing browser is an error here unless PULSE_CHROMIUM
#    points at another binary.
if [ -n "${PULSE_CHROMIUM:-}" ]; then
  [ -x "$PULSE_CHROMIUM" ] || die "PULSE_CHROMIUM=$PULSE_CHROMIUM is not an executable"
elif ! command -v chromium >/dev/null && ! command -v chromium-browser >/dev/null; then
  command -v apt-get >/dev/null || die "no chromium and no apt-get to install it: install Chromium or set PULSE_CHROMIUM"
  say "installing Debian's chromium for the browser test (about 30 s, once)"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null 2>&1 \
    || { as_root apt-get update -qq >/dev/null 2>&1 && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null 2>&1; } \
    || die "chromium could not be installed (needs root or sudo and Debian's mirror): install it, or set PULSE_CHROMIUM"
  command -v chromium >/dev/null || die "chromium was installed but is not on PATH"
fi

# 4b. The console's browser test (clients/console/test): playwright-core, pinned by its own
#     lock file, driving the chromium above; `npm ci` only when the lock file is newer than
#     what was installed.
if [ ! -d clients/console/test/node_modules ] \
   || [ clients/console/test/package-lock.json -nt clients/console/test/node_modules/.package-lock.json ]; then
  say "npm ci in clients/console/test (playwright-core)"
  (cd clients/console/test && npm ci --no-audit --no-fund --loglevel=error) || die "npm ci in clients/console/test failed"
fi

# 5. schemathesis (the fuzz step, scripts/fuzz.sh): a Python venv per version in the same
#    cache, from scripts/fuzz-requirements.txt (every package pinned, with hashes). A venv
#    cannot move, so it is built in place under the lock and marked complete last; a
#    changed requirements file or a missing interpreter means a rebuild.
SCHEMATHESIS_VERSION="4.32.5"
cached_venv() {
  local name="$1" version="$2" bin="$3" reqs="$ROOT/$4" dir="$CACHE/tools/$1-$2"
  venv_ok() { [ -f "$dir/.complete" ] && cmp -s "$dir/requirements.txt" "$reqs" && has_version "$dir/bin/$bin" "$version"; }
  venv_ok && { printf '%s\n' "$dir"; return; }
  exec 8>"$CACHE/tools/.lock"
  command -v flock >/dev/null && flock 8
  if ! venv_ok; then
    local py; py=$(command -v python3) || die "python3 is not on PATH (needed for $name)"
    "$py" -c 'import venv, ensurepip' 2>/dev/null || as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null \
      || die "python3 has no venv/ensurepip and python3-venv could not be installed"
    say "pip install $name $version into $dir (once per user)"
    rm -rf "$dir"
    "$py" -m venv "$dir" \
      && "$dir/bin/python" -m pip install -q --disable-pip-version-check --no-deps --require-hashes -r "$reqs" \
      || { rm -rf "$dir"; die "installing $name $version failed"; }
    cp "$reqs" "$dir/requirements.txt" && touch "$dir/.complete"
  fi
  exec 8>&-
  printf '%s\n' "$dir"
}
SCHEMATHESIS_DIR=$(cached_venv schemathesis "$SCHEMATHESIS_VERSION" st scripts/fuzz-requirements.txt)

# 6. The environment every later step uses (rewritten only when it changes: a fresh
#    Worker stays fresh for scripts/build.sh's PULSE_BUILD_IF_STALE check).
{
  echo "# generated by scripts/bootstrap.sh"
  echo "export PULSE_WASM_ENV=$WASM_ENV"
  echo "export WASM_BINDGEN_BIN='$WASM_BINDGEN_DIR/bin/wasm-bindgen'"
  echo "export ESBUILD_BIN='$ROOT/node_modules/.bin/esbuild'"
  echo "export WORKER_BUILD_BIN='$WORKER_BUILD_DIR/bin/worker-build'"
  echo "export WRANGLER_SEND_METRICS=false"
  echo "export PATH='$ROOT/node_modules/.bin':\"\$PATH\""
  echo "export SCHEMATHESIS_BIN='$SCHEMATHESIS_DIR/bin/st'"
} > "$TOOLS/env.sh.$$"
if cmp -s "$TOOLS/env.sh.$$" "$TOOLS/env.sh"; then rm -f "$TOOLS/env.sh.$$"; else mv "$TOOLS/env.sh.$$" "$TOOLS/env.sh"; fi
say "ready ($WASM_ENV wasm toolchain)"
