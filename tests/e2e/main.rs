//! End-to-end tests against the real local runtime (`wrangler dev`: workerd with local
//! D1, Durable Objects and Queues). One server per run, started when at least one test is
//! selected; each test has its own tenant, so tests run side by side, except those marked
//! in `tests![]`: `#[cron]` (one at a time) and `#[alone]` (no other test meanwhile). The
//! runner is libtest-mimic, so the standard flags work: `cargo test --test e2e -- <filter>
//! --exact --skip --list --test-threads`.
//! Run with `make test` (or `cargo test --test e2e` after `make build`).

mod assertions;
mod client;
mod fakes;
mod fixtures;
mod tests;

use std::sync::{Condvar, Mutex};
use std::time::Instant;
use tests::Sharing;

/// How many tests run at once by default (`--test-threads` overrides it). Most tests spend
/// their time waiting (retries, windows, the server's answers), not computing.
const DEFAULT_THREADS: usize = 4;

pub struct Ctx {
    pub server: fixtures::Server,
    pub api: client::Api,
    /// The fake outside providers (SMS API, listing platforms) the server is wired to.
    pub fake: fakes::Fake,
}

impl Ctx {
    /// Restarts `wrangler dev` on the same persist folder with these extra vars (only in an
    /// `#[alone]` test).
    pub fn restart_with(&mut self, vars: &[(&str, &str)]) {
        self.server.restart_with(vars);
        self.api = client::Api::new(&self.server.base);
    }

    /// A dev token signed with the server's HS256 secret.
    pub fn token(&self, tenant: &str, user: &str, role: &str) -> String {
        pulse_testkit::token::hs256(&self.server.secret, tenant, user, role, 3600)
    }
}

/// The running server (its owner handle) and the fake providers it is wired to.
struct Harness {
    /// Lent to an `#[alone]` test while it runs.
    server: Option<fixtures::Server>,
    fake: fakes::Fake,
}

/// The shared server: started before the first test, stopped after the last.
enum Shared {
    NotStarted,
    Up(Harness),
    /// The start failed; every later test fails with this message instead of retrying.
    Broken(String),
}

static SHARED: Mutex<Shared> = Mutex::new(Shared::NotStarted);

