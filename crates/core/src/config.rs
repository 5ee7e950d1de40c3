//! The deployment's settings (pure): every env var's name, default and parsing, declared
//! once in `SETTINGS`, and the typed `Config` they parse into (docs/config.md is checked
//! against the same declaration; the Worker reads the env once per isolate).

use crate::domain::auth::{self, AuthConfig};
use crate::domain::cors::CorsPolicy;

/// One setting: its env name, the value used when it is unset, empty or invalid, whether
/// it is a secret (`wrangler secret put`) and what it does.
pub struct Setting {
    pub name: &'static str,
    pub default: &'static str,
    pub secret: bool,
    /// Read by the realtime hub (`realtime::protocol::Limits`), not by `Config`.
    pub hub: bool,
    /// Empty in the Worker's build: only docs/config.md (native) reads it, and the text
    /// would otherwise ride along in the Wasm's data.
    pub doc: &'static str,
}

/// A setting's description where it is read (native builds).
const fn doc(text: &'static str) -> &'static str {
    if cfg!(target_arch = "wasm32") {
        ""
    } else {
        text
    }
}

const fn var(name: &'static str, default: &'static str, doc_text: &'static str) -> Setting {
    Setting {
        name,
        default,
        secret: false,
        hub: false,
        doc: doc(doc_text),
    }
}

const fn hub_var(name: &'static str, default: &'static str, doc_text: &'static str) -> Setting {
    Setting {
        name,
        default,
        secret: false,
        hub: true,
        doc: doc(doc_text),
    }
}

const fn secret(name: &'static str, doc_text: &'static str) -> Setting {
    Setting {
        name,
        default: "",
        secret: true,
        hub: false,
        doc: doc(doc_text),
    }
}

/// Every setting the Worker and the hub read. Defaults here are the only defaults.
pub const SETTINGS: &[Setting] = &[
    var("PULSE_ENV", "production", "`dev` enables the dev routes and fault injection; anything else disables them"),
    secret("JWT_SECRET", "HS256 key for access tokens (login answers 503 without it)"),
    secret("JWT_JWKS", "JWKS with Ed25519 (`OKP`) keys trusted for EdDSA tokens; malformed keys are skipped with a warning"),
    var("JWT_ISSUER", "", "when set, tokens must carry this `iss` (and minted tokens do)"),
    var("JWT_AUDIENCE", "", "when set, tokens must carry this `aud` (and minted tokens do)"),
    secret("PLATFORM_TOKEN", "the operator's token for `POST /api/platform/tenants` (a bearer token, not a tenant JWT; unset: the route answers 503)"),
    secret("VISITOR_ID_SECRET", "keys the opaque visitor ids of public routes (else `JWT_SECRET` does)"),
    var("CORS_ORIGINS", "", "comma-separated browser origins allowed to call the API (`*` = any; empty = none)"),
    var("BLOCKLIST_CACHE_MS", "10000", "how long an isolate reuses a tenant's IP blocklist"),
    var("LOGIN_ACCOUNT_LIMIT", "5", "failed logins per account per 15 minutes before lockout (positive)"),
    var("LOGIN_IP_LIMIT", "20", "failed logins per client address per 15 minutes, across tenants (positive)"),
    var("LEAD_IP_LIMIT", "5", "leads per client address per 15 minutes, all cards (positive)"),
    var("LEAD_CARD_LIMIT", "20", "leads per card per 15 minutes (positive)"),
    var("CARD_SCAN_EVENT_WINDOW_MS", "10000", "a card's scans are announced at most once per window (0..=3600000)"),
    var("PUBLISHING_PLATFORMS", "", "listing platforms as `name=target` pairs; target `record` or a webhook URL"),
    secret("PUBLISHING_WEBHOOK_SECRET", "signs publishing webhooks (HMAC-SHA256) when set"),
    var("EMAIL_PROVIDER", "record", "`record` (store in D1) or `http` (POST to `EMAIL_PROVIDER_URL`)"),
    var("EMAIL_PROVIDER_URL", "", "the email provider's URL when `EMAIL_PROVIDER=http`"),
    secret("EMAIL_PROVIDER_TOKEN", "bearer token sent to the email provider"),
    var("EMAIL_FROM", "Pulse <no-reply@pulse.example>", "sender of outgoing emails"),
    var("SMS_PROVIDER", "record", "`record` (store in D1) or `http` (POST to `SMS_PROVIDER_URL`)"),
    var("SMS_PROVIDER_URL", "", "the SMS provider's URL when `SMS_PROVIDER=http`"),
    secret("SMS_PROVIDER_TOKEN", "bearer token sent to the SMS provider"),
    var("PROVIDER_TIMEOUT_MS", "10000", "time an outside provider gets to answer"),
    var("JOB_BACKOFF_BASE_SECONDS", "5", "first retry delay of a failed job, doubled per attempt (1..=3600)"),
    var("JOB_LEASE_MS", "300000", "how long a running job's claim lasts; progress renews it (1000..=3600000)"),
    hub_var("WS_MAX_PER_USER", "5", "open WebSockets per user and tenant"),
    hub_var("SSE_MAX_PER_USER", "3", "open SSE streams per user and tenant"),
    hub_var("WS_FRAMES_PER_MINUTE", "100", "frames a WebSocket may send per minute"),
    hub_var("WS_MAX_FRAME_BYTES", "65536", "largest accepted WebSocket frame"),
    hub_var("WS_MAX_SUBSCRIPTIONS", "50", "channels one connection may subscribe to"),
    hub_var("HISTORY_MAX_EVENTS", "10000", "events kept per tenant for resume"),
    hub_var("HISTORY_MAX_AGE_SECONDS", "604800", "age of the oldest event kept for resume"),
    hub_var("PRESENCE_GRACE_MS", "5000", "a leave is announced only if the user has not come back by then"),
    hub_var("DASHBOARD_MIN_INTERVAL_MS", "5000", "at most one dashboard snapshot per interval"),
    hub_var("SSE_HEARTBEAT_SECONDS", "15", "comment frames on open SSE streams (at least 1)"),
    hub_var("SSE_MAX_BUFFERED_BYTES", "4194304", "an SSE reader with more unread bytes than this is dropped"),
];

/// An outside provider channel (`EMAIL`, `SMS`).
#[derive(Debug, Clone, PartialEq)]
pub struct ProviderSettings {
    /// `record` or `http` (anything else fails the job, retryably).
    pub kind: String,
    pub url: Option<String>,
    pub token: Option<String>,
}

/// The parsed settings.
pub struct Config {
    pub dev: bool,
    pub auth: AuthConfig,
    /// Skipped JWKS keys, or why the whole JWKS was ignored (logged once per isolate).
    pub auth_warnings: Vec<String>,
    /// `VISITOR_ID_SECRET`, else `JWT_SECRET`.
    pub visitor_id_secret: Option<String>,
    /// `PLATFORM_TOKEN`: who may create tenants.
    pub platform_token: Option<String>,
    pub cors: CorsPolicy,
    pub blocklist_cache_ms: i64,
    pub login_account_limit: i64,
    pub login_ip_limit: i64,
    pub lead_ip_limit: i64,
    pub lead_card_limit: i64,
    pub card_scan_event_window_ms: i64,
    /// name → target, or why `PUBLISHING_PLATFORMS` is invalid.
    pub publishing_platforms: Result<Vec<(String, String)>, String>,
    pub publishing_webhook_secret: Option<String>,
    pub email: ProviderSettings,
    pub email_from: String,
    pub sms: ProviderSettings,
    pub provider_timeout_ms: u64,
    pub job_backoff_base_seconds: u32,
    pub job_lease_ms: i64,
}

/// Reads declared settings through an env lookup; unset and empty values are the default.
pub struct Source<F: Fn(&str) -> Option<String>> {
    get: F,
}

impl<F: Fn(&str) -> Option<String>> Source<F> {
    pub fn new(get: F) -> Self {
        Source { get }
    }

    fn setting(name: &str) -> &'static Setting {
        SETTINGS
            .iter()
            .find(|s| s.name == name)
            .unwrap_or(&SETTINGS[0])
    }

    /// The set value, if any (not the default).
    pub fn set(&self, name: &str) -> Option<String> {
        debug_assert!(SETTINGS.iter().any(|s| s.name == name), "undeclared {name}");
        (self.get)(name).filter(|v| !v.is_empty())
    }

    /// The set value, else the declared default.
    pub fn text(&self, name: &str) -> String {
        self.set(name)
            .unwrap_or_else(|| Self::setting(name).default.to_string())
    }

    /// The set value or the declared default, `None` when both are empty.
    pub fn opt(&self, name: &str) -> Option<String> {
        Some(self.text(name)).filter(|v| !v.is_empty())
    }

    /// A number within `ok`; an unparsable or out-of-range value falls back to the default.
    pub fn num<T>(&self, name: &str, ok: impl Fn(&T) -> bool) -> T
    where
        T: std::str::FromStr + Default,
    {
        let parse = |v: &str| v.trim().parse::<T>().ok().filter(&ok);
        self.set(name)
            .and_then(|v| parse(&v))
            .or_else(|| parse(Self::setting(name).default))
            .unwrap_or_default()
    }
}

