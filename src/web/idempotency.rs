//! `Idempotency-Key` on POST: the first response per (tenant, caller, route, key) is stored
//! and replayed to that caller's retries, so a retried request never writes twice. Keys live
//! at least 24 h; a key whose first request died is free again after a minute.

use super::body;
use crate::domain::auth::Principal;
use crate::domain::error::{ApiError, ApiResult};
use crate::domain::status::IdempotencyState;
use crate::store::{self, i, ot, st, t};
use serde::Deserialize;
use serde_json::{Map, Value};
use worker::{Env, Headers, Request, Response};

/// Headers a replay repeats (the body and status always are).
const KEPT_HEADERS: &[&str] = &["content-type", "location", "pulse-job-id", "retry-after"];
pub const TTL_MS: i64 = 24 * 3600 * 1000;
/// A claim still pending after this long belongs to a request that died: it may be re-claimed.
pub const STALE_PENDING_MS: i64 = 60 * 1000;

pub fn valid_key(k: &str) -> bool {
    crate::domain::ids::valid_idempotency_key(k)
}

/// The stored key: the client's key scoped to the caller (user and role, as the access rule
/// authorized them) and the route. A replay therefore only ever answers the caller whose own
/// request was authorized and produced it; anyone else runs the route's checks.
fn scoped_key(user: &str, role: &str, method: &str, path: &str, key: &str) -> String {
    format!("{user} {role} {method} {path} {key}")
}

pub enum Begin {
    /// No key on this request: handle it normally.
    None(Request),
    /// The key was seen with the same request: this is the stored response.
    Replay(Response),
    /// First use: handle this request (the body already read, size-checked), then `finish`
    /// with its response.
    Proceed(Guard, Request),
}

pub struct Guard {
    tenant: String,
    key: String,
    /// `created_ms` of this request's claim: only the claim's owner stores or releases it.
    claimed_ms: i64,
}

#[derive(Deserialize)]
struct Row {
    request_hash: String,
    state: IdempotencyState,
    /// The stored answer's HTTP status.
    status: Option<i64>,
    body: Option<String>,
    headers: Option<String>,
    created_ms: i64,
}

/// What a request with a key does, given the stored row of that key.
#[derive(Debug, PartialEq, Eq)]
enum Seen {
    Claim,
    Replay,
    Reused,
    InProgress,
}

fn decide(row: Option<(&str, IdempotencyState, i64)>, hash: &str, now: i64) -> Seen {
    use IdempotencyState::{Done, Pending};
    match row {
        None => Seen::Claim,
        Some((_, _, created)) if created < now - TTL_MS => Seen::Claim,
        Some((_, Pending, created)) if created < now - STALE_PENDING_MS => Seen::Claim,
        Some((h, _, _)) if h != hash => Seen::Reused,
        Some((_, Pending, _)) => Seen::InProgress,
        Some((_, Done, _)) => Seen::Replay,
    }
}

fn in_progress() -> ApiError {
    let mut e = ApiError::new(
        409,
        "request_in_progress",
        "the first request with this key is still running",
    );
    e.retry_after = Some(1);
    e
}

