//! A card's public page as server-rendered HTML (no script: details, vCard link, contact
//! form with its honeypot) and its contact as a vCard (RFC 6350). Pure: every string
//! that comes from a user goes through `escape` (HTML) or `vcard_text` (vCard).

/// HTML text and attribute values: `& < > " '` as entities.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A URL's unsafe bytes percent-encoded (those outside `keep` and ASCII alphanumerics).
fn url_part(s: &str, keep: &[u8]) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric() || keep.contains(&b) {
            out.push(char::from(b));
        } else {
            const HEX: &[u8; 16] = b"0123456789ABCDEF";
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 15)]));
        }
    }
    out
}

/// The headers every page carries: no script, no framing, forms post only here.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'unsafe-inline'; \
     form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

const STYLE: &str =
    "body{font:16px system-ui,sans-serif;max-width:34rem;margin:2rem auto;padding:0 1rem}\
label{display:block;margin-top:.7rem}input,textarea{width:100%}.consent input{width:auto}\
.notice{background:#e6f6ea}.errors{background:#fdecec}.hp{position:absolute;left:-9999px}";

fn document(title: &str, body: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <meta name=\"robots\" content=\"noindex\">\
         <title>{}</title><style>{STYLE}</style></head><body><main>{body}</main></body></html>\n",
        escape(title)
    )
}

/// A card's public fields, borrowed from wherever it was read.
#[derive(Debug, Clone, Copy, Default)]
pub struct CardView<'a> {
    pub slug: &'a str,
    pub display_name: &'a str,
    pub title: Option<&'a str>,
    pub phone: Option<&'a str>,
    pub email: Option<&'a str>,
    pub bio: Option<&'a str>,
}

/// The card page: its details, a vCard link, and the contact form posting to the lead
/// route; `sent` adds the thank-you.
pub fn page(c: &CardView<'_>, sent: bool) -> String {
    let name = escape(c.display_name);
    let slug = url_part(c.slug, b"-");
    let mut b = String::with_capacity(2048);
    for part in ["<h1>", &name, "</h1>"] {
        b.push_str(part);
    }
    for (class, text) in [("title", c.title), ("bio", c.bio)] {
        if let Some(t) = text {
            for part in ["<p class=", class, ">", &escape(t), "</p>"] {
                b.push_str(part);
            }
        }
    }
    b.push_str("<ul>");
    if let Some(p) = c.phone {
        for part in [
            "<li>Phone: <a href=\"tel:",
            &url_part(p, b"+"),
            "\">",
            &escape(p),
            "</a>",
        ] {
            b.push_str(part);
        }
    }
    if let Some(e) = c.email {
        for part in [
            "<li>Email: <a href=\"mailto:",
            &url_part(e, b"@.-_+"),
            "\">",
            &escape(e),
            "</a>",
        ] {
            b.push_str(part);
        }
    }
    for part in [
        "<li><a href=\"/api/cards/public/",
        &slug,
        "/vcard\">Save contact (vCard)</a></ul>",
    ] {
        b.push_str(part);
    }
    if sent {
        for part in [
            "<p class=notice role=status>Thank you! Your message was sent; ",
            &name,
            " will be in touch.</p>",
        ] {
            b.push_str(part);
        }
    }
    for part in [
        "<h2>Contact ",
        &name,
        "</h2><form method=post action=\"/api/cards/public/",
        &slug,
        "/leads\">\
         <label>Name <input name=name required maxlength=120 autocomplete=name></label>\
         <label>Email <input type=email name=email maxlength=254 autocomplete=email></label>\
         <label>Phone <input type=tel name=phone maxlength=32 autocomplete=tel></label>\
         <label>Message <textarea name=message maxlength=2000 rows=4></textarea></label>\
         <label class=hp aria-hidden=true>Leave this empty \
         <input name=website tabindex=-1 autocomplete=off></label>\
         <label class=consent><input type=checkbox name=consent value=true required> I agree that ",
        &name,
        " may contact me about this request.</label><button>Send</button></form>",
    ] {
        b.push_str(part);
    }
    document(c.display_name, &b)
}

/// A page with a heading and one message (not found, refusals).
pub fn message(title: &str, text: &str) -> String {
    document(
        title,
        &format!("<h1>{}</h1><p>{}</p>", escape(title), escape(text)),
    )
}

