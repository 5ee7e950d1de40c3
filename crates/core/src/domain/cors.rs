//! CORS policy (pure): which browser origins may call the API: the deployment's
//! (`CORS_ORIGINS`) and each brokerage's own (`cors_origins` in its settings).

use super::schema::Pattern;

/// Parsed `CORS_ORIGINS`: empty = no cross-origin access; `*` = any origin; otherwise a
/// comma-separated list of exact origins (`https://app.example.com`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CorsPolicy {
    any: bool,
    origins: Vec<String>,
}

pub const ALLOW_METHODS: &str = "GET, POST, PUT, DELETE, OPTIONS";
pub const ALLOW_HEADERS: &str =
    "authorization, content-type, idempotency-key, if-match, last-event-id, x-request-id";
pub const EXPOSE_HEADERS: &str = "pulse-job-id, location, retry-after, etag, x-request-id";

impl CorsPolicy {
    pub fn parse(v: &str) -> CorsPolicy {
        let origins: Vec<String> = v
            .split(',')
            .map(|s| s.trim().trim_end_matches('/').to_string())
            .filter(|s| !s.is_empty())
            .collect();
        CorsPolicy {
            any: origins.iter().any(|o| o == "*"),
            origins,
        }
    }

    /// The value for `Access-Control-Allow-Origin`, if `origin` is allowed. Credentials
    /// are bearer tokens (not cookies), so echoing the origin is safe.
    pub fn allow(&self, origin: &str) -> Option<String> {
        (self.any || self.origins.iter().any(|o| o == origin)).then(|| origin.to_string())
    }
}

/// One exact browser origin: `http` or `https`, a host, an optional port; no path, no
/// wildcard (a brokerage names its own front ends; `*` is the operator's alone).
pub fn valid_origin(s: &str) -> bool {
    let rest = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"));
    let Some(rest) = rest else { return false };
    let (host, port) = match rest.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (rest, None),
    };
    s.len() <= 200
        && !host.is_empty()
        && !host.starts_with(['.', '-'])
        && !host.ends_with(['.', '-'])
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
        && port.is_none_or(|p| (1..=5).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()))
}

pub const ORIGIN: Pattern = Pattern {
    test: valid_origin,
    regex: "^https?://[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?(?::[0-9]{1,5})?$",
    max_len: Some(200),
    problem: "an origin such as https://app.example.com (scheme, host, optional port; no path)",
    example: "https://app.example.com",
};

/// How long an isolate keeps every tenant's origins before reading them again: a
/// settings change reaches other isolates within this time (its own at once).
pub const TENANT_ORIGINS_TTL_MS: i64 = 30_000;

/// Every brokerage's own origins, as `(origin, tenant)` pairs (a plain list: few tenants
/// name origins, and a map type of its own would cost the Worker's size budget).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TenantOrigins {
    pairs: Vec<(String, String)>,
}

impl TenantOrigins {
    /// From `(tenant, origins)` pairs, as the tenants' rows hold them.
    pub fn new(rows: impl IntoIterator<Item = (String, Vec<String>)>) -> TenantOrigins {
        let mut pairs = Vec::new();
        for (tenant, origins) in rows {
            for o in origins {
                pairs.push((o, tenant.clone()));
            }
        }
        TenantOrigins { pairs }
    }

    /// Whether some tenant lists `origin`.
    pub fn listed(&self, origin: &str) -> bool {
        self.pairs.iter().any(|(o, _)| o == origin)
    }

    /// Whether `tenant` lists `origin`.
    pub fn lists(&self, tenant: &str, origin: &str) -> bool {
        self.pairs.iter().any(|(o, t)| o == origin && t == tenant)
    }
}

/// Whether a response to `origin` may be read by the page, beyond the deployment's list:
/// a caller's tenant must list the origin itself; a request without a verified caller (a
/// login, a preflight, a 401) is answered for any origin some tenant lists, because the
/// Worker cannot yet tell whose page it is. Tokens are bearer headers, never cookies, so
/// that answer exposes nothing a page could not already fetch.
pub fn tenant_allows(tenants: &TenantOrigins, caller_tenant: Option<&str>, origin: &str) -> bool {
    match caller_tenant {
        Some(t) => tenants.lists(t, origin),
        None => tenants.listed(origin),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origin_grammar() {
        for ok in [
            "https://app.example.com",
            "http://localhost:5173",
            "http://127.0.0.1:8080",
        ] {
            assert!(valid_origin(ok), "{ok}");
        }
        for bad in [
            "",
            "*",
            "app.example.com",
            "https://",
            "https://app.example.com/",
            "https://app.example.com/path",
            "ftp://x.example",
            "https://a b.example",
            "https://x.example:",
            "https://x.example:123456",
            "https://.example",
        ] {
            assert!(!valid_origin(bad), "{bad}");
        }
    }

    #[test]
    fn tenants_own_origins() {
        let t = TenantOrigins::new([
            ("t1".to_string(), vec!["https://one.example".to_string()]),
            (
                "t2".to_string(),
                vec![
                    "https://two.example".to_string(),
                    "https://one.example".to_string(),
                ],
            ),
        ]);
        assert!(tenant_allows(&t, Some("t1"), "https://one.example"));
        assert!(tenant_allows(&t, Some("t2"), "https://one.example"));
        assert!(!tenant_allows(&t, Some("t1"), "https://two.example"));
        assert!(!tenant_allows(&t, Some("t3"), "https://one.example"));
        assert!(tenant_allows(&t, None, "https://two.example"));
        assert!(!tenant_allows(&t, None, "https://evil.example"));
    }

    #[test]
    fn origins() {
        let p = CorsPolicy::parse("https://a.example, https://b.example/");
        assert_eq!(
            p.allow("https://b.example").as_deref(),
            Some("https://b.example")
        );
        assert_eq!(p.allow("https://evil.example"), None);
        assert_eq!(
            CorsPolicy::parse("*")
                .allow("http://localhost:5173")
                .as_deref(),
            Some("http://localhost:5173")
        );
        assert_eq!(CorsPolicy::parse("").allow("http://x"), None);
    }
}
