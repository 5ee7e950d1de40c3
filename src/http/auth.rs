//! Authentication and authorization at the edge: reads the bearer token (header, or
//! `?token=` on realtime routes), verifies it with keys from env, and checks the role.

use crate::domain::auth::{self, Action, AuthConfig, Principal};
use crate::domain::error::{ApiError, ApiResult};
use worker::{Env, Request};

/// Builds the trusted-key configuration from env: `JWT_SECRET` (HS256), `JWT_JWKS` (a JWKS
/// with Ed25519 keys), `JWT_ISSUER`, `JWT_AUDIENCE`.
pub fn config(env: &Env) -> AuthConfig {
    let get = |k: &str| {
        env.secret(k)
            .map(|s| s.to_string())
            .or_else(|_| env.var(k).map(|v| v.to_string()))
            .ok()
            .filter(|s| !s.is_empty())
    };
    let ed25519_keys = match get("JWT_JWKS") {
        Some(j) => auth::ed25519_keys_from_jwks(&j).unwrap_or_else(|e| {
            worker::console_error!("JWT_JWKS ignored: {e}");
            Vec::new()
        }),
        None => Vec::new(),
    };
    AuthConfig {
        hs256_secret: get("JWT_SECRET").map(String::into_bytes),
        ed25519_keys,
        issuer: get("JWT_ISSUER"),
        audience: get("JWT_AUDIENCE"),
    }
}

fn bearer(req: &Request, allow_query: bool) -> ApiResult<String> {
    if let Some(h) = req.headers().get("authorization").ok().flatten() {
        return match h
            .strip_prefix("Bearer ")
            .or_else(|| h.strip_prefix("bearer "))
        {
            Some(t) => Ok(t.trim().to_string()),
            None => Err(ApiError::unauthorized(
                "Authorization must be 'Bearer <token>'",
            )),
        };
    }
    if allow_query {
        if let Ok(url) = req.url() {
            if let Some((_, v)) = url.query_pairs().find(|(k, _)| k == "token") {
                return Ok(v.into_owned());
            }
        }
    }
    Err(ApiError::unauthorized(auth::AuthError::Missing.message()))
}

fn verify(req: &Request, env: &Env, allow_query: bool) -> ApiResult<Principal> {
    let token = bearer(req, allow_query)?;
    let now = auth::at_millis(crate::platform::now_ms());
    auth::verify(&token, &config(env), now).map_err(|e| ApiError::unauthorized(e.message()))
}

/// Verifies the caller and checks that their role allows `action`.
pub fn require(req: &Request, env: &Env, action: Action) -> ApiResult<Principal> {
    let who = verify(req, env, false)?;
    allow(&who, action)?;
    Ok(who)
}

/// Realtime routes also take `?token=` (browsers cannot set headers on WS/SSE).
pub fn require_realtime(req: &Request, env: &Env) -> ApiResult<Principal> {
    verify(req, env, true)
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
