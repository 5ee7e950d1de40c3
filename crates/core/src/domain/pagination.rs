//! List pagination: `?limit=` (1..=100, default 50) and `?cursor=`, the position after
//! which the next page starts.
//!
//! A cursor is `c1` and the lowercase hex of the last key of the previous page (its sort
//! key: an id, or what the list orders by), 1 to 256 bytes of printable ASCII. Every list
//! pages by `key < cursor`, so any cursor of that form is a position (a made-up one only
//! starts the page elsewhere) and anything else is a 400: `CURSOR_PATTERN` says exactly
//! which strings those are. An empty `cursor` is the first page.

use super::error::{ApiError, ApiResult};

pub const DEFAULT_LIMIT: u32 = 50;
pub const MAX_LIMIT: u32 = 100;
/// The longest key a cursor carries, in bytes.
pub const MAX_CURSOR_KEY: usize = 256;
/// What `decode_cursor` accepts (or the empty string), as an ECMA-262 regex.
pub const CURSOR_PATTERN: &str = "^(?:c1(?:[2-6][0-9a-f]|7[0-9a-e]){1,256})?$";

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
            // Canonical decimal only (not `+5` or `05`), as the document's integer.
            Ok(n) if (1..=MAX_LIMIT).contains(&n) && n.to_string() == s => n,
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
/// The keys are ids and sort keys made of them, so printable ASCII.
pub fn encode_cursor(key: &str) -> String {
    let mut s = String::with_capacity(key.len() * 2 + 2);
    s.push_str("c1");
    for b in key.bytes() {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// The key of a cursor: `c1` and 1 to 256 bytes of printable ASCII (0x20-0x7e) in
/// lowercase hex, and nothing else.
pub fn decode_cursor(c: &str) -> Option<String> {
    let hex = c.strip_prefix("c1")?.as_bytes();
    if hex.is_empty() || hex.len() % 2 != 0 || hex.len() > 2 * MAX_CURSOR_KEY {
        return None;
    }
    let nibble = |b: u8| match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        _ => None,
    };
    let mut key = String::with_capacity(hex.len() / 2);
    for pair in hex.chunks(2) {
        let b = nibble(pair[0])? * 16 + nibble(pair[1])?;
        if !(0x20..=0x7e).contains(&b) {
            return None;
        }
        key.push(char::from(b));
    }
    Some(key)
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
        assert_eq!(decode_cursor("c1"), None);
        assert_eq!(decode_cursor("c1 20"), None);
        // Uppercase hex, control characters, DEL and non-ASCII bytes are not positions.
        for bad in ["c14A", "c11f", "c17f", "c1c3a9", "c10a"] {
            assert_eq!(decode_cursor(bad), None, "{bad}");
        }
        assert_eq!(decode_cursor("c1207e").as_deref(), Some(" ~"));
        assert_eq!(
            decode_cursor(&format!("c1{}", "41".repeat(256))).map(|k| k.len()),
            Some(256)
        );
        assert_eq!(decode_cursor(&format!("c1{}", "41".repeat(257))), None);
    }

    /// `CURSOR_PATTERN` is `decode_cursor`'s grammar: every byte pair and lengths around
    /// the bounds, through a regex reading of the pattern.
    #[test]
    fn the_pattern_is_the_decoder() {
        let matches = |c: &str| crate::domain::schema::tests::re_match(CURSOR_PATTERN, c);
        let mut cases: Vec<String> = (0..=255u32).map(|b| format!("c1{b:02x}")).collect();
        cases.extend((0..=255u32).map(|b| format!("c1{b:02X}")));
        cases.extend(["", "c1", "c", "x141", "c14", "c1414", " c141", "c141 "].map(String::from));
        for n in [1, 2, 255, 256, 257] {
            cases.push(format!("c1{}", "7e".repeat(n)));
        }
        for c in cases {
            let decodes = c.is_empty() || decode_cursor(&c).is_some();
            assert_eq!(matches(&c), decodes, "{c:?}");
            assert_eq!(parse(None, Some(&c)).is_ok(), decodes, "{c:?}");
        }
    }

    #[test]
    fn any_key_round_trips() {
        for key in ["c_0190abc", "050:skr_1:prp_2", " ", "~", "a b"] {
            assert_eq!(decode_cursor(&encode_cursor(key)).as_deref(), Some(key));
        }
    }

    #[test]
    fn limits() {
        assert_eq!(parse(None, None).unwrap().limit, 50);
        assert_eq!(parse(Some("100"), None).unwrap().limit, 100);
        for bad in ["0", "101", "-1", "x", "1.5", "+5", "05", ""] {
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
