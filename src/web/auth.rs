//! Authentication and authorization at the edge: the one reader of the bearer token (header,
//! or `?token=` on streaming routes), verified once per request, and the role check.

use super::routes::{self, Match, Route};
use crate::domain::auth::{self, Action, AuthError, Principal};
use crate::domain::error::{ApiError, ApiResult};
use sha2::{Digest, Sha256};
use std::cell::RefCell;
use worker::{Env, Request};

/// Streaming routes take the token as `?token=` (browsers cannot set headers on WebSocket
/// or EventSource); every other route only reads the `Authorization` header.
pub fn query_token_allowed(method: &str, path: &str) -> bool {
    matches!(
        routes::find(method, path),
        Match::Found(Route::RealtimeWs | Route::RealtimeStream | Route::RoomWs, _)
    )
}

/// The request's bearer token: `Ok(None)` when it carries none, `Err` when the
/// `Authorization` header is not a bearer token.
pub fn token(req: &Request) -> ApiResult<Option<String>> {
    if let Some(h) = req.headers().get("authorization").ok().flatten() {
        return match auth::bearer_token(&h) {
            Some(t) => Ok(Some(t.to_string())),
            None => Err(ApiError::unauthorized(
                "Authorization must be 'Bearer <token>'",
            )),
        };
    }
    if query_token_allowed(req.method().as_ref(), &req.path()) {
        if let Some(v) = crate::domain::query::get(&req.inner().url(), "token") {
            return Ok(Some(v));
        }
    }
    Ok(None)
}

/// How long a verification result is reused: it spans the guard and the handler of one
/// request, not sessions.
const MEMO_MS: i64 = 2_000;
const MEMO_MAX: usize = 64;

type Memo = Vec<([u8; 32], i64, Result<Principal, AuthError>)>;

thread_local! {
    /// SHA-256 of the token -> (verified at ms, outcome). Keyed by a digest so that the
    /// lookup compares no token bytes.
    static VERIFIED: RefCell<Memo> = const { RefCell::new(Vec::new()) };
}

fn verify_memo(token: &str, env: &Env) -> Result<Principal, AuthError> {
    let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
    let now = crate::platform::now_ms();
    let hit = VERIFIED.with(|m| {
        m.borrow()
            .iter()
            .find(|(d, at, _)| *d == digest && now - at < MEMO_MS && now >= *at)
            .map(|(_, _, r)| r.clone())
    });
    if let Some(r) = hit {
        return r;
    }
    let r = auth::verify(token, &crate::config::get(env).auth, auth::at_millis(now));
    VERIFIED.with(|m| {
        let mut m = m.borrow_mut();
        m.retain(|(d, at, _)| *d != digest && now - at < MEMO_MS);
        if m.len() >= MEMO_MAX {
            let _ = m.remove(0);
        }
        m.push((digest, now, r.clone()));
    });
    r
}

/// The verified caller: 401 without a valid token.
pub fn principal(req: &Request, env: &Env) -> ApiResult<Principal> {
    let token = token(req)?.ok_or_else(|| ApiError::unauthorized(AuthError::Missing.message()))?;
    let who = verify_memo(&token, env).map_err(|e| ApiError::unauthorized(e.message()))?;
    super::observe::note_caller(&who.tenant_id, &who.user_id);
    Ok(who)
}

/// Verifies the caller and checks that their role allows `action`.
pub fn require(req: &Request, env: &Env, action: Action) -> ApiResult<Principal> {
    let who = principal(req, env)?;
    allow(&who, action)?;
    Ok(who)
}

/// Streaming routes: any verified caller (channel rules apply in the hub); `?token=` is
/// accepted on these routes by `token`.
pub fn require_realtime(req: &Request, env: &Env) -> ApiResult<Principal> {
    principal(req, env)
}

pub fn allow(who: &Principal, action: Action) -> ApiResult<()> {
    if who.role.allows(action) {
        Ok(())
    } else {
        Err(ApiError::forbidden(format!(
            "role '{}' may not do this",
            who.role.as_str()
        )))
    }
}
