//! Tokens: HS256 dev tokens, EdDSA from a JWKS, and every way a token can be bad.

use crate::assertions as check;
use crate::fixtures;
use crate::Ctx;
use chrono::{Duration, Utc};
use pulse::domain::auth::{mint_ed25519, mint_hs256};

pub fn rejects_bad_tokens(cx: &mut Ctx) {
    let path = "/api/crm/customers";
    let secret = cx.server.secret.clone();
    let r = cx.api.raw("GET", path, None, None, None);
    check::error(&r, 401, "unauthorized");
    let expired = mint_hs256(
        secret.as_bytes(),
        "u1",
        "t-auth",
        "admin",
        Utc::now() - Duration::hours(2),
        60,
    );
    let wrong_secret = mint_hs256(
        b"not-the-server-secret",
        "u1",
        "t-auth",
        "admin",
        Utc::now(),
        600,
    );
    let good = mint_hs256(secret.as_bytes(), "u1", "t-auth", "viewer", Utc::now(), 600);
    let as_admin = mint_hs256(b"x", "u1", "t-auth", "admin", Utc::now(), 600);
    let p: Vec<&str> = good.split('.').collect();
    let tampered = format!("{}.{}.{}", p[0], as_admin.split('.').nth(1).unwrap(), p[2]);
    let alg_none = format!(
        "{}.{}.",
        crate::client::base64url(br#"{"alg":"none","typ":"JWT"}"#),
        as_admin.split('.').nth(1).unwrap()
    );
    for (what, tok) in [
        ("expired", expired.as_str()),
        ("wrong secret", wrong_secret.as_str()),
        ("tampered", tampered.as_str()),
        ("alg none", alg_none.as_str()),
        ("garbage", "abc.def"),
    ] {
        let r = cx.api.get(path, tok);
        assert_eq!(
            r.status, 401,
            "{what} token must be 401, got {} {}",
            r.status, r.body
        );
        check::error(&r, 401, "unauthorized");
    }
    let r = cx.api.raw("GET", path, None, None, None);
    assert_eq!(r.header("www-authenticate"), Some("Bearer"));
    // Not a Bearer scheme.
    let r = cx
        .api
        .raw("GET", &format!("{path}?token={good}"), None, None, None);
    check::error(&r, 401, "unauthorized"); // ?token= is for realtime routes only
    check::status(&cx.api.get(path, &good), 200);
}

pub fn accepts_eddsa_from_jwks(cx: &mut Ctx) {
    let kp =
        ed25519_compact::KeyPair::from_seed(ed25519_compact::Seed::new(fixtures::ED25519_SEED));
    let tok = mint_ed25519(
        &kp.sk,
        Some(fixtures::ED25519_KID),
        "ed-broker",
        "t-ed",
        "broker",
        Utc::now(),
        600,
    );
    let r = cx.api.post(
        "/api/crm/customers",
        &tok,
        &serde_json::json!({"name": "Signed by EdDSA"}),
    );
    check::status(&r, 201);
    assert_eq!(r.body["created_by"], "ed-broker");
    // The signature covers the claims: the same signature over an admin's claims is refused.
    let admin = mint_ed25519(
        &kp.sk,
        Some(fixtures::ED25519_KID),
        "ed-broker",
        "t-ed",
        "admin",
        Utc::now(),
        600,
    );
    let parts: Vec<&str> = tok.split('.').collect();
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        admin.split('.').nth(1).unwrap(),
        parts[2]
    );
    check::error(&cx.api.get("/api/stats", &forged), 401, "unauthorized");
    check::status(&cx.api.get("/api/stats", &admin), 200);
    // The same key under an unknown kid, and a different key, are refused.
    let tok = mint_ed25519(
        &kp.sk,
        Some("other-kid"),
        "ed-broker",
        "t-ed",
        "broker",
        Utc::now(),
        600,
    );
    check::error(&cx.api.get("/api/crm/customers", &tok), 401, "unauthorized");
    let other = ed25519_compact::KeyPair::from_seed(ed25519_compact::Seed::new([1u8; 32]));
    let tok = mint_ed25519(
        &other.sk,
        Some(fixtures::ED25519_KID),
        "ed-broker",
        "t-ed",
        "broker",
        Utc::now(),
        600,
    );
    check::error(&cx.api.get("/api/crm/customers", &tok), 401, "unauthorized");
}