/// When each test started (seconds into the run) and how long it took, for the summary.
static DURATIONS: Mutex<Vec<(&'static str, f64, f64)>> = Mutex::new(Vec::new());

/// When the run started.
static RUN_START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Starts the shared server (once); a failed start is kept as the reason every test fails.
fn start_server() {
    let mut shared = lock(&SHARED);
    if !matches!(*shared, Shared::NotStarted) {
        return;
    }
    let t0 = Instant::now();
    eprintln!("e2e: starting wrangler dev ...");
    let started = std::panic::catch_unwind(|| {
        let fake = fakes::Fake::start();
        let server = fixtures::Server::start(tests::jobs_v2::provider_vars(&fake));
        (server, fake)
    });
    *shared = match started {
        Ok((server, fake)) => {
            eprintln!(
                "e2e: server up at {} in {:.1}s",
                server.base,
                t0.elapsed().as_secs_f64()
            );
            Shared::Up(Harness {
                server: Some(server),
                fake,
            })
        }
        Err(e) => Shared::Broken(panic_message(e.as_ref())),
    };
}

/// Decides which test runs when. Tests are admitted in plan order as far as the rules
/// allow: at most `limit` at once (`#[waits]` tests aside, unless the limit is 1), one
/// `#[cron]` test at a time, an `#[alone]` test only on an idle server and nothing beside
/// it (a waiting `#[alone]` test holds back those after it, so it is not starved).
struct Scheduler {
    state: Mutex<Plan>,
    changed: Condvar,
}

struct Plan {
    /// Every selected test (a test may be admitted before its thread asks for its turn).
    planned: Vec<Planned>,
    /// Not yet admitted, in plan order.
    pending: Vec<Planned>,
    /// Running tests, and how many of them count against `limit`.
    running: usize,
    counted: usize,
    cron: bool,
    alone: bool,
    limit: usize,
}

/// A selected test's place in the plan.
#[derive(Clone, Copy)]
struct Planned {
    position: usize,
    sharing: Sharing,
    /// Whether it takes one of the `limit` places.
    counted: bool,
}

impl Plan {
    fn admit_what_fits(&mut self) {
        let mut k = 0;
        while k < self.pending.len() && !self.alone {
            let t = self.pending[k];
            let fits = (!t.counted || self.counted < self.limit)
                && match t.sharing {
                    Sharing::Alone => self.running == 0,
                    Sharing::Cron => !self.cron,
                    Sharing::Shared => true,
                };
            if !fits {
                if t.sharing == Sharing::Alone {
                    break;
                }
                k += 1;
                continue;
            }
            self.pending.remove(k);
            self.running += 1;
            self.counted += usize::from(t.counted);
            self.cron |= t.sharing == Sharing::Cron;
            self.alone |= t.sharing == Sharing::Alone;
        }
    }

    fn admitted(&self, position: usize) -> bool {
        !self.pending.iter().any(|t| t.position == position)
    }
}

static SCHEDULER: Scheduler = Scheduler {
    state: Mutex::new(Plan {
        planned: Vec::new(),
        pending: Vec::new(),
        running: 0,
        counted: 0,
        cron: false,
        alone: false,
        limit: 1,
    }),
    changed: Condvar::new(),
};

/// A running test's place; dropping it (also on panic) lets the next tests in.
struct Slot(Planned);

impl Scheduler {
    fn plan(&self, tests: Vec<Planned>, limit: usize) {
        let mut p = lock(&self.state);
        p.planned = tests.clone();
        p.pending = tests;
        p.limit = limit.max(1);
    }

    fn wait_turn(&'static self, position: usize) -> Slot {
        let mut p = lock(&self.state);
        let me = *p
            .planned
            .iter()
            .find(|t| t.position == position)
            .expect("a selected test is planned");
        loop {
            p.admit_what_fits();
            if p.admitted(position) {
                return Slot(me);
            }
            p = self.changed.wait(p).unwrap_or_else(|e| e.into_inner());
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut p = lock(&SCHEDULER.state);
        p.running -= 1;
        p.counted -= usize::from(self.0.counted);
        match self.0.sharing {
            Sharing::Cron => p.cron = false,
            Sharing::Alone => p.alone = false,
            Sharing::Shared => {}
        }
        drop(p);
        SCHEDULER.changed.notify_all();
    }
}

/// Runs one test on the shared server, when the scheduler lets it.
fn run_on_server(
    name: &'static str,
    test: tests::Test,
    sharing: Sharing,
    position: usize,
) -> Result<(), libtest_mimic::Failed> {
    start_server();
    let _slot = SCHEDULER.wait_turn(position);
    // A test that runs beside others gets a view of the server; an `#[alone]` one gets the
    // server itself, so it may restart or crash it.
    let ctx = match &mut *lock(&SHARED) {
        Shared::Up(h) => {
            let server = match sharing {
                Sharing::Alone => h.server.take().expect("the server is lent to one test"),
                Sharing::Cron | Sharing::Shared => h
                    .server
                    .as_ref()
                    .expect("no test holds the server")
                    .view(sharing == Sharing::Cron),
            };
            Ctx {
                api: client::Api::new(&server.base),
                server,
                fake: h.fake.clone(),
            }
        }
        Shared::Broken(msg) => return Err(format!("wrangler dev did not start: {msg}").into()),
        Shared::NotStarted => unreachable!("started above"),
    };
    let mut ctx = ctx;
    let t = Instant::now();
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| test(&mut ctx)));
    let took = t.elapsed().as_secs_f64();
    let at = RUN_START
        .get()
        .map_or(0.0, |s| t.duration_since(*s).as_secs_f64());
    lock(&DURATIONS).push((name, at, took));
    if sharing == Sharing::Alone {
        // Every test starts on the default vars, even after one that failed half-way.
        if ctx.server.has_overrides() {
            ctx.restart_with(&[]);
        }
        if let Shared::Up(h) = &mut *lock(&SHARED) {
            h.server = Some(ctx.server);
        }
    }
    result.map_err(|e| panic_message(e.as_ref()).into())
}

