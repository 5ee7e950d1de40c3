//! Token verification and roles: HS256 (dev and shared-secret deployments) and EdDSA
//! (Ed25519 public keys or a JWKS, for production). Pure: the clock is a parameter, and the
//! Ed25519 signature check is the caller's (the Worker asks WebCrypto, so no curve
//! arithmetic is compiled into the Wasm; native code uses ed25519-compact).

use super::jwt;
use chrono::{DateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// An Ed25519 public key: its 32 bytes (RFC 8032).
pub type Ed25519PublicKey = [u8; 32];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Admin,
    Broker,
    Viewer,
}

impl Role {
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "admin" => Some(Role::Admin),
            "broker" => Some(Role::Broker),
            "viewer" => Some(Role::Viewer),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Broker => "broker",
            Role::Viewer => "viewer",
        }
    }
    /// viewer reads; broker reads and writes; admin also deletes, approves and reads stats.
    pub fn allows(self, action: Action) -> bool {
        match action {
            Action::Read => true,
            Action::Write => matches!(self, Role::Broker | Role::Admin),
            Action::Admin => self == Role::Admin,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Read,
    Write,
    /// delete, approve, stats, system alerts
    Admin,
}

/// Who is calling, as proven by a verified token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Principal {
    pub user_id: String,
    pub tenant_id: String,
    pub role: Role,
    /// Token expiry, seconds since the epoch.
    pub exp: i64,
}

impl Principal {
    /// The caller as the read policy sees it.
    pub fn reader(&self) -> crate::domain::policy::Reader<'_> {
        crate::domain::policy::Reader::new(&self.user_id, self.role)
    }
}

/// The contract's custom claims (`exp`/`iat` are jwt-compact's standard fields).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PulseClaims {
    pub sub: String,
    pub tid: String,
    pub role: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
}

