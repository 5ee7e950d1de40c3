// The live console in a real browser: headless Debian chromium driven by playwright-core,
// against a real `wrangler dev` this test starts (and kills and restarts), with no mocks.
// Run by `make browser-test` (part of `make test`) after `make build`.

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { chromium } from "playwright-core";
import { ROOT, Server } from "./server.mjs";
import { Session } from "../src/session.js";

const PASSWORD = "pulse-dev-password";
const PHONE = { width: 390, height: 844 };
const DESKTOP = { width: 1280, height: 900 };
const SHOTS = path.join(ROOT, "target/console-test/screenshots");

function chromiumPath() {
  const env = process.env.PULSE_CHROMIUM;
  if (env) return fs.existsSync(env) ? env : null;
  return ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"].find((p) => fs.existsSync(p)) || null;
}

/** PULSE_CONSOLE_DEBUG=1 prints the page's console, its WebSocket frames and the restart. */
const DEBUG = process.env.PULSE_CONSOLE_DEBUG === "1";
const run = Math.random().toString(36).slice(2, 8);
let server, browser, page, token;
const pageErrors = [];
/** Every URL the page asked for: all on the server's own origin (no CDN, works offline). */
const requested = [];

/** Every visible form control of the page has an accessible name (from the a11y tree). */
async function unlabelled() {
  const missing = [];
  const controls = page.locator("input, select, textarea, button");
  const n = await controls.count();
  for (let i = 0; i < n; i++) {
    const c = controls.nth(i);
    if (!(await c.isVisible())) continue;
    const snap = await c.ariaSnapshot();
    // `- textbox "Email"`, `- checkbox "broker"`: a role, then the name in quotes.
    if (!/^- [\w-]+ "[^"]+"/.test(snap.trim())) missing.push(snap.trim() || (await c.evaluate((e) => e.outerHTML)));
  }
  return missing;
}

async function shot(name, fullPage) {
  fs.mkdirSync(SHOTS, { recursive: true });
  const file = path.join(SHOTS, name);
  await page.screenshot({ path: file, fullPage });
  if (process.env.PULSE_WRITE_SCREENSHOTS === "1") fs.copyFileSync(file, path.join(ROOT, "docs", name));
}

/** The seqs shown in the feed (newest first). */
async function feedSeqs() {
  return page.locator("#events li[data-seq]").evaluateAll((lis) => lis.map((li) => Number(li.dataset.seq)));
}