/// `caller`: the verified caller the route's access rule admitted. Public routes have none,
/// so they are never replayed (no caller to scope a key to, and token answers would hold
/// live credentials). `body_limit`: the route's largest body (413 past it).
pub async fn begin(
    mut req: Request,
    env: &Env,
    caller: Option<&Principal>,
    body_limit: usize,
) -> ApiResult<Begin> {
    let Some(key) = req.headers().get("idempotency-key").ok().flatten() else {
        return Ok(Begin::None(req));
    };
    let Some(who) = caller else {
        return Ok(Begin::None(req));
    };
    if !valid_key(&key) {
        return Err(ApiError::bad_request(
            "Idempotency-Key must be 1-255 visible ASCII characters",
        ));
    }
    let path = req.path();
    let key = scoped_key(
        &who.user_id,
        who.role.as_str(),
        req.method().as_ref(),
        &path,
        &key,
    );
    // Read once, as it streams in (never a tee of an unbounded body); the handler gets a
    // copy of the request carrying these bytes.
    let body = body::read_limited(&mut req, body_limit).await?;
    let mut material = path.as_bytes().to_vec();
    material.push(0);
    material.extend_from_slice(&body);
    let hash = crate::domain::password::sha256_hex(&material);
    let db = store::db(env)?;
    let now = crate::platform::now_ms();
    let existing: Option<Row> = store::first(store::query(
        &db,
        "SELECT request_hash, state, status, body, headers, created_ms FROM idempotency
         WHERE tenant_id = :tenant AND key = :key",
        &[("tenant", t(&who.tenant_id)), ("key", t(&key))],
    )?)
    .await?;
    let seen = decide(
        existing
            .as_ref()
            .map(|r| (r.request_hash.as_str(), r.state, r.created_ms)),
        &hash,
        now,
    );
    match (seen, existing) {
        (Seen::Reused, _) => {
            return Err(ApiError::new(
                422,
                "idempotency_key_reused",
                "this Idempotency-Key was used with a different request",
            ))
        }
        (Seen::InProgress, _) => return Err(in_progress()),
        (Seen::Replay, Some(row)) => return Ok(Begin::Replay(replay(&row)?)),
        _ => {}
    }
    // Claim the key: a free key, an expired one, or one whose first request died.
    let claimed = store::run(store::insert_then(
        &db,
        "idempotency",
        &[
            ("tenant_id", t(&who.tenant_id)),
            ("key", t(&key)),
            ("request_hash", t(&hash)),
            ("state", st(IdempotencyState::Pending)),
            ("created_ms", i(now)),
        ],
        "ON CONFLICT (tenant_id, key) DO UPDATE SET request_hash = excluded.request_hash,
           state = excluded.state, status = NULL, body = NULL, headers = NULL,
           created_ms = excluded.created_ms
         WHERE idempotency.created_ms < :expired
            OR (idempotency.state = :pending AND idempotency.created_ms < :stale)",
        &[
            ("expired", i(now - TTL_MS)),
            ("pending", st(IdempotencyState::Pending)),
            ("stale", i(now - STALE_PENDING_MS)),
        ],
    )?)
    .await?;
    if store::changes(&claimed) == 0 {
        return Err(in_progress());
    }
    let guard = Guard {
        tenant: who.tenant_id.clone(),
        key,
        claimed_ms: now,
    };
    Ok(Begin::Proceed(guard, with_body(&req, &body)?))
}

/// The same request (URL, method, headers) with its already-read body.
fn with_body(req: &Request, body: &[u8]) -> ApiResult<Request> {
    let headers = req.headers().clone();
    // The new body has a known length; the original framing does not apply to it.
    headers.delete("transfer-encoding")?;
    headers.delete("content-length")?;
    let bytes: Option<wasm_bindgen::JsValue> =
        (!body.is_empty()).then(|| worker::js_sys::Uint8Array::from(body).into());
    Ok(crate::platform::request(
        &req.inner().url(),
        &req.inner().method(),
        &headers,
        bytes.as_ref(),
    )?)
}

fn replay(row: &Row) -> ApiResult<Response> {
    let headers = Headers::new();
    if let Some(Value::Object(m)) = row
        .headers
        .as_deref()
        .and_then(|h| serde_json::from_str(h).ok())
    {
        for (k, v) in m {
            if let Some(v) = v.as_str() {
                headers.set(&k, v)?;
            }
        }
    }
    headers.set("idempotent-replayed", "true")?;
    let status = row
        .status
        .and_then(|s| u16::try_from(s).ok())
        .unwrap_or(200);
    let resp = match row.body.as_deref() {
        Some(b) if !b.is_empty() => Response::ok(b)?,
        _ => Response::empty()?,
    };
    Ok(resp.with_status(status).with_headers(headers))
}

