// A real `wrangler dev` of the repository's Worker for the browser test, like
// crates/testkit's Server: a throw-away persist folder holding the migrated and seeded D1
// (copied from the per-user cache the Rust harness keeps, ~/.cache/pulse/e2e-db/<digest>,
// or made and cached here), a free port, stopped by its process group. `crash()` kills it
// like a crash; `start()` again serves the same state on the same port (the page's origin).

import { spawn, spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
const WRANGLER = path.join(ROOT, "node_modules/.bin/wrangler");

const ENV = {
  ...process.env,
  WRANGLER_SEND_METRICS: "false",
  PATH: `${path.join(ROOT, "node_modules/.bin")}:${process.env.PATH || ""}`,
};

/** Short test settings (as crates/testkit's DEFAULT_VARS). */
const VARS = {
  PULSE_ENV: "dev",
  PRESENCE_GRACE_MS: "1500",
  DASHBOARD_MIN_INTERVAL_MS: "300",
  SSE_HEARTBEAT_SECONDS: "1",
  JOB_BACKOFF_BASE_SECONDS: "1",
  PROVIDER_TIMEOUT_MS: "1500",
};

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function wrangler(args) {
  const r = spawnSync(WRANGLER, args, { cwd: ROOT, env: ENV, stdio: ["ignore", "pipe", "pipe"], encoding: "utf8" });
  if (r.status !== 0) throw new Error(`wrangler ${args.join(" ")} failed: ${r.stderr || r.stdout}`);
}

function migrateAndSeed(dir) {
  wrangler(["d1", "migrations", "apply", "DB", "--local", "--persist-to", dir]);
  wrangler(["d1", "execute", "DB", "--local", "--persist-to", dir, "--file", "seeds/dev.sql"]);
}

/** The digest crates/testkit names the cached database by (same inputs, same order). */
function databaseDigest() {
  const h = createHash("sha256");
  const files = fs
    .readdirSync(path.join(ROOT, "migrations"))
    .map((f) => path.join(ROOT, "migrations", f))
    .sort();
  files.push(path.join(ROOT, "seeds/dev.sql"), path.join(ROOT, "node_modules/wrangler/package.json"));
  for (const f of files) {
    h.update(path.basename(f));
    h.update(Buffer.from([0]));
    try {
      h.update(fs.readFileSync(f));
    } catch {
      // A missing file counts as empty, as there.
    }
    h.update(Buffer.from([0]));
  }
  return h.digest().subarray(0, 8).toString("hex");
}

/** Copies a quiescent persist folder (SQLite's `-shm` index is rebuilt on open). */
function copyDir(from, to) {
  fs.mkdirSync(to, { recursive: true });
  for (const e of fs.readdirSync(from, { withFileTypes: true })) {
    const src = path.join(from, e.name);
    const dst = path.join(to, e.name);
    if (e.isDirectory()) copyDir(src, dst);
    else if (!e.name.endsWith("-shm")) fs.copyFileSync(src, dst);
  }
}

function seedDatabase(persist) {
  const base = process.env.XDG_CACHE_HOME || path.join(process.env.HOME || os.homedir(), ".cache");
  const cache = path.join(base, "pulse/e2e-db");
  try {
    fs.mkdirSync(cache, { recursive: true });
  } catch {
    return migrateAndSeed(persist);
  }
  const template = path.join(cache, databaseDigest());
  if (!fs.existsSync(template)) {
    const tmp = path.join(cache, `tmp.${process.pid}-${randomBytes(4).toString("hex")}`);
    migrateAndSeed(tmp);
    try {
      fs.renameSync(tmp, template);
    } catch {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  }
  copyDir(template, persist);
}

export class Server {
  /** A server with extra `vars` (e.g. CORS_ORIGINS for a page on another origin). */
  static async start(vars = {}) {
    const s = new Server();
    s.vars = vars;
    s.persist = path.join(ROOT, "target/console-test", `${process.pid}-${randomBytes(4).toString("hex")}`);
    fs.mkdirSync(s.persist, { recursive: true });
    seedDatabase(s.persist);
    s.secret = randomBytes(32).toString("hex");
    s.port = await freePort();
    s.base = `http://127.0.0.1:${s.port}`;
    s.starts = 0;
    await s.start();
    return s;
  }

  async start() {
    this.starts += 1;
    this.log = path.join(this.persist, `wrangler-${this.starts}.log`);
    const out = fs.openSync(this.log, "w");
    const args = ["dev", "--ip", "127.0.0.1", "--port", String(this.port), "--persist-to", this.persist,
      "--show-interactive-dev-session=false", "--var", `JWT_SECRET:${this.secret}`];
    for (const [k, v] of Object.entries({ ...VARS, ...this.vars })) args.push("--var", `${k}:${v}`);
    this.child = spawn(WRANGLER, args, {
      cwd: ROOT,
      // `make build` ran before: wrangler's build step keeps the fresh Worker.
      env: { ...ENV, PULSE_BUILD_IF_STALE: "1" },
      stdio: ["ignore", out, out],
      detached: true,
    });
    fs.closeSync(out);
    const exited = new Promise((resolve) => this.child.once("exit", resolve));
    this.exited = exited;
    const deadline = Date.now() + 120_000;
    for (;;) {
      try {
        const r = await fetch(this.base + "/health", { signal: AbortSignal.timeout(3000) });
        if (r.status === 200) return;
      } catch {
        // Not up yet.
      }
      if (this.child.exitCode !== null) throw new Error(`wrangler dev exited: ${this.tail()}`);
      if (Date.now() > deadline) throw new Error(`wrangler dev did not become healthy: ${this.tail()}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  tail() {
    try {
      return fs.readFileSync(this.log, "utf8").split("\n").slice(-30).join("\n");
    } catch {
      return "";
    }
  }

  /** Kills the whole process group at once, like a crash. */
  async crash() {
    if (!this.child) return;
    try {
      process.kill(-this.child.pid, "SIGKILL");
    } catch {
      // Already gone.
    }
    await this.exited;
    this.child = null;
  }

  /** Stops the process group (TERM, then KILL) and removes the state. */
  async stop() {
    if (this.child) {
      try {
        process.kill(-this.child.pid, "SIGTERM");
      } catch {
        // Already gone.
      }
      const timer = setTimeout(() => {
        try {
          process.kill(-this.child.pid, "SIGKILL");
        } catch {
          // Already gone.
        }
      }, 5000);
      await this.exited;
      clearTimeout(timer);
      this.child = null;
    }
    if (!process.env.PULSE_E2E_KEEP) fs.rmSync(this.persist, { recursive: true, force: true });
  }

  /** A REST call: `[status, json]`. */
  async call(method, p, body, token) {
    const headers = {};
    if (token) headers.authorization = "Bearer " + token;
    if (body !== undefined) headers["content-type"] = "application/json";
    const r = await fetch(this.base + p, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await r.text();
    let json = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      json = text;
    }
    return [r.status, json, r.headers];
  }
}