/// A vCard text value: `\`, `,`, `;` and line breaks escaped (RFC 6350 §3.4), other
/// control characters dropped.
pub fn vcard_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push_str("\\\\"),
            ',' => out.push_str("\\,"),
            ';' => out.push_str("\\;"),
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                out.push_str("\\n");
            }
            '\n' => out.push_str("\\n"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// A content line folded at 75 octets (RFC 6350 §3.2), never inside a UTF-8 sequence,
/// ended by CRLF.
fn fold(line: &str) -> String {
    let mut out = String::with_capacity(line.len() + 8);
    let mut width = 0;
    for c in line.chars() {
        let n = c.len_utf8();
        if width + n > 75 {
            out.push_str("\r\n ");
            width = 1;
        }
        out.push(c);
        width += n;
    }
    out.push_str("\r\n");
    out
}

/// The card's contact as a vCard 4.0; `page_url` is the card page's absolute URL.
pub fn vcard(c: &CardView<'_>, page_url: Option<&str>) -> String {
    let mut lines = vec![
        "BEGIN:VCARD".to_string(),
        "VERSION:4.0".to_string(),
        format!("FN:{}", vcard_text(c.display_name)),
    ];
    if let Some(t) = c.title {
        lines.push(format!("TITLE:{}", vcard_text(t)));
    }
    if let Some(p) = c.phone {
        lines.push(format!("TEL;VALUE=text;TYPE=work:{}", vcard_text(p)));
    }
    if let Some(e) = c.email {
        lines.push(format!("EMAIL;TYPE=work:{}", vcard_text(e)));
    }
    if let Some(b) = c.bio {
        lines.push(format!("NOTE:{}", vcard_text(b)));
    }
    if let Some(u) = page_url {
        lines.push(format!("URL:{}", vcard_text(u)));
    }
    lines.push("END:VCARD".to_string());
    lines.iter().map(|l| fold(l)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn card(name: &str) -> CardView<'_> {
        CardView {
            slug: "jane-doe",
            display_name: name,
            title: Some("Broker & <co>"),
            phone: Some("+34 600 123 456"),
            email: Some("jane@example.com"),
            bio: Some("I sell \"homes\"; 'fast'"),
        }
    }

    #[test]
    fn every_user_string_is_escaped() {
        let xss = "<script>alert(1)</script>\"'><img src=x onerror=alert(2)>";
        let html = page(&card(xss), false);
        assert!(!html.contains("<script>") && !html.contains("<img"));
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;&gt;"));
        assert!(html.contains("Broker &amp; &lt;co&gt;"));
        assert!(html.contains("I sell &quot;homes&quot;; &#39;fast&#39;"));
        assert!(!message("<x>", "<y>").contains("<x>"));
        assert!(!message("<x>", "<y>").contains("<y>"));
    }

    #[test]
    fn the_page_has_the_form_the_link_and_the_honeypot() {
        let html = page(&card("Jane"), false);
        assert!(html.contains("<form method=post action=\"/api/cards/public/jane-doe/leads\">"));
        assert!(html.contains("href=\"/api/cards/public/jane-doe/vcard\""));
        assert!(html.contains(&format!("name={}", crate::domain::lead::HONEYPOT)));
        assert!(html.contains("href=\"tel:+34%20600%20123%20456\""));
        assert!(html.contains("href=\"mailto:jane@example.com\""));
        assert!(!html.contains("<script") && !html.contains("Thank you"));
        assert!(page(&card("Jane"), true).contains("Thank you"));
    }

    #[test]
    fn mailto_and_tel_cannot_add_parameters() {
        let mut c = card("Jane");
        c.email = Some("x?bcc=evil@example.com");
        let html = page(&c, false);
        assert!(html.contains("mailto:x%3Fbcc%3Devil@example.com"));
    }

    #[test]
    fn vcards_escape_and_fold() {
        let bio = "é".repeat(60);
        let mut c = card("Doe, Jane; \\ the \"best\"\r\nnext");
        c.bio = Some(&bio);
        let v = vcard(&c, Some("https://pulse.example/c/jane-doe"));
        assert!(v.starts_with("BEGIN:VCARD\r\nVERSION:4.0\r\n"));
        assert!(v.ends_with("END:VCARD\r\n"));
        assert!(v.contains("FN:Doe\\, Jane\\; \\\\ the \"best\"\\nnext\r\n"));
        assert!(v.contains("TEL;VALUE=text;TYPE=work:+34 600 123 456\r\n"));
        assert!(v.contains("EMAIL;TYPE=work:jane@example.com\r\n"));
        assert!(v.contains("URL:https://pulse.example/c/jane-doe\r\n"));
        for line in v.split("\r\n") {
            assert!(line.len() <= 75, "{line:?}");
            assert!(!line.contains('\n') && !line.contains('\r'));
        }
        // Unfolding gives the note back whole.
        let unfolded = v.replace("\r\n ", "");
        assert!(unfolded.contains(&format!("NOTE:{}\r\n", "é".repeat(60))));
        assert_eq!(vcard_text("a\u{7}b\rc"), "ab\\nc");
    }
}
