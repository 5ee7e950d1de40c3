//! Resource ids: a prefix, a millisecond timestamp and randomness, so that ids sort by
//! creation time (lists page by id) and never collide across isolates.

/// `prefix_` + 12 hex digits of milliseconds + the random hex given (from crypto).
pub fn make_id(prefix: &str, now_ms: i64, random_hex: &str) -> String {
    let rand: String = random_hex
        .chars()
        .filter(char::is_ascii_hexdigit)
        .take(16)
        .collect();
    format!("{prefix}_{:012x}{rand}", now_ms.max(0))
}

/// `valid_path_id` as a regex, for the `{id}` parameters of the OpenAPI document.
pub const PATH_ID_PATTERN: &str = "^[A-Za-z0-9_-]{1,64}$";

/// Ids arriving in paths: bounded and plain, so they never reach SQL or logs unchecked.
pub fn valid_path_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// `valid_idempotency_key` as a regex, for the `Idempotency-Key` header of the document.
pub const IDEMPOTENCY_KEY_PATTERN: &str = "^[!-~]{1,255}$";

/// An `Idempotency-Key`: 1 to 255 visible ASCII characters (no space).
pub fn valid_idempotency_key(k: &str) -> bool {
    !k.is_empty() && k.len() <= 255 && k.bytes().all(|b| (0x21..=0x7e).contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The patterns are the checks: every character class edge and the length bounds.
    #[test]
    fn patterns_are_the_checks() {
        use crate::domain::schema::tests::re_match;
        let mut cases: Vec<String> = (0..=0x7fu8).map(|b| char::from(b).to_string()).collect();
        cases.extend(["", "é", "a b", "-", "_"].map(String::from));
        for n in [63, 64, 65, 254, 255, 256] {
            cases.push("a".repeat(n));
        }
        for c in cases {
            assert_eq!(
                re_match(IDEMPOTENCY_KEY_PATTERN, &c),
                valid_idempotency_key(&c),
                "{c:?}"
            );
            assert_eq!(re_match(PATH_ID_PATTERN, &c), valid_path_id(&c), "{c:?}");
        }
    }

    #[test]
    fn ids_sort_by_time() {
        let a = make_id("c", 1_000, "ffff0000ffff0000ffff");
        let b = make_id("c", 1_001, "00000000000000000000");
        assert!(a < b);
        assert_eq!(a.len(), 2 + 12 + 16);
        assert!(valid_path_id(&a));
        assert!(!valid_path_id("a/b"));
        assert!(!valid_path_id(""));
    }
}
