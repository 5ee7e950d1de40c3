//! Rows (the plain JS objects D1 and the hub's SQLite hand over) into Rust types.
//!
//! Why not serde_wasm_bindgen, which worker-rs uses: its decoder is generated again for
//! every row type, with the field lookup inlined in each (about 115 KB of the Worker, and
//! the Worker has a 500 KiB gzipped budget: docs/decisions.md). Here a struct's fields are
//! handed to it as a sequence in declaration order, so each row type costs one short
//! `visit_seq`; the lookups are shared functions.
//!
//! The rules are serde_wasm_bindgen's: `null` and `undefined` are `None` (and `()`), a
//! safe-integer number is an `i64` (a field of type `f64` takes it too), other numbers are
//! `f64`, an enum is its variant's name, a JS object is a map.

use serde::de::{self, DeserializeOwned, DeserializeSeed, IntoDeserializer, SeqAccess, Visitor};
use serde::Deserialize;
use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use worker::js_sys::{Array, Object, Reflect};
use worker::wasm_bindgen::{JsCast, JsValue};

/// A row as the binding hands it over, kept as a JS value (decode it with `from_js`).
/// serde_wasm_bindgen's `preserve` passes the value through untouched.
#[derive(Deserialize)]
pub struct Raw(#[serde(with = "serde_wasm_bindgen::preserve")] pub JsValue);

/// `v` (a row, or any JS value) as `T`.
pub fn from_js<T: DeserializeOwned>(v: JsValue) -> Result<T, Error> {
    T::deserialize(Js(v))
}

#[derive(Debug)]
pub struct Error(String);

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

impl de::Error for Error {
    fn custom<M: fmt::Display>(m: M) -> Self {
        Error(m.to_string())
    }
}

struct Js(JsValue);

enum Kind {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    List(Array),
    Obj(Object),
    Other,
}

/// The largest integer a JS number holds exactly (`Number.MAX_SAFE_INTEGER`).
const MAX_SAFE: f64 = 9_007_199_254_740_991.0;

/// A number that a JS number holds exactly as an integer.
fn safe_int(f: f64) -> Option<i64> {
    (f.fract() == 0.0 && f.abs() <= MAX_SAFE).then_some(f as i64)
}

#[inline(never)]
fn kind(v: &JsValue) -> Kind {
    if v.is_null() || v.is_undefined() {
        Kind::Null
    } else if let Some(b) = v.as_bool() {
        Kind::Bool(b)
    } else if let Some(f) = v.as_f64() {
        safe_int(f).map_or(Kind::Float(f), Kind::Int)
    } else if let Some(s) = v.as_string() {
        Kind::Str(s)
    } else if Array::is_array(v) {
        Kind::List(v.clone().unchecked_into())
    } else if v.is_object() {
        Kind::Obj(v.clone().unchecked_into())
    } else {
        Kind::Other
    }
}

/// Hashes the keys of `KEYS` (a static name's address and length) with one multiply per
/// word: std's SipHash cost more than the lookup it serves, once per field of every row.
#[derive(Default)]
struct AddrHasher(u64);

impl std::hash::Hasher for AddrHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_usize(usize::from(b));
        }
    }

    fn write_usize(&mut self, n: usize) {
        self.0 = (self.0.rotate_left(5) ^ n as u64).wrapping_mul(0x517c_c1b7_2722_0a95);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

type Keys = HashMap<(usize, usize), JsValue, std::hash::BuildHasherDefault<AddrHasher>>;

thread_local! {
    /// Field names as JS strings, made once each (keyed by the static name's address and
    /// length): a list of 50 rows would otherwise copy every name 50 times into JS.
    static KEYS: RefCell<Keys> = RefCell::new(Keys::default());
}

/// The value of field `name` of the object `obj` (`undefined` when absent).
#[inline(never)]
fn field(obj: &JsValue, name: &'static str) -> JsValue {
    KEYS.with(|keys| {
        let mut keys = keys.borrow_mut();
        let key = keys
            .entry((name.as_ptr() as usize, name.len()))
            .or_insert_with(|| JsValue::from_str(name));
        Reflect::get(obj, key).unwrap_or(JsValue::UNDEFINED)
    })
}

#[cold]
fn unexpected(what: &str) -> Error {
    Error(format!("expected {what}"))
}

impl<'de> de::Deserializer<'de> for Js {
    type Error = Error;

    // Not inlined: each is then one shared copy per field type (String, i64, ...)
    // instead of a copy in every row type's decoder.
    #[inline(never)]
    fn deserialize_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        match kind(&self.0) {
            Kind::Null => v.visit_unit(),
            Kind::Bool(b) => v.visit_bool(b),
            Kind::Int(i) => v.visit_i64(i),
            Kind::Float(f) => v.visit_f64(f),
            Kind::Str(s) => v.visit_string(s),
            Kind::List(a) => v.visit_seq(Items { a, i: 0 }),
            Kind::Obj(o) => v.visit_map(Entries {
                e: Object::entries(&o),
                i: 0,
            }),
            Kind::Other => Err(unexpected("a JSON-like value")),
        }
    }

    #[inline(never)]
    fn deserialize_option<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        // `== null` holds for `undefined` too: one call into JS instead of two.
        if self.0.loose_eq(&JsValue::NULL) {
            v.visit_none()
        } else {
            v.visit_some(self)
        }
    }

    // Most columns are text or integers: asking for the expected type first takes one call
    // into JS per value instead of the up to five of `kind`.
    #[inline(never)]
    fn deserialize_string<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        match self.0.as_string() {
            Some(s) => v.visit_string(s),
            None => self.deserialize_any(v),
        }
    }

    fn deserialize_str<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        self.deserialize_string(v)
    }

    #[inline(never)]
    fn deserialize_i64<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        match self.0.as_f64() {
            Some(f) => match safe_int(f) {
                Some(i) => v.visit_i64(i),
                None => v.visit_f64(f),
            },
            None => self.deserialize_any(v),
        }
    }

    /// The fields in declaration order, as a sequence (see the module comment).
    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, Error> {
        if !self.0.is_object() {
            return Err(unexpected("an object"));
        }
        v.visit_seq(Fields {
            obj: self.0,
            fields: fields.iter(),
        })
    }

    #[inline(never)]
    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, Error> {
        match self.0.as_string() {
            Some(s) => v.visit_enum(s.into_deserializer()),
            None => Err(unexpected("a variant name")),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        v: V,
    ) -> Result<V::Value, Error> {
        v.visit_newtype_struct(self)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i128 u8 u16 u32 u64 u128 f32 f64 char bytes
        byte_buf unit unit_struct seq tuple tuple_struct map identifier ignored_any
    }
}

