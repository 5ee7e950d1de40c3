// The package as shipped: generated files match the catalog and the OpenAPI document, the
// types check, and the bundle stays within its size budget.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { join } from "node:path";
import { build } from "esbuild";
import { generate, genEvents, genRest, PKG } from "../scripts/gen.mjs";

const LIMIT = 10 * 1024;

test("generated files are what the catalog and the OpenAPI document give (no drift)", () => {
  for (const [path, text] of generate()) {
    assert.equal(readFileSync(path, "utf8"), text, `${path} is stale: run \`npm run gen\` in clients/js`);
  }
});

test("event types from a catalog: payload interfaces, nullable and enum fields, wildcard types", () => {
  const sample = JSON.parse(readFileSync(join(PKG, "test/fixtures/events.sample.json"), "utf8"));
  const ts = genEvents(sample);
  assert.match(ts, /"crm:customer:created": \{\n    id: string;\n    name: string;\n    email\?: string \| null;/);
  assert.match(ts, /status\?: "lead" \| "active";/);
  assert.match(ts, /progress: number;\n    steps\?: string\[\];\n  \};/, "additionalProperties false: closed");
  assert.match(ts, /\[type: `system:\$\{string\}`\]: Record<string, unknown>;/);
  assert.match(ts, /export type AnyPulseEvent/);
});

test("REST operations: every JSON operation of the document has an entry and a route", () => {
  const api = JSON.parse(readFileSync(join(PKG, "../../static/openapi.json"), "utf8"));
  const ts = genRest(api);
  assert.match(ts, /createCustomer: "POST \/api\/crm\/customers"/);
  assert.match(ts, /getCustomer: \{\n    params: \{\n      id: string;/);
  assert.doesNotMatch(ts, /realtimeWs:/, "upgrades are the realtime client's");
  assert.doesNotMatch(ts, /realtimeStream:/);
});

test("types check: typed events, subscribe options and REST calls (tsc)", () => {
  execFileSync(join(PKG, "node_modules/.bin/tsc"), ["-p", join(PKG, "test/tsconfig.json")], { stdio: "pipe" });
});

test(`bundle: at most ${LIMIT} bytes minified and gzipped`, async () => {
  const out = await build({
    entryPoints: [join(PKG, "dist/index.js")],
    bundle: true,
    minify: true,
    format: "esm",
    platform: "neutral",
    write: false,
  });
  const min = out.outputFiles[0].contents;
  const gz = gzipSync(min, { level: 9 }).length;
  console.log(`# @pulse/client: ${min.length} B minified, ${gz} B minified+gzipped (limit ${LIMIT})`);
  assert.ok(gz <= LIMIT, `${gz} B > ${LIMIT} B`);
  const src = readFileSync(join(PKG, "dist/index.js"), "utf8");
  assert.doesNotMatch(src, /from\s+["'](?!\.)/, "no runtime dependency");
});
