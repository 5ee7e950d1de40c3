//! Login, refresh and logout rules: request validation, access-token minting, the refresh
//! token format and rotation decision, and the failed-login rate-limit window math.

use super::auth::valid_tenant_id;
use super::error::{ApiError, ApiResult};
use super::schema::{self, req, Kind, Pattern, Shape};
use chrono::{DateTime, Utc};
use serde_json::Value;

/// Access tokens live 15 minutes.
pub const ACCESS_TTL_SECONDS: i64 = 15 * 60;
/// Each refresh token lives 30 days from its issue (a refresh issues a fresh one).
pub const REFRESH_TTL_MS: i64 = 30 * 24 * 3600 * 1000;

/// Failed logins: per (tenant, email) 5 and per client IP 20 (across all accounts of all
/// tenants) in a 15-minute window; env `LOGIN_ACCOUNT_LIMIT` and `LOGIN_IP_LIMIT` override
/// the limits.
pub const WINDOW_MS: i64 = 15 * 60 * 1000;
pub const ACCOUNT_LIMIT: i64 = 5;
pub const IP_LIMIT: i64 = 20;
/// The tenant column value of per-IP counters (not a valid tenant id, so never a tenant).
pub const GLOBAL_TENANT: &str = "*";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginInput {
    pub tenant: String,
    pub email: String,
    pub password: String,
}

/// A tenant id as a login names it.
pub const TENANT: Pattern = Pattern {
    test: valid_tenant_id,
    regex: "^[A-Za-z0-9_-]{1,64}$",
    max_len: None,
    problem: "must be a tenant id (letters, digits, '-', '_')",
    example: "demo",
};

/// `POST /api/auth/login`.
pub const LOGIN: Shape = Shape::create(
    "LoginInput",
    &[
        req("tenant", Kind::Pattern(&TENANT)),
        req("email", Kind::Str(1, 254)),
        req("password", Kind::Str(1, super::password::MAX_LEN)),
    ],
    &[],
);

/// `POST /api/auth/refresh` and `POST /api/auth/logout`.
pub const REFRESH: Shape = Shape::create(
    "RefreshInput",
    &[req("refresh_token", Kind::Str(1, 512))],
    &[],
);

/// `{"email","password","tenant"}`, all required strings. Email is matched lower-cased.
pub fn validate_login(body: &Value) -> ApiResult<LoginInput> {
    let v = schema::validate(&LOGIN, body)?;
    match (v.str("tenant"), v.str("email"), v.str("password")) {
        (Some(tenant), Some(email), Some(password)) => Ok(LoginInput {
            tenant,
            email: email.trim().to_ascii_lowercase(),
            password,
        }),
        _ => Err(ApiError::internal()),
    }
}

/// `{"refresh_token": "..."}` → the token string.
pub fn validate_refresh_body(body: &Value) -> ApiResult<String> {
    schema::validate(&REFRESH, body)?
        .str("refresh_token")
        .ok_or_else(ApiError::internal)
}

/// An HS256 access token with the contract's claims (and `iss`/`aud` when configured, so
/// the tokens we mint pass our own verifier).
pub fn mint_access(
    secret: &[u8],
    sub: &str,
    tid: &str,
    role: &str,
    iss: Option<&str>,
    aud: Option<&str>,
    now: DateTime<Utc>,
) -> ApiResult<String> {
    let claims = super::auth::claims(sub, tid, role, iss, aud, now, ACCESS_TTL_SECONDS);
    Ok(super::jwt::mint_hs256(secret, &claims))
}

/// Refresh tokens are `<tenant>.<64 hex>`: the tenant scopes the lookup, the hex is the
/// secret (256 bits from the CSPRNG), stored only as its SHA-256.
pub fn refresh_token(tenant: &str, secret_hex: &str) -> String {
    format!("{tenant}.{secret_hex}")
}

/// Splits a presented refresh token into (tenant, secret); `None` if it cannot be ours.
pub fn parse_refresh_token(token: &str) -> Option<(&str, &str)> {
    let (tenant, secret) = token.split_once('.')?;
    (valid_tenant_id(tenant) && secret.len() == 64 && secret.bytes().all(|b| b.is_ascii_hexdigit()))
        .then_some((tenant, secret))
}

/// The stored state of a refresh token that matters for a refresh.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshState {
    pub expires_ms: i64,
    pub used: bool,
    pub revoked: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshDecision {
    /// Issue a successor in the same family and mark this one used.
    Rotate,
    /// Already rotated: someone replays an old token. Revoke the whole family.
    Reused,
    /// Logged out, revoked by reuse detection, or expired: refuse, change nothing.
    Refuse,
}

