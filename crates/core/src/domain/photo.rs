//! Property photos (pure): the accepted image formats, told by their first bytes (never by
//! `Content-Type`), their pixel size when the header states it, the size and count limits,
//! the storage key and the public URL of a photo.

use serde_json::{json, Value};

/// The largest photo accepted (10 MiB); a larger body is a 413 while it streams in.
pub const MAX_BYTES: usize = 10 * 1024 * 1024;
/// Photos one property may have at most (a 409 past it).
pub const MAX_PER_PROPERTY: i64 = 50;
/// The formats accepted, as their media types.
pub const CONTENT_TYPES: &[&str] = &["image/jpeg", "image/png", "image/webp"];

/// A photo as the API answers it.
#[derive(Debug, Clone, PartialEq)]
pub struct Photo {
    pub id: String,
    pub property_id: String,
    /// Absolute: where the photo is served (`GET /api/photos/:id`).
    pub url: String,
    pub content_type: String,
    pub bytes: i64,
    pub width: Option<i64>,
    pub height: Option<i64>,
    pub created_by: String,
    pub created_at: String,
}

impl Photo {
    /// The JSON the API answers (and events carry); `JSON_SQL` is the same from a row.
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "property_id": self.property_id,
            "url": self.url,
            "content_type": self.content_type,
            "bytes": self.bytes,
            "width": self.width,
            "height": self.height,
            "created_by": self.created_by,
            "created_at": self.created_at,
        })
    }
}

/// A `property_photos` row as `Photo::to_json` writes it, as a SQL expression (lists and
/// the removal event read photos this way). `url` is `url()`'s.
pub const JSON_SQL: &str = "json_object('id', id, 'property_id', property_id,
    'url', origin || '/api/photos/' || id, 'content_type', content_type, 'bytes', bytes,
    'width', width, 'height', height, 'created_by', created_by, 'created_at', created_at)";

/// What the first bytes of a body say it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Image {
    pub content_type: &'static str,
    /// Pixel size, when the format's header states it where it is cheap to read.
    pub width: Option<u32>,
    pub height: Option<u32>,
}

/// The image a body holds: JPEG (`FF D8 FF`), PNG (its 8-byte signature) or WebP
/// (`RIFF….WEBP`); `None` for anything else, whatever `Content-Type` claims.
pub fn sniff(b: &[u8]) -> Option<Image> {
    let (content_type, size) = if b.starts_with(&[0xFF, 0xD8, 0xFF]) {
        ("image/jpeg", jpeg_size(b))
    } else if b.starts_with(b"\x89PNG\r\n\x1a\n") {
        ("image/png", png_size(b))
    } else if b.len() >= 16 && b.starts_with(b"RIFF") && &b[8..12] == b"WEBP" {
        ("image/webp", webp_size(b))
    } else {
        return None;
    };
    Some(Image {
        content_type,
        width: size.map(|s| s.0),
        height: size.map(|s| s.1),
    })
}

fn be16(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from(u16::from_be_bytes(
        b.get(at..at + 2)?.try_into().ok()?,
    )))
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn le(b: &[u8], at: usize, n: usize) -> Option<u32> {
    let s = b.get(at..at + n)?;
    Some(
        s.iter()
            .rev()
            .fold(0u32, |acc, x| (acc << 8) | u32::from(*x)),
    )
}

fn nonzero(w: u32, h: u32) -> Option<(u32, u32)> {
    (w > 0 && h > 0).then_some((w, h))
}

/// The first chunk of a PNG is its header (`IHDR`): width and height, big-endian.
fn png_size(b: &[u8]) -> Option<(u32, u32)> {
    if b.get(12..16)? != b"IHDR" {
        return None;
    }
    nonzero(be32(b, 16)?, be32(b, 20)?)
}

/// Walks the JPEG segments up to the first start-of-frame marker (`SOF0`–`SOF15` but the
/// `DHT`, `JPG` and `DAC` codes), which holds height then width; stops at the scan.
fn jpeg_size(b: &[u8]) -> Option<(u32, u32)> {
    let mut i = 2;
    while i + 4 <= b.len() {
        if b[i] != 0xFF {
            return None;
        }
        let marker = b[i + 1];
        match marker {
            // Fill bytes before a marker.
            0xFF => i += 1,
            // Markers without a length.
            0x01 | 0xD0..=0xD7 => i += 2,
            0xD9 | 0xDA => return None,
            0xC0..=0xCF if !matches!(marker, 0xC4 | 0xC8 | 0xCC) => {
                return nonzero(be16(b, i + 7)?, be16(b, i + 5)?);
            }
            _ => i += 2 + usize::try_from(be16(b, i + 2)?).ok()?,
        }
    }
    None
}

