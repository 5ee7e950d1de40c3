//! Declared query parameters (pure): what each one of an endpoint accepts, checked by the
//! router before the handler runs (400 otherwise) and published as the parameter's schema
//! in the OpenAPI document, from the same declaration.
//!
//! The rule for every kind: a parameter left out is not checked. A text filter's empty
//! value means "no filter"; a typed parameter (`OneOf`, `Time`, `Int`, `Flag`, `List`'s
//! items), when given, must be valid, and an empty value is not.

use super::error::{ApiError, ApiResult};
use super::schema::MAX_SAFE_INT;

/// One query parameter.
#[derive(Debug, Clone, Copy)]
pub struct Param {
    pub name: &'static str,
    pub kind: ParamKind,
}

#[derive(Debug, Clone, Copy)]
pub enum ParamKind {
    /// Any string, compared as given (an unknown value matches nothing); empty: no filter.
    Text,
    /// One of these strings.
    OneOf(&'static [&'static str]),
    /// An RFC 3339 date-time as request bodies take it (`time::parse_strict`).
    Time,
    /// An integer in `[min, max]`, in canonical decimal form (`-5`, not `+5` or `05`).
    Int(i64, i64),
    /// `true` or `false`.
    Flag,
    /// Empty (the default), or 1 to `max` comma-separated items, each valid after trimming
    /// whitespace around it.
    List(&'static ListItem, usize),
}

/// An item of a `List` parameter.
#[derive(Debug)]
pub struct ListItem {
    pub test: fn(&str) -> bool,
    /// The same grammar as an unanchored ECMA-262 regex over the trimmed item.
    #[cfg(not(target_arch = "wasm32"))]
    pub regex: fn() -> String,
    pub problem: &'static str,
    /// The error code of a bad item, and of too many items.
    pub code: &'static str,
    pub count_code: &'static str,
}

