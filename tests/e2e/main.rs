//! End-to-end tests against the real local runtime (`wrangler dev`: workerd with local
//! D1, Durable Objects and Queues). One server per run, started when at least one test is
//! selected; tests run one at a time, each with its own tenant. The runner is libtest-mimic,
//! so the standard flags work: `cargo test --test e2e -- <filter> --exact --skip --list`.
//! Run with `make test` (or `cargo test --test e2e` after `make build`).

mod assertions;
mod client;
mod fakes;
mod fixtures;
mod tests;

use std::sync::Mutex;
use std::time::Instant;

pub struct Ctx {
    pub server: fixtures::Server,
    pub api: client::Api,
    /// The fake outside providers (SMS API, listing platforms) the server is wired to.
    pub fake: fakes::Fake,
}

impl Ctx {
    /// Restarts `wrangler dev` on the same persist folder with these extra vars.
    pub fn restart_with(&mut self, vars: &[(&str, &str)]) {
        self.server.restart_with(vars);
        self.api = client::Api::new(&self.server.base);
    }

    /// A dev token signed with the server's HS256 secret.
    pub fn token(&self, tenant: &str, user: &str, role: &str) -> String {
        pulse::domain::auth::mint_hs256(
            self.server.secret.as_bytes(),
            user,
            tenant,
            role,
            chrono::Utc::now(),
            3600,
        )
    }
}

/// The shared server: started by the first test that runs, stopped after the last.
enum Shared {
    NotStarted,
    Up(Box<Ctx>),
    /// The start failed; every later test fails with this message instead of retrying.
    Broken(String),
}

static SHARED: Mutex<Shared> = Mutex::new(Shared::NotStarted);

/// How long each test took, for the "slowest" line at the end.
static DURATIONS: Mutex<Vec<(&'static str, f64)>> = Mutex::new(Vec::new());

/// Starts the shared server (once); a failed start is kept as the reason every test fails.
fn start_server() {
    let mut shared = SHARED.lock().unwrap_or_else(|p| p.into_inner());
    if !matches!(*shared, Shared::NotStarted) {
        return;
    }
    let t0 = Instant::now();
    eprintln!("e2e: starting wrangler dev ...");
    let started = std::panic::catch_unwind(|| {
        let fake = fakes::Fake::start();
        let server = fixtures::Server::start(tests::jobs_v2::provider_vars(&fake));
        let api = client::Api::new(&server.base);
        Ctx { server, api, fake }
    });
    *shared = match started {
        Ok(ctx) => {
            eprintln!(
                "e2e: server up at {} in {:.1}s",
                ctx.server.base,
                t0.elapsed().as_secs_f64()
            );
            Shared::Up(Box::new(ctx))
        }
        Err(e) => Shared::Broken(panic_message(e.as_ref())),
    };
}

/// Runs one test on the shared server.
fn run_on_server(name: &'static str, test: tests::Test) -> Result<(), libtest_mimic::Failed> {
    start_server();
    let mut shared = SHARED.lock().unwrap_or_else(|p| p.into_inner());
    match &mut *shared {
        Shared::Up(ctx) => {
            let t = Instant::now();
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| test(ctx)));
            let took = t.elapsed().as_secs_f64();
            DURATIONS
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push((name, took));
            result.map_err(|e| panic_message(e.as_ref()).into())
        }
        Shared::Broken(msg) => Err(format!("wrangler dev did not start: {msg}").into()),
        Shared::NotStarted => unreachable!("started above"),
    }
}

fn panic_message(e: &(dyn std::any::Any + Send)) -> String {
    e.downcast_ref::<String>()
        .cloned()
        .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

fn main() {
    // libtest-mimic takes one filter; like libtest, several select the union.
    let (filters, rest) = split_filters(std::env::args().collect());
    let mut args = libtest_mimic::Arguments::from_iter(rest);
    // One server, one tenant per test, but shared restarts and crons: never in parallel.
    args.test_threads = Some(1);
    if filters.len() == 1 {
        args.filter = filters.first().cloned();
    }
    let selected = |name: &str| {
        filters.len() < 2
            || filters.iter().any(|f| {
                if args.exact {
                    name == f
                } else {
                    name.contains(f.as_str())
                }
            })
    };
    let trials: Vec<_> = tests::all()
        .into_iter()
        .filter(|(name, _)| selected(name))
        .map(|(name, test)| libtest_mimic::Trial::test(name, move || run_on_server(name, test)))
        .collect();
    let to_run = trials.iter().filter(|t| !args.is_filtered_out(t)).count();
    if !args.list {
        if to_run == 0 {
            // A typo in a filter must not pass as "0 failed".
            eprintln!(
                "e2e: no test matches {filters:?} (skip {:?}); `cargo test --test e2e -- --list` lists them",
                args.skip
            );
            std::process::exit(2);
        }
        start_server();
    }
    let conclusion = libtest_mimic::run(&args, trials);
    // Stop wrangler dev (by its process group) and show its log when something failed.
    let shared = std::mem::replace(
        &mut *SHARED.lock().unwrap_or_else(|p| p.into_inner()),
        Shared::NotStarted,
    );
    if let Shared::Up(ctx) = shared {
        if conclusion.has_failed() {
            eprintln!("--- wrangler dev log (tail) ---\n{}", ctx.server.tail_log());
        }
        drop(ctx);
    }
    let mut durations = std::mem::take(&mut *DURATIONS.lock().unwrap_or_else(|p| p.into_inner()));
    durations.sort_by(|a, b| b.1.total_cmp(&a.1));
    let slowest: Vec<String> = durations
        .iter()
        .take(5)
        .map(|(name, s)| format!("{name} {s:.1}s"))
        .collect();
    if !slowest.is_empty() {
        eprintln!("e2e: slowest: {}", slowest.join(", "));
    }
    conclusion.exit();
}

/// Splits the command line into the filters (positional arguments) and everything else.
fn split_filters(argv: Vec<String>) -> (Vec<String>, Vec<String>) {
    // The libtest flags that take a separate value.
    const WITH_VALUE: [&str; 6] = [
        "--skip",
        "--test-threads",
        "--logfile",
        "--color",
        "--format",
        "-Z",
    ];
    let mut filters = Vec::new();
    let mut rest = Vec::new();
    let mut argv = argv.into_iter();
    rest.extend(argv.next()); // the program name
    while let Some(a) = argv.next() {
        if WITH_VALUE.contains(&a.as_str()) {
            rest.push(a);
            rest.extend(argv.next());
        } else if a.starts_with('-') {
            rest.push(a);
        } else {
            filters.push(a);
        }
    }
    (filters, rest)
}
