// The API reference (/api/docs) in a real browser: Swagger UI bundled into the static
// assets, headless Debian chromium driven by playwright-core against a real `wrangler dev`
// (no mocks): the operations render with their schemas and examples, a pasted token
// authorizes "Try it out", and the calls reach this server. Run by `make browser-test`.

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import { chromium } from "playwright-core";
import path from "node:path";
import { ROOT, Server } from "./server.mjs";

const PASSWORD = "pulse-dev-password";

function chromiumPath() {
  const env = process.env.PULSE_CHROMIUM;
  if (env) return fs.existsSync(env) ? env : null;
  return ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"].find((p) => fs.existsSync(p)) || null;
}

let server, browser, page, token;
const pageErrors = [];
const requested = [];

/** The operation's block, opened. */
async function open(tag, operationId) {
  const op = page.locator(`#operations-${tag}-${operationId}`);
  await op.waitFor();
  if (!(await op.locator(".opblock-body").count())) await op.locator(".opblock-summary-control").click();
  await op.locator(".opblock-body").waitFor();
  return op;
}

/** "Try it out", then "Execute": the live response's status code and body text. */
async function execute(op) {
  const tryOut = op.locator("button.try-out__btn");
  if ((await tryOut.innerText()).trim() === "Try it out") await tryOut.click();
  await op.locator("button.execute").click();
  const status = op.locator(".live-responses-table .response .response-col_status").first();
  await status.waitFor();
  const body = await op.locator(".live-responses-table .response-col_description pre").first().innerText();
  // The cell may add a note beside the code ("Undocumented", "Error: …").
  const code = (await status.innerText()).match(/\d{3}/);
  return [code ? Number(code[0]) : NaN, body];
}

describe("API reference (/api/docs) in headless chromium", { timeout: 120_000 }, () => {
  before(async () => {
    const exe = chromiumPath();
    assert.ok(exe, "no Chromium: scripts/bootstrap.sh installs Debian's `chromium`, or set PULSE_CHROMIUM");
    [server, browser] = await Promise.all([
      Server.start(),
      chromium.launch({ executablePath: exe, headless: true, args: ["--no-sandbox", "--disable-gpu"] }),
    ]);
    const [status, pair] = await server.call("POST", "/api/auth/login", {
      tenant: "demo",
      email: "admin@demo.test",
      password: PASSWORD,
    });
    assert.equal(status, 200, JSON.stringify(pair));
    token = pair.access_token;
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.on("pageerror", (e) => pageErrors.push(String(e)));
    page.on("request", (r) => requested.push(r.url()));
    // The 401 of the call made without a token is logged by the browser itself.
    page.on("console", (m) => {
      if (m.type() === "error" && !/Failed to load resource/.test(m.text())) pageErrors.push(m.text());
    });
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  it("serves the page and its files from static assets, nothing else", async () => {
    const [s, html, h] = await server.call("GET", "/api/docs");
    assert.equal(s, 200);
    assert.match(h.get("content-type"), /text\/html/);
    assert.match(html, /<script src="\/api\/docs\/swagger-ui-bundle.js">/);
    const csp = h.get("content-security-policy");
    for (const rule of ["script-src 'self'", "connect-src 'self'", "frame-ancestors 'none'"]) assert.ok(csp.includes(rule), csp);
    for (const [file, type] of [
      ["swagger-ui-bundle.js", /text\/javascript/],
      ["swagger-ui.css", /text\/css/],
      ["docs.js", /text\/javascript/],
      ["docs.css", /text\/css/],
    ]) {
      const r = await fetch(`${server.base}/api/docs/${file}`);
      assert.equal(r.status, 200, file);
      assert.match(r.headers.get("content-type"), type, file);
      assert.ok((await r.arrayBuffer()).byteLength > 100, file);
    }
    for (const p of ["/api/docs/nope.js", "/api/docs/..%2Fopenapi.json", "/api/docs/index.html"]) {
      const [st, body] = await server.call("GET", p);
      assert.equal(st, 404, p);
      assert.equal(body.error.code, "not_found", p);
    }
  });

  it("renders every operation with its schemas and examples, offline", async () => {
    await page.goto(server.base + "/api/docs");
    await page.locator("#swagger-ui[data-ready='1']").waitFor();
    const [spec] = await Promise.all([fetch(server.base + "/api/openapi.json").then((r) => r.json())]);
    const operations = Object.values(spec.paths).reduce((n, item) => n + Object.keys(item).length, 0);
    assert.equal(await page.locator(".opblock").count(), operations, "one block per operation of the served document");
    const create = await open("crm", "createCustomer");
    // The request body's example, generated from the validator's declaration.
    assert.match(await create.locator(".opblock-section-request-body").innerText(), /ana@example\.com/);
    // The responses with their schemas: 201 Customer, the 422 with its example body.
    const responses = await create.locator(".responses-wrapper").innerText();
    for (const code of ["201", "401", "403", "422", "429"]) assert.match(responses, new RegExp(`\\b${code}\\b`), code);
    assert.match(responses, /validation_failed/);
    fs.mkdirSync(path.join(ROOT, "target/console-test/screenshots"), { recursive: true });
    const shot = path.join(ROOT, "target/console-test/screenshots/api-reference.png");
    await page.screenshot({ path: shot });
    if (process.env.PULSE_WRITE_SCREENSHOTS === "1") fs.copyFileSync(shot, path.join(ROOT, "docs/api-reference.png"));
    const foreign = requested.filter((u) => !u.startsWith(server.base) && !u.startsWith("data:"));
    assert.deepEqual(foreign, [], "no request leaves this origin (no CDN)");
  });

  it("refuses a call without a token, then tries calls with a pasted token", async () => {
    const list = await open("crm", "listCustomers");
    const [refused, refusal] = await execute(list);
    assert.equal(refused, 401, refusal);
    assert.match(refusal, /unauthorized/);

    await page.locator(".auth-wrapper button.authorize").click();
    const dialog = page.locator(".dialog-ux .modal-ux");
    const bearer = dialog.locator("form").filter({ hasText: "bearerAuth" });
    await bearer.locator("input").fill(token);
    await bearer.locator("button.modal-btn.authorize").click();
    // Authorized: the scheme now offers "Logout".
    await dialog.getByText("Authorized", { exact: true }).first().waitFor();
    await dialog.locator("button.btn-done").first().click();

    const create = await open("crm", "createCustomer");
    const [created, createdBody] = await execute(create);
    assert.equal(created, 201, createdBody);
    const id = JSON.parse(createdBody).id;
    assert.ok(id, createdBody);
    // The call reached this server: the customer is there.
    const [s, row] = await server.call("GET", `/api/crm/customers/${id}`, undefined, token);
    assert.equal(s, 200);
    assert.equal(row.email, "ana@example.com");

    const [listed, listBody] = await execute(list);
    assert.equal(listed, 200, listBody);
    assert.ok(JSON.parse(listBody).data.some((c) => c.id === id), "the new customer is listed");
    assert.deepEqual(pageErrors, [], "no script error and no CSP violation");
  });
});
