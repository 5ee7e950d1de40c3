//! URL query strings (`application/x-www-form-urlencoded`): reading pairs out of a request
//! URL and writing them back. Pure.
//!
//! Hand-written instead of `url::Url`: parsing a whole URL links the IDNA and Unicode
//! normalization tables into the Worker (about 40 KiB gzipped of the 500 KiB budget), and
//! Pulse only ever needs the query of its own requests.

/// The decoded `(key, value)` pairs of the query of `url` (everything after the first `?`,
/// up to a `#`), in order.
pub fn pairs(url: &str) -> Vec<(String, String)> {
    let Some((_, q)) = url.split_once('?') else {
        return Vec::new();
    };
    let q = q.split('#').next().unwrap_or("");
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

/// The first value of `key` in the query of `url`.
pub fn get(url: &str, key: &str) -> Option<String> {
    pairs(url)
        .into_iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v)
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Form decoding: `+` is a space, `%XX` a byte; invalid UTF-8 becomes U+FFFD.
pub fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' => match (
                b.get(i + 1).and_then(|c| hex(*c)),
                b.get(i + 2).and_then(|c| hex(*c)),
            ) {
                (Some(h), Some(l)) => {
                    out.push(h * 16 + l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Form encoding of one key or value (unreserved bytes kept, space as `+`).
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for &c in s.as_bytes() {
        match c {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                out.push(c as char)
            }
            b' ' => out.push('+'),
            _ => {
                const HEX: &[u8; 16] = b"0123456789ABCDEF";
                out.push('%');
                out.push(HEX[usize::from(c >> 4)] as char);
                out.push(HEX[usize::from(c & 15)] as char);
            }
        }
    }
    out
}

/// `?k=v&…` of the pairs (empty when there are none).
pub fn build<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let q: Vec<String> = pairs
        .into_iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect();
    if q.is_empty() {
        String::new()
    } else {
        format!("?{}", q.join("&"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_pairs_like_a_form() {
        let u = "https://h/api/x?channels=tenant%2Cuser%3Au1&types=crm%3A*&q=a+b&empty=&flag&token=e.y.J#frag";
        assert_eq!(get(u, "channels").as_deref(), Some("tenant,user:u1"));
        assert_eq!(get(u, "types").as_deref(), Some("crm:*"));
        assert_eq!(get(u, "q").as_deref(), Some("a b"));
        assert_eq!(get(u, "empty").as_deref(), Some(""));
        assert_eq!(get(u, "flag").as_deref(), Some(""));
        assert_eq!(get(u, "token").as_deref(), Some("e.y.J"));
        assert_eq!(get(u, "missing"), None);
        assert!(pairs("https://h/no-query").is_empty());
        assert_eq!(decode("%zz%4"), "%zz%4");
        assert_eq!(decode("%C3%A9"), "é");
        assert_eq!(decode("%FF"), "\u{FFFD}");
    }

    #[test]
    fn round_trips() {
        let q = build([("channels", "tenant,user:u 1"), ("since", "41")]);
        assert_eq!(q, "?channels=tenant%2Cuser%3Au+1&since=41");
        let url = format!("https://x/{q}");
        assert_eq!(get(&url, "channels").as_deref(), Some("tenant,user:u 1"));
        assert_eq!(build(std::iter::empty()), "");
    }
}