/// Which keys are trusted. Built from env by `web::auth`.
#[derive(Default)]
pub struct AuthConfig {
    pub hs256_secret: Option<Vec<u8>>,
    /// (kid, key). A token with a `kid` must name one of these; without, any may verify it.
    pub ed25519_keys: Vec<(Option<String>, Ed25519PublicKey)>,
    pub issuer: Option<String>,
    pub audience: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthError {
    Missing,
    Malformed,
    UnsupportedAlgorithm(String),
    BadSignature,
    Expired,
    NotYetValid,
    MissingClaim(&'static str),
    InvalidClaim(&'static str),
}

impl AuthError {
    pub fn message(&self) -> String {
        match self {
            AuthError::Missing => "missing bearer token".into(),
            AuthError::Malformed => "token is not a well-formed JWT".into(),
            AuthError::UnsupportedAlgorithm(a) => format!("token algorithm '{a}' is not accepted"),
            AuthError::BadSignature => "token signature is invalid".into(),
            AuthError::Expired => "token has expired".into(),
            AuthError::NotYetValid => "token is not valid yet".into(),
            AuthError::MissingClaim(c) => format!("token lacks the '{c}' claim"),
            AuthError::InvalidClaim(c) => format!("token claim '{c}' is invalid"),
        }
    }
}

/// Tenant ids double as Durable Object names and channel parts: keep them plain.
pub fn valid_tenant_id(t: &str) -> bool {
    !t.is_empty()
        && t.len() <= 64
        && t.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

pub fn valid_user_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'@'))
}

const LEEWAY_SECONDS: i64 = 30;

/// The token of an `Authorization` header value: the scheme is matched case-insensitively
/// (RFC 7235) and whitespace around the scheme and the token is ignored. `None` when the
/// scheme is not Bearer or the credentials are not one token.
pub fn bearer_token(header: &str) -> Option<&str> {
    let h = header.trim();
    let split = h.find(|c: char| c.is_ascii_whitespace())?;
    let (scheme, rest) = h.split_at(split);
    let token = rest.trim();
    (scheme.eq_ignore_ascii_case("bearer")
        && !token.is_empty()
        && !token.contains(|c: char| c.is_ascii_whitespace()))
    .then_some(token)
}

/// A token on its way to a verified caller: decided already (HS256, or refused), or waiting
/// for the Ed25519 signature check of `Ed25519Check`.
pub enum Pending {
    Done(Result<Principal, AuthError>),
    Ed25519(Ed25519Check),
}

/// What an EdDSA token still needs: one of `keys` must verify `signature` over `message`
/// (the token's `header.payload`); then `finish` checks its claims.
pub struct Ed25519Check {
    pub message: Vec<u8>,
    pub signature: Vec<u8>,
    /// The trusted keys its `kid` allows (all of them without one).
    pub keys: Vec<Ed25519PublicKey>,
    payload: Vec<u8>,
}

impl Ed25519Check {
    /// The caller, once the signature check answered `signed`.
    pub fn finish(
        self,
        signed: bool,
        cfg: &AuthConfig,
        now: DateTime<Utc>,
    ) -> Result<Principal, AuthError> {
        if !signed {
            return Err(AuthError::BadSignature);
        }
        check_claims(&self.payload, cfg, now)
    }
}

/// Verifies `token` as far as it can without an Ed25519 check.
pub fn start(token: &str, cfg: &AuthConfig, now: DateTime<Utc>) -> Pending {
    match begin(token, cfg) {
        Ok(Begun::Claims(payload)) => Pending::Done(check_claims(&payload, cfg, now)),
        Ok(Begun::Ed25519(check)) => Pending::Ed25519(check),
        Err(e) => Pending::Done(Err(e)),
    }
}

/// `start`, then the Ed25519 check with `ed25519(key, message, signature)`.
pub fn verify_with(
    token: &str,
    cfg: &AuthConfig,
    now: DateTime<Utc>,
    ed25519: impl Fn(&Ed25519PublicKey, &[u8], &[u8]) -> bool,
) -> Result<Principal, AuthError> {
    match start(token, cfg, now) {
        Pending::Done(r) => r,
        Pending::Ed25519(c) => {
            let signed = c.keys.iter().any(|k| ed25519(k, &c.message, &c.signature));
            c.finish(signed, cfg, now)
        }
    }
}

/// `verify_with` ed25519-compact (native builds: tools and tests).
#[cfg(not(target_arch = "wasm32"))]
pub fn verify(token: &str, cfg: &AuthConfig, now: DateTime<Utc>) -> Result<Principal, AuthError> {
    verify_with(token, cfg, now, |key, message, signature| {
        let (Ok(pk), Ok(sig)) = (
            ed25519_compact::PublicKey::from_slice(key),
            ed25519_compact::Signature::from_slice(signature),
        ) else {
            return false;
        };
        pk.verify(message, &sig).is_ok()
    })
}

enum Begun {
    /// A checked HS256 token's payload.
    Claims(Vec<u8>),
    Ed25519(Ed25519Check),
}

fn begin(token: &str, cfg: &AuthConfig) -> Result<Begun, AuthError> {
    if token.is_empty() {
        return Err(AuthError::Missing);
    }
    let parts = jwt::split(token).ok_or(AuthError::Malformed)?;
    match parts.alg.as_str() {
        "HS256" => {
            let secret = cfg
                .hs256_secret
                .as_ref()
                .ok_or_else(|| AuthError::UnsupportedAlgorithm("HS256".into()))?;
            if !jwt::hs256_valid(secret, parts.message, &parts.signature) {
                return Err(AuthError::BadSignature);
            }
            Ok(Begun::Claims(parts.payload))
        }
        "EdDSA" | "Ed25519" => {
            let kid = parts.kid;
            let keys: Vec<Ed25519PublicKey> = cfg
                .ed25519_keys
                .iter()
                .filter(|(k, _)| kid.is_none() || k.is_none() || *k == kid)
                .map(|(_, key)| *key)
                .collect();
            if keys.is_empty() {
                return Err(AuthError::UnsupportedAlgorithm(parts.alg));
            }
            if parts.signature.len() != 64 {
                return Err(AuthError::BadSignature);
            }
            Ok(Begun::Ed25519(Ed25519Check {
                message: parts.message.as_bytes().to_vec(),
                signature: parts.signature,
                keys,
                payload: parts.payload,
            }))
        }
        other => Err(AuthError::UnsupportedAlgorithm(other.to_string())),
    }
}

/// The claims of a token whose signature checked: `exp` (required; expired past the
/// leeway), `nbf` (optional; not before it, with the same leeway), `iat` (required; not in
/// the future), `sub`, `tid` and `role` as the contract has them, `iss`/`aud` when
/// configured. Times are whole seconds; a claim of the wrong JSON type is a malformed token.
fn check_claims(
    payload: &[u8],
    cfg: &AuthConfig,
    now: DateTime<Utc>,
) -> Result<Principal, AuthError> {
    let c: Value = serde_json::from_slice(payload).map_err(|_| AuthError::Malformed)?;
    if !c.is_object() {
        return Err(AuthError::Malformed);
    }
    let time = |k: &str| -> Result<Option<i64>, AuthError> {
        match c.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v.as_i64().map(Some).ok_or(AuthError::Malformed),
        }
    };
    let text = |k: &str| -> Result<Option<&str>, AuthError> {
        match c.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v.as_str().map(Some).ok_or(AuthError::Malformed),
        }
    };
    let (sub, tid, role) = match (text("sub")?, text("tid")?, text("role")?) {
        (Some(s), Some(t), Some(r)) => (s, t, r),
        _ => return Err(AuthError::Malformed),
    };
    let now = now.timestamp();
    let exp = time("exp")?.ok_or(AuthError::MissingClaim("exp"))?;
    if now > exp.saturating_add(LEEWAY_SECONDS) {
        return Err(AuthError::Expired);
    }
    if time("nbf")?.is_some_and(|nbf| nbf > now + LEEWAY_SECONDS) {
        return Err(AuthError::NotYetValid);
    }
    let iat = time("iat")?.ok_or(AuthError::MissingClaim("iat"))?;
    if iat > now + LEEWAY_SECONDS {
        return Err(AuthError::InvalidClaim("iat"));
    }
    if !valid_user_id(sub) {
        return Err(AuthError::InvalidClaim("sub"));
    }
    if !valid_tenant_id(tid) {
        return Err(AuthError::InvalidClaim("tid"));
    }
    let role = Role::parse(role).ok_or(AuthError::InvalidClaim("role"))?;
    let (iss, aud) = (text("iss")?, text("aud")?);
    if cfg.issuer.as_deref().is_some_and(|want| iss != Some(want)) {
        return Err(AuthError::InvalidClaim("iss"));
    }
    if cfg
        .audience
        .as_deref()
        .is_some_and(|want| aud != Some(want))
    {
        return Err(AuthError::InvalidClaim("aud"));
    }
    Ok(Principal {
        user_id: sub.to_string(),
        tenant_id: tid.to_string(),
        role,
        exp,
    })
}

