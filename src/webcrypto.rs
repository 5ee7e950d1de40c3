//! WebCrypto bindings the Worker needs for identity: PBKDF2-SHA256 via `crypto.subtle`
//! (native speed, not metered as WASM work) and random bytes from `crypto.getRandomValues`.

use crate::domain::error::{ApiError, ApiResult};
use crate::domain::password::{PasswordHash, HASH_BYTES, ITERATIONS, SALT_BYTES};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use worker::js_sys::{Array, ArrayBuffer, Object, Promise, Reflect, Uint8Array};
use worker::wasm_bindgen_futures::JsFuture;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = crypto, js_name = getRandomValues)]
    fn get_random_values(buf: &mut [u8]);

    type SubtleCrypto;
    #[wasm_bindgen(method, catch, js_name = importKey)]
    fn import_key(
        this: &SubtleCrypto,
        format: &str,
        key: &Uint8Array,
        algorithm: &str,
        extractable: bool,
        usages: &Array,
    ) -> Result<Promise, JsValue>;
    #[wasm_bindgen(method, catch, js_name = deriveBits)]
    fn derive_bits(
        this: &SubtleCrypto,
        algorithm: &Object,
        key: &JsValue,
        length: u32,
    ) -> Result<Promise, JsValue>;
}

fn fail(what: &str, e: JsValue) -> ApiError {
    crate::store::internal(what, format!("{e:?}"))
}

/// `n` bytes from the platform CSPRNG.
pub fn random_bytes(n: usize) -> Vec<u8> {
    let mut buf = vec![0u8; n];
    get_random_values(&mut buf);
    buf
}

/// Lower-case hex of 32 random bytes (refresh-token secrets).
pub fn random_secret_hex() -> String {
    random_bytes(32)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn subtle() -> ApiResult<SubtleCrypto> {
    let crypto = Reflect::get(&worker::js_sys::global(), &JsValue::from_str("crypto"))
        .map_err(|e| fail("crypto", e))?;
    let subtle =
        Reflect::get(&crypto, &JsValue::from_str("subtle")).map_err(|e| fail("subtle", e))?;
    if subtle.is_undefined() {
        return Err(ApiError::internal());
    }
    Ok(subtle.unchecked_into())
}

/// PBKDF2-HMAC-SHA256 of `password` with `salt`, `iterations`, 32 bytes out.
pub async fn pbkdf2_sha256(password: &[u8], salt: &[u8], iterations: u32) -> ApiResult<Vec<u8>> {
    let subtle = subtle()?;
    let usages = Array::of1(&JsValue::from_str("deriveBits"));
    let key = JsFuture::from(
        subtle
            .import_key("raw", &Uint8Array::from(password), "PBKDF2", false, &usages)
            .map_err(|e| fail("importKey", e))?,
    )
    .await
    .map_err(|e| fail("importKey", e))?;
    let alg = Object::new();
    let set = |k: &str, v: &JsValue| {
        Reflect::set(&alg, &JsValue::from_str(k), v).map_err(|e| fail("PBKDF2 params", e))
    };
    set("name", &JsValue::from_str("PBKDF2"))?;
    set("hash", &JsValue::from_str("SHA-256"))?;
    set("salt", &Uint8Array::from(salt).into())?;
    set("iterations", &JsValue::from_f64(f64::from(iterations)))?;
    let bits = JsFuture::from(
        subtle
            .derive_bits(&alg, &key, (HASH_BYTES * 8) as u32)
            .map_err(|e| fail("deriveBits", e))?,
    )
    .await
    .map_err(|e| fail("deriveBits", e))?;
    let buf: ArrayBuffer = bits.dyn_into().map_err(|e| fail("deriveBits result", e))?;
    Ok(Uint8Array::new(&buf).to_vec())
}

/// A new stored hash for `password` (fresh salt, `ITERATIONS`).
pub async fn hash_password(password: &str) -> ApiResult<String> {
    let salt = random_bytes(SALT_BYTES);
    let hash = pbkdf2_sha256(password.as_bytes(), &salt, ITERATIONS).await?;
    Ok(PasswordHash {
        iterations: ITERATIONS,
        salt,
        hash,
    }
    .encode())
}

/// A well-formed hash of nothing anyone knows: unknown emails are checked against it so
/// that they cost the same time as wrong passwords.
const DUMMY_HASH: &str =
    "pbkdf2-sha256$100000$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

/// Whether `password` matches `stored` (`None` or an unparseable hash never matches, after
/// the same amount of work as a real check).
pub async fn verify_password(password: &str, stored: Option<&str>) -> ApiResult<bool> {
    let parsed = stored.and_then(PasswordHash::parse);
    let (target, real) = match parsed {
        Some(h) => (h, true),
        None => match PasswordHash::parse(DUMMY_HASH) {
            Some(h) => (h, false),
            None => return Ok(false),
        },
    };
    let derived = pbkdf2_sha256(password.as_bytes(), &target.salt, target.iterations).await?;
    Ok(target.matches(&derived) && real)
}

#[cfg(test)]
mod tests {
    #[test]
    fn dummy_hash_is_well_formed() {
        let h = crate::domain::password::PasswordHash::parse(super::DUMMY_HASH).unwrap();
        assert_eq!(h.iterations, super::ITERATIONS);
        assert_eq!(h.salt.len(), super::SALT_BYTES);
    }
}
