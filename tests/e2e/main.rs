//! End-to-end tests against the real local runtime (`wrangler dev`: workerd with local
//! D1, Durable Objects and Queues). One server per run; each test uses its own tenant.
//! Run with `make test` (or `cargo test --test e2e` after `make build`).

mod assertions;
mod client;
mod fakes;
mod fixtures;
mod tests;

use std::panic::{catch_unwind, AssertUnwindSafe};
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

fn main() {
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let all = tests::all();
    let selected: Vec<_> = all
        .into_iter()
        .filter(|(name, _)| filter.is_empty() || filter.iter().any(|f| name.contains(f.as_str())))
        .collect();
    if selected.is_empty() {
        // A typo in a filter must not pass as "0 failed".
        eprintln!("e2e: no test matches {filter:?}; see tests/e2e/tests/mod.rs for the names");
        std::process::exit(2);
    }
    let t0 = Instant::now();
    eprintln!("e2e: starting wrangler dev ...");
    let fake = fakes::Fake::start();
    let server = fixtures::Server::start(tests::jobs_v2::provider_vars(&fake));
    eprintln!(
        "e2e: server up at {} in {:.1}s",
        server.base,
        t0.elapsed().as_secs_f64()
    );
    let api = client::Api::new(&server.base);
    let ctx = std::sync::Mutex::new(Ctx { server, api, fake });
    let mut failed = Vec::new();
    for (name, test) in &selected {
        let t = Instant::now();
        let mut guard = ctx.lock().unwrap_or_else(|p| p.into_inner());
        let result = catch_unwind(AssertUnwindSafe(|| test(&mut guard)));
        drop(guard);
        match result {
            Ok(()) => eprintln!("test {name} ... ok ({:.1}s)", t.elapsed().as_secs_f64()),
            Err(e) => {
                let msg = e
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                eprintln!(
                    "test {name} ... FAILED ({:.1}s): {msg}",
                    t.elapsed().as_secs_f64()
                );
                failed.push(*name);
            }
        }
    }
    let ctx = ctx.into_inner().unwrap_or_else(|p| p.into_inner());
    if !failed.is_empty() {
        eprintln!("--- wrangler dev log (tail) ---\n{}", ctx.server.tail_log());
    }
    drop(ctx); // stops wrangler dev by pid
    eprintln!(
        "e2e: {} passed, {} failed, {:.1}s",
        selected.len() - failed.len(),
        failed.len(),
        t0.elapsed().as_secs_f64()
    );
    if !failed.is_empty() {
        eprintln!("failed: {failed:?}");
        std::process::exit(1);
    }
}
