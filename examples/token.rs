//! Mints an HS256 dev token: `cargo run -q --example token -- <tenant> <user> <role> [ttl_seconds]`.
//! The secret is JWT_SECRET from the environment, else from .dev.vars.

use chrono::Utc;

fn secret() -> Option<String> {
    if let Ok(s) = std::env::var("JWT_SECRET") {
        return Some(s);
    }
    let text = std::fs::read_to_string(".dev.vars").ok()?;
    text.lines().find_map(|l| {
        let v = l.strip_prefix("JWT_SECRET=")?;
        Some(v.trim().trim_matches('"').to_string())
    })
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 3 {
        eprintln!("usage: token <tenant> <user> <admin|broker|viewer> [ttl_seconds]");
        std::process::exit(2);
    }
    let ttl = args
        .get(3)
        .and_then(|s| s.parse().ok())
        .unwrap_or(7 * 24 * 3600);
    let Some(secret) = secret() else {
        eprintln!("no JWT_SECRET in the environment or .dev.vars (run `make dev` once)");
        std::process::exit(1);
    };
    let token = pulse::domain::auth::mint_hs256(
        secret.as_bytes(),
        &args[1],
        &args[0],
        &args[2],
        Utc::now(),
        ttl,
    );
    println!("{token}");
}
