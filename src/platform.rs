//! The Worker's clock, randomness and token checks (JS `Date`, `crypto.randomUUID`, and
//! `crypto.subtle` for Ed25519 signatures, so no curve code is compiled into the Wasm).

use crate::domain::auth::{self, AuthError, Ed25519PublicKey, Principal};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use worker::js_sys::{Array, Object, Promise, Reflect, Uint8Array};
use worker::wasm_bindgen_futures::JsFuture;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = crypto, js_name = randomUUID)]
    fn random_uuid() -> String;
}

pub fn now_ms() -> i64 {
    worker::js_sys::Date::now() as i64
}

/// `2026-11-23T10:00:00.000Z`
pub fn iso(ms: i64) -> String {
    String::from(worker::js_sys::Date::new(&JsValue::from_f64(ms as f64)).to_iso_string())
}

/// 32 hex digits from the platform's CSPRNG.
pub fn random_hex() -> String {
    random_uuid().replace('-', "")
}

pub fn new_id(prefix: &str) -> String {
    crate::domain::ids::make_id(prefix, now_ms(), &random_hex())
}

/// The caller `token` proves, at `now` (ms): HS256 in the core, an EdDSA signature by
/// WebCrypto. Both the Worker and the hub verify with this.
pub async fn verify_token(
    token: &str,
    env: &worker::Env,
    now: i64,
) -> Result<Principal, AuthError> {
    let cfg = &crate::config::get(env).auth;
    let at = auth::at_millis(now);
    match auth::start(token, cfg, at) {
        auth::Pending::Done(r) => r,
        auth::Pending::Ed25519(check) => {
            let mut signed = false;
            for key in &check.keys {
                if ed25519_verify(key, &check.message, &check.signature).await {
                    signed = true;
                    break;
                }
            }
            check.finish(signed, cfg, at)
        }
    }
}

/// Whether `signature` over `message` verifies with the Ed25519 public `key` (RFC 8032):
/// `crypto.subtle.importKey("raw", …, "Ed25519")` then `verify`. Any failure (a key that is
/// not a curve point, a missing API) verifies nothing.
async fn ed25519_verify(key: &Ed25519PublicKey, message: &[u8], signature: &[u8]) -> bool {
    async fn run(
        key: &Ed25519PublicKey,
        message: &[u8],
        signature: &[u8],
    ) -> Result<bool, JsValue> {
        let crypto = Reflect::get(&worker::js_sys::global(), &"crypto".into())?;
        let subtle = Reflect::get(&crypto, &"subtle".into())?;
        let call = |name: &str, args: &Array| -> Result<Promise, JsValue> {
            let f: worker::js_sys::Function = Reflect::get(&subtle, &name.into())?.dyn_into()?;
            f.apply(&subtle, args)?.dyn_into()
        };
        let alg = Object::new();
        Reflect::set(&alg, &"name".into(), &"Ed25519".into())?;
        // A trusted key is imported once per isolate, not once per token.
        let cached = IMPORTED.with(|c| {
            c.borrow()
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.clone())
        });
        let public = match cached {
            Some(p) => p,
            None => {
                let import = Array::of5(
                    &"raw".into(),
                    &Uint8Array::from(&key[..]),
                    &alg,
                    &JsValue::FALSE,
                    &Array::of1(&"verify".into()),
                );
                let p = JsFuture::from(call("importKey", &import)?).await?;
                IMPORTED.with(|c| {
                    let mut c = c.borrow_mut();
                    if c.len() >= 16 {
                        c.remove(0);
                    }
                    c.push((*key, p.clone()));
                });
                p
            }
        };
        let verify = Array::of4(
            &alg,
            &public,
            &Uint8Array::from(signature),
            &Uint8Array::from(message),
        );
        Ok(JsFuture::from(call("verify", &verify)?).await?.as_bool() == Some(true))
    }
    run(key, message, signature).await.unwrap_or(false)
}

thread_local! {
    /// Trusted Ed25519 keys already imported into WebCrypto (at most 16: a JWKS is small).
    static IMPORTED: std::cell::RefCell<Vec<(Ed25519PublicKey, JsValue)>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// A request built on `web_sys` directly. worker's `RequestInit` converts its `cf` options
/// with serde-wasm-bindgen even when none is set, which compiled the serializers of every
/// image-resizing option into the Worker (about 8 KB raw) for requests that use none.
pub fn request(
    url: &str,
    method: &str,
    headers: &worker::Headers,
    body: Option<&JsValue>,
) -> worker::Result<worker::Request> {
    let init = worker::web_sys::RequestInit::new();
    init.set_method(method);
    init.set_headers(&headers.0);
    if let Some(b) = body {
        init.set_body(b);
    }
    Ok(worker::web_sys::Request::new_with_str_and_init(url, &init)?.into())
}
