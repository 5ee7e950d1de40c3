//! Compact JWTs (pure): the three parts and their base64url, HS256 signing and checking
//! (HMAC-SHA256, compared in constant time), and minting. Claims stay JSON for
//! `auth::check_claims`. Written here rather than taken from jwt-compact in the Worker:
//! its claims decoder (flattened custom claims buffered through serde's `Content`) and
//! token types cost about 8 KiB of the 500 KiB budget for what is a split, a hash and a
//! JSON read. jwt-compact stays in native builds, where tests hold the two equal.

use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

/// A token split and decoded, its signature not checked yet.
#[derive(Debug)]
pub struct Parts<'a> {
    /// The header's `alg`.
    pub alg: String,
    /// The header's `kid`, if any.
    pub kid: Option<String>,
    /// The signed bytes: `header.payload` as they appear in the token.
    pub message: &'a str,
    pub signature: Vec<u8>,
    /// The decoded payload (JSON not read yet: a signature is checked first).
    pub payload: Vec<u8>,
}

/// Base64url without padding (RFC 7515).
pub fn b64url_encode(bytes: &[u8]) -> String {
    super::password::b64_encode(bytes)
        .chars()
        .map(|c| match c {
            '+' => '-',
            '/' => '_',
            c => c,
        })
        .collect()
}

/// Base64url without padding; `None` for anything else (standard alphabet, padding).
pub fn b64url_decode(s: &str) -> Option<Vec<u8>> {
    if s.contains(['+', '/', '=']) {
        return None;
    }
    super::password::b64_decode(&s.replace('-', "+").replace('_', "/"))
}

/// The token's parts, or `None` when it is not three base64url parts with a JSON header
/// that names its algorithm.
pub fn split(token: &str) -> Option<Parts<'_>> {
    let (message, sig) = token.rsplit_once('.')?;
    let (head, payload) = message.split_once('.')?;
    let header: Value = serde_json::from_slice(&b64url_decode(head)?).ok()?;
    let alg = header.get("alg")?.as_str()?.to_string();
    let kid = match header.get("kid") {
        None | Some(Value::Null) => None,
        Some(k) => Some(k.as_str()?.to_string()),
    };
    Some(Parts {
        alg,
        kid,
        message,
        signature: b64url_decode(sig)?,
        payload: b64url_decode(payload)?,
    })
}

fn mac(secret: &[u8], message: &str) -> Hmac<Sha256> {
    // HMAC takes a key of any length.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret).expect("HMAC accepts any key");
    mac.update(message.as_bytes());
    mac
}

/// Whether `signature` is the HS256 signature of `message` (constant-time comparison).
pub fn hs256_valid(secret: &[u8], message: &str, signature: &[u8]) -> bool {
    mac(secret, message).verify_slice(signature).is_ok()
}

/// An HS256 token of `claims`.
pub fn mint_hs256(secret: &[u8], claims: &Value) -> String {
    let message = format!(
        "{}.{}",
        b64url_encode(br#"{"alg":"HS256","typ":"JWT"}"#),
        b64url_encode(claims.to_string().as_bytes())
    );
    let sig = mac(secret, &message).finalize().into_bytes();
    format!("{message}.{}", b64url_encode(&sig))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn base64url() {
        for bytes in [
            &b""[..],
            b"f",
            b"fo",
            b"foo",
            b"\xfb\xff\xfe",
            b"any carnal pleas",
        ] {
            assert_eq!(b64url_decode(&b64url_encode(bytes)).unwrap(), bytes);
        }
        assert_eq!(b64url_encode(b"\xfb\xff"), "-_8");
        assert!(b64url_decode("+/8").is_none());
        assert!(b64url_decode("Zm8=").is_none());
        assert!(b64url_decode("Z").is_none());
    }

    #[test]
    fn hs256_round_trip_and_tampering() {
        let t = mint_hs256(b"k", &json!({"sub": "u1"}));
        let p = split(&t).unwrap();
        assert_eq!(p.alg, "HS256");
        assert_eq!(p.kid, None);
        assert!(hs256_valid(b"k", p.message, &p.signature));
        assert!(!hs256_valid(b"other", p.message, &p.signature));
        assert!(!hs256_valid(b"k", p.message, &p.signature[..31]));
        let payload: Value = serde_json::from_slice(&p.payload).unwrap();
        assert_eq!(payload["sub"], "u1");
        assert!(split("a.b").is_none());
        assert!(split("not.a.jwt").is_none());
        let no_alg = format!("{}.{}.", b64url_encode(b"{}"), b64url_encode(b"{}"));
        assert!(split(&no_alg).is_none());
    }

    /// Tokens of jwt-compact (the reference) read and check the same here, and ours there.
    #[test]
    fn equal_to_jwt_compact() {
        use jwt_compact::alg::{Hs256, Hs256Key};
        use jwt_compact::{AlgorithmExt, Claims, Header};
        let key = Hs256Key::new(b"shared");
        let claims = Claims::new(json!({"sub": "u1", "tid": "t1", "role": "admin"}));
        let theirs = Hs256
            .token(&Header::empty().with_key_id("k1"), &claims, &key)
            .unwrap();
        let p = split(&theirs).unwrap();
        assert_eq!((p.alg.as_str(), p.kid.as_deref()), ("HS256", Some("k1")));
        assert!(hs256_valid(b"shared", p.message, &p.signature));
        let ours = mint_hs256(b"shared", &json!({"sub": "u2"}));
        let untrusted = jwt_compact::UntrustedToken::new(&ours).unwrap();
        let checked = Hs256.validator::<Value>(&key).validate(&untrusted).unwrap();
        assert_eq!(checked.claims().custom["sub"], "u2");
    }
}