fn panic_message(e: &(dyn std::any::Any + Send)) -> String {
    e.downcast_ref::<String>()
        .cloned()
        .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

fn main() {
    let t0 = *RUN_START.get_or_init(Instant::now);
    // libtest-mimic takes one filter; like libtest, several select the union.
    let (filters, rest) = split_filters(std::env::args().collect());
    let mut args = libtest_mimic::Arguments::from_iter(rest);
    let limit = args.test_threads.unwrap_or(DEFAULT_THREADS).max(1);
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
    let mut all: Vec<tests::Entry> = tests::all()
        .into_iter()
        .filter(|e| selected(e.name))
        .collect();
    if !args.list {
        all.sort_by_key(|e| e.plan_rank());
    }
    let trials: Vec<_> = all
        .iter()
        .enumerate()
        .map(|(position, e)| {
            let (name, test, sharing) = (e.name, e.test, e.sharing);
            libtest_mimic::Trial::test(name, move || run_on_server(name, test, sharing, position))
        })
        .collect();
    let to_run: Vec<Planned> = trials
        .iter()
        .zip(&all)
        .enumerate()
        .filter(|(_, (t, _))| !args.is_filtered_out(t))
        .map(|(position, (_, e))| Planned {
            position,
            sharing: e.sharing,
            counted: !e.waits || limit == 1,
        })
        .collect();
    if !args.list {
        if to_run.is_empty() {
            // A typo in a filter must not pass as "0 failed".
            eprintln!(
                "e2e: no test matches {filters:?} (skip {:?}); `cargo test --test e2e -- --list` lists them",
                args.skip
            );
            std::process::exit(2);
        }
        // Every selected test gets a thread that waits for its turn; the scheduler decides
        // how many run at once. One thread runs them in plan order.
        args.test_threads = Some(if limit == 1 { 1 } else { to_run.len() });
        SCHEDULER.plan(to_run.clone(), limit);
        start_server();
    }
    let conclusion = libtest_mimic::run(&args, trials);
    // Stop wrangler dev (by its process group) and show its log when something failed.
    let shared = std::mem::replace(&mut *lock(&SHARED), Shared::NotStarted);
    if let Shared::Up(h) = shared {
        if let Some(server) = h.server {
            if std::env::var_os("PULSE_E2E_TIMES").is_some() {
                if let Some(cpu) = server.cpu_seconds() {
                    eprintln!("e2e: the server used {cpu:.0}s of CPU since its last start");
                }
            }
            if conclusion.has_failed() {
                eprintln!("--- wrangler dev log (tail) ---\n{}", server.tail_log());
            }
            drop(server);
        }
    }
    let mut durations = std::mem::take(&mut *lock(&DURATIONS));
    if !durations.is_empty() {
        if std::env::var_os("PULSE_E2E_TIMES").is_some() {
            durations.sort_by(|a, b| a.1.total_cmp(&b.1));
            for (name, at, took) in &durations {
                eprintln!("e2e: {at:6.1}s +{took:5.1}s {name}");
            }
        }
        let sum: f64 = durations.iter().map(|(_, _, s)| s).sum();
        durations.sort_by(|a, b| b.2.total_cmp(&a.2));
        let slowest: Vec<String> = durations
            .iter()
            .take(5)
            .map(|(name, _, s)| format!("{name} {s:.1}s"))
            .collect();
        eprintln!(
            "e2e: {} tests took {sum:.0}s in {:.0}s (up to {limit} at once, server start included); slowest: {}",
            durations.len(),
            t0.elapsed().as_secs_f64(),
            slowest.join(", ")
        );
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
