#!/usr/bin/env bash
# Builds the Worker (Rust -> wasm32 -> build/) with worker-build; wrangler calls this too.
set -euo pipefail
cd "$(dirname "$0")/.."
# The live console (clients/console, on @pulse/client from clients/js) into static/console/
# (git-ignored), served at /console: esbuild, well under a second, and only when one of its
# sources is newer than the bundle.
console_out=static/console
if [ ! -f "$console_out/app.js" ] || [ ! -f "$console_out/index.html" ] \
   || [ -n "$(find clients/console/src clients/console/index.html clients/console/app.css clients/js/src scripts/build.sh -newer "$console_out/app.js" -print -quit 2>/dev/null)" ]; then
  [ -x node_modules/.bin/esbuild ] || ./scripts/bootstrap.sh
  mkdir -p "$console_out"
  node_modules/.bin/esbuild clients/console/src/main.js --bundle --format=esm --target=es2022 \
    --minify --legal-comments=none --log-level=warning \
    --alias:@pulse/client=./clients/js/src/index.ts --outfile="$console_out/app.js.tmp"
  node_modules/.bin/esbuild clients/console/app.css --minify --log-level=warning --outfile="$console_out/app.css"
  cp clients/console/index.html "$console_out/index.html"
  mv "$console_out/app.js.tmp" "$console_out/app.js"
fi
# The API reference (/api/docs): Swagger UI from npm `swagger-ui-dist` (pinned by
# package-lock.json) and the page's own files (clients/docs/) into static/api-docs/
# (git-ignored): copied, only when a source is newer.
docs_out=static/api-docs
if [ ! -f "$docs_out/swagger-ui-bundle.js" ] \
   || [ -n "$(find clients/docs node_modules/swagger-ui-dist/package.json scripts/build.sh -newer "$docs_out/swagger-ui-bundle.js" -print -quit 2>/dev/null)" ]; then
  [ -f node_modules/swagger-ui-dist/swagger-ui-bundle.js ] || ./scripts/bootstrap.sh
  mkdir -p "$docs_out"
  cp clients/docs/index.html clients/docs/docs.js clients/docs/docs.css "$docs_out/"
  cp node_modules/swagger-ui-dist/swagger-ui.css "$docs_out/"
  # Without its source-map comment: the map is not served.
  sed '/^\/\/# sourceMappingURL=/d' node_modules/swagger-ui-dist/swagger-ui-bundle.js > "$docs_out/swagger-ui-bundle.js.tmp"
  mv "$docs_out/swagger-ui-bundle.js.tmp" "$docs_out/swagger-ui-bundle.js"
fi
# The end-to-end harness starts `wrangler dev` (which calls this script) after `make build`:
# with PULSE_BUILD_IF_STALE=1 a Worker newer than every input it is built from is kept
# as it is (about 1.5 s per server start); any newer source builds as usual.
if [ "${PULSE_BUILD_IF_STALE:-}" = 1 ] && [ -f build/index.js ] \
   && [ -z "$(find src crates Cargo.toml Cargo.lock scripts/build.sh .tools/env.sh -newer build/index.js -print -quit 2>/dev/null)" ]; then
  exit 0
fi
[ -f .tools/env.sh ] || ./scripts/bootstrap.sh
. .tools/env.sh
if [ "$PULSE_WASM_ENV" = debian ]; then
  # Debian's rustc-web has no prebuilt wasm32 std: build it from source (build-std).
  export RUSTC_BOOTSTRAP=1
  export CARGO_UNSTABLE_BUILD_STD=std,panic_abort
  # std's size-over-speed variants (smaller sort, formatting and collections code).
  export CARGO_UNSTABLE_BUILD_STD_FEATURES=optimize_for_size
  # Smaller Wasm (<= 500 KB gzipped): std is built without panic formatting and
  # without file/line strings in panics, and Debug formatting is compiled out (it only
  # fed internal logs). Pulse never panics on input by design; a panic
  # still aborts the instance, just without a message.
  export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS="-Zunstable-options -Cpanic=immediate-abort -Zlocation-detail=none -Zfmt-debug=none ${PULSE_EXTRA_RUSTFLAGS:-}"
  export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER=wasm-ld-22
  export PATH="/usr/bin:$PATH"
  export RUSTC=/usr/bin/rustc CARGO=/usr/bin/cargo
fi
# Compiled dependencies (std included, with build-std) live in the per-user target folder
# shared by every clone (scripts/shared-target.sh); the Worker itself goes to ./build/.
./scripts/shared-target.sh wasm "$WORKER_BUILD_BIN" --release
# Binaryen (npm `binaryen`, pinned by package-lock.json) over the finished module, with only
# the passes that make the *gzipped* Worker smaller (about 7.5 KiB of the 500 KiB budget;
# `--reorder-locals --dae-optimizing` added 1.4 KiB of it, measured).
# Not -Oz: its reordering of functions makes the module smaller but compress worse (+30 KiB
# gzipped, measured; docs/decisions.md, "The size budget"). The features are the ones the
# module uses (bulk memory from std, exception handling and reference types from
# wasm-bindgen).
[ -x node_modules/.bin/wasm-opt ] || ./scripts/bootstrap.sh
node_modules/.bin/wasm-opt build/index_bg.wasm -o build/index_bg.wasm \
  --dce --duplicate-function-elimination --remove-unused-brs --vacuum \
  --optimize-instructions --code-folding --reorder-locals --dae-optimizing \
  --enable-bulk-memory --enable-bulk-memory-opt --enable-sign-ext \
  --enable-nontrapping-float-to-int --enable-mutable-globals --enable-reference-types \
  --enable-multivalue --enable-exception-handling
