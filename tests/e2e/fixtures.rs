//! The local server, from the test kit: `wrangler dev` with the test-run settings, the
//! test issuer's key, and fresh tenants. Only the owner handle (an `#[alone]` test) may
//! crash, restart or write its D1; only a `#[cron]`/`#[alone]` handle fires the cron.

pub use pulse_testkit::server::{card_scan_window, fresh_tenant, Server};
pub use pulse_testkit::token::{jwks, ED25519_KID, ED25519_SEED};
