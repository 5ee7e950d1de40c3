// socket.io-client's own browser build (clients/js/node_modules/socket.io-client/dist) in
// headless chromium, on a page served from another loopback origin (allowed by
// CORS_ORIGINS), against a real `wrangler dev`: it connects with the default transports
// (polling, then the upgrade to WebSocket), receives the event of a REST write, and a
// client event is answered through its ack. Run by `make browser-test`.

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import { chromium } from "playwright-core";
import { ROOT, Server, freePort } from "./server.mjs";

const CLIENT = path.join(ROOT, "clients/js/node_modules/socket.io-client/dist/socket.io.min.js");

function chromiumPath() {
  const env = process.env.PULSE_CHROMIUM;
  if (env) return fs.existsSync(env) ? env : null;
  return ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"].find((p) => fs.existsSync(p)) || null;
}

let server, browser, site, page, token;

describe("socket.io-client's browser build in headless chromium", { timeout: 120_000 }, () => {
  before(async () => {
    const exe = chromiumPath();
    assert.ok(exe, "no Chromium: scripts/bootstrap.sh installs Debian's `chromium`, or set PULSE_CHROMIUM");
    assert.ok(fs.existsSync(CLIENT), "socket.io-client is installed by clients/js's npm ci");
    const port = await freePort();
    site = http
      .createServer((req, res) => {
        if (req.url === "/socket.io.min.js") {
          res.writeHead(200, { "content-type": "text/javascript" });
          return res.end(fs.readFileSync(CLIENT));
        }
        res.writeHead(200, { "content-type": "text/html" });
        res.end('<!doctype html><title>socket.io page</title><script src="/socket.io.min.js"></script>');
      })
      .listen(port, "127.0.0.1");
    [server, browser] = await Promise.all([
      Server.start({ CORS_ORIGINS: `http://127.0.0.1:${port}` }),
      chromium.launch({ executablePath: exe, headless: true, args: ["--no-sandbox", "--disable-gpu"] }),
    ]);
    const [status, pair] = await server.call("POST", "/api/auth/login", {
      tenant: "demo",
      email: "broker@demo.test",
      password: "pulse-dev-password",
    });
    assert.equal(status, 200, JSON.stringify(pair));
    token = pair.access_token;
    page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${port}/`);
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
    site?.close();
  });

  it("connects (polling, then WebSocket), receives a REST write's event and gets acks", async () => {
    const hello = await page.evaluate(
      ([base, token]) =>
        new Promise((resolve, reject) => {
          const socket = io(base, { query: { tenant: "demo" }, auth: { token } });
          window.socket = socket;
          window.created = [];
          socket.on("crm:customer:created", (e) => window.created.push(e));
          socket.on("connected", resolve);
          socket.on("connect_error", (e) => reject(new Error(e.message)));
        }),
      [server.base, token],
    );
    assert.equal(hello.tenant, "demo");
    assert.equal(hello.user.id, "demo-broker");
    await page.waitForFunction(() => window.socket.io.engine.transport.name === "websocket");
    const [s, customer] = await server.call("POST", "/api/crm/customers", { name: "Browser Buyer" }, token);
    assert.equal(s, 201);
    await page.waitForFunction((id) => window.created.some((e) => e.data.id === id), customer.id);
    const ack = await page.evaluate(() =>
      window.socket.emitWithAck("join_room", { roomType: "customer", id: "c_none" }),
    );
    assert.equal(ack.ok, true);
    assert.equal(typeof ack.head, "number");
  });
});
