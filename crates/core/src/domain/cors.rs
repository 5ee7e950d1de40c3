//! CORS policy (pure): which browser origins may call the API, from `CORS_ORIGINS`.

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

#[cfg(test)]
mod tests {
    use super::*;

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