impl Config {
    /// Parses every setting from `get` (an env lookup). Pure: no logging, no env access.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Config {
        let s = Source::new(get);
        let mut auth_warnings = Vec::new();
        let ed25519_keys = match s.opt("JWT_JWKS").map(|j| auth::ed25519_keys_from_jwks(&j)) {
            Some(Ok((keys, warnings))) => {
                auth_warnings.extend(warnings);
                keys
            }
            Some(Err(e)) => {
                auth_warnings.push(format!("JWT_JWKS ignored: {e}"));
                Vec::new()
            }
            None => Vec::new(),
        };
        let jwt_secret = s.opt("JWT_SECRET");
        let provider = |prefix: &str| ProviderSettings {
            kind: s.text(&format!("{prefix}_PROVIDER")),
            url: s.opt(&format!("{prefix}_PROVIDER_URL")),
            token: s.opt(&format!("{prefix}_PROVIDER_TOKEN")),
        };
        Config {
            dev: s.text("PULSE_ENV") == "dev",
            auth: AuthConfig {
                hs256_secret: jwt_secret.clone().map(String::into_bytes),
                ed25519_keys,
                issuer: s.opt("JWT_ISSUER"),
                audience: s.opt("JWT_AUDIENCE"),
            },
            auth_warnings,
            visitor_id_secret: s.opt("VISITOR_ID_SECRET").or(jwt_secret),
            platform_token: s.opt("PLATFORM_TOKEN"),
            cors: CorsPolicy::parse(&s.text("CORS_ORIGINS")),
            blocklist_cache_ms: s.num("BLOCKLIST_CACHE_MS", |_| true),
            login_account_limit: s.num("LOGIN_ACCOUNT_LIMIT", |n| *n > 0),
            login_ip_limit: s.num("LOGIN_IP_LIMIT", |n| *n > 0),
            lead_ip_limit: s.num("LEAD_IP_LIMIT", |n| *n > 0),
            lead_card_limit: s.num("LEAD_CARD_LIMIT", |n| *n > 0),
            card_scan_event_window_ms: s
                .num("CARD_SCAN_EVENT_WINDOW_MS", |n| (0..=3_600_000).contains(n)),
            publishing_platforms: crate::domain::publishing::parse_platforms(
                &s.text("PUBLISHING_PLATFORMS"),
            ),
            publishing_webhook_secret: s.opt("PUBLISHING_WEBHOOK_SECRET"),
            email: provider("EMAIL"),
            email_from: s.text("EMAIL_FROM"),
            sms: provider("SMS"),
            provider_timeout_ms: s.num("PROVIDER_TIMEOUT_MS", |_| true),
            job_backoff_base_seconds: s.num("JOB_BACKOFF_BASE_SECONDS", |n| (1..=3600).contains(n)),
            job_lease_ms: s.num("JOB_LEASE_MS", |n| (1_000..=3_600_000).contains(n)),
        }
    }

    /// The provider channel named by `prefix` (`EMAIL`, `SMS`).
    pub fn provider(&self, prefix: &str) -> Option<&ProviderSettings> {
        match prefix {
            "EMAIL" => Some(&self.email),
            "SMS" => Some(&self.sms),
            _ => None,
        }
    }
}