/// A struct's fields, in order.
struct Fields {
    obj: JsValue,
    fields: std::slice::Iter<'static, &'static str>,
}

impl<'de> SeqAccess<'de> for Fields {
    type Error = Error;

    #[inline(never)]
    fn next_element_seed<S: DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> Result<Option<S::Value>, Error> {
        match self.fields.next() {
            Some(name) => seed.deserialize(Js(field(&self.obj, name))).map(Some),
            None => Ok(None),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.fields.len())
    }
}

/// A JS array's items.
struct Items {
    a: Array,
    i: u32,
}

impl<'de> SeqAccess<'de> for Items {
    type Error = Error;

    fn next_element_seed<S: DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> Result<Option<S::Value>, Error> {
        if self.i >= self.a.length() {
            return Ok(None);
        }
        let item = self.a.get(self.i);
        self.i += 1;
        seed.deserialize(Js(item)).map(Some)
    }
}

/// A JS object's own entries (`Object.entries`), as a map.
struct Entries {
    e: Array,
    i: u32,
}

impl<'de> de::MapAccess<'de> for Entries {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        if self.i >= self.e.length() {
            return Ok(None);
        }
        let key = Reflect::get_u32(&self.e.get(self.i), 0).unwrap_or(JsValue::UNDEFINED);
        seed.deserialize(Js(key)).map(Some)
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value, Error> {
        let value = Reflect::get_u32(&self.e.get(self.i), 1).unwrap_or(JsValue::UNDEFINED);
        self.i += 1;
        seed.deserialize(Js(value))
    }
}
