// The test server: the repository's Worker under a real `wrangler dev` on a free port with
// its own persist folder (the migrated and seeded D1 copied from the per-user cache the
// Rust e2e harness also fills), HS256 tokens minted here, and a crash (SIGKILL of the
// process group) and restart on the same port and state.
import { spawn, execFileSync } from "node:child_process";
import { createHash, createHmac, randomBytes } from "node:crypto";
import * as fs from "node:fs";
import { createServer } from "node:net";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "../../..");
const BIN = join(ROOT, "node_modules/.bin");

/** The same quick settings as crates/testkit's server. */
const DEFAULT_VARS = {
  PULSE_ENV: "dev",
  CARD_SCAN_EVENT_WINDOW_MS: "5000",
  PRESENCE_GRACE_MS: "1500",
  DASHBOARD_MIN_INTERVAL_MS: "300",
  SSE_HEARTBEAT_SECONDS: "1",
  SSE_MAX_BUFFERED_BYTES: "1048576",
  BLOCKLIST_CACHE_MS: "0",
  JOB_BACKOFF_BASE_SECONDS: "1",
  PROVIDER_TIMEOUT_MS: "1500",
};

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function wrangler(args) {
  return execFileSync(join(BIN, "wrangler"), args, {
    cwd: ROOT,
    env: { ...process.env, WRANGLER_SEND_METRICS: "false", PATH: `${BIN}:${process.env.PATH}` },
    stdio: ["ignore", "pipe", "pipe"],
    maxBuffer: 64 << 20,
  }).toString();
}

function migrateAndSeed(dir) {
  wrangler(["d1", "migrations", "apply", "DB", "--local", "--persist-to", dir]);
  wrangler(["d1", "execute", "DB", "--local", "--persist-to", dir, "--file", "seeds/dev.sql"]);
}

/** The digest crates/testkit uses for its cached database (migrations, seed, wrangler). */
function databaseDigest() {
  const h = createHash("sha256");
  const files = fs
    .readdirSync(join(ROOT, "migrations"))
    .map((f) => join(ROOT, "migrations", f))
    .sort();
  files.push(join(ROOT, "seeds/dev.sql"), join(ROOT, "node_modules/wrangler/package.json"));
  for (const f of files) {
    h.update(f.slice(f.lastIndexOf("/") + 1));
    h.update(Buffer.from([0]));
    h.update(fs.existsSync(f) ? fs.readFileSync(f) : Buffer.alloc(0));
    h.update(Buffer.from([0]));
  }
  return h.digest().subarray(0, 8).toString("hex");
}

function copyDir(from, to) {
  fs.mkdirSync(to, { recursive: true });
  for (const e of fs.readdirSync(from, { withFileTypes: true })) {
    if (e.isDirectory()) copyDir(join(from, e.name), join(to, e.name));
    else if (!e.name.endsWith("-shm")) fs.copyFileSync(join(from, e.name), join(to, e.name));
  }
}