pub fn decide_refresh(state: Option<&RefreshState>, now_ms: i64) -> RefreshDecision {
    match state {
        None => RefreshDecision::Refuse,
        Some(s) if s.revoked => RefreshDecision::Refuse,
        Some(s) if s.used => RefreshDecision::Reused,
        Some(s) if s.expires_ms <= now_ms => RefreshDecision::Refuse,
        Some(_) => RefreshDecision::Rotate,
    }
}

/// A failed-login counter: failures since `window_start_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
pub struct Bucket {
    pub window_start_ms: i64,
    pub failures: i64,
}

/// `Err(retry_after_seconds)` when the counter has reached `limit` in its current window.
pub fn check_bucket(b: Option<Bucket>, limit: i64, now_ms: i64) -> Result<(), u32> {
    match b {
        Some(b) if now_ms - b.window_start_ms < WINDOW_MS && b.failures >= limit => {
            let left_ms = b.window_start_ms + WINDOW_MS - now_ms;
            Err(((left_ms + 999) / 1000).clamp(1, WINDOW_MS / 1000) as u32)
        }
        _ => Ok(()),
    }
}

/// The counter after one more failure (a new window starts once the old one is over).
pub fn after_failure(b: Option<Bucket>, now_ms: i64) -> Bucket {
    match b {
        Some(b) if now_ms - b.window_start_ms < WINDOW_MS => Bucket {
            window_start_ms: b.window_start_ms,
            failures: b.failures + 1,
        },
        _ => Bucket {
            window_start_ms: now_ms,
            failures: 1,
        },
    }
}

/// An attempt's reservation: the counter with this attempt counted, or `None` when the
/// counter is full (`limit` failures in its window) and the attempt must be refused before
/// any password work. The store applies the same rule in one guarded SQL statement
/// (`api::auth::RESERVE_ATTEMPT`), so concurrent attempts cannot overshoot the limit.
pub fn reserve(b: Option<Bucket>, limit: i64, now_ms: i64) -> Option<Bucket> {
    check_bucket(b, limit, now_ms)
        .ok()
        .map(|()| after_failure(b, now_ms))
}

/// The 429 of a limited login.
pub fn rate_limited(retry_after: u32) -> ApiError {
    let mut e = ApiError::new(
        429,
        "rate_limited",
        "too many failed logins; try again later",
    );
    e.retry_after = Some(retry_after);
    e
}

/// The one answer for an unknown email, a wrong password or a user without a password.
pub fn invalid_credentials() -> ApiError {
    ApiError::new(
        401,
        "invalid_credentials",
        "email, password or tenant is wrong",
    )
}

