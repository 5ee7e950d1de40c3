// @pulse/client in the Workers runtime: a probe Worker (test/worker/probe.js, importing the
// built dist/) runs under its own `wrangler dev` (workerd) and uses the client against
// Pulse's real `wrangler dev` over each transport (WebSocket; SSE read from a `fetch`
// stream, since Workers have no EventSource; polling REST history), each receiving the
// event of a REST write the client itself made.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs";
import { join } from "node:path";
import { ROOT, Server, freePort, fresh, sleep } from "./server.mjs";

const BIN = join(ROOT, "node_modules/.bin");
const PROBE = join(ROOT, "clients/js/test/worker");

class Probe {
  static async start() {
    const p = new Probe();
    p.port = await freePort();
    p.logFile = join(ROOT, "target/client-js", `probe-${p.port}.log`);
    fs.mkdirSync(join(ROOT, "target/client-js"), { recursive: true });
    const log = fs.openSync(p.logFile, "w");
    const args = ["dev", "-c", join(PROBE, "wrangler.toml"), "--ip", "127.0.0.1", "--port", String(p.port)];
    args.push("--inspector-port", String(await freePort()), "--show-interactive-dev-session=false");
    args.push("--persist-to", join(ROOT, "target/client-js", `probe-state-${p.port}`));
    p.child = spawn(join(BIN, "wrangler"), args, {
      cwd: PROBE,
      env: { ...process.env, WRANGLER_SEND_METRICS: "false", PATH: `${BIN}:${process.env.PATH}` },
      stdio: ["ignore", log, log],
      detached: true,
    });
    fs.closeSync(log);
    const deadline = Date.now() + 60_000;
    for (;;) {
      try {
        const r = await fetch(`http://127.0.0.1:${p.port}/ready`, { signal: AbortSignal.timeout(2000) });
        // Any answer from the Worker (its /run needs parameters) means it is up.
        if (r.status) return p;
      } catch {}
      if (p.child.exitCode !== null || Date.now() > deadline) {
        throw new Error(`the probe Worker did not start:\n${fs.readFileSync(p.logFile, "utf8").slice(-2000)}`);
      }
      await sleep(200);
    }
  }

  async run(params) {
    const r = await fetch(`http://127.0.0.1:${this.port}/run?${new URLSearchParams(params)}`, {
      signal: AbortSignal.timeout(30_000),
    });
    return [r.status, await r.json()];
  }

  async stop() {
    try {
      process.kill(-this.child.pid, "SIGKILL");
    } catch {}
    fs.rmSync(join(ROOT, "target/client-js", `probe-state-${this.port}`), { recursive: true, force: true });
  }
}

describe("@pulse/client inside workerd (a Worker using the client)", () => {
  let s, probe;
  before(async () => {
    [s, probe] = await Promise.all([Server.start(), Probe.start()]);
  });
  after(async () => {
    await probe?.stop();
    await s?.stop();
  });

  for (const transport of ["websocket", "sse", "poll"]) {
    test(`${transport}: subscribes, makes a typed REST call, receives its event`, async () => {
      const t = fresh(`wk-${transport}`);
      const token = s.token(t, "b1", "broker");
      const [status, out] = await probe.run({ origin: s.base, token, transport });
      assert.equal(status, 200, JSON.stringify(out));
      assert.match(out.runtime, /Cloudflare-Workers/, "ran in workerd");
      assert.equal(out.transport, transport);
      assert.deepEqual(out.recovered[0], { recovered: true, head: 0, epoch: out.recovered[0].epoch });
      assert.deepEqual(out.events, [{ seq: 1, type: "crm:customer:created", id: out.created }]);
      assert.deepEqual(out.errors, []);
    });
  }
});