/// The size of a WebP from its first chunk: `VP8 ` (lossy: 14-bit sizes after the frame's
/// start code), `VP8L` (lossless: 14-bit sizes minus one after its signature byte) or
/// `VP8X` (extended: 24-bit canvas sizes minus one).
fn webp_size(b: &[u8]) -> Option<(u32, u32)> {
    match b.get(12..16)? {
        b"VP8 " => {
            if b.get(23..26)? != [0x9D, 0x01, 0x2A] {
                return None;
            }
            nonzero(le(b, 26, 2)? & 0x3FFF, le(b, 28, 2)? & 0x3FFF)
        }
        b"VP8L" => {
            if *b.get(20)? != 0x2F {
                return None;
            }
            let bits = le(b, 21, 4)?;
            nonzero((bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1)
        }
        b"VP8X" => nonzero(le(b, 24, 3)? + 1, le(b, 27, 3)? + 1),
        _ => None,
    }
}

/// Where a photo's bytes live in the bucket: under its tenant, then its property, so one
/// tenant's (and one property's) objects share a prefix.
pub fn object_key(tenant: &str, property: &str, photo: &str) -> String {
    format!("photos/{tenant}/{property}/{photo}")
}

/// The photo's URL on the API's origin (`scheme://host[:port]`).
pub fn url(origin: &str, photo: &str) -> String {
    format!("{}/api/photos/{photo}", origin.trim_end_matches('/'))
}

/// The origin (`http(s)://host[:port]`) of an absolute HTTP URL; `None` for anything else.
pub fn origin(absolute: &str) -> Option<&str> {
    let scheme = if absolute.starts_with("https://") {
        8
    } else if absolute.starts_with("http://") {
        7
    } else {
        return None;
    };
    let host = absolute[scheme..]
        .bytes()
        .position(|c| matches!(c, b'/' | b'?' | b'#'))
        .unwrap_or(absolute.len() - scheme);
    (host > 0).then(|| &absolute[..scheme + host])
}

/// Whether an `If-None-Match` header names `etag` (a list, weak tags, or `*`).
pub fn etag_matches(if_none_match: &str, etag: &str) -> bool {
    let bare = |t: &str| {
        t.trim()
            .trim_start_matches("W/")
            .trim_matches('"')
            .to_string()
    };
    let want = bare(etag);
    if_none_match
        .split(',')
        .any(|t| t.trim() == "*" || (!want.is_empty() && bare(t) == want))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// The smallest well-formed files of each format (1×1 pixel).
    const PNG: &str = "89504e470d0a1a0a0000000d49484452000000010000000108000000003a7e9b550000000a49444154789c636000000002000148afa4710000000049454e44ae426082";
    const WEBP_LOSSLESS: &str =
        "524946461a000000574542505650384c0e0000002f00000000071011fd0f4444ff03";
    const JPEG: &str = "ffd8ffe000104a46494600010100000100010000ffdb00430050373c463c32504641465a55505f78c882786e6e78f5afb991c8ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffc0000b080001000101011100ffc4001f0000010501010101010100000000000000000102030405060708090a0bffc400b5100002010303020403050504040000017d01020300041105122131410613516107227114328191a1082342b1c11552d1f02433627282090a161718191a25262728292a3435363738393a434445464748494a535455565758595a636465666768696a737475767778797a838485868788898a92939495969798999aa2a3a4a5a6a7a8a9aab2b3b4b5b6b7b8b9bac2c3c4c5c6c7c8c9cad2d3d4d5d6d7d8d9dae1e2e3e4e5e6e7e8e9eaf1f2f3f4f5f6f7f8f9faffda0008010100003f00a55fffd9";
    const GIF: &str =
        "474946383761010001008100000000000000000000000000002c000000000100010000080400010404003b";

    #[test]
    fn formats_by_their_first_bytes() {
        let png = sniff(&hex(PNG)).unwrap();
        assert_eq!(
            (png.content_type, png.width, png.height),
            ("image/png", Some(1), Some(1))
        );
        let webp = sniff(&hex(WEBP_LOSSLESS)).unwrap();
        assert_eq!(
            (webp.content_type, webp.width, webp.height),
            ("image/webp", Some(1), Some(1))
        );
        let jpeg = sniff(&hex(JPEG)).unwrap();
        assert_eq!(
            (jpeg.content_type, jpeg.width, jpeg.height),
            ("image/jpeg", Some(1), Some(1))
        );
        for other in [
            hex(GIF),
            b"hello, not an image".to_vec(),
            Vec::new(),
            b"RIFF\0\0\0\0WAVEfmt ".to_vec(),
            b"\x89PNG".to_vec(),
            b"<svg xmlns='http://www.w3.org/2000/svg'/>".to_vec(),
        ] {
            assert_eq!(sniff(&other), None, "{other:?}");
        }
        for t in [png, webp, jpeg] {
            assert!(CONTENT_TYPES.contains(&t.content_type));
        }
    }

    #[test]
    fn sizes_of_every_header_kind() {
        // A lossy WebP of 640×480 and an extended one of 4000×3000.
        let mut lossy = b"RIFF\0\0\0\0WEBPVP8 \0\0\0\0".to_vec();
        lossy.extend_from_slice(&[0, 0, 0, 0x9D, 0x01, 0x2A, 0x80, 0x02, 0xE0, 0x01]);
        let i = sniff(&lossy).unwrap();
        assert_eq!((i.width, i.height), (Some(640), Some(480)));
        let mut ext = b"RIFF\0\0\0\0WEBPVP8X\0\0\0\0".to_vec();
        ext.extend_from_slice(&[0, 0, 0, 0]);
        ext.extend_from_slice(&(4000u32 - 1).to_le_bytes()[..3]);
        ext.extend_from_slice(&(3000u32 - 1).to_le_bytes()[..3]);
        let i = sniff(&ext).unwrap();
        assert_eq!((i.width, i.height), (Some(4000), Some(3000)));
        // A JPEG whose size is after a fill byte and a restart marker, in SOF2.
        let mut jpeg = vec![0xFF, 0xD8, 0xFF, 0xFF, 0xD0, 0xFF, 0xC2, 0, 11, 8];
        jpeg.extend_from_slice(&[0x02, 0x58, 0x03, 0x20, 1, 1, 0x11, 0]);
        let i = sniff(&jpeg).unwrap();
        assert_eq!((i.width, i.height), (Some(800), Some(600)));
        // Truncated headers still sniff as their format, without a size.
        let cut = &hex(PNG)[..14];
        assert_eq!(
            sniff(cut).map(|i| (i.content_type, i.width)),
            Some(("image/png", None))
        );
        assert_eq!(
            sniff(&[0xFF, 0xD8, 0xFF, 0xE0, 0x00]).map(|i| i.width),
            Some(None)
        );
        // A segment length that points past the end ends the walk.
        assert_eq!(
            sniff(&[0xFF, 0xD8, 0xFF, 0xE0, 0xFF, 0xFF, 0, 0]).map(|i| i.height),
            Some(None)
        );
    }

    #[test]
    fn the_json_and_its_sql_agree() {
        let p = Photo {
            id: "pho_1".into(),
            property_id: "prp_1".into(),
            url: url("http://h:1", "pho_1"),
            content_type: "image/png".into(),
            bytes: 67,
            width: Some(1),
            height: None,
            created_by: "u1".into(),
            created_at: "2026-01-01T00:00:00.000Z".into(),
        };
        let out = p.to_json();
        let keys: Vec<&String> = out.as_object().unwrap().keys().collect();
        for k in &keys {
            assert!(JSON_SQL.contains(&format!("'{k}'")), "{k}");
        }
        assert_eq!(JSON_SQL.matches("', ").count(), keys.len());
        assert_eq!(out["url"], "http://h:1/api/photos/pho_1");
        assert_eq!(out["height"], Value::Null);
    }

    #[test]
    fn urls_keys_and_etags() {
        assert_eq!(
            origin("http://127.0.0.1:8787/api/x?y=1"),
            Some("http://127.0.0.1:8787")
        );
        assert_eq!(
            origin("https://api.example.com"),
            Some("https://api.example.com")
        );
        assert_eq!(origin("https://h.example?q"), Some("https://h.example"));
        assert_eq!(origin("/api/x"), None);
        assert_eq!(origin("https:///x"), None);
        assert_eq!(origin("ftp://h.example/x"), None);
        assert_eq!(
            url("https://a.example", "pho_1"),
            "https://a.example/api/photos/pho_1"
        );
        assert_eq!(
            object_key("acme", "prp_1", "pho_2"),
            "photos/acme/prp_1/pho_2"
        );
        assert!(etag_matches("\"abc\"", "\"abc\""));
        assert!(etag_matches("W/\"abc\", \"x\"", "\"abc\""));
        assert!(etag_matches("*", "\"abc\""));
        assert!(!etag_matches("\"abd\"", "\"abc\""));
        assert!(!etag_matches("\"\"", "\"\""));
    }
}
