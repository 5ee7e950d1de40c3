//! RFC 3339 timestamps (pure): parsing to epoch milliseconds and formatting as
//! `YYYY-MM-DDTHH:MM:SS.mmmZ`, the one form the API returns.

// Hand-written rather than chrono's formatter and parser: those pull chrono's whole
// format machinery into the Worker (the Wasm size budget), for one fixed format.

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date of a day number (inverse of `days_from_civil`).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        _ => 28,
    }
}

/// Milliseconds since the epoch of an RFC 3339 time (any offset), or None.
/// Accepts `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)` (`t`/`z`/space as RFC 3339 allows).
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    let s = s.trim();
    if s.len() > 40 || !s.is_ascii() {
        return None;
    }
    let b = s.as_bytes();
    let num = |from: usize, len: usize| -> Option<i64> {
        let part = b.get(from..from + len)?;
        part.iter()
            .all(u8::is_ascii_digit)
            .then(|| part.iter().fold(0i64, |n, d| n * 10 + i64::from(d - b'0')))
    };
    let sep = |at: usize, ok: &[u8]| b.get(at).is_some_and(|c| ok.contains(c));
    if !(sep(4, b"-") && sep(7, b"-") && sep(10, b"Tt ") && sep(13, b":") && sep(16, b":")) {
        return None;
    }
    let (y, mo, d) = (num(0, 4)?, num(5, 2)? as u32, num(8, 2)? as u32);
    let (h, mi, sec) = (num(11, 2)?, num(14, 2)?, num(17, 2)?);
    if !(1..=12).contains(&mo)
        || d == 0
        || d > days_in_month(y, mo)
        || h > 23
        || mi > 59
        || sec > 60
    {
        return None;
    }
    let mut i = 19;
    let mut millis = 0i64;
    if sep(i, b".") {
        let start = i + 1;
        i = start;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        let digits = &b[start..i];
        if digits.is_empty() {
            return None;
        }
        for k in 0..3 {
            millis = millis * 10 + digits.get(k).map_or(0, |d| i64::from(d - b'0'));
        }
    }
    let offset_min = match b.get(i) {
        Some(b'Z' | b'z') if i + 1 == b.len() => 0,
        Some(c @ (b'+' | b'-')) if i + 6 == b.len() && sep(i + 3, b":") => {
            let (oh, om) = (num(i + 1, 2)?, num(i + 4, 2)?);
            if oh > 23 || om > 59 {
                return None;
            }
            let m = oh * 60 + om;
            if *c == b'-' {
                -m
            } else {
                m
            }
        }
        _ => return None,
    };
    // A leap second is read as the last second of the minute.
    let sec = sec.min(59);
    let days = days_from_civil(y, mo, d);
    Some(((days * 24 + h) * 60 + mi - offset_min) * 60_000 + sec * 1000 + millis)
}

/// A request body's date-time (`schema::Kind::DateTime`): RFC 3339 with `T` (or `t`)
/// between date and time, seconds 00-59 and no surrounding whitespace.
pub fn parse_strict(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let ok = b.first().is_some_and(u8::is_ascii_digit)
        && b.last().is_some_and(u8::is_ascii_alphanumeric)
        && matches!(b.get(10), Some(b'T' | b't'))
        && b.get(17).is_some_and(|d| *d < b'6');
    if ok {
        parse_rfc3339(s)
    } else {
        None
    }
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ` (UTC) of epoch milliseconds.
pub fn format_ms(ms: i64) -> String {
    let days = ms.div_euclid(86_400_000);
    let rem = ms.rem_euclid(86_400_000);
    let (y, m, d) = civil_from_days(days);
    let (h, mi, s, milli) = (
        rem / 3_600_000,
        rem / 60_000 % 60,
        rem / 1000 % 60,
        rem % 1000,
    );
    format!("{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{milli:03}Z")
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

    #[test]
    fn agrees_with_chrono() {
        use chrono::{DateTime, SecondsFormat, TimeZone, Utc};
        for ms in [
            0i64,
            1,
            -1,
            951_782_400_000,
            1_709_251_199_999,
            1_795_000_000_123,
            4_102_444_800_000,
            -2_208_988_800_000,
        ] {
            let want = Utc
                .timestamp_millis_opt(ms)
                .unwrap()
                .to_rfc3339_opts(SecondsFormat::Millis, true);
            assert_eq!(format_ms(ms), want);
            assert_eq!(parse_rfc3339(&want), Some(ms));
        }
        for s in [
            "2024-02-29T23:59:59.999999+05:30",
            "2023-12-31T00:00:00-00:45",
            "2026-11-23t10:00:00.5z",
            "2000-01-01 00:00:00Z",
        ] {
            let want = DateTime::parse_from_rfc3339(s).unwrap().timestamp_millis();
            assert_eq!(parse_rfc3339(s), Some(want), "{s}");
        }
        for bad in [
            "2023-02-29T00:00:00Z",
            "2026-11-23T24:00:00Z",
            "2026-11-23T10:00:00",
            "2026-11-23T10:00:00.Z",
            "2026-11-23T10:00:00+0100",
            "２026-11-23T10:00:00Z",
            "2026-11-23T10:00:00Zjunk",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
    }
}
