//! Test tokens: HS256 and EdDSA tokens minted with pulse-core's own minting, the fixed
//! test issuer's key and JWKS, and reading a claim back out of a token.

use pulse_core::domain::auth::{mint_ed25519, mint_hs256};
use serde_json::Value;

/// Ed25519 test issuer (a fixed test-only key, as a production IdP would hold).
pub const ED25519_SEED: [u8; 32] = [42u8; 32];
pub const ED25519_KID: &str = "e2e-key-1";

/// An HS256 token with Pulse's claims (`sub`, `tid`, `role`), valid for `ttl_seconds`.
pub fn hs256(secret: &str, tenant: &str, user: &str, role: &str, ttl_seconds: i64) -> String {
    mint_hs256(
        secret.as_bytes(),
        user,
        tenant,
        role,
        chrono::Utc::now(),
        ttl_seconds,
    )
}

/// The test issuer's key pair (`ED25519_SEED`).
pub fn ed25519_keypair() -> ed25519_compact::KeyPair {
    ed25519_compact::KeyPair::from_seed(ed25519_compact::Seed::new(ED25519_SEED))
}

/// An EdDSA token from the test issuer (kid `ED25519_KID`), valid for `ttl_seconds`.
pub fn ed25519(tenant: &str, user: &str, role: &str, ttl_seconds: i64) -> String {
    mint_ed25519(
        &ed25519_keypair().sk,
        Some(ED25519_KID),
        user,
        tenant,
        role,
        chrono::Utc::now(),
        ttl_seconds,
    )
}

/// The test issuer's JSON Web Key Set (the server's `JWT_JWKS`).
pub fn jwks() -> String {
    format!(
        r#"{{"keys":[{{"kty":"OKP","crv":"Ed25519","kid":"{ED25519_KID}","x":"{}"}}]}}"#,
        base64url(ed25519_keypair().pk.as_ref())
    )
}

/// Unpadded base64url.
pub fn base64url(bytes: &[u8]) -> String {
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

/// A claim of a JWT (unverified; tests read their own tokens).
pub fn claim(token: &str, name: &str) -> String {
    claims(token)[name].as_str().unwrap_or_default().to_string()
}

/// A numeric claim (`exp`, `iat`) of a JWT, 0 when absent.
pub fn claim_i64(token: &str, name: &str) -> i64 {
    claims(token)[name].as_i64().unwrap_or_default()
}

/// The payload of a JWT (unverified).
pub fn claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap_or_default();
    let mut bits = 0u32;
    let mut nbits = 0;
    let mut bytes = Vec::new();
    for c in payload.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' | b'+' => 62,
            b'_' | b'/' => 63,
            _ => continue,
        };
        bits = (bits << 6) | u32::from(v);
        nbits += 6;
        if nbits >= 8 {
            nbits -= 8;
            bytes.push((bits >> nbits) as u8);
        }
    }
    serde_json::from_slice(&bytes).unwrap_or(Value::Null)
}
