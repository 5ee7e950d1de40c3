//! Prints the `UPDATE users SET password_hash = ...` lines of seeds/dev.sql: PBKDF2-SHA256
//! (pure Rust, the same function the unit tests check against known vectors) of the
//! contract's dev password, 100,000 iterations, salt = first 16 bytes of
//! SHA-256("pulse-dev-seed:<tenant>:<user id>"), so the output is reproducible.
//!
//! `cargo run --release --example seed_password [password]`

use pulse::domain::password::{hash_native, ITERATIONS};
use sha2::{Digest, Sha256};

fn main() {
    let password = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "pulse-dev-password".to_string());
    for tenant in ["demo", "acme"] {
        for role in ["admin", "broker", "viewer"] {
            let id = format!("{tenant}-{role}");
            let salt = Sha256::digest(format!("pulse-dev-seed:{tenant}:{id}").as_bytes());
            let h = hash_native(&password, &salt[..16], ITERATIONS).encode();
            println!(
                "UPDATE users SET password_hash = '{h}' WHERE tenant_id = '{tenant}' AND id = '{id}';"
            );
        }
    }
}
