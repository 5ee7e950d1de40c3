//! Declarative resource schemas (pure): each field's type and limits, and the validation
//! of create and patch bodies into column values, for the record-style resources
//! (owners, properties, seekers) that `api::records` serves generically.

use super::error::{ApiError, ApiResult, FieldErrors};
use serde_json::{Map, Value};

#[derive(Debug, Clone, Copy)]
pub enum Kind {
    /// A trimmed, non-empty string of at most `max` characters.
    Text(usize),
    /// An email address (simple shape check, at most 254 characters).
    Email,
    /// A phone number: digits, spaces and `+-()`, 5 to 32 characters.
    Phone,
    /// An integer in `[min, max]`.
    Int(i64, i64),
    /// Integer minor units (1 to 10^13).
    Money,
    /// An ISO 4217 code.
    Currency,
    /// One of these values.
    Enum(&'static [&'static str]),
    /// The id of a row of this table in the same tenant (checked when writing).
    Ref(&'static str),
    /// A list of distinct strings: at most `max_items`, each 1-`max_len` characters,
    /// optionally from a fixed set.
    List(usize, usize, Option<&'static [&'static str]>),
    Bool,
}

#[derive(Debug, Clone, Copy)]
pub struct Field {
    pub name: &'static str,
    pub kind: Kind,
    pub required: bool,
    /// The value when absent on create (JSON text), e.g. `"\"available\""`, `"true"`, `"[]"`.
    pub default: Option<&'static str>,
}

pub const fn req(name: &'static str, kind: Kind) -> Field {
    Field {
        name,
        kind,
        required: true,
        default: None,
    }
}

pub const fn opt(name: &'static str, kind: Kind) -> Field {
    Field {
        name,
        kind,
        required: false,
        default: None,
    }
}

pub const fn dflt(name: &'static str, kind: Kind, default: &'static str) -> Field {
    Field {
        name,
        kind,
        required: false,
        default: Some(default),
    }
}

/// A list filter: `?param=` compared with `column` (`=`, `>=` or `<=`).
#[derive(Debug, Clone, Copy)]
pub struct Filter {
    pub param: &'static str,
    pub column: &'static str,
    pub op: &'static str,
    pub int: bool,
}

/// Everything `api::records` needs to serve one resource.
pub struct Spec {
    /// Singular name in errors, events and entity channels (`property`).
    pub name: &'static str,
    pub table: &'static str,
    pub id_prefix: &'static str,
    /// Event names: `<events>:added|updated|deleted`.
    pub events: &'static str,
    pub fields: &'static [Field],
    pub filters: &'static [Filter],
    /// Cross-field rules over the merged record (after a patch, too).
    pub check: fn(&Map<String, Value>, &mut FieldErrors),
}

pub fn no_check(_: &Map<String, Value>, _: &mut FieldErrors) {}

fn valid(kind: Kind, v: &Value) -> Result<Value, String> {
    let text = |max: usize| match v.as_str().map(str::trim) {
        Some(s) if !s.is_empty() && s.chars().count() <= max => Ok(Value::String(s.to_string())),
        _ => Err(format!(
            "must be a non-empty string of at most {max} characters"
        )),
    };
    match kind {
        Kind::Text(max) => text(max),
        Kind::Email => match v.as_str().map(str::trim) {
            Some(s)
                if s.len() <= 254
                    && s.split_once('@').is_some_and(|(a, d)| {
                        !a.is_empty() && d.contains('.') && !s.contains(' ')
                    }) =>
            {
                Ok(Value::String(s.to_string()))
            }
            _ => Err("must be an email address".into()),
        },
        Kind::Phone => match v.as_str().map(str::trim) {
            Some(s)
                if (5..=32).contains(&s.len())
                    && s.chars().all(|c| c.is_ascii_digit() || " +-()".contains(c)) =>
            {
                Ok(Value::String(s.to_string()))
            }
            _ => Err("must be a phone number (digits, spaces, + - ( ))".into()),
        },
        Kind::Int(min, max) => match v.as_i64() {
            Some(n) if (min..=max).contains(&n) => Ok(Value::from(n)),
            _ => Err(format!("must be an integer from {min} to {max}")),
        },
        Kind::Money => match v.as_i64() {
            Some(n) if (1..=10_000_000_000_000).contains(&n) => Ok(Value::from(n)),
            _ => Err("must be an integer of minor units, 1 to 10^13".into()),
        },
        Kind::Currency => match v.as_str() {
            Some(c) if c.len() == 3 && c.bytes().all(|b| b.is_ascii_uppercase()) => Ok(v.clone()),
            _ => Err("must be an ISO 4217 code such as EUR".into()),
        },
        Kind::Enum(values) => match v.as_str() {
            Some(s) if values.contains(&s) => Ok(v.clone()),
            _ => Err(format!("must be one of: {}", values.join(", "))),
        },
        Kind::Ref(_) => match v.as_str() {
            Some(s) if super::auth::valid_user_id(s) => Ok(v.clone()),
            _ => Err("must be an id".into()),
        },
        Kind::List(max_items, max_len, allowed) => {
            let Some(a) = v.as_array().filter(|a| a.len() <= max_items) else {
                return Err(format!("must be a list of at most {max_items} strings"));
            };
            let mut out: Vec<Value> = Vec::new();
            for x in a {
                let s = x.as_str().map(str::trim).unwrap_or("");
                let ok = !s.is_empty()
                    && s.chars().count() <= max_len
                    && allowed.is_none_or(|al| al.contains(&s));
                if !ok {
                    return Err(match allowed {
                        Some(al) => format!("each must be one of: {}", al.join(", ")),
                        None => format!("each must be a string of 1-{max_len} characters"),
                    });
                }
                let s = Value::String(s.to_string());
                if !out.contains(&s) {
                    out.push(s);
                }
            }
            Ok(Value::Array(out))
        }
        Kind::Bool => v
            .as_bool()
            .map(Value::Bool)
            .ok_or_else(|| "must be true or false".into()),
    }
}

