//! The deployment's settings as the Worker reads them: the env lookup and the typed
//! `Config` parsed once per isolate (declared in `pulse_core::config`).

pub use pulse_core::config::*;
use std::cell::RefCell;
use std::rc::Rc;
use worker::Env;

/// The env lookup: a secret or a plain var of that name.
pub fn env_lookup(env: &Env) -> impl Fn(&str) -> Option<String> + '_ {
    |k: &str| {
        env.secret(k)
            .map(|v| v.to_string())
            .or_else(|_| env.var(k).map(|v| v.to_string()))
            .ok()
    }
}

thread_local! {
    /// The env does not change while an isolate lives; the Worker is single-threaded.
    static CONFIG: RefCell<Option<Rc<Config>>> = const { RefCell::new(None) };
}

/// This isolate's settings, parsed on first use.
pub fn get(env: &Env) -> Rc<Config> {
    if let Some(c) = CONFIG.with(|c| c.borrow().clone()) {
        return c;
    }
    let c = Rc::new(Config::from_lookup(env_lookup(env)));
    for w in &c.auth_warnings {
        worker::console_warn!("{w}");
    }
    CONFIG.with(|slot| *slot.borrow_mut() = Some(c.clone()));
    c
}
