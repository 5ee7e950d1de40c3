//! Optimistic concurrency (pure): the `version` a client expects a record to have when it
//! updates it (the body's `version` field or an `If-Match` header), its ETag, and the 409.

use super::error::{ApiError, ApiResult};
use serde_json::{json, Value};

/// How many times a partial update without an expected version is re-read and re-applied
/// when a concurrent write wins the race, before it answers 409.
pub const BLIND_ATTEMPTS: usize = 5;

/// The strong ETag of a record at `version`: `"3"`.
pub fn etag(version: i64) -> String {
    format!("\"{version}\"")
}

/// `If-Match` as `expected` reads it: spaces and tabs around, then nothing or `*` (the
/// current version), or one version, bare or as an ETag (`3`, `"3"`, `W/"3"`, `W/3`),
/// 1 to 15 digits without a leading zero. An ECMA-262 regex; the unit tests hold it equal
/// to `parse_if_match`.
pub const IF_MATCH_PATTERN: &str =
    "^[ \\t]*(?:\\*|(?:W/)?(?:\"[1-9][0-9]{0,14}\"|[1-9][0-9]{0,14}))?[ \\t]*$";

/// The sentence of the rule between the body's `version` and `If-Match`.
pub const AGREE_RULE: &str =
    "version and If-Match, when both are given, must name the same version (400 otherwise).";

/// Takes `version` out of a JSON body (so the field validation never sees it) and
/// combines it with `If-Match`: `None` means "whatever is current" (a blind update).
/// A version must be a positive integer; `If-Match` is read by `parse_if_match`; both
/// given and different is a 400 naming `version`.
pub fn expected(body: &mut Value, if_match: Option<&str>) -> ApiResult<Option<i64>> {
    let from_body = match body.as_object_mut().and_then(|o| o.remove("version")) {
        None => None,
        Some(v) => match super::schema::int_value(&v) {
            Some(n) if (1..=super::schema::MAX_SAFE_INT).contains(&n) => Some(n),
            _ => {
                return Err(ApiError::field(
                    "version",
                    "must be the record's version as read (a positive integer)",
                ))
            }
        },
    };
    let from_header = match if_match {
        None => None,
        Some(h) => parse_if_match(h).ok_or_else(|| {
            ApiError::bad_request("If-Match must be one version or ETag, such as \"3\"")
        })?,
    };
    match (from_body, from_header) {
        (Some(b), Some(h)) if b != h => Err(ApiError::bad_request(
            "the body's version and If-Match disagree",
        )
        .with_details(json!({"fields": {"version": "disagrees with If-Match"}}))),
        (b, h) => Ok(b.or(h)),
    }
}

/// An `If-Match` header (`IF_MATCH_PATTERN`): `Some(None)` for none (empty or `*`),
/// `Some(Some(version))`, or `None` when malformed.
pub fn parse_if_match(h: &str) -> Option<Option<i64>> {
    let h = h.trim_matches([' ', '\t']);
    if h.is_empty() || h == "*" {
        return Some(None);
    }
    let h = h.strip_prefix("W/").unwrap_or(h);
    let h = match h.strip_prefix('"') {
        Some(q) => q.strip_suffix('"')?,
        None => h,
    };
    let b = h.as_bytes();
    let ok = (1..=15).contains(&b.len()) && b[0] != b'0' && b.iter().all(u8::is_ascii_digit);
    ok.then(|| h.parse::<i64>().ok().map(Some)).flatten()
}

/// The 409 for an update whose expected version is not the stored one (`current`).
pub fn conflict(what: &str, current: i64) -> ApiError {
    ApiError::new(
        409,
        "conflict",
        format!("the {what} changed meanwhile (now version {current}); read it again"),
    )
    .with_details(json!({"version": current}))
}

/// The 409 for a blind update that lost the race `BLIND_ATTEMPTS` times in a row.
pub fn busy(what: &str) -> ApiError {
    ApiError::new(
        409,
        "conflict",
        format!("the {what} is being changed by others right now; read it again and retry"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_from_body_or_if_match() {
        let mut b = json!({"name": "x", "version": 3});
        assert_eq!(expected(&mut b, None).unwrap(), Some(3));
        assert_eq!(b, json!({"name": "x"}));
        let mut b = json!({"name": "x"});
        assert_eq!(expected(&mut b, None).unwrap(), None);
        assert_eq!(expected(&mut b, Some("*")).unwrap(), None);
        assert_eq!(expected(&mut b, Some(" \"7\" ")).unwrap(), Some(7));
        assert_eq!(expected(&mut b, Some("W/\"7\"")).unwrap(), Some(7));
        assert_eq!(expected(&mut b, Some("7")).unwrap(), Some(7));
        let mut b = json!({"version": 7});
        assert_eq!(expected(&mut b, Some(&etag(7))).unwrap(), Some(7));
    }

    #[test]
    fn bad_versions_are_client_errors() {
        for v in [json!(0), json!(-1), json!("3"), json!(1.5), Value::Null] {
            let e = expected(&mut json!({ "version": v }), None).unwrap_err();
            assert_eq!(e.status, 422, "{v}");
        }
        for h in [
            "abc",
            "\"\"",
            "\"0\"",
            "\"1\", \"2\"",
            "9999999999999999",
            "07",
            "\"7",
            "W/\"c\"",
            "W/",
        ] {
            let e = expected(&mut json!({}), Some(h)).unwrap_err();
            assert_eq!(e.status, 400, "{h}");
        }
        let e = expected(&mut json!({"version": 2}), Some("\"3\"")).unwrap_err();
        assert_eq!(e.status, 400);
        assert!(e.details.unwrap()["fields"]["version"].is_string());
    }

    /// `IF_MATCH_PATTERN` is `parse_if_match`'s grammar.
    #[test]
    fn the_if_match_pattern_is_the_parser() {
        let matches = |h: &str| crate::domain::schema::tests::re_match(IF_MATCH_PATTERN, h);
        let mut cases: Vec<String> = [
            "",
            " ",
            "\t",
            "*",
            " * ",
            "**",
            "1",
            "0",
            "01",
            "10",
            "\"3\"",
            "W/\"3\"",
            "W/3",
            "w/\"3\"",
            "\"3",
            "3\"",
            "W/",
            "\"\"",
            "W/\"\"",
            "\"1\", \"2\"",
            " \"12\"\t",
            "x",
            "-1",
            "+1",
            "1 2",
        ]
        .map(String::from)
        .to_vec();
        for n in [14, 15, 16] {
            cases.push("9".repeat(n));
            cases.push(format!("\"1{}\"", "0".repeat(n - 1)));
        }
        for c in cases {
            assert_eq!(matches(&c), parse_if_match(&c).is_some(), "{c:?}");
        }
    }

    #[test]
    fn conflict_names_the_current_version() {
        let e = conflict("customer", 4);
        assert_eq!((e.status, e.code), (409, "conflict"));
        assert_eq!(e.details.unwrap()["version"], 4);
        assert_eq!(busy("user").status, 409);
        assert_eq!(etag(12), "\"12\"");
    }
}
