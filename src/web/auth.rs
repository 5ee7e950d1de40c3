//! Authentication and authorization at the edge: the one reader of the bearer token (header,
//! or `?token=` on streaming routes), verified once per request, and the route-level rule
//! (`Access`) the router applies before any handler runs.

use crate::domain::auth::{self, Action, AuthError, Principal};
use crate::domain::error::{ApiError, ApiResult};
use sha2::{Digest, Sha256};
use std::cell::RefCell;
use worker::{Env, Request};

/// Who may call an endpoint, checked by the router before its handler runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// No token needed (a token sent anyway is not read for the handler).
    Public,
    /// A verified bearer token (`Authorization` header) whose role allows the action.
    Role(Action),
    /// A verified token from the header or `?token=` (browsers cannot set headers on
    /// WebSocket or EventSource); channel rules apply in the hub.
    Stream,
    /// A token is optional: without one the handler gets no caller and serves only what is
    /// public; a token sent must verify (401) and its role allow the action (403).
    Optional(Action),
    /// The operator: the bearer token must be `PLATFORM_TOKEN` (401; 503 when it is not
    /// configured). No tenant caller.
    Platform,
}

impl Access {
    /// Whether `?token=` may carry the token.
    pub fn query_token(self) -> bool {
        self == Access::Stream
    }

    /// Whether a tenant caller may be behind it (idempotency keys are theirs).
    pub fn has_caller(self) -> bool {
        !matches!(self, Access::Public | Access::Platform)
    }

    /// The caller this rule admits: `None` on public routes, else the verified caller (401)
    /// whose role allows the action (403).
    pub async fn admit(self, req: &Request, env: &Env) -> ApiResult<Option<Principal>> {
        match self {
            Access::Public => Ok(None),
            Access::Stream => principal(req, env, true).await.map(Some),
            Access::Role(action) => {
                let who = principal(req, env, false).await?;
                allow(&who, action)?;
                Ok(Some(who))
            }
            Access::Platform => {
                let cfg = crate::config::get(env);
                let Some(want) = cfg.platform_token.as_deref() else {
                    return Err(ApiError::unavailable("PLATFORM_TOKEN is not configured"));
                };
                let given = token(req, false)?.unwrap_or_default();
                if !crate::domain::password::ct_eq(given.as_bytes(), want.as_bytes()) {
                    return Err(ApiError::unauthorized("a valid platform token is required"));
                }
                Ok(None)
            }
            Access::Optional(action) => {
                if token(req, false)?.is_none() {
                    return Ok(None);
                }
                let who = principal(req, env, false).await?;
                allow(&who, action)?;
                Ok(Some(who))
            }
        }
    }
}

/// The request's bearer token (the header, else `?token=` when `query_token`): `Ok(None)`
/// when it carries none, `Err` when the `Authorization` header is not a bearer token.
pub fn token(req: &Request, query_token: bool) -> ApiResult<Option<String>> {
    if let Some(h) = req.headers().get("authorization").ok().flatten() {
        return match auth::bearer_token(&h) {
            Some(t) => Ok(Some(t.to_string())),
            None => Err(ApiError::unauthorized(
                "Authorization must be 'Bearer <token>'",
            )),
        };
    }
    if query_token {
        if let Some(v) = crate::domain::query::get(&req.inner().url(), "token") {
            return Ok(Some(v));
        }
    }
    Ok(None)
}

/// How long a verification result is reused: it spans the guard and the access check of one
/// request, not sessions.
const MEMO_MS: i64 = 2_000;
const MEMO_MAX: usize = 64;

type Memo = Vec<([u8; 32], i64, Result<Principal, AuthError>)>;

thread_local! {
    /// SHA-256 of the token -> (verified at ms, outcome). Keyed by a digest so that the
    /// lookup compares no token bytes.
    static VERIFIED: RefCell<Memo> = const { RefCell::new(Vec::new()) };
}

async fn verify_memo(token: &str, env: &Env) -> Result<Principal, AuthError> {
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
    let r = crate::platform::verify_token(token, env, now).await;
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

/// The verified caller: 401 without a valid token. `query_token`: whether `?token=` may
/// carry it (streaming routes only).
pub async fn principal(req: &Request, env: &Env, query_token: bool) -> ApiResult<Principal> {
    let token = token(req, query_token)?
        .ok_or_else(|| ApiError::unauthorized(AuthError::Missing.message()))?;
    let who = verify_memo(&token, env)
        .await
        .map_err(|e| ApiError::unauthorized(e.message()))?;
    super::observe::note_caller(&who.tenant_id, &who.user_id);
    Ok(who)
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