pub const fn text(name: &'static str) -> Param {
    Param {
        name,
        kind: ParamKind::Text,
    }
}
pub const fn one_of(name: &'static str, values: &'static [&'static str]) -> Param {
    Param {
        name,
        kind: ParamKind::OneOf(values),
    }
}
pub const fn time(name: &'static str) -> Param {
    Param {
        name,
        kind: ParamKind::Time,
    }
}
pub const fn int(name: &'static str, min: i64, max: i64) -> Param {
    Param {
        name,
        kind: ParamKind::Int(min, max),
    }
}
pub const fn flag(name: &'static str) -> Param {
    Param {
        name,
        kind: ParamKind::Flag,
    }
}
pub const fn list(name: &'static str, item: &'static ListItem, max: usize) -> Param {
    Param {
        name,
        kind: ParamKind::List(item, max),
    }
}

/// An integer in its canonical decimal form (an optional `-`, no `+`, no leading zero, no
/// `-0`), within `[min, max]`.
fn int_of(v: &str, min: i64, max: i64) -> Option<i64> {
    v.parse::<i64>()
        .ok()
        .filter(|n| (min..=max).contains(n) && n.to_string() == v)
}

/// Whether `v` is a valid value of `p`; the error code and problem otherwise.
pub fn check_value(p: &Param, v: &str) -> Result<(), (&'static str, String)> {
    let bad = |problem: String| Err(("bad_request", problem));
    match p.kind {
        ParamKind::Text => Ok(()),
        ParamKind::OneOf(values) if values.contains(&v) => Ok(()),
        ParamKind::OneOf(values) => {
            bad(format!("{} must be one of: {}", p.name, values.join(", ")))
        }
        ParamKind::Time if super::time::parse_strict(v).is_some() => Ok(()),
        ParamKind::Time => bad(format!("{} must be an RFC 3339 time", p.name)),
        ParamKind::Int(min, max) if int_of(v, min, max).is_some() => Ok(()),
        ParamKind::Int(min, max) => {
            bad(format!("{} must be an integer from {min} to {max}", p.name))
        }
        ParamKind::Flag if matches!(v, "true" | "false") => Ok(()),
        ParamKind::Flag => bad(format!("{} must be true or false", p.name)),
        ParamKind::List(..) if v.is_empty() => Ok(()),
        ParamKind::List(item, max) => {
            let items: Vec<&str> = v.split(',').map(str::trim).collect();
            if items.len() > max {
                return Err((item.count_code, format!("{}: at most {max} items", p.name)));
            }
            match items.iter().find(|i| !(item.test)(i)) {
                None => Ok(()),
                Some(i) => Err((
                    item.code,
                    format!("{}: '{i}' is not {}", p.name, item.problem),
                )),
            }
        }
    }
}

/// Checks every declared parameter present in the query `pairs` (the first value of each
/// name, as handlers read them): a 400 naming the first bad one.
pub fn check(params: &[Param], pairs: &[(String, String)]) -> ApiResult<()> {
    for p in params {
        if let Some((_, v)) = pairs.iter().find(|(k, _)| k == p.name) {
            check_value(p, v).map_err(|(code, message)| ApiError::new(400, code, message))?;
        }
    }
    Ok(())
}

/// The largest `since` or other counter a parameter may name.
pub const MAX_COUNTER: i64 = MAX_SAFE_INT;

// ---- JSON Schema (native tools and tests only) ------------------------------------------

/// The schema of a parameter's value, exactly as strict as `check_value`.
#[cfg(not(target_arch = "wasm32"))]
pub fn json_schema(p: &Param) -> serde_json::Value {
    use super::schema::{DATE_TIME_PATTERN, WS_CLASS};
    use serde_json::json;
    match p.kind {
        ParamKind::Text => json!({"type": "string"}),
        ParamKind::OneOf(values) => json!({"type": "string", "enum": values}),
        ParamKind::Time => json!({"type": "string", "format": "date-time", "maxLength": 40,
            "pattern": DATE_TIME_PATTERN}),
        ParamKind::Int(min, max) => json!({"type": "integer", "minimum": min, "maximum": max}),
        ParamKind::Flag => json!({"type": "boolean"}),
        ParamKind::List(item, max) => {
            let one = format!("[{WS_CLASS}]*(?:{})[{WS_CLASS}]*", (item.regex)());
            json!({"type": "string", "pattern": format!("^(?:{one}(?:,{one}){{0,{}}})?$", max - 1),
                   "description": format!("comma-separated, at most {max}; each {}", item.problem)})
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::schema::tests::{re_match, valid};
    use serde_json::{json, Value};

    const WORD: ListItem = ListItem {
        test: |s| !s.is_empty() && s.len() <= 3 && s.bytes().all(|b| b.is_ascii_lowercase()),
        regex: || "[a-z]{1,3}".into(),
        problem: "a word",
        code: "bad_word",
        count_code: "too_many_words",
    };

    fn params() -> Vec<Param> {
        vec![
            text("q"),
            one_of("status", &["open", "done"]),
            time("from"),
            int("n", -5, 50),
            flag("active"),
            list("words", &WORD, 3),
        ]
    }

    fn samples() -> Vec<String> {
        let mut v: Vec<String> = [
            "",
            " ",
            "open",
            "done",
            "Open",
            "open ",
            "true",
            "false",
            "True",
            "1",
            "0",
            "-0",
            "-5",
            "-6",
            "50",
            "51",
            "+5",
            "05",
            "1.0",
            "1e1",
            "12345678901234567",
            "abc",
            "abc,de",
            "abc, de ",
            "a,b,c",
            "a,b,c,d",
            "a,",
            ",a",
            "abcd",
            "a\u{a0},b",
            "2026-11-23T10:00:00Z",
            "2026-11-23T10:00:00.5+01:00",
            "2026-02-30T10:00:00Z",
            "2026-11-23 10:00:00Z",
            "2026-11-23T10:00:60Z",
            " 2026-11-23T10:00:00Z",
        ]
        .map(String::from)
        .to_vec();
        v.push("é".into());
        v
    }

    /// A query string value against its schema, as a fuzzer would read it: integers and
    /// booleans from their text.
    fn schema_accepts(schema: &Value, v: &str) -> bool {
        let typed = match schema["type"].as_str() {
            Some("integer") => match v.parse::<i64>() {
                Ok(n) if n.to_string() == v => json!(n),
                _ => return false,
            },
            Some("boolean") => match v {
                "true" => json!(true),
                "false" => json!(false),
                _ => return false,
            },
            _ => json!(v),
        };
        let format_ok =
            schema["format"] != "date-time" || crate::domain::time::parse_strict(v).is_some();
        valid(schema, &typed) && format_ok
    }

    #[test]
    fn the_schema_is_the_check() {
        for p in params() {
            let schema = json_schema(&p);
            for v in samples() {
                assert_eq!(
                    check_value(&p, &v).is_ok(),
                    schema_accepts(&schema, &v),
                    "{} = {v:?}",
                    p.name
                );
            }
        }
    }

    #[test]
    fn check_names_the_first_bad_parameter() {
        let pairs = |q: &[(&str, &str)]| -> Vec<(String, String)> {
            q.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let ps = params();
        assert!(check(&ps, &pairs(&[("q", ""), ("status", "open"), ("x", "y")])).is_ok());
        let e = check(&ps, &pairs(&[("n", "x"), ("status", "nope")])).unwrap_err();
        assert_eq!(e.status, 400);
        assert!(
            e.message.starts_with("status must be one of"),
            "{}",
            e.message
        );
        // The first value of a name is the one read.
        assert!(check(&ps, &pairs(&[("n", "3"), ("n", "x")])).is_ok());
        assert!(check(&ps, &pairs(&[("active", "")])).is_err());
        let e = check(&ps, &pairs(&[("words", "a,b,c,d")])).unwrap_err();
        assert_eq!((e.status, e.code), (400, "too_many_words"));
        let e = check(&ps, &pairs(&[("words", "a,B")])).unwrap_err();
        assert_eq!((e.status, e.code), (400, "bad_word"));
        assert!(re_match("^(?:[a-z]{1,3})$", "abc"));
    }
}