pub fn invalid_refresh() -> ApiError {
    ApiError::new(
        401,
        "invalid_refresh_token",
        "refresh token is invalid, expired or revoked",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::auth::{at_millis, verify, AuthConfig, Role};
    use serde_json::json;

    #[test]
    fn login_body() {
        let ok = validate_login(
            &json!({"tenant": "demo", "email": " Admin@Demo.test", "password": "x"}),
        )
        .unwrap();
        assert_eq!(ok.email, "admin@demo.test");
        let e = validate_login(&json!({"email": 1, "x": true})).unwrap_err();
        assert_eq!(e.status, 422);
        let f = &e.details.unwrap()["fields"];
        assert_eq!(f["tenant"], "is required");
        assert_eq!(f["password"], "is required");
        assert_eq!(f["email"], "must be a string");
        assert!(f["x"].is_string());
        let e = validate_login(&json!({"tenant": "a/b", "email": "e", "password": "p"}));
        assert_eq!(e.unwrap_err().status, 422);
        assert_eq!(validate_login(&json!([])).unwrap_err().status, 422);
    }

    #[test]
    fn refresh_body() {
        assert_eq!(
            validate_refresh_body(&json!({"refresh_token": "t"})).unwrap(),
            "t"
        );
        for bad in [
            json!({}),
            json!({"refresh_token": 5}),
            json!({"refresh_token": ""}),
            json!("x"),
            json!({"refresh_token": "t", "more": 1}),
        ] {
            assert_eq!(
                validate_refresh_body(&bad).unwrap_err().status,
                422,
                "{bad}"
            );
        }
    }

    #[test]
    fn minted_access_token_verifies() {
        let now = at_millis(1_790_000_000_000);
        let t = mint_access(b"s3cret", "u1", "demo", "broker", None, None, now).unwrap();
        let cfg = AuthConfig {
            hs256_secret: Some(b"s3cret".to_vec()),
            ..Default::default()
        };
        let p = verify(&t, &cfg, now).unwrap();
        assert_eq!((p.user_id.as_str(), p.role), ("u1", Role::Broker));
        assert_eq!(p.exp, now.timestamp() + ACCESS_TTL_SECONDS);
        // With iss/aud configured the minted token carries them.
        let cfg = AuthConfig {
            issuer: Some("pulse".into()),
            audience: Some("app".into()),
            ..cfg
        };
        assert!(verify(&t, &cfg, now).is_err());
        let t = mint_access(
            b"s3cret",
            "u1",
            "demo",
            "admin",
            Some("pulse"),
            Some("app"),
            now,
        )
        .unwrap();
        assert!(verify(&t, &cfg, now).is_ok());
    }

    #[test]
    fn refresh_token_format() {
        let secret = "ab".repeat(32);
        let t = refresh_token("acme", &secret);
        assert_eq!(parse_refresh_token(&t), Some(("acme", secret.as_str())));
        assert_eq!(parse_refresh_token("acme.abc"), None);
        assert_eq!(parse_refresh_token(&format!("a/b.{secret}")), None);
        assert_eq!(parse_refresh_token(&secret), None);
        assert_eq!(
            parse_refresh_token(&format!("acme.{}", "zz".repeat(32))),
            None
        );
    }

    #[test]
    fn rotation_rules() {
        let live = RefreshState {
            expires_ms: 1_000,
            used: false,
            revoked: false,
        };
        assert_eq!(decide_refresh(Some(&live), 999), RefreshDecision::Rotate);
        assert_eq!(decide_refresh(Some(&live), 1_000), RefreshDecision::Refuse);
        assert_eq!(decide_refresh(None, 0), RefreshDecision::Refuse);
        let used = RefreshState {
            used: true,
            ..live.clone()
        };
        // Reuse is detected even after expiry of the used token.
        assert_eq!(decide_refresh(Some(&used), 5_000), RefreshDecision::Reused);
        let revoked = RefreshState {
            used: true,
            revoked: true,
            ..live
        };
        assert_eq!(decide_refresh(Some(&revoked), 0), RefreshDecision::Refuse);
    }

    #[test]
    fn rate_limit_window_math() {
        let t0 = 10_000_000;
        let mut b = None;
        for n in 1..=ACCOUNT_LIMIT {
            assert_eq!(check_bucket(b, ACCOUNT_LIMIT, t0 + n), Ok(()));
            b = Some(after_failure(b, t0 + n));
        }
        // The first failure opened the window at t0 + 1.
        assert_eq!(
            b,
            Some(Bucket {
                window_start_ms: t0 + 1,
                failures: ACCOUNT_LIMIT
            })
        );
        assert_eq!(check_bucket(b, ACCOUNT_LIMIT, t0 + 1), Err(900));
        assert_eq!(check_bucket(b, ACCOUNT_LIMIT, t0 + 1 + 60_500), Err(840));
        assert_eq!(
            check_bucket(b, ACCOUNT_LIMIT, t0 + 1 + WINDOW_MS - 1),
            Err(1)
        );
        assert_eq!(check_bucket(b, ACCOUNT_LIMIT, t0 + 1 + WINDOW_MS), Ok(()));
        // A failure after the window starts a new one.
        let later = t0 + 1 + WINDOW_MS;
        assert_eq!(
            after_failure(b, later),
            Bucket {
                window_start_ms: later,
                failures: 1
            }
        );
        // Reservations stop at the limit, whatever the order of concurrent attempts.
        let mut r = None;
        let granted = (0..50)
            .filter(|_| match reserve(r, ACCOUNT_LIMIT, t0) {
                Some(next) => {
                    r = Some(next);
                    true
                }
                None => false,
            })
            .count();
        assert_eq!(granted as i64, ACCOUNT_LIMIT);
        assert_eq!(
            reserve(r, ACCOUNT_LIMIT, t0 + WINDOW_MS).map(|b| b.failures),
            Some(1)
        );
        // The IP limit is separate and higher.
        assert_eq!(check_bucket(b, IP_LIMIT, t0 + 2), Ok(()));
        assert_eq!(rate_limited(7).retry_after, Some(7));
        assert_eq!(rate_limited(7).status, 429);
    }
}
