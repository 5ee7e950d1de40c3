//! The local server fixture: a `wrangler dev` of the repository's Worker on a free port
//! with a throw-away persist folder, migrations (and the dev seed) applied first, stopped
//! by its process group; crash, restart with other vars, SQL on its D1, and the cron.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Server {
    pub base: String,
    pub port: u16,
    pub secret: String,
    pub persist: PathBuf,
    /// Where the browser test serves its page (an allowed CORS origin of this server).
    pub page_port: u16,
    child: Option<Child>,
    log: PathBuf,
    /// `--var`s of this run (the fake providers' URLs), kept across restarts.
    fixed: Vec<(String, String)>,
    /// `--var` overrides on top of the defaults (see `restart_with`).
    vars: Vec<(String, String)>,
    /// The process's owner (stops it, may restart or crash it); a view only talks to it.
    owner: bool,
    /// Whether this handle may fire the cron (`run_cron`).
    may_cron: bool,
}

/// Test-run settings: short presence grace, dashboard interval and card-scan window so
/// tests stay quick.
/// The test servers' `PLATFORM_TOKEN`.
pub const PLATFORM_TOKEN: &str = "platform-test-token-0123456789";

const DEFAULT_VARS: &[(&str, &str)] = &[
    ("PULSE_ENV", "dev"),
    // The operator's token for `POST /api/platform/tenants` (a Worker secret in production).
    ("PLATFORM_TOKEN", PLATFORM_TOKEN),
    // 5 s instead of 10 s (`card_scan_window`).
    ("CARD_SCAN_EVENT_WINDOW_MS", "5000"),
    ("PRESENCE_GRACE_MS", "1500"),
    ("DASHBOARD_MIN_INTERVAL_MS", "300"),
    ("SSE_HEARTBEAT_SECONDS", "1"),
    // A stalled SSE reader is dropped after 1 MiB unread (4 MiB in production).
    ("SSE_MAX_BUFFERED_BYTES", "1048576"),
    ("BLOCKLIST_CACHE_MS", "0"),
    // Job retries after 1, 2, 4 s instead of the default 5, 10, 20 s; providers time out fast.
    ("JOB_BACKOFF_BASE_SECONDS", "1"),
    ("PROVIDER_TIMEOUT_MS", "1500"),
];

/// The test server's card-scan announcement window (`CARD_SCAN_EVENT_WINDOW_MS`).
pub fn card_scan_window() -> Duration {
    let ms = DEFAULT_VARS
        .iter()
        .find(|(k, _)| *k == "CARD_SCAN_EVENT_WINDOW_MS")
        .and_then(|(_, v)| v.parse().ok())
        .expect("CARD_SCAN_EVENT_WINDOW_MS in DEFAULT_VARS");
    Duration::from_millis(ms)
}

/// The repository (this crate is `crates/testkit` in it): the Worker, `node_modules`,
/// the migrations and the seed.
pub fn root() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    dir.canonicalize().unwrap_or(dir)
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

fn random_hex(n: usize) -> String {
    use std::io::Read;
    let mut b = vec![0u8; n];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut b))
        .expect("urandom");
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn wrangler(args: &[&str]) -> Command {
    let mut c = Command::new(root().join("node_modules/.bin/wrangler"));
    c.args(args)
        .current_dir(root())
        .env("WRANGLER_SEND_METRICS", "false")
        .env(
            "PATH",
            format!(
                "{}:{}",
                root().join("node_modules/.bin").display(),
                std::env::var("PATH").unwrap_or_default()
            ),
        );
    c
}

