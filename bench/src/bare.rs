//! Bare workerd: each system served by the npm `workerd` binary (the one wrangler runs)
//! from a capnp text config written here, with no wrangler proxy, no miniflare entry
//! worker and no dev tail worker in front of it.
//!
//! Bindings that workerd cannot serve by itself are provided the way miniflare provides
//! them, with miniflare's own helper workers from node_modules: D1 (a `D1DatabaseObject`
//! Durable Object on local SQLite behind the `cloudflare-internal:d1-api` wrapper), the
//! rate limiter (`RateLimiterObject` behind miniflare's wrapper module), queues
//! (`QueueBrokerObject`, which delivers batches to the Worker's `queue` handler) and R2.
//! What differs from `wrangler dev` is listed in BENCHMARKS.md ("Bare workerd and cold
//! start").

use crate::systems::{self, System};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};

/// The date every generated user worker runs at (the one in the wrangler.toml files).
const COMPAT_DATE: &str = "2026-11-01";
/// The compatibility date miniflare gives its own helper workers.
const MF_DATE: &str = "2023-07-24";

/// A capnp text string literal.
fn q(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn list(items: &[String]) -> String {
    format!("[{}]", items.join(", "))
}

/// One binding of a worker, as capnp text.
fn text(name: &str, value: &str) -> String {
    format!("(name = {}, text = {})", q(name), q(value))
}
fn json_b(name: &str, value: &str) -> String {
    format!("(name = {}, json = {})", q(name), q(value))
}
fn service(name: &str, svc: &str) -> String {
    format!("(name = {}, service = {})", q(name), q(svc))
}
fn service_props(name: &str, svc: &str, props_json: &str) -> String {
    format!(
        "(name = {}, service = (name = {}, props = (json = {})))",
        q(name),
        q(svc),
        q(props_json)
    )
}
fn do_ns(name: &str, class: &str, svc: Option<&str>) -> String {
    match svc {
        Some(s) => format!(
            "(name = {}, durableObjectNamespace = (className = {}, serviceName = {}))",
            q(name),
            q(class),
            q(s)
        ),
        None => format!(
            "(name = {}, durableObjectNamespace = (className = {}))",
            q(name),
            q(class)
        ),
    }
}

struct Worker {
    modules: Vec<String>,
    date: &'static str,
    flags: Vec<&'static str>,
    bindings: Vec<String>,
    /// (class, unique key, SQLite-backed, never evicted)
    objects: Vec<(&'static str, String, bool, bool)>,
    /// Name of a disk service, or "" for in-memory storage.
    storage: Option<String>,
}

impl Worker {
    fn new(date: &'static str) -> Worker {
        Worker {
            modules: vec![],
            date,
            flags: vec![],
            bindings: vec![],
            objects: vec![],
            storage: None,
        }
    }

    fn es(mut self, name: &str, file: &str) -> Worker {
        self.modules.push(format!(
            "(name = {}, esModule = embed {})",
            q(name),
            q(file)
        ));
        self
    }

    fn render(&self) -> String {
        let mut s = String::from("(\n");
        let _ = writeln!(s, "    modules = {},", list(&self.modules));
        let _ = writeln!(s, "    compatibilityDate = {},", q(self.date));
        let flags: Vec<String> = self.flags.iter().map(|f| q(f)).collect();
        let _ = writeln!(s, "    compatibilityFlags = {},", list(&flags));
        let _ = writeln!(
            s,
            "    bindings = [\n      {}\n    ],",
            self.bindings.join(",\n      ")
        );
        if !self.objects.is_empty() {
            let objs: Vec<String> = self
                .objects
                .iter()
                .map(|(c, k, sql, keep)| {
                    format!(
                        "(className = {}, uniqueKey = {}, enableSql = {sql}, preventEviction = {keep})",
                        q(c),
                        q(k)
                    )
                })
                .collect();
            let _ = writeln!(s, "    durableObjectNamespaces = {},", list(&objs));
            match &self.storage {
                Some(d) if !d.is_empty() => {
                    let _ = writeln!(s, "    durableObjectStorage = (localDisk = {}),", q(d));
                }
                _ => {
                    let _ = writeln!(s, "    durableObjectStorage = (inMemory = void),");
                }
            }
        }
        s.push_str("  )");
        s
    }
}

/// A whole config: services (name, body) and the HTTP socket.
struct Config {
    dir: PathBuf,
    services: Vec<(String, String)>,
    extensions: Vec<String>,
    /// V8 flags (process-wide), for profiling runs.
    v8_flags: Vec<String>,
    main: String,
}

impl Config {
    fn new(dir: &Path, main: &str) -> Config {
        Config {
            dir: dir.to_path_buf(),
            services: vec![],
            extensions: vec![],
            v8_flags: vec![],
            main: main.into(),
        }
    }

    fn worker(&mut self, name: &str, w: Worker) {
        self.services
            .push((name.into(), format!("worker = {}", w.render())));
    }

    fn disk(&mut self, name: &str, path: &Path, writable: bool) {
        let _ = std::fs::create_dir_all(path);
        self.services.push((
            name.into(),
            format!(
                "disk = (path = {}, writable = {writable})",
                q(&path.to_string_lossy())
            ),
        ));
    }

    fn write(&self, port: u16) -> PathBuf {
        let mut s = String::from(
            "# Generated by pulse-bench (bench/src/bare.rs): bare workerd, no wrangler.\n\
             using Workerd = import \"/workerd/workerd.capnp\";\n\n\
             const config :Workerd.Config = (\n  services = [\n",
        );
        for (name, body) in &self.services {
            let _ = writeln!(s, "    (name = {}, {}),", q(name), body);
        }
        s.push_str("  ],\n");
        let _ = writeln!(
            s,
            "  sockets = [(name = \"http\", address = \"127.0.0.1:{port}\", http = (), service = {})],",
            q(&self.main)
        );
        if !self.extensions.is_empty() {
            let _ = writeln!(s, "  extensions = {},", list(&self.extensions));
        }
        if !self.v8_flags.is_empty() {
            let flags: Vec<String> = self.v8_flags.iter().map(|f| q(f)).collect();
            let _ = writeln!(s, "  v8Flags = {},", list(&flags));
        }
        s.push_str(");\n");
        let file = self.dir.join("config.capnp");
        std::fs::write(&file, s).unwrap();
        file
    }

    /// Miniflare's shared modules, imported by its helper workers.
    fn miniflare_shared(&mut self) {
        if self.extensions.is_empty() {
            self.extensions.push(
                "(modules = [(name = \"miniflare:shared\", esModule = embed \"mf/shared/index.worker.js\"), \
                 (name = \"miniflare:zod\", esModule = embed \"mf/shared/zod.worker.js\")])"
                    .into(),
            );
        }
    }

    /// The object-entry worker miniflare puts in front of each of its Durable Objects: it
    /// routes a binding's request to the object named by the binding's props.
    fn object_entry(&mut self, name: &str, svc: &str, class: &str, namespace: Option<&str>) {
        let mut w =
            Worker::new(MF_DATE).es("object-entry.worker.js", "mf/shared/object-entry.worker.js");
        if let Some(ns) = namespace {
            w.bindings.push(text("MINIFLARE_NAMESPACE", ns));
        }
        w.bindings.push(do_ns("MINIFLARE_OBJECT", class, Some(svc)));
        self.worker(name, w);
    }

    /// Local D1: `d1:db:entry` (the RPC/HTTP entry), `d1:db` (the object), `d1:storage`
    /// (`<persist>/v3/d1`, where `wrangler d1 migrations apply --persist-to` writes).
    fn d1(&mut self, persist: &Path) {
        self.miniflare_shared();
        let mut entry = Worker::new(MF_DATE).es("entry.worker.js", "mf/d1/entry.worker.js");
        entry.flags = vec!["enhanced_error_serialization"];
        entry
            .bindings
            .push(do_ns("MINIFLARE_OBJECT", "D1DatabaseObject", Some("d1:db")));
        self.worker("d1:db:entry", entry);
        self.disk("d1:storage", &persist.join("v3/d1"), true);
        let mut db = Worker::new(MF_DATE).es("database.worker.js", "mf/d1/database.worker.js");
        db.flags = vec!["nodejs_compat", "experimental"];
        db.objects.push((
            "D1DatabaseObject",
            "miniflare-D1DatabaseObject".into(),
            false,
            false,
        ));
        db.storage = Some("d1:storage".into());
        db.bindings.push(service("MINIFLARE_BLOBS", "d1:storage"));
        self.worker("d1:db", db);
    }
}

fn d1_binding(name: &str, database_id: &str) -> String {
    format!(
        "(name = {}, wrapped = (moduleName = \"cloudflare-internal:d1-api\", innerBindings = [{}]))",
        q(name),
        service_props(
            "fetcher",
            "d1:db:entry",
            &format!("{{\"MINIFLARE_NAMESPACE\":{}}}", q(database_id))
        )
    )
}

/// The state folder of a bare system, with links to the files its config embeds.
fn prepare(name: &str, port: u16) -> PathBuf {
    let dir = systems::state_dir(name, port);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mf = systems::root().join("node_modules/miniflare/dist/src/workers");
    std::os::unix::fs::symlink(mf.canonicalize().unwrap_or(mf), dir.join("mf")).unwrap();
    dir
}

/// Bundles a JS peer the way wrangler does (esbuild, workerd conditions, ESM,
/// `cloudflare:*` left to the runtime).
fn bundle(entry: &Path, out: &Path) {
    let ok = Command::new(systems::bin("esbuild"))
        .arg(entry)
        .args([
            "--bundle",
            "--format=esm",
            "--platform=browser",
            "--target=es2024",
            "--conditions=workerd,worker,browser",
            "--external:cloudflare:*",
            "--external:node:*",
            "--log-level=warning",
        ])
        .arg(format!("--outfile={}", out.display()))
        .current_dir(systems::root().join("bench/peers"))
        .stdin(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(ok, "esbuild {} failed", entry.display());
}

/// `wrangler d1 migrations apply --local` into `persist` (the same SQLite layout
/// miniflare and the generated D1 service use); preparation, not part of any timing.
fn migrate(cwd: &Path, persist: &Path) {
    let ok = Command::new(systems::bin("wrangler"))
        .args(["d1", "migrations", "apply", "DB", "--local", "--persist-to"])
        .arg(persist)
        .current_dir(cwd)
        .env("PATH", systems::path_env())
        .env("WRANGLER_SEND_METRICS", "false")
        .stdin(Stdio::null())
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    assert!(ok, "migrations in {} failed", cwd.display());
}

/// `KEY = "value"` pairs of a wrangler.toml's `[vars]` table.
fn toml_vars(file: &Path) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(file).unwrap_or_default();
    let mut on = false;
    let mut out = vec![];
    for line in text.lines() {
        let t = line.trim();
        if t.starts_with('[') {
            on = t == "[vars]";
            continue;
        }
        if !on {
            continue;
        }
        if let Some((k, rest)) = t.split_once('=') {
            let rest = rest.trim();
            if let Some(body) = rest.strip_prefix('"') {
                if let Some(end) = body.find('"') {
                    out.push((k.trim().to_string(), body[..end].to_string()));
                }
            }
        }
    }
    out
}

/// `(queue, max_batch_size, max_batch_timeout, max_retries, dead_letter_queue)` of the
/// `[[queues.consumers]]` tables, and `(binding, queue)` of `[[queues.producers]]`.
#[allow(clippy::type_complexity)]
fn toml_queues(
    file: &Path,
) -> (
    Vec<(String, String)>,
    Vec<(String, u32, u32, Option<u32>, Option<String>)>,
) {
    let text = std::fs::read_to_string(file).unwrap_or_default();
    let mut producers = vec![];
    let mut consumers: Vec<(String, u32, u32, Option<u32>, Option<String>)> = vec![];
    let mut section = "";
    let mut cur: Vec<(String, String)> = vec![];
    let flush =
        |section: &str,
         cur: &mut Vec<(String, String)>,
         producers: &mut Vec<(String, String)>,
         consumers: &mut Vec<(String, u32, u32, Option<u32>, Option<String>)>| {
            let get = |k: &str| cur.iter().find(|(a, _)| a == k).map(|(_, v)| v.clone());
            match section {
                "[[queues.producers]]" => {
                    if let (Some(b), Some(qn)) = (get("binding"), get("queue")) {
                        producers.push((b, qn));
                    }
                }
                "[[queues.consumers]]" => {
                    if let Some(qn) = get("queue") {
                        consumers.push((
                            qn,
                            get("max_batch_size")
                                .and_then(|v| v.parse().ok())
                                .unwrap_or(10),
                            get("max_batch_timeout")
                                .and_then(|v| v.parse().ok())
                                .unwrap_or(5),
                            get("max_retries").and_then(|v| v.parse().ok()),
                            get("dead_letter_queue"),
                        ));
                    }
                }
                _ => {}
            }
            cur.clear();
        };
    for line in text.lines() {
        let t = line.split('#').next().unwrap_or("").trim();
        if t.starts_with('[') {
            flush(section, &mut cur, &mut producers, &mut consumers);
            section = if t == "[[queues.producers]]" {
                "[[queues.producers]]"
            } else if t == "[[queues.consumers]]" {
                "[[queues.consumers]]"
            } else {
                ""
            };
            continue;
        }
        if let Some((k, v)) = t.split_once('=') {
            cur.push((k.trim().into(), v.trim().trim_matches('"').into()));
        }
    }
    flush(section, &mut cur, &mut producers, &mut consumers);
    (producers, consumers)
}

/// Milliseconds to wait after the socket accepts before the first request (0: at once,
/// so the first request also waits for workerd to load the services).
pub static SETTLE_MS: AtomicU64 = AtomicU64::new(0);

/// The first request a cold start is timed on: GET /health, unless told otherwise.
fn start(name: &'static str, dir: &Path, cfg: &Config, port: u16) -> System {
    start_probe(name, dir, cfg, port, ("GET", "/health"), Some("/health"))
}

fn start_probe(
    name: &'static str,
    dir: &Path,
    cfg: &Config,
    port: u16,
    probe: (&str, &str),
    health: Option<&str>,
) -> System {
    let file = cfg.write(port);
    let args = vec![
        systems::bin("workerd").to_string_lossy().into(),
        "serve".into(),
        "--experimental".into(),
        file.to_string_lossy().into(),
    ];
    System::spawn_bare(
        name,
        dir,
        args,
        port,
        probe,
        health,
        std::time::Duration::from_millis(SETTLE_MS.load(Ordering::Relaxed)),
    )
}

/// Which parts of Pulse's config to generate (the full Worker, or the Worker alone for
/// profiling its own load time).
#[derive(Clone, Copy, PartialEq)]
pub enum PulseParts {
    Full,
    WorkerOnly,
}

/// Pulse: the built Worker in build/ (index.js + index_bg.wasm) with every binding of
/// wrangler.toml, the same vars the wrangler-dev bench passes, and fresh state.
/// `probe`: the first request, timed (method, path).
pub fn pulse(secret: &str, parts: PulseParts, probe: (&str, &str)) -> System {
    let port = systems::free_port();
    let name = "pulse-bare";
    let dir = prepare(name, port);
    let root = systems::root();
    std::os::unix::fs::symlink(root.join("build"), dir.join("build")).unwrap();
    let persist = dir.join("persist");
    let full = parts == PulseParts::Full;
    if full {
        migrate(&root, &persist);
    }
    let mut cfg = Config::new(&dir, "pulse");
    let mut w = Worker::new(COMPAT_DATE).es("index.js", "build/index.js");
    w.modules
        .push("(name = \"index_bg.wasm\", wasm = embed \"build/index_bg.wasm\")".into());
    let overrides = [
        ("JWT_SECRET", secret),
        ("PULSE_ENV", "dev"),
        ("WS_MAX_PER_USER", "4"),
    ];
    for (k, v) in toml_vars(&root.join("wrangler.toml")) {
        if !overrides.iter().any(|(o, _)| *o == k) {
            w.bindings.push(text(&k, &v));
        }
    }
    for (k, v) in overrides {
        w.bindings.push(text(k, v));
    }
    w.bindings.push(do_ns("HUB", "TenantHub", None));
    w.objects
        .push(("TenantHub", "pulse-TenantHub".into(), true, false));
    w.storage = Some("do:storage".into());
    cfg.disk("do:storage", &persist.join("v3/do"), true);
    if full {
        w.bindings
            .push(d1_binding("DB", "00000000-0000-0000-0000-000000000000"));
        cfg.d1(&persist);
        // Rate limiter: miniflare's wrapper module over a SQLite-backed counter object.
        w.bindings.push(format!(
            "(name = \"API_LIMITER\", wrapped = (moduleName = \"cloudflare-internal:ratelimit:module\", innerBindings = [{}, {}, {}]))",
            service_props("fetcher", "ratelimit:ns:entry", "{\"MINIFLARE_NAMESPACE\":\"1001\"}"),
            json_b("limit", "60"),
            json_b("period", "60")
        ));
        cfg.extensions.push(
            "(modules = [(name = \"cloudflare-internal:ratelimit:module\", esModule = embed \"mf/ratelimit/ratelimit.worker.js\", internal = true)])".into(),
        );
        cfg.object_entry(
            "ratelimit:ns:entry",
            "ratelimit:ns",
            "RateLimiterObject",
            None,
        );
        cfg.disk("ratelimit:storage", &persist.join("v3/ratelimit"), true);
        let mut rl = Worker::new(MF_DATE).es(
            "ratelimit-object.worker.js",
            "mf/ratelimit/ratelimit-object.worker.js",
        );
        rl.flags = vec!["nodejs_compat", "experimental"];
        rl.objects.push((
            "RateLimiterObject",
            "miniflare-RateLimiterObject".into(),
            true,
            false,
        ));
        rl.storage = Some("ratelimit:storage".into());
        cfg.worker("ratelimit:ns", rl);

        // Queues: one broker object per queue (in memory, as under wrangler dev), which
        // calls the Worker's `queue` handler with each batch.
        let (producers, consumers) = toml_queues(&root.join("wrangler.toml"));
        let mut queues: Vec<String> = producers.iter().map(|(_, qn)| qn.clone()).collect();
        for c in &consumers {
            if !queues.contains(&c.0) {
                queues.push(c.0.clone());
            }
        }
        let prod_json: Vec<String> = producers
            .iter()
            .map(|(b, qn)| {
                format!(
                    "{}:{{\"workerName\":\"pulse\",\"queueName\":{}}}",
                    q(b),
                    q(qn)
                )
            })
            .collect();
        let cons_json: Vec<String> = consumers
            .iter()
            .map(|(qn, size, timeout, retries, dlq)| {
                let mut o = format!(
                    "{}:{{\"workerName\":\"pulse\",\"maxBatchSize\":{size},\"maxBatchTimeout\":{timeout}",
                    q(qn)
                );
                if let Some(r) = retries {
                    let _ = write!(o, ",\"maxRetries\":{r}");
                }
                if let Some(d) = dlq {
                    let _ = write!(o, ",\"deadLetterQueue\":{}", q(d));
                }
                o.push('}');
                o
            })
            .collect();
        for (b, qn) in &producers {
            w.bindings.push(format!(
                "(name = {}, queue = {})",
                q(b),
                q(&format!("queues:queue:{qn}"))
            ));
        }
        for qn in &queues {
            cfg.object_entry(
                &format!("queues:queue:{qn}"),
                "queues:queue",
                "QueueBrokerObject",
                Some(qn),
            );
        }
        let mut broker = Worker::new(MF_DATE).es("broker.worker.js", "mf/queues/broker.worker.js");
        broker.flags = vec![
            "nodejs_compat",
            "experimental",
            "service_binding_extra_handlers",
        ];
        broker.objects.push((
            "QueueBrokerObject",
            "miniflare-QueueBrokerObject".into(),
            false,
            true,
        ));
        broker.storage = Some(String::new());
        broker
            .bindings
            .push(do_ns("MINIFLARE_OBJECT", "QueueBrokerObject", None));
        broker.bindings.push(json_b(
            "MINIFLARE_QUEUE_PRODUCERS",
            &format!("{{{}}}", prod_json.join(",")),
        ));
        broker.bindings.push(json_b(
            "MINIFLARE_QUEUE_CONSUMERS",
            &format!("{{{}}}", cons_json.join(",")),
        ));
        broker
            .bindings
            .push(service("MINIFLARE_WORKER_pulse", "pulse"));
        cfg.worker("queues:queue", broker);

        // R2 (finished reports, property photos).
        for (binding, bucket) in [("REPORTS", "pulse-reports"), ("PHOTOS", "pulse-photos")] {
            w.bindings.push(format!(
                "(name = \"{binding}\", r2Bucket = (name = \"r2:bucket:entry\", props = (json = {})))",
                q(&format!("{{\"MINIFLARE_NAMESPACE\":\"{bucket}\"}}"))
            ));
        }
        cfg.object_entry("r2:bucket:entry", "r2:bucket", "R2BucketObject", None);
        cfg.disk("r2:storage", &persist.join("v3/r2"), true);
        let mut r2 = Worker::new(MF_DATE).es("bucket.worker.js", "mf/r2/bucket.worker.js");
        r2.flags = vec!["nodejs_compat", "experimental"];
        r2.objects.push((
            "R2BucketObject",
            "miniflare-R2BucketObject".into(),
            false,
            false,
        ));
        r2.storage = Some("r2:storage".into());
        r2.bindings.push(service("MINIFLARE_BLOBS", "r2:storage"));
        cfg.worker("r2:bucket", r2);

        // Static assets: the folder itself as a disk service (no asset worker).
        w.bindings.push(service("ASSETS", "assets"));
        cfg.disk("assets", &root.join("static"), false);
    }
    // BENCH_V8_FLAGS="--flag --flag": V8 flags for profiling runs.
    if let Ok(flags) = std::env::var("BENCH_V8_FLAGS") {
        cfg.v8_flags = flags.split_whitespace().map(String::from).collect();
    }
    cfg.worker("pulse", w);
    // Without D1 /health cannot answer 200: the first answer to the probe is "ready".
    let health = full.then_some("/health");
    let mut s = start_probe(name, &dir, &cfg, port, probe, health);
    s.secret = secret.to_string();
    s
}

/// The minimal JS Durable Object peer, as is (one file, no imports).
pub fn min_do() -> System {
    let port = systems::free_port();
    let name = "min-do-bare";
    let dir = prepare(name, port);
    std::fs::copy(
        systems::root().join("bench/peers/min-do/index.js"),
        dir.join("index.js"),
    )
    .unwrap();
    let mut cfg = Config::new(&dir, "main");
    let mut w = Worker::new(COMPAT_DATE).es("index.js", "index.js");
    w.bindings.push(do_ns("ROOM", "Room", None));
    w.objects
        .push(("Room", "bench-min-do-Room".into(), true, false));
    w.storage = Some("do:storage".into());
    cfg.disk("do:storage", &dir.join("persist/v3/do"), true);
    cfg.worker("main", w);
    start(name, &dir, &cfg, port)
}

/// partyserver, bundled with esbuild as wrangler bundles it.
pub fn partyserver() -> System {
    let port = systems::free_port();
    let name = "partyserver-bare";
    let dir = prepare(name, port);
    bundle(
        &systems::root().join("bench/peers/partyserver/index.js"),
        &dir.join("index.js"),
    );
    let mut cfg = Config::new(&dir, "main");
    let mut w = Worker::new(COMPAT_DATE).es("index.js", "index.js");
    w.flags = vec!["nodejs_compat"];
    w.bindings.push(do_ns("Bench", "Bench", None));
    w.objects
        .push(("Bench", "bench-partyserver-Bench".into(), true, false));
    w.storage = Some("do:storage".into());
    cfg.disk("do:storage", &dir.join("persist/v3/do"), true);
    cfg.worker("main", w);
    start(name, &dir, &cfg, port)
}

/// Hono + D1, bundled with esbuild, on the same local D1 service as Pulse's.
pub fn hono(secret: &str) -> System {
    let port = systems::free_port();
    let name = "hono-d1-bare";
    let dir = prepare(name, port);
    let src = systems::root().join("bench/peers/hono-d1");
    bundle(&src.join("index.js"), &dir.join("index.js"));
    let persist = dir.join("persist");
    migrate(&src, &persist);
    let mut cfg = Config::new(&dir, "main");
    let mut w = Worker::new(COMPAT_DATE).es("index.js", "index.js");
    w.bindings.push(text("JWT_SECRET", secret));
    w.bindings
        .push(d1_binding("DB", "00000000-0000-0000-0000-000000000001"));
    cfg.d1(&persist);
    cfg.worker("main", w);
    let mut s = start(name, &dir, &cfg, port);
    s.secret = secret.to_string();
    s
}