/// The contract's claims of a token minted here.
pub fn claims(
    sub: &str,
    tid: &str,
    role: &str,
    iss: Option<&str>,
    aud: Option<&str>,
    now: DateTime<Utc>,
    ttl_seconds: i64,
) -> Value {
    let now = now.timestamp();
    let mut c = serde_json::json!({"sub": sub, "tid": tid, "role": role, "iat": now,
                                   "exp": now + ttl_seconds});
    if let Some(i) = iss {
        c["iss"] = i.into();
    }
    if let Some(a) = aud {
        c["aud"] = a.into();
    }
    c
}

#[cfg(not(target_arch = "wasm32"))]
fn claims_for(
    sub: &str,
    tid: &str,
    role: &str,
    now: DateTime<Utc>,
    ttl_seconds: i64,
) -> jwt_compact::Claims<PulseClaims> {
    let mut claims = jwt_compact::Claims::new(PulseClaims {
        sub: sub.into(),
        tid: tid.into(),
        role: role.into(),
        iss: None,
        aud: None,
    });
    claims.issued_at = Some(now);
    claims.expiration = Some(now + chrono::Duration::seconds(ttl_seconds));
    claims
}

/// Mints an HS256 dev token (used by `make token`, `make dev` and the tests).
pub fn mint_hs256(
    secret: &[u8],
    sub: &str,
    tid: &str,
    role: &str,
    now: DateTime<Utc>,
    ttl_seconds: i64,
) -> String {
    jwt::mint_hs256(
        secret,
        &claims(sub, tid, role, None, None, now, ttl_seconds),
    )
}

/// Mints an EdDSA token; production issuers do this on their side (native: tests and tools).
#[cfg(not(target_arch = "wasm32"))]
pub fn mint_ed25519(
    secret: &<jwt_compact::alg::Ed25519 as jwt_compact::Algorithm>::SigningKey,
    kid: Option<&str>,
    sub: &str,
    tid: &str,
    role: &str,
    now: DateTime<Utc>,
    ttl_seconds: i64,
) -> String {
    use jwt_compact::{AlgorithmExt, Header};
    let claims = claims_for(sub, tid, role, now, ttl_seconds);
    let header = match kid {
        Some(k) => Header::empty().with_key_id(k),
        None => Header::empty(),
    };
    jwt_compact::alg::Ed25519
        .token(&header, &claims, secret)
        .unwrap_or_default()
}