impl Guard {
    /// Stores the response for replays (a 5xx releases the key so a retry runs again).
    pub async fn finish(self, env: &Env, mut resp: Response) -> Response {
        let status = resp.status_code();
        let Ok(db) = store::db(env) else { return resp };
        if status >= 500 {
            if let Ok(s) = store::query(
                &db,
                "DELETE FROM idempotency WHERE tenant_id = :tenant AND key = :key
                   AND state = :pending AND created_ms = :claimed",
                &[
                    ("tenant", t(&self.tenant)),
                    ("key", t(&self.key)),
                    ("pending", st(IdempotencyState::Pending)),
                    ("claimed", i(self.claimed_ms)),
                ],
            ) {
                let _ = store::run(s).await;
            }
            return resp;
        }
        let body = resp.text().await.unwrap_or_default();
        let mut kept = Map::new();
        for h in KEPT_HEADERS {
            if let Some(v) = resp.headers().get(h).ok().flatten() {
                kept.insert(h.to_string(), Value::String(v));
            }
        }
        let headers_json = Value::Object(kept.clone()).to_string();
        if let Ok(s) = store::update(
            &db,
            "idempotency",
            &[
                ("state", st(IdempotencyState::Done)),
                ("status", i(i64::from(status))),
                ("body", ot(Some(&body))),
                ("headers", t(&headers_json)),
            ],
            "WHERE tenant_id = :tenant AND key = :key AND state = :pending
               AND created_ms = :claimed",
            &[
                ("tenant", t(&self.tenant)),
                ("key", t(&self.key)),
                ("pending", st(IdempotencyState::Pending)),
                ("claimed", i(self.claimed_ms)),
            ],
        ) {
            if let Err(e) = store::run(s).await {
                worker::console_error!("idempotency: response not stored: {}", e.message);
            }
        }
        // The original body was consumed: answer with the same status, headers and body.
        let row = Row {
            request_hash: String::new(),
            state: IdempotencyState::Done,
            status: Some(i64::from(status)),
            body: Some(body),
            headers: Some(headers_json),
            created_ms: self.claimed_ms,
        };
        match replay(&row) {
            Ok(r) => {
                let _ = r.headers().delete("idempotent-replayed");
                r
            }
            Err(e) => super::error::to_response(&e),
        }
    }
}

/// Cron: forgets keys older than the TTL. Returns how many were removed.
pub async fn cleanup(env: &Env) -> ApiResult<usize> {
    let db = store::db(env)?;
    let r = store::run(store::query(
        &db,
        "DELETE FROM idempotency WHERE created_ms < :expired",
        &[("expired", i(crate::platform::now_ms() - TTL_MS))],
    )?)
    .await?;
    Ok(store::changes(&r))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys() {
        assert!(valid_key("3f2b-91aa"));
        assert!(!valid_key(""));
        assert!(!valid_key("has space"));
        assert!(!valid_key(&"k".repeat(256)));
    }

    #[test]
    fn scoped_keys_differ_by_caller_role_and_route() {
        let base = scoped_key("u1", "admin", "POST", "/api/users", "k");
        assert_ne!(base, scoped_key("u2", "admin", "POST", "/api/users", "k"));
        assert_ne!(base, scoped_key("u1", "viewer", "POST", "/api/users", "k"));
        assert_ne!(base, scoped_key("u1", "admin", "POST", "/api/owners", "k"));
        assert_eq!(base, scoped_key("u1", "admin", "POST", "/api/users", "k"));
    }

    #[test]
    fn decisions() {
        use IdempotencyState::{Done, Pending};
        let now = 100 * TTL_MS;
        assert_eq!(decide(None, "h", now), Seen::Claim);
        assert_eq!(decide(Some(("h", Done, now - 5)), "h", now), Seen::Replay);
        assert_eq!(decide(Some(("h", Done, now - 5)), "x", now), Seen::Reused);
        assert_eq!(
            decide(Some(("h", Pending, now - 5)), "h", now),
            Seen::InProgress
        );
        assert_eq!(
            decide(Some(("h", Pending, now - 5)), "x", now),
            Seen::Reused
        );
        // A pending claim older than a minute belongs to a request that died.
        let stale = now - STALE_PENDING_MS - 1;
        assert_eq!(decide(Some(("h", Pending, stale)), "h", now), Seen::Claim);
        assert_eq!(decide(Some(("h", Done, stale)), "h", now), Seen::Replay);
        // Expired keys are free whatever they held.
        let old = now - TTL_MS - 1;
        assert_eq!(decide(Some(("h", Done, old)), "x", now), Seen::Claim);
    }
}