/// A lookup that answers the declared default for unset and empty settings (for parts
/// that parse their own settings, like the hub's `Limits`).
pub fn with_defaults(get: impl Fn(&str) -> Option<String>) -> impl Fn(&str) -> Option<String> {
    let s = Source::new(get);
    move |k: &str| Some(s.text(k))
}

/// The settings table of docs/config.md, generated from `SETTINGS`.
pub fn markdown_table() -> String {
    let mut out = String::from("| Name | Default | Secret | What it does |\n|---|---|---|---|\n");
    for s in SETTINGS {
        let default = if s.default.is_empty() {
            "(unset)".to_string()
        } else {
            format!("`{}`", s.default)
        };
        let secret = if s.secret { "yes" } else { "" };
        out.push_str(&format!(
            "| `{}` | {} | {} | {} |\n",
            s.name,
            default,
            secret,
            s.doc.replace('|', "\\|")
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn with(pairs: &[(&str, &str)]) -> Config {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(move |k| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()))
    }

    #[test]
    fn defaults_match_the_former_constants() {
        let c = with(&[]);
        assert!(!c.dev);
        assert!(c.auth.hs256_secret.is_none());
        assert!(c.auth.ed25519_keys.is_empty());
        assert!(c.auth_warnings.is_empty());
        assert_eq!(c.visitor_id_secret, None);
        assert_eq!(c.cors, CorsPolicy::parse(""));
        assert_eq!(c.blocklist_cache_ms, 10_000);
        assert_eq!(
            c.login_account_limit,
            crate::domain::identity::ACCOUNT_LIMIT
        );
        assert_eq!(c.login_ip_limit, crate::domain::identity::IP_LIMIT);
        assert_eq!(c.card_scan_event_window_ms, 10_000);
        assert_eq!((c.lead_ip_limit, c.lead_card_limit), (5, 20));
        assert_eq!(c.publishing_platforms, Ok(vec![]));
        assert_eq!(c.email.kind, "record");
        assert_eq!(c.email.url, None);
        assert_eq!(c.email_from, "Pulse <no-reply@pulse.example>");
        assert_eq!(c.sms.kind, "record");
        assert_eq!(c.provider_timeout_ms, 10_000);
        assert_eq!(c.job_backoff_base_seconds, 5);
        assert_eq!(c.job_lease_ms, crate::domain::jobs::DEFAULT_LEASE_MS);
    }

    #[test]
    fn values_are_parsed_and_bad_ones_keep_the_default() {
        let c = with(&[
            ("PULSE_ENV", "dev"),
            ("JWT_SECRET", "s3"),
            ("JWT_ISSUER", ""),
            ("JWT_AUDIENCE", "pulse"),
            ("CORS_ORIGINS", "https://a.example"),
            ("LOGIN_ACCOUNT_LIMIT", " 7 "),
            ("LOGIN_IP_LIMIT", "0"),
            ("CARD_SCAN_EVENT_WINDOW_MS", "99999999"),
            ("JOB_BACKOFF_BASE_SECONDS", "1"),
            ("JOB_LEASE_MS", "oops"),
            ("SMS_PROVIDER", "http"),
            ("SMS_PROVIDER_URL", "http://127.0.0.1:9/sms"),
            ("SMS_PROVIDER_TOKEN", "tok"),
            ("PUBLISHING_PLATFORMS", "idealista=record"),
        ]);
        assert!(c.dev);
        assert_eq!(c.auth.hs256_secret.as_deref(), Some(&b"s3"[..]));
        assert_eq!(c.auth.issuer, None);
        assert_eq!(c.auth.audience.as_deref(), Some("pulse"));
        assert_eq!(c.visitor_id_secret.as_deref(), Some("s3"));
        assert!(c.cors.allow("https://a.example").is_some());
        assert_eq!(c.login_account_limit, 7);
        assert_eq!(c.login_ip_limit, 20);
        assert_eq!(c.card_scan_event_window_ms, 10_000);
        assert_eq!(c.job_backoff_base_seconds, 1);
        assert_eq!(c.job_lease_ms, 300_000);
        assert_eq!(
            c.provider("SMS"),
            Some(&ProviderSettings {
                kind: "http".into(),
                url: Some("http://127.0.0.1:9/sms".into()),
                token: Some("tok".into()),
            })
        );
        assert_eq!(
            c.publishing_platforms,
            Ok(vec![("idealista".into(), "record".into())])
        );
        assert!(with(&[("PUBLISHING_PLATFORMS", "nonsense")])
            .publishing_platforms
            .is_err());
        let d = with_defaults(|k| (k == "WS_MAX_PER_USER").then(|| "2".to_string()));
        assert_eq!(d("WS_MAX_PER_USER").as_deref(), Some("2"));
        assert_eq!(d("HISTORY_MAX_EVENTS").as_deref(), Some("10000"));
        assert_eq!(
            with(&[("VISITOR_ID_SECRET", "v"), ("JWT_SECRET", "j")])
                .visitor_id_secret
                .as_deref(),
            Some("v")
        );
    }

    #[test]
    fn a_broken_jwks_is_a_warning_not_a_failure() {
        let c = with(&[("JWT_JWKS", "not json"), ("JWT_SECRET", "x")]);
        assert!(c.auth.ed25519_keys.is_empty());
        assert_eq!(c.auth_warnings.len(), 1);
        assert!(c.auth_warnings[0].starts_with("JWT_JWKS ignored"));
        assert!(c.auth.hs256_secret.is_some());
    }

    /// Every declared setting is read, nothing undeclared is read, and each is declared once
    /// (the hub's settings are checked beside `Limits`).
    #[test]
    fn the_declaration_is_exactly_what_is_read() {
        let seen = std::cell::RefCell::new(BTreeSet::new());
        let _ = Config::from_lookup(|k| {
            seen.borrow_mut().insert(k.to_string());
            None
        });
        let names: BTreeSet<&str> = SETTINGS.iter().map(|s| s.name).collect();
        assert_eq!(names.len(), SETTINGS.len(), "a setting is declared twice");
        let declared: BTreeSet<String> = SETTINGS
            .iter()
            .filter(|s| !s.hub)
            .map(|s| s.name.to_string())
            .collect();
        assert_eq!(seen.into_inner(), declared);
        for s in SETTINGS {
            assert!(
                !s.secret || s.default.is_empty(),
                "{}: secrets have no default",
                s.name
            );
            assert!(!s.doc.is_empty(), "{} needs a description", s.name);
        }
    }

    /// docs/config.md carries the table generated from `SETTINGS`.
    #[test]
    fn docs_table_matches_the_declaration() {
        let doc = include_str!("../../../docs/config.md");
        let table = markdown_table();
        assert!(
            doc.contains(&table),
            "docs/config.md is out of date; its settings table must be:\n\n{table}"
        );
    }

    /// Names in wrangler.toml's [vars] are declared settings.
    #[test]
    fn wrangler_vars_are_declared() {
        let toml = include_str!("../../../wrangler.toml");
        let vars = toml
            .split("[vars]")
            .nth(1)
            .and_then(|rest| rest.split("\n[").next())
            .unwrap_or_default();
        for line in vars.lines() {
            let Some((name, _)) = line.split_once('=') else {
                continue;
            };
            let name = name.trim();
            if name.is_empty() || name.starts_with('#') {
                continue;
            }
            assert!(
                SETTINGS.iter().any(|s| s.name == name),
                "wrangler.toml sets undeclared {name}"
            );
        }
    }
}