/// Applies the migrations and the dev seed to a new local D1 in `dir`.
fn migrate_and_seed(dir: &Path) {
    let p = dir.to_str().expect("utf-8 path");
    for args in [
        vec![
            "d1",
            "migrations",
            "apply",
            "DB",
            "--local",
            "--persist-to",
            p,
        ],
        vec![
            "d1",
            "execute",
            "DB",
            "--local",
            "--persist-to",
            p,
            "--file",
            "seeds/dev.sql",
        ],
    ] {
        let out = wrangler(&args)
            .stdin(Stdio::null())
            .output()
            .expect("run wrangler");
        assert!(
            out.status.success(),
            "wrangler {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// A hex digest of everything the migrated and seeded database depends on: the migration
/// files, the seed and the wrangler version (which writes the local storage).
fn database_inputs_digest() -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join("migrations"))
        .expect("migrations/")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    files.sort();
    files.push(root().join("seeds/dev.sql"));
    files.push(root().join("node_modules/wrangler/package.json"));
    for f in files {
        h.update(f.file_name().unwrap_or_default().as_encoded_bytes());
        h.update([0]);
        h.update(std::fs::read(&f).unwrap_or_default());
        h.update([0]);
    }
    h.finalize()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Copies a quiescent persist folder (SQLite's `-shm` index is rebuilt on open).
fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let name = entry.file_name();
        let target = to.join(&name);
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else if !name.to_string_lossy().ends_with("-shm") {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

/// Fills `persist` with the migrated and seeded local D1. Applying the migrations takes
/// wrangler about 10 s, so the result is kept once per user and per digest of its inputs
/// (`~/.cache/pulse/e2e-db/<digest>/`, written to a temporary folder and renamed when
/// complete) and copied into each run's throw-away folder; without a writable cache the
/// run migrates its own folder.
fn seed_database(persist: &Path) {
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .map(|c| c.join("pulse/e2e-db"));
    let Some(cache) = cache.filter(|c| std::fs::create_dir_all(c).is_ok()) else {
        return migrate_and_seed(persist);
    };
    let template = cache.join(database_inputs_digest());
    if !template.is_dir() {
        let tmp = cache.join(format!("tmp.{}-{}", std::process::id(), random_hex(4)));
        migrate_and_seed(&tmp);
        if std::fs::rename(&tmp, &template).is_err() {
            // Another run finished first; its copy is as good.
            let _ = std::fs::remove_dir_all(&tmp);
        }
    }
    if copy_dir(&template, persist).is_err() {
        let _ = std::fs::remove_dir_all(persist);
        std::fs::create_dir_all(persist).expect("persist dir");
        migrate_and_seed(persist);
    }
}

impl Server {
    /// Starts with these extra `--var`s (kept across `restart_with`).
    pub fn start(fixed: Vec<(String, String)>) -> Server {
        let run = format!("{}-{}", std::process::id(), random_hex(4));
        let persist = root().join("target/e2e").join(&run);
        std::fs::create_dir_all(&persist).expect("persist dir");
        seed_database(&persist);
        let secret = random_hex(32);
        let mut s = Server {
            base: String::new(),
            port: 0,
            secret,
            persist,
            page_port: free_port(),
            child: None,
            log: PathBuf::new(),
            fixed,
            vars: Vec::new(),
            owner: true,
            may_cron: true,
        };
        s.spawn();
        s
    }

    /// A handle on the same running server for a test that runs beside others: it cannot
    /// restart or crash the server, and fires the cron only when `may_cron`.
    pub fn view(&self, may_cron: bool) -> Server {
        Server {
            base: self.base.clone(),
            port: self.port,
            secret: self.secret.clone(),
            persist: self.persist.clone(),
            page_port: self.page_port,
            child: None,
            log: self.log.clone(),
            fixed: Vec::new(),
            vars: Vec::new(),
            owner: false,
            may_cron,
        }
    }

    /// Whether `restart_with` left vars other than the defaults in place.
    pub fn has_overrides(&self) -> bool {
        !self.vars.is_empty()
    }

    fn must_own(&self, what: &str) {
        assert!(
            self.owner,
            "{what} needs the server to itself: mark the test #[alone] in tests![]"
        );
    }

    fn spawn(&mut self) {
        use std::os::unix::process::CommandExt;
        self.port = free_port();
        self.base = format!("http://127.0.0.1:{}", self.port);
        self.log = self.persist.join(format!("wrangler-{}.log", self.port));
        let log = std::fs::File::create(&self.log).expect("log file");
        let port = self.port.to_string();
        let p = self.persist.to_str().unwrap().to_string();
        let mut vars: Vec<(String, String)> = vec![
            ("JWT_SECRET".into(), self.secret.clone()),
            ("JWT_JWKS".into(), crate::token::jwks()),
        ];
        vars.extend(
            DEFAULT_VARS
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string())),
        );
        vars.push((
            "CORS_ORIGINS".into(),
            format!("http://app.pulse.test,http://127.0.0.1:{}", self.page_port),
        ));
        vars.extend(self.fixed.iter().cloned());
        vars.extend(self.vars.iter().cloned());
        let mut args: Vec<String> = [
            "dev",
            "--ip",
            "127.0.0.1",
            "--port",
            &port,
            "--persist-to",
            &p,
            "--test-scheduled",
            "--show-interactive-dev-session=false",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        for (k, v) in vars {
            args.push("--var".into());
            args.push(format!("{k}:{v}"));
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let child = wrangler(&args)
            // `make build` ran before: wrangler's build step keeps a fresh Worker.
            .env("PULSE_BUILD_IF_STALE", "1")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .process_group(0)
            .spawn()
            .expect("spawn wrangler dev");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(180);
        loop {
            if let Ok(r) = ureq::get(&format!("{}/health", self.base))
                .timeout(Duration::from_secs(5))
                .call()
            {
                if r.status() == 200 {
                    break;
                }
            }
            if let Some(Ok(Some(status))) = self.child.as_mut().map(|c| c.try_wait()) {
                panic!("wrangler dev exited ({status}); log: {}", self.tail_log());
            }
            assert!(
                Instant::now() < deadline,
                "wrangler dev did not become healthy; log: {}",
                self.tail_log()
            );
            std::thread::sleep(Duration::from_millis(300));
        }
    }

    /// CPU seconds used so far by this start of the server (its process group: wrangler,
    /// workerd and what they reaped), for tuning; `None` when not on Linux.
    pub fn cpu_seconds(&self) -> Option<f64> {
        let pgid = self.child.as_ref()?.id().to_string();
        let mut ticks = 0u64;
        for entry in std::fs::read_dir("/proc").ok()?.flatten() {
            let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
                continue;
            };
            // Fields after the command name (which may hold spaces): state, ppid, pgrp, …
            let Some((_, rest)) = stat.rsplit_once(") ") else {
                continue;
            };
            let f: Vec<&str> = rest.split_whitespace().collect();
            if f.len() > 14 && f[2] == pgid {
                ticks += f[11..15]
                    .iter()
                    .filter_map(|v| v.parse::<u64>().ok())
                    .sum::<u64>();
            }
        }
        Some(ticks as f64 / 100.0)
    }

    /// Everything wrangler dev has printed so far (the Worker's console output included).
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn tail_log(&self) -> String {
        let s = std::fs::read_to_string(&self.log).unwrap_or_default();
        s.lines()
            .rev()
            .take(40)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Stops the server (its whole process group) by pid.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let pgid = c.id();
            let _ = Command::new("kill")
                .args(["-TERM", "--", &format!("-{pgid}")])
                .status();
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = c.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{pgid}")])
                .status();
            let _ = c.wait();
        }
    }

    /// Kills the whole process group at once (SIGKILL, like a crash: no shutdown work);
    /// `restart_with` brings the server back on the same persist folder.
    pub fn crash(&mut self) {
        self.must_own("crashing the server");
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{}", c.id())])
                .status();
            let _ = c.wait();
        }
    }

    /// Restarts `wrangler dev` on the same persist folder (the DO and D1 state survive).
    pub fn restart_with(&mut self, vars: &[(&str, &str)]) {
        self.must_own("restarting the server");
        self.stop();
        self.vars = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        self.spawn();
    }

    /// Runs SQL on the test server's local D1 (the same persist folder) and returns the rows
    /// of the last statement. A second process writing the database can make the server's
    /// own writes fail with SQLITE_BUSY, so only an `#[alone]` test may do this.
    pub fn d1(&self, sql: &str) -> Vec<serde_json::Value> {
        self.must_own("SQL on the server's database from outside");
        let out = wrangler(&["d1", "execute", "DB", "--local", "--json", "--persist-to"])
            .arg(&self.persist)
            .args(["--command", sql])
            .stdin(Stdio::null())
            .output()
            .expect("run wrangler d1 execute");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "d1 execute failed: {text} {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value =
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("d1 output: {text}"));
        v.as_array()
            .and_then(|a| a.last())
            .and_then(|r| r["results"].as_array())
            .cloned()
            .unwrap_or_default()
    }

    /// Runs the scheduled (cron) handler once. The cron works on every tenant, so tests
    /// that fire it (or assert what happens before their own cron) run one at a time.
    pub fn run_cron(&self) -> u16 {
        assert!(
            self.may_cron,
            "firing the cron needs #[cron] (or #[alone]) on the test in tests![]"
        );
        ureq::get(&format!("{}/__scheduled?cron=*+*+*+*+*", self.base))
            .call()
            .map(|r| r.status())
            .unwrap_or_else(|e| match e {
                ureq::Error::Status(s, _) => s,
                _ => 0,
            })
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if !self.owner {
            return;
        }
        self.stop();
        if std::env::var("PULSE_E2E_KEEP").is_err() {
            let _ = std::fs::remove_dir_all(&self.persist);
        }
    }
}

/// A tenant id no other test uses, so tests run in parallel without seeing each other.
pub fn fresh_tenant(prefix: &str) -> String {
    format!("{prefix}-{}", random_hex(4))
}
