//! Request guards that run before routing: the per-caller rate limit (a Workers
//! rate-limiting binding, asked for one request in `ratelimit::SHARE`) and the tenant's IP blocklist, which covers every request that
//! names a tenant (cached per isolate for a few seconds, for a bounded number of tenants).

use crate::domain::error::{ApiError, ApiResult};
use crate::domain::ratelimit::{Sampler, Verdict};
use crate::store::{self, i, t};
use serde::Deserialize;
use std::cell::RefCell;
use std::collections::HashMap;
use worker::{Env, Request};

/// Seconds a limited caller is told to wait (the limiter's period).
const RETRY_AFTER: u32 = 60;

/// Tenants whose blocklist an isolate keeps at most: an isolate that serves many tenants
/// must not keep every list it ever read.
pub const BLOCKLIST_TENANTS: usize = 256;

/// The blocklists read recently: tenant -> (fetched at ms, blocked IPs). An entry older
/// than the TTL is never used, and it is dropped once the cache is full; past
/// `BLOCKLIST_TENANTS` fresh entries the oldest goes (forgetting a list only means the
/// next request reads it again).
#[derive(Default)]
pub struct BlockCache {
    lists: HashMap<String, (i64, Vec<String>)>,
}

impl BlockCache {
    /// The tenant's list if it was read less than `ttl_ms` ago.
    pub fn get(&self, tenant: &str, now_ms: i64, ttl_ms: i64) -> Option<&[String]> {
        self.lists
            .get(tenant)
            .filter(|(at, _)| now_ms - at < ttl_ms)
            .map(|(_, ips)| ips.as_slice())
    }

    pub fn put(&mut self, tenant: &str, now_ms: i64, ttl_ms: i64, ips: Vec<String>) {
        if self.lists.len() >= BLOCKLIST_TENANTS && !self.lists.contains_key(tenant) {
            self.lists.retain(|_, (at, _)| now_ms - *at < ttl_ms);
            if self.lists.len() >= BLOCKLIST_TENANTS {
                let oldest = self
                    .lists
                    .iter()
                    .min_by_key(|(_, (at, _))| *at)
                    .map(|(k, _)| k.clone());
                if let Some(k) = oldest {
                    self.lists.remove(&k);
                }
            }
        }
        self.lists.insert(tenant.to_string(), (now_ms, ips));
    }

    pub fn forget(&mut self, tenant: &str) {
        self.lists.remove(tenant);
    }

    pub fn len(&self) -> usize {
        self.lists.len()
    }

    pub fn is_empty(&self) -> bool {
        self.lists.is_empty()
    }
}

thread_local! {
    static BLOCKLIST: RefCell<BlockCache> = RefCell::new(BlockCache::default());
}

pub fn client_ip(req: &Request) -> Option<String> {
    req.headers().get("cf-connecting-ip").ok().flatten()
}

/// What the guards need from a request, read before the request moves on: the limiter's
/// key and the tenant whose blocklist applies.
pub struct Gate {
    key: String,
    ip: Option<String>,
    tenant: Option<String>,
    /// A verified caller opening a stream (`ratelimit::Sampler::decide_stream`).
    stream: bool,
}

/// Reads the guards' inputs. `query_token`: whether the route reads `?token=`;
/// `path_tenant`: the tenant its path names (a public room's), for requests without a
/// caller. Logins, refreshes and public cards name theirs in the body or the stored card;
/// their handlers call `refuse_blocked`.
pub async fn gate(req: &Request, env: &Env, query_token: bool, path_tenant: Option<&str>) -> Gate {
    let ip = client_ip(req);
    // The same reader and verification the route check uses (memoized for it).
    let who = super::auth::principal(req, env, query_token).await.ok();
    // Rate limit: per verified user, else per IP.
    let key = match (&who, &ip) {
        (Some(w), _) => format!("u:{}:{}", w.tenant_id, w.user_id),
        (None, Some(ip)) => format!("ip:{ip}"),
        (None, None) => "ip:unknown".to_string(),
    };
    let path_tenant = path_tenant
        .filter(|t| crate::domain::auth::valid_tenant_id(t))
        .map(str::to_string);
    Gate {
        key,
        ip,
        stream: query_token && who.is_some(),
        tenant: who.map(|w| w.tenant_id).or(path_tenant),
    }
}

/// The rate limit (429) and the tenant's blocklist (403).
pub async fn check(gate: Gate, env: &Env) -> ApiResult<()> {
    let now = crate::platform::now_ms();
    let verdict = SAMPLER.with(|s| {
        let mut s = s.borrow_mut();
        if gate.stream {
            s.decide_stream(&gate.key, now)
        } else {
            s.decide(&gate.key, now)
        }
    });
    match verdict {
        Verdict::Admit => {}
        Verdict::Refuse => return Err(rate_limited()),
        Verdict::Ask => {
            if let Ok(limiter) = env.rate_limiter("API_LIMITER") {
                match limiter.limit(gate.key.clone()).await {
                    Ok(outcome) => {
                        SAMPLER.with(|s| s.borrow_mut().record(&gate.key, now, outcome.success));
                        if !outcome.success {
                            return Err(rate_limited());
                        }
                    }
                    Err(e) => worker::console_error!("rate limiter unavailable: {e}"),
                }
            }
        }
    }
    if let (Some(tenant), Some(ip)) = (gate.tenant, gate.ip) {
        if blocked(env, &tenant, &ip).await? {
            return Err(ip_blocked());
        }
    }
    Ok(())
}

