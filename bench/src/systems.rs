//! The systems under test as local processes: Pulse and the JS peers on `wrangler dev`
//! (the repo's wrangler, hence the same workerd), Socket.IO on Node 24. Each gets a free
//! port and a throw-away state folder, and is stopped (its process group) on drop.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn bin(name: &str) -> PathBuf {
    root().join("node_modules/.bin").join(name)
}

pub fn path_env() -> String {
    format!(
        "{}:{}",
        root().join("node_modules/.bin").display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

/// A system's throw-away state folder (log, config, local storage).
pub fn state_dir(name: &str, port: u16) -> PathBuf {
    root()
        .join("bench/target/state")
        .join(format!("{name}-{port}"))
}

#[allow(dead_code)] // name, port, started: kept for debugging output
pub struct System {
    pub name: &'static str,
    pub base: String,
    pub port: u16,
    pub secret: String,
    child: Option<Child>,
    pub started: Instant,
    /// Process start to the first 200 on /health.
    pub ready_after: Duration,
    /// Bare workerd: process start to the socket accepting connections.
    pub listen_after: Option<Duration>,
    /// Bare workerd: the first /health, timed here (sent once the socket accepts).
    pub first_request: Option<Duration>,
    state: PathBuf,
    /// Wrangler's inspector port (DevTools protocol), 0 when none.
    pub inspector: u16,
}

impl System {
    /// Starts `args` in its own process group, logging to `<state>/log.txt`.
    fn launch(
        name: &'static str,
        cwd: &Path,
        args: Vec<String>,
        envs: Vec<(String, String)>,
        port: u16,
    ) -> System {
        use std::os::unix::process::CommandExt;
        let state = state_dir(name, port);
        let _ = std::fs::create_dir_all(&state);
        let log = std::fs::File::create(state.join("log.txt")).unwrap();
        let program = args[0].clone();
        let started = Instant::now();
        let child = Command::new(program)
            .args(&args[1..])
            .current_dir(cwd)
            .env("PATH", path_env())
            .env("WRANGLER_SEND_METRICS", "false")
            .envs(envs)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("start {name}: {e}"));
        System {
            name,
            base: format!("http://127.0.0.1:{port}"),
            port,
            secret: String::new(),
            child: Some(child),
            inspector: args
                .iter()
                .position(|a| a == "--inspector-port")
                .and_then(|i| args.get(i + 1))
                .and_then(|p| p.parse().ok())
                .unwrap_or(0),
            started,
            ready_after: Duration::ZERO,
            listen_after: None,
            first_request: None,
            state,
        }
    }

    fn wait_until(&self, deadline: Instant, pause: Duration) {
        assert!(
            Instant::now() < deadline,
            "{} did not start; see {}",
            self.name,
            self.state.join("log.txt").display()
        );
        std::thread::sleep(pause);
    }

    fn spawn(
        name: &'static str,
        cwd: &Path,
        args: Vec<String>,
        envs: Vec<(String, String)>,
        health: &str,
    ) -> System {
        let port = args
            .iter()
            .position(|a| a == "--port")
            .and_then(|i| args.get(i + 1))
            .and_then(|p| p.parse().ok())
            .unwrap_or(0);
        let mut s = System::launch(name, cwd, args, envs, port);
        let api = pulse_testkit::Api::new(&s.base);
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            // Socket.IO's bare HTTP server answers nothing outside /socket.io/: a TCP
            // accept means it is listening.
            let up = if name == "socketio" {
                std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
            } else {
                api.status("GET", health, None, None) == 200
            };
            if up {
                break;
            }
            s.wait_until(deadline, Duration::from_millis(50));
        }
        s.ready_after = s.started.elapsed();
        s
    }

    /// A bare workerd process (bench/src/bare.rs): waits for the socket to accept, then
    /// `settle` (workerd accepts before its services are loaded: a pause lets them load),
    /// then times the first request (`probe`: method and path, any answer counts), then
    /// waits for a 200 on `health` (when given).
    pub fn spawn_bare(
        name: &'static str,
        cwd: &Path,
        args: Vec<String>,
        port: u16,
        probe: (&str, &str),
        health: Option<&str>,
        settle: Duration,
    ) -> System {
        let mut s = System::launch(name, cwd, args, vec![], port);
        let deadline = Instant::now() + Duration::from_secs(120);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            s.wait_until(deadline, Duration::from_millis(2));
        }
        s.listen_after = Some(s.started.elapsed());
        std::thread::sleep(settle);
        let api = pulse_testkit::Api::new(&s.base);
        while s.first_request.is_none() {
            let t = Instant::now();
            if api.status(probe.0, probe.1, None, None) != 0 {
                s.first_request = Some(t.elapsed());
            } else {
                s.wait_until(deadline, Duration::from_millis(2));
            }
        }
        while let Some(h) = health {
            if api.status("GET", h, None, None) == 200 {
                break;
            }
            s.wait_until(deadline, Duration::from_millis(2));
        }
        s.ready_after = s.started.elapsed();
        s
    }

    /// How long workerd took to answer the very first request (a cold isolate: script
    /// and Wasm compile plus the handler), from wrangler's own log line.
    pub fn first_request_ms(&self) -> Option<f64> {
        if let Some(d) = self.first_request {
            return Some(d.as_secs_f64() * 1000.0);
        }
        let log = std::fs::read_to_string(self.state.join("log.txt")).ok()?;
        let line = log.lines().find(|l| l.contains("GET /health 200"))?;
        let inner = line
            .rsplit_once('(')?
            .1
            .trim_end_matches(')')
            .trim_end_matches("ms");
        inner.trim().parse().ok()
    }

    fn wrangler_dev(name: &'static str, cwd: &Path, vars: &[(&str, &str)]) -> System {
        System::wrangler_dev_seeded(name, cwd, vars, None)
    }

    /// `wrangler_dev`, with `seed` (an SQL file) run on the migrated local D1 before the
    /// server starts (bulk data for a scenario).
    fn wrangler_dev_seeded(
        name: &'static str,
        cwd: &Path,
        vars: &[(&str, &str)],
        seed: Option<&Path>,
    ) -> System {
        let port = free_port();
        let state = state_dir(name, port);
        let _ = std::fs::remove_dir_all(&state);
        let p = state.to_string_lossy().to_string();
        if cwd.join("migrations").exists() {
            let ok = Command::new(bin("wrangler"))
                .args([
                    "d1",
                    "migrations",
                    "apply",
                    "DB",
                    "--local",
                    "--persist-to",
                    &p,
                ])
                .current_dir(cwd)
                .env("PATH", path_env())
                .env("WRANGLER_SEND_METRICS", "false")
                .stdin(Stdio::null())
                .output()
                .map(|o| o.status.success())
                .unwrap_or(false);
            assert!(ok, "{name}: migrations failed");
        }
        if let Some(file) = seed {
            let t = Instant::now();
            let out = Command::new(bin("wrangler"))
                .args([
                    "d1",
                    "execute",
                    "DB",
                    "--local",
                    "--persist-to",
                    &p,
                    "--file",
                ])
                .arg(file)
                .current_dir(cwd)
                .env("PATH", path_env())
                .env("WRANGLER_SEND_METRICS", "false")
                .stdin(Stdio::null())
                .output()
                .expect("run wrangler d1 execute");
            assert!(
                out.status.success(),
                "{name}: seeding failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            eprintln!(
                "{name}: seeded {} in {:.1} s",
                file.display(),
                t.elapsed().as_secs_f64()
            );
        }
        let mut args: Vec<String> = vec![
            bin("wrangler").to_string_lossy().into(),
            "dev".into(),
            "--ip".into(),
            "127.0.0.1".into(),
            "--port".into(),
            port.to_string(),
            "--persist-to".into(),
            p,
            "--show-interactive-dev-session=false".into(),
            "--inspector-port".into(),
            free_port().to_string(),
        ];
        for (k, v) in vars {
            args.push("--var".into());
            args.push(format!("{k}:{v}"));
        }
        // A seeded start follows run.sh's build: wrangler's build step keeps that Worker
        // (a rebuild here would count against the start's deadline).
        let envs = match seed {
            Some(_) => vec![("PULSE_BUILD_IF_STALE".to_string(), "1".to_string())],
            None => vec![],
        };
        System::spawn(name, cwd, args, envs, "/health")
    }

    /// Pulse itself (the built worker in build/), HS256 secret per run.
    pub fn pulse(secret: &str) -> System {
        let mut s = System::wrangler_dev(
            "pulse",
            &root(),
            &[
                ("JWT_SECRET", secret),
                ("PULSE_ENV", "dev"),
                ("WS_MAX_PER_USER", "4"),
            ],
        );
        s.secret = secret.to_string();
        s
    }

    /// Pulse on a local D1 that `seed` (SQL) filled after the migrations.
    pub fn pulse_seeded(secret: &str, seed: &Path) -> System {
        let mut s = System::wrangler_dev_seeded(
            "pulse",
            &root(),
            &[("JWT_SECRET", secret), ("PULSE_ENV", "dev")],
            Some(seed),
        );
        s.secret = secret.to_string();
        s
    }

    pub fn min_do() -> System {
        System::wrangler_dev("min-do", &root().join("bench/peers/min-do"), &[])
    }

    pub fn partyserver() -> System {
        System::wrangler_dev("partyserver", &root().join("bench/peers/partyserver"), &[])
    }

    pub fn hono(secret: &str) -> System {
        let mut s = System::wrangler_dev(
            "hono-d1",
            &root().join("bench/peers/hono-d1"),
            &[("JWT_SECRET", secret)],
        );
        s.secret = secret.to_string();
        s
    }

    pub fn socketio() -> System {
        let port = free_port();
        let args = vec![
            bin("node").to_string_lossy().into(),
            root()
                .join("bench/peers/socketio/server.js")
                .to_string_lossy()
                .into(),
            "--port".into(),
            port.to_string(),
        ];
        System::spawn(
            "socketio",
            &root().join("bench/peers"),
            args,
            vec![("PORT".into(), port.to_string())],
            "/",
        )
    }

    /// A handle on a running system for client threads (stops nothing on drop).
    pub fn shadow(_ws: String, base: String, secret: String) -> System {
        System {
            name: "shadow",
            base,
            port: 0,
            secret,
            child: None,
            inspector: 0,
            started: Instant::now(),
            ready_after: Duration::ZERO,
            listen_after: None,
            first_request: None,
            state: PathBuf::new(),
        }
    }

    pub fn ws_base(&self) -> String {
        self.base.replacen("http://", "ws://", 1)
    }

    /// The process group this system's processes run in (its own, see `spawn`).
    pub fn pgid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    /// CPU time (ms, user + system) used so far by every process of this system's process
    /// group (workerd, and wrangler's node under `wrangler dev`): read before and after a
    /// run, it gives the system's CPU cost per request.
    pub fn cpu_ms(&self) -> f64 {
        let Some(pgid) = self.pgid() else {
            return 0.0;
        };
        let mut ticks = 0u64;
        for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
            let after: Vec<&str> = stat
                .rsplit_once(')')
                .map(|(_, r)| r)
                .unwrap_or("")
                .split_whitespace()
                .collect();
            // After "pid (comm)": state ppid pgrp … utime (index 11) stime (12).
            let field = |k: usize| {
                after
                    .get(k)
                    .and_then(|x| x.parse::<u64>().ok())
                    .unwrap_or(0)
            };
            if after.len() > 12 && field(2) == u64::from(pgid) {
                ticks += field(11) + field(12);
            }
        }
        // USER_HZ is 100 on Linux.
        ticks as f64 * 10.0
    }

    /// Resident memory (KiB) of the workerd processes under this system's process group.
    pub fn workerd_rss_kib(&self) -> u64 {
        let Some(pgid) = self.pgid() else {
            return 0;
        };
        let mut total = 0;
        for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let p = entry.path();
            let stat = std::fs::read_to_string(p.join("stat")).unwrap_or_default();
            // pgrp is field 5 (after "pid (comm) state ppid").
            let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
            let pgrp: u32 = after
                .split_whitespace()
                .nth(2)
                .and_then(|x| x.parse().ok())
                .unwrap_or(0);
            let cmd = std::fs::read_to_string(p.join("cmdline")).unwrap_or_default();
            if pgrp == pgid && cmd.contains("workerd") {
                let status = std::fs::read_to_string(p.join("status")).unwrap_or_default();
                total += status
                    .lines()
                    .find(|l| l.starts_with("VmRSS:"))
                    .and_then(|l| l.split_whitespace().nth(1))
                    .and_then(|x| x.parse::<u64>().ok())
                    .unwrap_or(0);
            }
        }
        total
    }
}

impl Drop for System {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let pg = format!("-{}", c.id());
            let _ = Command::new("kill").args(["-TERM", "--", &pg]).status();
            std::thread::sleep(Duration::from_millis(300));
            let _ = Command::new("kill").args(["-KILL", "--", &pg]).status();
            let _ = c.wait();
        }
    }
}