/// Ed25519 keys of a JWKS, and a warning for each key that could not be used.
pub type JwksKeys = (Vec<(Option<String>, Ed25519PublicKey)>, Vec<String>);

/// Parses `JWT_JWKS` (a JSON Web Key Set) into Ed25519 keys; other key types are skipped
/// silently, malformed Ed25519 keys with a warning, and neither disables the other keys.
/// `Err` only when the whole value is not a JWKS.
pub fn ed25519_keys_from_jwks(jwks: &str) -> Result<JwksKeys, String> {
    #[derive(Deserialize)]
    struct Set {
        keys: Vec<serde_json::Value>,
    }
    let set: Set =
        serde_json::from_str(jwks).map_err(|e| format!("JWT_JWKS is not a JWKS: {e}"))?;
    let mut out = Vec::new();
    let mut warnings = Vec::new();
    for (n, k) in set.keys.into_iter().enumerate() {
        if k.get("kty").and_then(|v| v.as_str()) != Some("OKP")
            || k.get("crv").and_then(|v| v.as_str()) != Some("Ed25519")
        {
            continue;
        }
        let kid = k.get("kid").and_then(|v| v.as_str()).map(String::from);
        // The key is its `x` (RFC 8037: base64url of the 32 public-key bytes), read here
        // rather than through jwt-compact's `JsonWebKey`, whose decoder (RSA and EC
        // parts included) would cost the Worker's size budget for one field.
        let key = k
            .get("x")
            .and_then(|v| v.as_str())
            .and_then(|x| super::password::b64_decode(&x.replace('-', "+").replace('_', "/")))
            .ok_or_else(|| "no base64url `x`".to_string())
            .and_then(|bytes| {
                Ed25519PublicKey::try_from(bytes.as_slice())
                    .map_err(|_| format!("{} bytes, not 32", bytes.len()))
            });
        match key {
            Ok(key) => out.push((kid, key)),
            Err(e) => warnings.push(format!(
                "JWT_JWKS key #{n} (kid {}) skipped: {e}",
                kid.as_deref().unwrap_or("-")
            )),
        }
    }
    Ok((out, warnings))
}

