//! Request guards that run before routing: the per-caller rate limit (seed 000's
//! `apiLimiter`, a Workers rate-limiting binding) and the tenant's IP blocklist
//! (`checkBlockedIP`), with the blocklist cached per isolate for a few seconds.

use crate::domain::auth::{self, Principal};
use crate::domain::error::{ApiError, ApiResult};
use crate::store::{self, i, t};
use serde::Deserialize;
use std::cell::RefCell;
use std::collections::HashMap;
use worker::{Env, Request};

/// Seconds a limited caller is told to wait (the limiter's period).
const RETRY_AFTER: u32 = 60;

thread_local! {
    /// tenant -> (fetched at ms, blocked IPs)
    static BLOCKLIST: RefCell<HashMap<String, (i64, Vec<String>)>> = RefCell::new(HashMap::new());
}

pub fn client_ip(req: &Request) -> Option<String> {
    req.headers().get("cf-connecting-ip").ok().flatten()
}

/// The caller's verified identity, if the request carries a valid token (header, or
/// `?token=` on realtime routes); the handlers verify again and answer 401 themselves.
fn caller(req: &Request, env: &Env) -> Option<Principal> {
    let token = req
        .headers()
        .get("authorization")
        .ok()
        .flatten()
        .and_then(|h| h.strip_prefix("Bearer ").map(str::to_string))
        .or_else(|| {
            req.url()
                .ok()?
                .query_pairs()
                .find(|(k, _)| k == "token")
                .map(|(_, v)| v.into_owned())
        })?;
    let now = auth::at_millis(crate::platform::now_ms());
    auth::verify(&token, &super::auth::config(env), now).ok()
}

pub async fn check(req: &Request, env: &Env) -> ApiResult<()> {
    let ip = client_ip(req);
    let who = caller(req, env);
    // Rate limit: per verified user, else per IP.
    let key = match (&who, &ip) {
        (Some(w), _) => format!("u:{}:{}", w.tenant_id, w.user_id),
        (None, Some(ip)) => format!("ip:{ip}"),
        (None, None) => "ip:unknown".to_string(),
    };
    if let Ok(limiter) = env.rate_limiter("API_LIMITER") {
        match limiter.limit(key).await {
            Ok(outcome) if !outcome.success => {
                let mut e = ApiError::new(429, "rate_limited", "too many requests; retry later");
                e.retry_after = Some(RETRY_AFTER);
                return Err(e);
            }
            Ok(_) => {}
            Err(e) => worker::console_error!("rate limiter unavailable: {e}"),
        }
    }
    if let (Some(w), Some(ip)) = (&who, &ip) {
        if blocked(env, &w.tenant_id, ip).await? {
            return Err(ApiError::new(
                403,
                "ip_blocked",
                "requests from this address are blocked",
            ));
        }
    }
    Ok(())
}

#[derive(Deserialize)]
struct IpRow {
    ip: String,
}

fn cache_ms(env: &Env) -> i64 {
    env.var("BLOCKLIST_CACHE_MS")
        .ok()
        .and_then(|v| v.to_string().parse().ok())
        .unwrap_or(10_000)
}

async fn blocked(env: &Env, tenant: &str, ip: &str) -> ApiResult<bool> {
    let now = crate::platform::now_ms();
    let ttl = cache_ms(env);
    let cached = BLOCKLIST.with(|b| {
        b.borrow()
            .get(tenant)
            .filter(|(at, _)| now - at < ttl)
            .map(|(_, ips)| ips.iter().any(|x| x == ip))
    });
    if let Some(hit) = cached {
        return Ok(hit);
    }
    let db = store::db(env)?;
    let rows: Vec<IpRow> = store::all(store::stmt(
        &db,
        "SELECT ip FROM blocked_ips WHERE tenant_id = ?1 AND (expires_ms IS NULL OR expires_ms > ?2)
         LIMIT 1000",
        &[t(tenant), i(now)],
    )?)
    .await?;
    let ips: Vec<String> = rows.into_iter().map(|r| r.ip).collect();
    let hit = ips.iter().any(|x| x == ip);
    BLOCKLIST.with(|b| b.borrow_mut().insert(tenant.to_string(), (now, ips)));
    Ok(hit)
}

/// Drops this isolate's cached list after a change (other isolates refresh within the TTL).
pub fn forget(tenant: &str) {
    BLOCKLIST.with(|b| b.borrow_mut().remove(tenant));
}