describe("console in headless chromium", { timeout: 120_000 }, () => {
  before(async () => {
    const exe = chromiumPath();
    // A missing browser is a failure, never a silent pass.
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
    page = await browser.newPage({ viewport: DESKTOP });
    page.on("pageerror", (e) => pageErrors.push(String(e)));
    page.on("request", (r) => requested.push(r.url()));
    page.on("websocket", (w) => {
      requested.push(w.url());
      if (DEBUG) {
        w.on("framesent", (f) => console.log("WS>", Date.now(), String(f.payload).slice(0, 200)));
        w.on("framereceived", (f) => console.log("WS<", Date.now(), String(f.payload).slice(0, 200)));
        w.on("close", () => console.log("WS closed", Date.now()));
      }
    });
    // Refused requests while the server is down, and the wrong password's 401, are logged
    // by the browser itself; anything else logged as an error is a fault of the page.
    page.on("console", (m) => {
      if (DEBUG) console.log("PAGE", m.type(), m.text());
      if (m.type() === "error" && !/Failed to load resource|WebSocket connection to .* failed/.test(m.text())) {
        pageErrors.push(m.text());
      }
    });
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  it("serves the console's page and files from static assets, nothing else", async () => {
    const [s, html, h] = await server.call("GET", "/console");
    assert.equal(s, 200);
    assert.match(h.get("content-type"), /text\/html/);
    assert.match(html, /<script type="module" src="\/console\/app.js">/);
    const csp = h.get("content-security-policy");
    for (const rule of ["script-src 'self'", "connect-src 'self'", "frame-ancestors 'none'"]) assert.ok(csp.includes(rule), csp);
    assert.equal(h.get("x-content-type-options"), "nosniff");
    const [js, , jh] = await server.call("GET", "/console/app.js");
    assert.equal(js, 200);
    assert.match(jh.get("content-type"), /text\/javascript/);
    for (const p of ["/console/nope.js", "/console/..%2Fwrangler.toml", "/console/index.html"]) {
      const [st, body] = await server.call("GET", p);
      assert.equal(st, 404, p);
      assert.equal(body.error.code, "not_found", p);
    }
  });

  it("logs in with Enter on labelled controls; a wrong password is announced", async () => {
    await page.goto(server.base + "/console");
    await page.waitForSelector("html[data-ready='1']");
    assert.deepEqual(await unlabelled(), []);
    await page.getByRole("textbox", { name: "Tenant" }).fill("demo");
    await page.getByRole("textbox", { name: "Email" }).fill("admin@demo.test");
    await page.getByLabel("Password").fill("not-the-password");
    await page.getByLabel("Password").press("Enter");
    await page.getByRole("alert").filter({ hasText: "Wrong tenant, email or password." }).waitFor();
    await page.getByLabel("Password").fill(PASSWORD);
    await page.getByLabel("Password").press("Enter");
    await page.locator("#conn[data-state='open']").waitFor();
    assert.equal(await page.getByRole("status").filter({ hasText: "Live" }).count(), 1);
    assert.match(await page.locator("#who-text").innerText(), /demo-admin · admin · demo/);
    await page.locator("#presence-list li[data-user='demo-admin']").waitFor();
    assert.deepEqual(await unlabelled(), [], "every control of the logged-in console has a label");
    const stored = await page.evaluate(() => [localStorage.length, sessionStorage.length, document.cookie]);
    assert.deepEqual(stored, [0, 0, ""], "tokens stay in the page's memory");
  });

  it("shows an event that a REST write created", async () => {
    const name = `Browser customer ${run}`;
    const [s] = await server.call("POST", "/api/crm/customers", { name }, token);
    assert.equal(s, 201);
    const row = page.locator("#events li[data-type='crm:customer:created']").filter({ hasText: name });
    await row.waitFor();
    // Event data is shown as text: markup in a record never runs.
    const evil = `<img src=x onerror="window.__pwned=1">${run}`;
    assert.equal((await server.call("POST", "/api/crm/customers", { name: evil }, token))[0], 201);
    await page.locator("#events li .summary").filter({ hasText: evil }).waitFor();
    assert.equal(await page.evaluate(() => window.__pwned), undefined);
    assert.equal(await page.locator("#events img").count(), 0);
  });

  it("publishes from the admin form and filters the feed by type and channel", async () => {
    await page.getByLabel("Data (JSON object)").fill(JSON.stringify({ message: `alert ${run}` }));
    await page.getByRole("checkbox", { name: "admin" }).check();
    await page.getByRole("checkbox", { name: "broker" }).uncheck();
    await page.getByRole("button", { name: "Publish" }).click();
    await page.locator("#pub-status").filter({ hasText: "Published system:alert" }).waitFor();
    await page.locator("#events li[data-type='system:alert']").filter({ hasText: `alert ${run}` }).waitFor();

    await page.getByLabel("Type filter").fill("system:*");
    const visibleTypes = () =>
      page.locator("#events li[data-seq]:visible").evaluateAll((lis) => lis.map((li) => li.dataset.type));
    let types = await visibleTypes();
    assert.ok(types.length >= 1 && types.every((t) => t.startsWith("system:")), types.join(","));
    await page.getByLabel("Type filter").fill("crm:customer:created, system:alert");
    types = await visibleTypes();
    assert.ok(types.includes("crm:customer:created") && types.includes("system:alert"), types.join(","));
    await page.getByLabel("Type filter").fill("");

    await page.getByLabel("Channel filter").selectOption("role:admin");
    types = await visibleTypes();
    assert.ok(types.includes("system:alert") && !types.includes("crm:customer:created"), types.join(","));
    await page.getByLabel("Channel filter").selectOption("");
  });

  it("drives a report job's progress bar to 100 % from job:progress", async () => {
    const now = Date.now();
    const iso = (t) => new Date(t).toISOString().replace(/\.\d+Z$/, "Z");
    const [s, report] = await server.call(
      "POST",
      "/api/reports",
      { kind: "pipeline", format: "json", from: iso(now - 86400000), to: iso(now + 86400000) },
      token,
    );
    assert.equal(s, 202, JSON.stringify(report));
    const row = page.locator(`#jobs-list li[data-job='${report.job_id}']`);
    await row.waitFor();
    await page.locator(`#jobs-list li[data-job='${report.job_id}'][data-progress='100'][data-status='completed']`).waitFor({ timeout: 30_000 });
    assert.equal(await row.locator("progress").evaluate((p) => p.value), 100);
    const bar = row.getByRole("progressbar");
    assert.match((await bar.ariaSnapshot()).trim(), /^- progressbar ".+ progress"/);
    const progress = await page.locator("#events li[data-type='job:progress']").count();
    assert.ok(progress >= 1, "the bar moved with job:progress events");
  });

  it("shows the reconnect and resumes with no gap after the server is killed and restarted", async () => {
    const before = await feedSeqs();
    if (DEBUG) console.log("CRASH", Date.now());
    await server.crash();
    await page.locator("#conn[data-state='reconnecting']").waitFor({ timeout: 15_000 });
    await server.start();
    if (DEBUG) console.log("STARTED", Date.now());
    // Written as soon as the server is back: the page gets it replayed or live, once.
    const name = `After restart ${run}`;
    const [s] = await server.call("POST", "/api/crm/customers", { name }, token);
    assert.equal(s, 201);
    await page.locator("#conn[data-state='open'][data-recovered='true']:not([data-resumes='0'])").waitFor({ timeout: 30_000 });
    assert.match(await page.locator("#conn").innerText(), /Live.*resumed.*nothing missed.*1 reconnect/s);
    await page.locator("#events li[data-type='crm:customer:created']").filter({ hasText: name }).waitFor();
    const seqs = (await feedSeqs()).sort((a, b) => a - b);
    assert.equal(await page.locator("#events").getAttribute("data-duplicates"), "0");
    assert.equal(new Set(seqs).size, seqs.length, "no duplicate seq");
    for (let i = 1; i < seqs.length; i++) assert.equal(seqs[i], seqs[i - 1] + 1, `gap after #${seqs[i - 1]}: ${seqs}`);
    assert.ok(seqs.length > before.length);
    await page.locator("#presence-list li[data-user='demo-admin']").waitFor();
  });

  it("draws the charts and fits phone and desktop widths", async () => {
    // Sales on three days in two currencies: one line chart per currency.
    const [, c] = await server.call("POST", "/api/crm/customers", { name: `Buyer ${run}`, status: "prospect" }, token);
    const day = (n) => new Date(Date.now() - n * 86400000).toISOString().replace(/\.\d+Z$/, "Z");
    for (const [total, currency, ago] of [[25000000, "EUR", 2], [18000000, "EUR", 0], [31000000, "USD", 1]]) {
      const [s, body] = await server.call(
        "POST",
        "/api/finance/sales",
        { customer_id: c.id, total_minor: total, currency, sold_at: day(ago) },
        token,
      );
      assert.equal(s, 201, JSON.stringify(body));
    }
    for (const cur of ["EUR", "USD"]) await page.locator(`#chart-sales svg[data-currency='${cur}']`).waitFor();
    assert.equal(await page.locator("#chart-sales svg[data-currency='EUR'] path.line").count(), 1);
    await page.locator("#chart-pipeline svg").waitFor();
    for (const [name, size] of [["desktop", DESKTOP], ["phone", PHONE]]) {
      await page.setViewportSize(size);
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(overflow <= 0, `${name}: ${overflow}px wider than the viewport`);
      for (const label of ["Type filter", "Channel filter"]) {
        const box = await page.getByLabel(label).boundingBox();
        assert.ok(box && box.x >= 0 && box.x + box.width <= size.width, `${name}: ${label} inside the viewport`);
      }
      await page.evaluate(() => {
        document.activeElement?.blur();
        window.scrollTo(0, 0);
      });
      await shot(`console-${name}.png`, name === "desktop");
    }
    assert.deepEqual(pageErrors, [], "no script error on the page");
    const own = [server.base + "/", server.base.replace(/^http/, "ws") + "/"];
    const foreign = requested.filter((u) => !own.some((o) => u.startsWith(o)) && !u.startsWith("data:"));
    assert.ok(requested.some((u) => u.startsWith(own[1])), "the page's WebSocket was seen");
    assert.deepEqual(foreign, [], "every request goes to the server's own origin");
  });

  it("refreshes the access token before it expires, rotating the refresh token", async () => {
    const session = new Session(server.base);
    await session.login("demo", "admin@demo.test", PASSWORD);
    const first = session.tokens;
    assert.equal(await session.token(), first.access_token, "a fresh token is used as it is");
    // As if the token expired within the refresh margin.
    session.claims.exp = Math.floor(Date.now() / 1000) + 30;
    const fresh = await session.token();
    assert.notEqual(session.tokens.refresh_token, first.refresh_token);
    assert.equal((await server.call("GET", "/api/dashboard", undefined, fresh))[0], 200);
    // The old refresh token is spent (reusing it is treated as theft).
    assert.equal((await server.call("POST", "/api/auth/refresh", { refresh_token: first.refresh_token }))[0], 401);
  });

  it("logs out: back to the login form, the connection closed", async () => {
    await page.getByRole("button", { name: "Log out" }).click();
    await page.getByRole("textbox", { name: "Email" }).waitFor();
    assert.equal(await page.locator("#conn").getAttribute("data-state"), "offline");
    assert.equal(await page.locator("#app").isHidden(), true);
    assert.equal(await page.locator("#events li").count(), 0, "the feed is cleared");
  });
});
