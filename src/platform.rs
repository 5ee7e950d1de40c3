//! The Worker's clock and randomness (JS `Date` and `crypto.randomUUID`).

use wasm_bindgen::prelude::*;

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
