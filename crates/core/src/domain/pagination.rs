//! List pagination: `?limit=` (1..=100, default 50) and an opaque `?cursor=`.

use super::error::{ApiError, ApiResult};

pub const DEFAULT_LIMIT: u32 = 50;
pub const MAX_LIMIT: u32 = 100;

#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    pub limit: u32,
    /// Resume strictly after this key (the last id of the previous page).
    pub after: Option<String>,
}

pub fn parse(limit: Option<&str>, cursor: Option<&str>) -> ApiResult<Page> {
    let limit = match limit {
        None => DEFAULT_LIMIT,
        Some(s) => match s.parse::<u32>() {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) => n,
            _ => {
                return Err(ApiError::bad_request(format!(
                    "limit must be an integer from 1 to {MAX_LIMIT}"
                )))
            }
        },
    };
    let after = match cursor {
        None | Some("") => None,
        Some(c) => {
            Some(decode_cursor(c).ok_or_else(|| ApiError::bad_request("cursor is invalid"))?)
        }
    };
    Ok(Page { limit, after })
}

/// Cursors are hex so they are URL-safe and clearly not something to build by hand.
pub fn encode_cursor(key: &str) -> String {
    let mut s = String::with_capacity(key.len() * 2 + 2);
    s.push_str("c1");
    for b in key.bytes() {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

pub fn decode_cursor(c: &str) -> Option<String> {
    let hex = c.strip_prefix("c1")?;
    if hex.len() % 2 != 0 || hex.len() > 512 {
        return None;
    }
    let bytes: Option<Vec<u8>> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect();
    String::from_utf8(bytes?).ok()
}

/// Given `limit + 1` fetched rows, trims to `limit` and yields the next cursor.
pub fn finish<T>(
    mut rows: Vec<T>,
    limit: u32,
    key: impl Fn(&T) -> String,
) -> (Vec<T>, Option<String>) {
    if rows.len() > limit as usize {
        rows.truncate(limit as usize);
        let next = rows.last().map(|r| encode_cursor(&key(r)));
        (rows, next)
    } else {
        (rows, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trip_and_rejects_garbage() {
        let c = encode_cursor("c_0190abc");
        assert_eq!(decode_cursor(&c).as_deref(), Some("c_0190abc"));
        assert_eq!(decode_cursor("zz"), None);
        assert_eq!(decode_cursor("c1zz"), None);
        assert_eq!(decode_cursor("c1abc"), None);
    }

    #[test]
    fn limits() {
        assert_eq!(parse(None, None).unwrap().limit, 50);
        assert_eq!(parse(Some("100"), None).unwrap().limit, 100);
        for bad in ["0", "101", "-1", "x", "1.5"] {
            assert_eq!(parse(Some(bad), None).unwrap_err().status, 400);
        }
        assert_eq!(parse(None, Some("nope")).unwrap_err().status, 400);
    }

    #[test]
    fn finish_trims_and_points_at_last_kept_row() {
        let (rows, next) = finish(vec!["a", "b", "c"], 2, |s| s.to_string());
        assert_eq!(rows, vec!["a", "b"]);
        assert_eq!(decode_cursor(&next.unwrap()).as_deref(), Some("b"));
        let (rows, next) = finish(vec!["a"], 2, |s| s.to_string());
        assert_eq!((rows.len(), next), (1, None));
    }
}
