//! RFC 3339 timestamps (pure): parsing to epoch milliseconds and formatting as
//! `YYYY-MM-DDTHH:MM:SS.mmmZ`, the one form the API returns.

use chrono::{DateTime, SecondsFormat, TimeZone, Utc};

/// Milliseconds since the epoch of an RFC 3339 time (any offset), or None.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    if s.len() > 40 {
        return None;
    }
    DateTime::parse_from_rfc3339(s.trim())
        .ok()
        .map(|d| d.timestamp_millis())
}

pub fn format_ms(ms: i64) -> String {
    Utc.timestamp_millis_opt(ms)
        .single()
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// A required RFC 3339 field of a body, as epoch ms; records the problem in `errs`.
pub fn required(
    v: Option<&serde_json::Value>,
    field: &str,
    errs: &mut super::error::FieldErrors,
) -> Option<i64> {
    let ms = v
        .and_then(serde_json::Value::as_str)
        .and_then(parse_rfc3339);
    if ms.is_none() {
        errs.add(field, "is required, an RFC 3339 time");
    }
    ms
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_offsets() {
        let ms = parse_rfc3339("2026-11-23T10:00:00+01:00").unwrap();
        assert_eq!(format_ms(ms), "2026-11-23T09:00:00.000Z");
        assert_eq!(parse_rfc3339("2026-11-23T09:00:00.250Z"), Some(ms + 250));
        assert_eq!(parse_rfc3339("tomorrow"), None);
        assert_eq!(parse_rfc3339("2026-13-01T00:00:00Z"), None);
    }
}
