//! `Idempotency-Key` on POST: the first response per (tenant, key) is stored and replayed
//! to retries, so a retried request never writes twice. Keys live at least 24 h.

use super::auth;
use crate::domain::auth::Action;
use crate::domain::error::{ApiError, ApiResult};
use crate::store::{self, i, ot, t};
use serde::Deserialize;
use serde_json::{Map, Value};
use worker::{Env, Headers, Request, Response};

/// Headers a replay repeats (the body and status always are).
const KEPT_HEADERS: &[&str] = &["content-type", "location", "pulse-job-id", "retry-after"];
pub const TTL_MS: i64 = 24 * 3600 * 1000;

pub fn valid_key(k: &str) -> bool {
    !k.is_empty() && k.len() <= 255 && k.bytes().all(|b| (0x21..=0x7e).contains(&b))
}

pub enum Begin {
    /// No key on this request: handle it normally.
    None,
    /// The key was seen with the same request: this is the stored response.
    Replay(Response),
    /// First use: handle the request, then `finish` with its response.
    Proceed(Guard),
}

pub struct Guard {
    tenant: String,
    key: String,
}

#[derive(Deserialize)]
struct Row {
    request_hash: String,
    state: String,
    status: Option<f64>,
    body: Option<String>,
    headers: Option<String>,
}

pub async fn begin(req: &Request, env: &Env) -> ApiResult<Begin> {
    let Some(key) = req.headers().get("idempotency-key").ok().flatten() else {
        return Ok(Begin::None);
    };
    // Token endpoints are never replayed (a stored answer would hold live credentials), and
    // public scans have no tenant-scoped caller to key on.
    if req.path().starts_with("/api/auth/") || req.path().ends_with("/scan") {
        return Ok(Begin::None);
    }
    if !valid_key(&key) {
        return Err(ApiError::bad_request(
            "Idempotency-Key must be 1-255 visible ASCII characters",
        ));
    }
    // Keys are scoped to the tenant, so the caller must be known first.
    let who = auth::require(req, env, Action::Read)?;
    let body = req
        .clone()?
        .bytes()
        .await
        .map_err(|_| ApiError::bad_request("could not read the request body"))?;
    let mut material = req.path().into_bytes();
    material.push(0);
    material.extend_from_slice(&body);
    let hash = crate::domain::password::sha256_hex(&material);
    let db = store::db(env)?;
    let now = crate::platform::now_ms();
    let existing: Option<Row> = store::first(store::stmt(
        &db,
        "SELECT request_hash, state, status, body, headers FROM idempotency
         WHERE tenant_id = ?1 AND key = ?2 AND created_ms >= ?3",
        &[t(&who.tenant_id), t(&key), i(now - TTL_MS)],
    )?)
    .await?;
    if let Some(row) = existing {
        if row.request_hash != hash {
            return Err(ApiError::new(
                422,
                "idempotency_key_reused",
                "this Idempotency-Key was used with a different request",
            ));
        }
        if row.state != "done" {
            let mut e = ApiError::new(
                409,
                "request_in_progress",
                "the first request with this key is still running",
            );
            e.retry_after = Some(1);
            return Err(e);
        }
        return Ok(Begin::Replay(replay(&row)?));
    }
    // Claim the key (an expired row of the same key is replaced).
    let claimed = store::run(store::stmt(
        &db,
        "INSERT INTO idempotency (tenant_id, key, request_hash, state, created_ms)
         VALUES (?1, ?2, ?3, 'pending', ?4)
         ON CONFLICT (tenant_id, key) DO UPDATE SET request_hash = excluded.request_hash,
           state = 'pending', status = NULL, body = NULL, headers = NULL, created_ms = excluded.created_ms
         WHERE idempotency.created_ms < ?5",
        &[t(&who.tenant_id), t(&key), t(&hash), i(now), i(now - TTL_MS)],
    )?)
    .await?;
    if store::changes(&claimed) == 0 {
        let mut e = ApiError::new(
            409,
            "request_in_progress",
            "a request with this key is running",
        );
        e.retry_after = Some(1);
        return Err(e);
    }
    Ok(Begin::Proceed(Guard {
        tenant: who.tenant_id,
        key,
    }))
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
    let status = row.status.unwrap_or(200.0) as u16;
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
            if let Ok(s) = store::stmt(
                &db,
                "DELETE FROM idempotency WHERE tenant_id = ?1 AND key = ?2 AND state = 'pending'",
                &[t(&self.tenant), t(&self.key)],
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
        if let Ok(s) = store::stmt(
            &db,
            "UPDATE idempotency SET state = 'done', status = ?3, body = ?4, headers = ?5
             WHERE tenant_id = ?1 AND key = ?2",
            &[
                t(&self.tenant),
                t(&self.key),
                i(i64::from(status)),
                ot(Some(&body)),
                t(&headers_json),
            ],
        ) {
            if let Err(e) = store::run(s).await {
                worker::console_error!("idempotency: response not stored: {}", e.message);
            }
        }
        // The original body was consumed: answer with the same status, headers and body.
        let row = Row {
            request_hash: String::new(),
            state: "done".into(),
            status: Some(f64::from(status)),
            body: Some(body),
            headers: Some(headers_json),
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
    let r = store::run(store::stmt(
        &db,
        "DELETE FROM idempotency WHERE created_ms < ?1",
        &[i(crate::platform::now_ms() - TTL_MS)],
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
}
