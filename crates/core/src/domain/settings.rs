//! A brokerage's own settings (pure): what `GET`/`PUT /api/settings` carry, the edit's
//! shape and checks, and the time-zone grammar.

use super::cors;
use super::error::ApiResult;
use super::schema::{self, opt, req, rule, Kind, Pattern, Shape};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// An IANA time zone name (`Europe/Madrid`, `America/Argentina/Cordoba`) or `UTC`.
pub fn valid_timezone(s: &str) -> bool {
    if s == "UTC" {
        return true;
    }
    let parts: Vec<&str> = s.split('/').collect();
    let area = parts[0].as_bytes();
    s.len() <= 64
        && (2..=3).contains(&parts.len())
        && area.first().is_some_and(u8::is_ascii_uppercase)
        && area.iter().all(|b| b.is_ascii_alphabetic() || *b == b'_')
        && parts[1..].iter().all(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'+' | b'-'))
        })
}

pub const TIMEZONE: Pattern = Pattern {
    test: valid_timezone,
    regex: "^(?:UTC|[A-Z][A-Za-z_]*(?:/[A-Za-z0-9_+-]+){1,2})$",
    max_len: Some(64),
    problem: "an IANA time zone such as Europe/Madrid, or UTC",
    example: "Europe/Madrid",
};

/// The settings as the API answers and `settings:updated` carries them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    pub name: String,
    pub timezone: String,
    pub currency: String,
    pub commission_default_bps: i64,
    pub commission_max_bps: Option<i64>,
    /// The platforms its listings may use (a subset of the deployment's).
    pub publishing_platforms: Vec<String>,
    /// The browser origins of its own front ends, allowed beside the deployment's
    /// (`domain::cors`).
    pub cors_origins: Vec<String>,
    pub updated_by: Option<String>,
    pub updated_at: Option<String>,
}

/// `PUT /api/settings` (partial).
pub const PATCH: Shape = Shape::patch(
    "SettingsPatch",
    &[
        req("name", Kind::Text(200)),
        req("timezone", Kind::Pattern(&TIMEZONE)),
        req("currency", Kind::Currency),
        req("commission_default_bps", Kind::Int(0, 10_000)),
        opt("commission_max_bps", Kind::Int(0, 10_000)),
        req("publishing_platforms", Kind::List(&Kind::Str(1, 64), 0, 20)),
        req(
            "cors_origins",
            Kind::List(&Kind::Pattern(&cors::ORIGIN), 0, 20),
        ),
    ],
    &[rule(
        &["publishing_platforms"],
        "Each of publishing_platforms must be a platform of the deployment (PUBLISHING_PLATFORMS).",
    )],
);

/// The fields a patch may change, in the order `changes` lists them.
pub const EDITABLE: &[&str] = &[
    "name",
    "timezone",
    "currency",
    "commission_default_bps",
    "commission_max_bps",
    "publishing_platforms",
    "cors_origins",
];

/// `current` edited by `body`; the platforms must be among `configured`. Also returns
/// which fields the body gave.
pub fn apply(
    current: &Settings,
    body: &Value,
    configured: &[String],
) -> ApiResult<(Settings, Vec<&'static str>)> {
    let (v, mut errs) = schema::check(&PATCH, body);
    if let Some(list) = v.strings("publishing_platforms") {
        if list.iter().any(|p| !configured.contains(p)) {
            errs.add(
                "publishing_platforms",
                format!("each must be one of: {}", configured.join(", ")),
            );
        }
    }
    errs.into_result()?;
    let mut s = current.clone();
    if let Some(n) = v.str("name") {
        s.name = n;
    }
    if let Some(t) = v.str("timezone") {
        s.timezone = t;
    }
    if let Some(c) = v.str("currency") {
        s.currency = c;
    }
    if let Some(r) = v.int("commission_default_bps") {
        s.commission_default_bps = r;
    }
    if v.has("commission_max_bps") {
        s.commission_max_bps = v.int("commission_max_bps");
    }
    if let Some(p) = v.strings("publishing_platforms") {
        s.publishing_platforms = p;
    }
    if let Some(mut o) = v.strings("cors_origins") {
        o.sort();
        o.dedup();
        s.cors_origins = o;
    }
    let given = EDITABLE.iter().copied().filter(|f| v.has(f)).collect();
    Ok((s, given))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn time_zones() {
        for ok in [
            "UTC",
            "Europe/Madrid",
            "America/Argentina/Cordoba",
            "Etc/GMT+3",
        ] {
            assert!(valid_timezone(ok), "{ok}");
        }
        for bad in [
            "",
            "utc",
            "Europe",
            "europe/Madrid",
            "Europe/",
            "A/B/C/D",
            "Europe/Mad rid",
        ] {
            assert!(!valid_timezone(bad), "{bad}");
        }
    }

    #[test]
    fn a_patch_changes_what_it_names() {
        let cur = Settings {
            name: "t1".into(),
            timezone: "UTC".into(),
            currency: "EUR".into(),
            commission_default_bps: 300,
            commission_max_bps: None,
            publishing_platforms: vec!["a".into(), "b".into()],
            cors_origins: vec![],
            updated_by: None,
            updated_at: None,
        };
        let conf = vec!["a".to_string(), "b".to_string()];
        let (s, given) = apply(
            &cur,
            &json!({"timezone": "Europe/Madrid", "commission_max_bps": 500}),
            &conf,
        )
        .unwrap();
        assert_eq!(
            (s.timezone.as_str(), s.commission_max_bps),
            ("Europe/Madrid", Some(500))
        );
        assert_eq!(given, vec!["timezone", "commission_max_bps"]);
        assert!(apply(&cur, &json!({"publishing_platforms": ["c"]}), &conf).is_err());
        assert!(apply(&cur, &json!({"timezone": "Mars/Olympus Mons"}), &conf).is_err());
        assert!(apply(&cur, &json!({}), &conf).is_err());
        let (s, _) = apply(&cur, &json!({"commission_max_bps": null}), &conf).unwrap();
        assert_eq!(s.commission_max_bps, None);
        let (s, given) = apply(
            &cur,
            &json!({"cors_origins": ["https://app.casa.example"]}),
            &conf,
        )
        .unwrap();
        assert_eq!(s.cors_origins, vec!["https://app.casa.example"]);
        assert_eq!(given, vec!["cors_origins"]);
        assert!(apply(&cur, &json!({"cors_origins": ["*"]}), &conf).is_err());
        assert!(apply(
            &cur,
            &json!({"cors_origins": ["https://x.example/app"]}),
            &conf
        )
        .is_err());
    }
}