/// Seconds since the epoch as a `DateTime` (for callers holding a JS clock reading).
pub fn at_millis(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;
    use jwt_compact::alg::{Hs256, Hs256Key};
    use jwt_compact::{AlgorithmExt, Header};

    fn now() -> DateTime<Utc> {
        at_millis(1_790_000_000_000)
    }
    fn hs_cfg() -> AuthConfig {
        AuthConfig {
            hs256_secret: Some(b"test-secret-please-ignore".to_vec()),
            ..Default::default()
        }
    }

    #[test]
    fn hs256_round_trip() {
        let t = mint_hs256(
            b"test-secret-please-ignore",
            "demo-admin",
            "demo",
            "admin",
            now(),
            3600,
        );
        let p = verify(&t, &hs_cfg(), now()).unwrap();
        assert_eq!(p.user_id, "demo-admin");
        assert_eq!(p.tenant_id, "demo");
        assert_eq!(p.role, Role::Admin);
    }

    #[test]
    fn expired_is_rejected() {
        let t = mint_hs256(
            b"test-secret-please-ignore",
            "u",
            "demo",
            "admin",
            now(),
            10,
        );
        let later = now() + Duration::seconds(10 + LEEWAY_SECONDS + 1);
        assert_eq!(verify(&t, &hs_cfg(), later), Err(AuthError::Expired));
    }

    #[test]
    fn tampered_and_wrong_secret_are_rejected() {
        let t = mint_hs256(b"another-secret", "u", "demo", "admin", now(), 60);
        assert_eq!(verify(&t, &hs_cfg(), now()), Err(AuthError::BadSignature));
        let good = mint_hs256(
            b"test-secret-please-ignore",
            "u",
            "demo",
            "viewer",
            now(),
            60,
        );
        let parts: Vec<&str> = good.split('.').collect();
        // Swap in a payload claiming admin, keep the old signature.
        let evil = mint_hs256(b"x", "u", "demo", "admin", now(), 60);
        let evil_payload = evil.split('.').nth(1).unwrap();
        let forged = format!("{}.{}.{}", parts[0], evil_payload, parts[2]);
        assert_eq!(
            verify(&forged, &hs_cfg(), now()),
            Err(AuthError::BadSignature)
        );
    }

    #[test]
    fn alg_none_and_garbage_are_rejected() {
        // {"alg":"none","typ":"JWT"} . {"sub":"u","tid":"demo","role":"admin","exp":9999999999,"iat":1}
        let none = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJ1IiwidGlkIjoiZGVtbyIsInJvbGUiOiJhZG1pbiIsImV4cCI6OTk5OTk5OTk5OSwiaWF0IjoxfQ.";
        assert_eq!(
            verify(none, &hs_cfg(), now()),
            Err(AuthError::UnsupportedAlgorithm("none".into()))
        );
        assert_eq!(
            verify("not-a-jwt", &hs_cfg(), now()),
            Err(AuthError::Malformed)
        );
        assert_eq!(verify("", &hs_cfg(), now()), Err(AuthError::Missing));
    }

    #[test]
    fn bad_claims_are_rejected() {
        let s = b"test-secret-please-ignore";
        let t = mint_hs256(s, "u", "demo", "superuser", now(), 60);
        assert_eq!(
            verify(&t, &hs_cfg(), now()),
            Err(AuthError::InvalidClaim("role"))
        );
        let t = mint_hs256(s, "u", "../etc", "admin", now(), 60);
        assert_eq!(
            verify(&t, &hs_cfg(), now()),
            Err(AuthError::InvalidClaim("tid"))
        );
        let mut cfg = hs_cfg();
        cfg.issuer = Some("https://issuer.example".into());
        let t = mint_hs256(s, "u", "demo", "admin", now(), 60);
        assert_eq!(verify(&t, &cfg, now()), Err(AuthError::InvalidClaim("iss")));
        // Claims of the wrong JSON type, or missing, as jwt-compact refused them.
        let signed = |c: serde_json::Value| jwt::mint_hs256(s, &c);
        let base = claims("u", "demo", "admin", None, None, now(), 60);
        let with = |k: &str, v: serde_json::Value| {
            let mut c = base.clone();
            c[k] = v;
            signed(c)
        };
        for (k, v) in [
            ("exp", serde_json::json!("soon")),
            ("iat", serde_json::json!(1.5)),
            ("sub", serde_json::json!(7)),
            ("aud", serde_json::json!(["a"])),
        ] {
            assert_eq!(
                verify(&with(k, v), &hs_cfg(), now()),
                Err(AuthError::Malformed),
                "{k}"
            );
        }
        let mut no_exp = base.clone();
        no_exp.as_object_mut().unwrap().remove("exp");
        assert_eq!(
            verify(&signed(no_exp), &hs_cfg(), now()),
            Err(AuthError::MissingClaim("exp"))
        );
        let mut no_tid = base.clone();
        no_tid.as_object_mut().unwrap().remove("tid");
        assert_eq!(
            verify(&signed(no_tid), &hs_cfg(), now()),
            Err(AuthError::Malformed)
        );
        assert_eq!(
            verify(&signed(serde_json::json!([1])), &hs_cfg(), now()),
            Err(AuthError::Malformed)
        );
        // iss and aud as configured pass; our minted access tokens carry them.
        cfg.audience = Some("pulse".into());
        let t = jwt::mint_hs256(
            s,
            &claims(
                "u",
                "demo",
                "admin",
                Some("https://issuer.example"),
                Some("pulse"),
                now(),
                60,
            ),
        );
        assert_eq!(verify(&t, &cfg, now()).unwrap().user_id, "u");
        let t = jwt::mint_hs256(
            s,
            &claims(
                "u",
                "demo",
                "admin",
                Some("https://issuer.example"),
                Some("other"),
                now(),
                60,
            ),
        );
        assert_eq!(verify(&t, &cfg, now()), Err(AuthError::InvalidClaim("aud")));
    }

    #[test]
    fn ed25519_via_jwks() {
        let kp = ed25519_compact::KeyPair::from_seed(ed25519_compact::Seed::new([7u8; 32]));
        let x = base64url(kp.pk.as_ref());
        let jwks = format!(
            r#"{{"keys":[{{"kty":"OKP","crv":"Ed25519","kid":"k1","x":"{x}"}},{{"kty":"RSA","n":"x","e":"AQAB"}}]}}"#
        );
        let cfg = AuthConfig {
            ed25519_keys: ed25519_keys_from_jwks(&jwks).unwrap().0,
            ..Default::default()
        };
        let t = mint_ed25519(
            &kp.sk,
            Some("k1"),
            "acme-broker",
            "acme",
            "broker",
            now(),
            60,
        );
        let p = verify(&t, &cfg, now()).unwrap();
        assert_eq!((p.tenant_id.as_str(), p.role), ("acme", Role::Broker));
        // Unknown kid: nothing to verify with.
        let t = mint_ed25519(&kp.sk, Some("k2"), "u", "acme", "broker", now(), 60);
        assert!(verify(&t, &cfg, now()).is_err());
        // HS256 is refused when no secret is configured (no algorithm confusion).
        let t = mint_hs256(b"whatever", "u", "acme", "admin", now(), 60);
        assert_eq!(
            verify(&t, &cfg, now()),
            Err(AuthError::UnsupportedAlgorithm("HS256".into()))
        );
    }

    fn base64url(bytes: &[u8]) -> String {
        const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let mut out = String::new();
        for chunk in bytes.chunks(3) {
            let b = [
                chunk[0],
                *chunk.get(1).unwrap_or(&0),
                *chunk.get(2).unwrap_or(&0),
            ];
            let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
            for i in 0..=chunk.len() {
                out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
            }
        }
        out
    }

    #[test]
    fn not_before_is_honoured_with_leeway() {
        let secret = b"test-secret-please-ignore";
        let token = |nbf: DateTime<Utc>| {
            let mut c = claims_for("u", "demo", "admin", now(), 7200);
            c.not_before = Some(nbf);
            Hs256
                .token(&Header::empty(), &c, &Hs256Key::new(secret))
                .unwrap()
        };
        let future = token(now() + Duration::hours(1));
        assert_eq!(
            verify(&future, &hs_cfg(), now()),
            Err(AuthError::NotYetValid)
        );
        // Valid once the time comes, and within the leeway just before it.
        assert!(verify(&future, &hs_cfg(), now() + Duration::hours(1)).is_ok());
        let soon = token(now() + Duration::seconds(LEEWAY_SECONDS));
        assert!(verify(&soon, &hs_cfg(), now()).is_ok());
        let later = token(now() + Duration::seconds(LEEWAY_SECONDS + 1));
        assert_eq!(
            verify(&later, &hs_cfg(), now()),
            Err(AuthError::NotYetValid)
        );
        assert!(verify(&token(now() - Duration::hours(1)), &hs_cfg(), now()).is_ok());
    }

    #[test]
    fn a_malformed_jwk_does_not_disable_the_others() {
        let kp = ed25519_compact::KeyPair::from_seed(ed25519_compact::Seed::new([9u8; 32]));
        let x = base64url(kp.pk.as_ref());
        let jwks = format!(
            r#"{{"keys":[{{"kty":"OKP","crv":"Ed25519","kid":"bad","x":"!!"}},
                {{"kty":"OKP","crv":"Ed25519","kid":"short","x":"AAAA"}},
                {{"kty":"OKP","crv":"Ed25519","kid":"good","x":"{x}"}}]}}"#
        );
        let (keys, warnings) = ed25519_keys_from_jwks(&jwks).unwrap();
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0].0.as_deref(), Some("good"));
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(warnings[0].contains("kid bad"), "{warnings:?}");
        let cfg = AuthConfig {
            ed25519_keys: keys,
            ..Default::default()
        };
        let t = mint_ed25519(&kp.sk, Some("good"), "u", "acme", "viewer", now(), 60);
        assert!(verify(&t, &cfg, now()).is_ok());
        assert!(ed25519_keys_from_jwks("not json").is_err());
    }

    #[test]
    fn bearer_scheme_is_case_insensitive_and_whitespace_tolerant() {
        for h in [
            "Bearer abc.def.ghi",
            "bearer abc.def.ghi",
            "BEARER abc.def.ghi",
            "Bearer  abc.def.ghi",
            "  Bearer\tabc.def.ghi  ",
        ] {
            assert_eq!(bearer_token(h), Some("abc.def.ghi"), "{h:?}");
        }
        for h in [
            "",
            "Bearer",
            "Bearer   ",
            "Basic abc",
            "Bearerabc",
            "Bearer a b",
            "Token abc",
        ] {
            assert_eq!(bearer_token(h), None, "{h:?}");
        }
    }

    #[test]
    fn roles() {
        assert!(Role::Viewer.allows(Action::Read));
        assert!(!Role::Viewer.allows(Action::Write));
        assert!(Role::Broker.allows(Action::Write));
        assert!(!Role::Broker.allows(Action::Admin));
        assert!(Role::Admin.allows(Action::Admin));
    }
}