fn object<'a>(
    spec: &Spec,
    body: &'a Value,
    errs: &mut FieldErrors,
) -> Option<&'a Map<String, Value>> {
    let Some(o) = body.as_object() else {
        errs.add("body", "must be a JSON object");
        return None;
    };
    for k in o
        .keys()
        .filter(|k| !spec.fields.iter().any(|f| f.name == k.as_str()))
    {
        errs.add(k, "is not a known field");
    }
    Some(o)
}

/// A create body → every column's value (absent optionals `null`, defaults applied).
pub fn validate_create(spec: &Spec, body: &Value) -> ApiResult<Map<String, Value>> {
    let mut errs = FieldErrors::default();
    let Some(o) = object(spec, body, &mut errs) else {
        return Err(ApiError::validation(errs));
    };
    let mut out = Map::new();
    for f in spec.fields {
        let v = match o.get(f.name) {
            None | Some(Value::Null) => {
                if f.required {
                    errs.add(f.name, "is required");
                }
                f.default
                    .and_then(|d| serde_json::from_str(d).ok())
                    .unwrap_or(Value::Null)
            }
            Some(v) => match valid(f.kind, v) {
                Ok(v) => v,
                Err(e) => {
                    errs.add(f.name, e);
                    Value::Null
                }
            },
        };
        out.insert(f.name.to_string(), v);
    }
    if errs.is_empty() {
        (spec.check)(&out, &mut errs);
    }
    errs.into_result()?;
    Ok(out)
}

/// A patch body → the changed columns (`null` clears an optional field). `current` is the
/// stored record, for the cross-field rules over the result.
pub fn validate_patch(
    spec: &Spec,
    body: &Value,
    current: &Map<String, Value>,
) -> ApiResult<Map<String, Value>> {
    let mut errs = FieldErrors::default();
    let Some(o) = object(spec, body, &mut errs) else {
        return Err(ApiError::validation(errs));
    };
    if o.is_empty() {
        errs.add("body", "names no field to change");
    }
    let mut out = Map::new();
    for f in spec.fields {
        match o.get(f.name) {
            None => {}
            Some(Value::Null) if f.required || f.default.is_some() => {
                errs.add(f.name, "cannot be cleared");
            }
            Some(Value::Null) => {
                out.insert(f.name.to_string(), Value::Null);
            }
            Some(v) => match valid(f.kind, v) {
                Ok(v) => {
                    out.insert(f.name.to_string(), v);
                }
                Err(e) => errs.add(f.name, e),
            },
        }
    }
    if errs.is_empty() {
        let mut merged = current.clone();
        merged.extend(out.clone());
        (spec.check)(&merged, &mut errs);
    }
    errs.into_result()?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const KINDS: &[&str] = &["a", "b"];
    const FIELDS: &[Field] = &[
        req("name", Kind::Text(10)),
        opt("email", Kind::Email),
        opt("phone", Kind::Phone),
        dflt("kind", Kind::Enum(KINDS), "\"a\""),
        opt("n", Kind::Int(0, 5)),
        opt("tags", Kind::List(3, 5, None)),
        dflt("active", Kind::Bool, "true"),
    ];
    fn min_le_max(m: &Map<String, Value>, errs: &mut FieldErrors) {
        if m["n"].as_i64().is_some_and(|n| n == 3) {
            errs.add("n", "three is not allowed");
        }
    }
    const SPEC: Spec = Spec {
        name: "thing",
        table: "things",
        id_prefix: "thg",
        events: "things:thing",
        fields: FIELDS,
        filters: &[],
        check: min_le_max,
    };

    #[test]
    fn create_applies_defaults_and_limits() {
        let m = validate_create(&SPEC, &json!({"name": " Ann ", "tags": ["x", "x", "y"]})).unwrap();
        assert_eq!(m["name"], "Ann");
        assert_eq!(m["kind"], "a");
        assert_eq!(m["active"], true);
        assert_eq!(m["tags"], json!(["x", "y"]));
        assert_eq!(m["email"], Value::Null);
        let e = validate_create(&SPEC, &json!({"email": "nope", "phone": "abc", "kind": "c", "n": 9, "tags": ["toolong"], "zz": 1})).unwrap_err();
        let f = &e.details.unwrap()["fields"];
        for k in ["name", "email", "phone", "kind", "n", "tags", "zz"] {
            assert!(f[k].is_string(), "{k}: {f}");
        }
        assert!(validate_create(&SPEC, &json!({"name": "x", "n": 3})).is_err());
    }

    #[test]
    fn patch_changes_only_given_fields() {
        let cur = validate_create(&SPEC, &json!({"name": "Ann", "n": 1})).unwrap();
        let p = validate_patch(&SPEC, &json!({"n": null, "email": "a@b.co"}), &cur).unwrap();
        assert_eq!(p.len(), 2);
        assert!(validate_patch(&SPEC, &json!({"name": null}), &cur).is_err());
        assert!(validate_patch(&SPEC, &json!({"kind": null}), &cur).is_err());
        assert!(validate_patch(&SPEC, &json!({}), &cur).is_err());
        assert!(validate_patch(&SPEC, &json!({"n": 3}), &cur).is_err());
    }
}