/** Fills `persist` with the migrated, seeded D1 (cached once per user and inputs). */
function seedDatabase(persist) {
  const cache = join(process.env.XDG_CACHE_HOME || join(process.env.HOME || homedir(), ".cache"), "pulse/e2e-db");
  try {
    fs.mkdirSync(cache, { recursive: true });
  } catch {
    return migrateAndSeed(persist);
  }
  const template = join(cache, databaseDigest());
  if (!fs.existsSync(template)) {
    const tmp = join(cache, `tmp.${process.pid}-${randomBytes(4).toString("hex")}`);
    migrateAndSeed(tmp);
    try {
      fs.renameSync(tmp, template);
    } catch {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  }
  copyDir(template, persist);
}

const b64url = (b) => Buffer.from(b).toString("base64url");

export class Server {
  /** Starts a server with extra `vars` (e.g. HISTORY_MAX_EVENTS). */
  static async start(vars = {}) {
    const s = new Server(vars);
    await s.spawn();
    return s;
  }

  constructor(vars) {
    this.vars = vars;
    this.secret = randomBytes(32).toString("hex");
    this.persist = join(ROOT, "target/client-js", `${process.pid}-${randomBytes(4).toString("hex")}`);
    fs.mkdirSync(this.persist, { recursive: true });
    seedDatabase(this.persist);
    this.port = 0;
    this.child = null;
  }

  get base() {
    return `http://127.0.0.1:${this.port}`;
  }

  async spawn() {
    if (!this.port) this.port = await freePort();
    const log = fs.openSync(join(this.persist, `wrangler-${this.port}.log`), "a");
    const args = ["dev", "--ip", "127.0.0.1", "--port", String(this.port), "--persist-to", this.persist];
    args.push("--test-scheduled", "--show-interactive-dev-session=false");
    const vars = { JWT_SECRET: this.secret, ...DEFAULT_VARS, ...this.vars };
    for (const [k, v] of Object.entries(vars)) args.push("--var", `${k}:${v}`);
    this.child = spawn(join(BIN, "wrangler"), args, {
      cwd: ROOT,
      env: {
        ...process.env,
        PULSE_BUILD_IF_STALE: "1",
        WRANGLER_SEND_METRICS: "false",
        PATH: `${BIN}:${process.env.PATH}`,
      },
      stdio: ["ignore", log, log],
      detached: true,
    });
    fs.closeSync(log);
    const exited = new Promise((r) => this.child.once("exit", r));
    this.exited = exited;
    const deadline = Date.now() + 90_000;
    for (;;) {
      try {
        const r = await fetch(`${this.base}/health`, { signal: AbortSignal.timeout(3000) });
        if (r.status === 200) return;
      } catch {}
      if (this.child.exitCode !== null) throw new Error(`wrangler dev exited: ${this.tail()}`);
      if (Date.now() > deadline) throw new Error(`wrangler dev did not become healthy: ${this.tail()}`);
      await sleep(200);
    }
  }

  tail() {
    try {
      const f = join(this.persist, `wrangler-${this.port}.log`);
      return fs.readFileSync(f, "utf8").split("\n").slice(-30).join("\n");
    } catch {
      return "";
    }
  }

  async signal(sig, waitMs) {
    const c = this.child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    try {
      process.kill(-c.pid, sig);
    } catch {}
    await Promise.race([this.exited, sleep(waitMs)]);
  }

  /** SIGKILL of the whole process group: a crash, no shutdown work. */
  async crash() {
    await this.signal("SIGKILL", 5000);
    this.child = null;
  }

  /** The same server again (after a crash): same port, same persisted D1 and Durable
   * Object state; `vars` are added to its settings. */
  async restart(vars = {}) {
    await this.crash();
    Object.assign(this.vars, vars);
    await this.spawn();
  }

  async stop() {
    await this.signal("SIGTERM", 5000);
    await this.signal("SIGKILL", 5000);
    this.child = null;
    if (!process.env.PULSE_E2E_KEEP) fs.rmSync(this.persist, { recursive: true, force: true });
  }

  /** SQL on the server's local D1 (only while the server is down: no second writer). */
  d1(sql) {
    return wrangler(["d1", "execute", "DB", "--local", "--persist-to", this.persist, "--command", sql]);
  }

  /** An HS256 token with Pulse's claims, valid for `ttl` seconds. */
  token(tenant, user, role, ttl = 900) {
    const now = Math.floor(Date.now() / 1000);
    const head = b64url(JSON.stringify({ alg: "HS256", typ: "JWT" }));
    const body = b64url(JSON.stringify({ sub: user, tid: tenant, role, iat: now, exp: now + ttl }));
    const sig = createHmac("sha256", this.secret).update(`${head}.${body}`).digest("base64url");
    return `${head}.${body}.${sig}`;
  }

  /** A JSON call: { status, body }. */
  async api(method, path, token, body) {
    const r = await fetch(this.base + path, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body ? { "content-type": "application/json" } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await r.text();
    let json;
    try {
      json = JSON.parse(text);
    } catch {
      json = text;
    }
    return { status: r.status, body: json };
  }

  /** Publishes a `system:*` event to the tenant channel; resolves with its seq. */
  async publish(token, data, type = "system:tick") {
    const r = await this.api("POST", "/api/realtime/publish", token, { type, channels: ["tenant"], data });
    if (r.status !== 202) throw new Error(`publish: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body.seq;
  }

  /** `n` publishes (data `{i}` from `from`), `parallel` at a time, round-robin over
   * `tokens` (the API's rate limit is per user); resolves with their seqs in order. */
  async burst(tokens, n, { parallel = 8, from = 0 } = {}) {
    tokens = [].concat(tokens);
    const seqs = [];
    let next = 0;
    const worker = async () => {
      while (next < n) {
        const i = next++;
        seqs.push(await this.publish(tokens[i % tokens.length], { i: from + i }));
      }
    };
    await Promise.all(Array.from({ length: parallel }, worker));
    return seqs.sort((a, b) => a - b);
  }

  /** Runs the scheduled handler once (the outbox redrive among others). */
  async cron() {
    const r = await fetch(`${this.base}/__scheduled?cron=*+*+*+*+*`);
    await r.text();
    return r.status;
  }
}

export const fresh = (prefix) => `${prefix}-${randomBytes(4).toString("hex")}`;

/** Resolves when `pred()` holds, polling every 20 ms; rejects after `ms`. */
export async function until(pred, ms = 10_000, what = "condition") {
  const deadline = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

export { sleep };
