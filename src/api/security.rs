//! `/api/security/blocked-ips` (admin): the tenant's IP blocklist. Every request
//! attributable to the tenant from a listed IP gets 403.

use crate::domain::error::{ApiError, ApiResult};
use crate::domain::inputs::{self, BlockIp};
use crate::store::{self, oi, ot, t};
use crate::web::ctx::Ctx;
use crate::web::guard;
use crate::web::respond::json;
use serde::{Deserialize, Serialize};
use serde_json::json;
use worker::Response;

#[derive(Serialize, Deserialize)]
struct Blocked {
    ip: String,
    reason: Option<String>,
    created_by: String,
    created_at: String,
    expires_ms: Option<i64>,
}

/// Canonical text of an IP address, or None.
pub fn canonical_ip(s: &str) -> Option<String> {
    crate::domain::schema::canonical_ip(s)
}

pub async fn list(cx: Ctx) -> ApiResult<Response> {
    let who = cx.who()?;
    let db = cx.db()?;
    let rows: Vec<Blocked> = store::all(store::query(
        &db,
        "SELECT ip, reason, created_by, created_at, expires_ms FROM blocked_ips
         WHERE tenant_id = :tenant ORDER BY created_at DESC LIMIT 1000",
        &[("tenant", t(&who.tenant_id))],
    )?)
    .await?;
    json(200, &json!({"data": rows, "next_cursor": null}))
}

pub async fn create(mut cx: Ctx) -> ApiResult<Response> {
    let who = cx.who()?;
    let input = cx.json().await?;
    let BlockIp {
        ip,
        reason,
        ttl_seconds: ttl,
    } = inputs::validate_block_ip(&input)?;
    if guard::client_ip(&cx.req)
        .as_deref()
        .and_then(canonical_ip)
        .as_deref()
        == Some(ip.as_str())
    {
        return Err(ApiError::new(
            409,
            "conflict",
            "you cannot block your own address",
        ));
    }
    let now = cx.now_ms();
    let expires = ttl.map(|s| now + s * 1000);
    let db = cx.db()?;
    store::run(store::insert_then(
        &db,
        "blocked_ips",
        &[
            ("tenant_id", t(&who.tenant_id)),
            ("ip", t(&ip)),
            ("reason", ot(reason.as_deref())),
            ("created_by", t(&who.user_id)),
            ("created_at", t(&crate::platform::iso(now))),
            ("expires_ms", oi(expires)),
        ],
        "ON CONFLICT (tenant_id, ip) DO UPDATE SET reason = excluded.reason,
           created_by = excluded.created_by, created_at = excluded.created_at,
           expires_ms = excluded.expires_ms",
        &[],
    )?)
    .await?;
    guard::forget(&who.tenant_id);
    json(
        201,
        &json!({"ip": ip, "reason": reason, "created_by": who.user_id,
                      "expires_ms": expires}),
    )
}

pub async fn delete(cx: Ctx) -> ApiResult<Response> {
    let ip = cx.param(0).to_string();
    let who = cx.who()?;
    let decoded = ip.replace("%3A", ":").replace("%3a", ":");
    let ip = canonical_ip(&decoded).ok_or_else(|| ApiError::not_found("blocked ip"))?;
    let db = cx.db()?;
    let r = store::run(store::query(
        &db,
        "DELETE FROM blocked_ips WHERE tenant_id = :tenant AND ip = :ip",
        &[("tenant", t(&who.tenant_id)), ("ip", t(&ip))],
    )?)
    .await?;
    if store::changes(&r) == 0 {
        return Err(ApiError::not_found("blocked ip"));
    }
    guard::forget(&who.tenant_id);
    Ok(Response::empty()?.with_status(204))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ips() {
        assert_eq!(
            canonical_ip(" 203.0.113.7 ").as_deref(),
            Some("203.0.113.7")
        );
        assert_eq!(canonical_ip("2001:DB8::1").as_deref(), Some("2001:db8::1"));
        assert_eq!(canonical_ip("300.1.1.1"), None);
        assert_eq!(canonical_ip("evil.example"), None);
    }
}