fn rate_limited() -> ApiError {
    let mut e = ApiError::new(429, "rate_limited", "too many requests; retry later");
    e.retry_after = Some(RETRY_AFTER);
    e
}

fn ip_blocked() -> ApiError {
    ApiError::new(403, "ip_blocked", "requests from this address are blocked")
}

thread_local! {
    /// Which of this isolate's requests ask the shared limiter (`domain::ratelimit`).
    static SAMPLER: RefCell<Sampler> = RefCell::new(Sampler::default());
}

/// 403 `ip_blocked` when the client address is on `tenant`'s blocklist.
pub async fn refuse_blocked(req: &Request, env: &Env, tenant: &str) -> ApiResult<()> {
    match client_ip(req) {
        Some(ip) if blocked(env, tenant, &ip).await? => Err(ip_blocked()),
        _ => Ok(()),
    }
}

#[derive(Deserialize)]
struct IpRow {
    ip: String,
}

fn cache_ms(env: &Env) -> i64 {
    crate::config::get(env).blocklist_cache_ms
}

async fn blocked(env: &Env, tenant: &str, ip: &str) -> ApiResult<bool> {
    let now = crate::platform::now_ms();
    let ttl = cache_ms(env);
    let cached = BLOCKLIST.with(|b| {
        b.borrow()
            .get(tenant, now, ttl)
            .map(|ips| ips.iter().any(|x| x == ip))
    });
    if let Some(hit) = cached {
        return Ok(hit);
    }
    let db = store::db(env)?;
    let rows: Vec<IpRow> = store::all(store::query(
        &db,
        "SELECT ip FROM blocked_ips
         WHERE tenant_id = :tenant AND (expires_ms IS NULL OR expires_ms > :now)
         LIMIT 1000",
        &[("tenant", t(tenant)), ("now", i(now))],
    )?)
    .await?;
    let ips: Vec<String> = rows.into_iter().map(|r| r.ip).collect();
    let hit = ips.iter().any(|x| x == ip);
    BLOCKLIST.with(|b| b.borrow_mut().put(tenant, now, ttl, ips));
    Ok(hit)
}

/// Drops this isolate's cached list after a change (other isolates refresh within the TTL).
pub fn forget(tenant: &str) {
    BLOCKLIST.with(|b| b.borrow_mut().forget(tenant));
}

/// A short tag of the client address that cannot be turned back into it without the
/// server's secret: HMAC-SHA256 keyed from `VISITOR_ID_SECRET` (else `JWT_SECRET`) over
/// `purpose` and the address. Stable per address and purpose, so per-visitor limits and
/// deduplication still work. Without any secret the tag is random (per call).
pub fn ip_tag(req: &Request, env: &Env, purpose: &str) -> String {
    use hmac::{Hmac, Mac};
    use sha2::Sha256;
    let config = crate::config::get(env);
    let Some(secret) = config.visitor_id_secret.as_deref() else {
        return crate::platform::random_hex()[..16].to_string();
    };
    // A key of its own, so the tags have nothing in common with anything else the
    // secret signs.
    let mut kdf = match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(m) => m,
        Err(_) => return crate::platform::random_hex()[..16].to_string(),
    };
    kdf.update(b"pulse ip tag key v1");
    let key = kdf.finalize().into_bytes();
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&key) else {
        return crate::platform::random_hex()[..16].to_string();
    };
    let ip = client_ip(req).unwrap_or_default();
    mac.update(purpose.as_bytes());
    mac.update(b"\0");
    mac.update(ip.trim().as_bytes());
    mac.finalize().into_bytes()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ips(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("10.0.0.{i}")).collect()
    }

    #[test]
    fn blocklist_cache_expires_and_stays_bounded() {
        let mut c = BlockCache::default();
        c.put("t1", 0, 10_000, ips(2));
        assert_eq!(c.get("t1", 9_999, 10_000).map(|l| l.len()), Some(2));
        assert!(c.get("t1", 10_000, 10_000).is_none(), "past the TTL");
        c.forget("t1");
        assert!(c.is_empty());

        // Many tenants over time: never more than the bound, expired lists go first.
        for k in 0..(BLOCKLIST_TENANTS * 10) {
            c.put(&format!("t{k}"), k as i64, 10_000, ips(1));
            assert!(c.len() <= BLOCKLIST_TENANTS);
        }
        // All fresh: the oldest is the one that goes, the newest stays usable.
        let mut c = BlockCache::default();
        for k in 0..BLOCKLIST_TENANTS {
            c.put(&format!("t{k}"), k as i64, 1_000_000, ips(1));
        }
        c.put("new", 5_000, 1_000_000, ips(1));
        assert_eq!(c.len(), BLOCKLIST_TENANTS);
        assert!(
            c.get("t0", 5_000, 1_000_000).is_none(),
            "the oldest was dropped"
        );
        assert!(c.get("t1", 5_000, 1_000_000).is_some());
        assert!(c.get("new", 5_000, 1_000_000).is_some());
        // Refreshing a tenant already cached evicts nobody.
        c.put("t5", 6_000, 1_000_000, ips(3));
        assert_eq!(c.len(), BLOCKLIST_TENANTS);
        assert_eq!(c.get("t5", 6_000, 1_000_000).map(|l| l.len()), Some(3));
    }
}
