//! Leads left by visitors of a card's public page (pure): the body (JSON or an HTML form),
//! its rules, the honeypot, and the email that tells the card's owner.

use super::error::{ApiError, ApiResult};
use super::schema::{self, opt, req, rule, Kind, Shape};
use serde_json::{Map, Value};

/// The honeypot: a field people never see on the page (hidden by CSS, skipped by the
/// keyboard) that form-filling bots do fill in.
pub const HONEYPOT: &str = "website";

/// The `source` of customers created from a card.
pub const SOURCE: &str = "card";

/// The largest lead body read, in bytes (413 past it): the fields' limits fit well inside.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// `POST /api/cards/public/:slug/leads` (public).
pub const INPUT: Shape = Shape::create(
    "CardLeadInput",
    &[
        req("name", Kind::Text(120)),
        opt("email", Kind::Email).blank_is_null(),
        opt("phone", Kind::Phone).blank_is_null(),
        opt("message", Kind::Text(2000)).blank_is_null(),
        req("consent", Kind::Bool),
        opt(HONEYPOT, Kind::Str(0, 200)),
    ],
    &[
        rule(&["email", "phone"], "one of email or phone is required."),
        rule(&["consent"], "consent must be true."),
        rule(&[], "website is a honeypot: filled in, nothing is stored."),
    ],
);

/// A visitor's details, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct Lead {
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub message: Option<String>,
}

/// What a valid body is: a lead, or a bot's (honeypot filled in).
#[derive(Debug, Clone, PartialEq)]
pub enum Submission {
    Lead(Lead),
    Bot,
}

/// Checks a lead body (422 with every problem), then the honeypot.
pub fn validate(body: &Value) -> ApiResult<Submission> {
    let (v, mut errs) = schema::check(&INPUT, body);
    if v.has("consent") && v.bool("consent") != Some(true) {
        errs.add("consent", "must be true");
    }
    let email = v.str("email").map(|e| e.to_ascii_lowercase());
    let phone = v.str("phone");
    let contact_given = ["email", "phone"].iter().any(|f| {
        body.get(f)
            .and_then(Value::as_str)
            .is_some_and(|s| !s.trim().is_empty())
    });
    if email.is_none() && phone.is_none() && !contact_given {
        errs.add("email", "give an email or a phone");
        errs.add("phone", "give an email or a phone");
    }
    errs.into_result()?;
    if v.str(HONEYPOT).is_some_and(|w| !w.trim().is_empty()) {
        return Ok(Submission::Bot);
    }
    let name = v.str("name").ok_or_else(ApiError::internal)?;
    Ok(Submission::Lead(Lead {
        name,
        email,
        phone,
        message: v.str("message"),
    }))
}

/// An HTML form body (`application/x-www-form-urlencoded`) as the JSON object the lead
/// rules check: the first value of each name, `consent` as a boolean when it is one of the
/// values a checkbox sends (`true`, `on`, `1`, `yes`; `false`, `off`, `0`, `no`).
pub fn form_body(body: &str) -> Value {
    let mut out = Map::new();
    for (k, v) in super::query::pairs(&format!("?{body}")) {
        if out.contains_key(&k) {
            continue;
        }
        let value = if k == "consent" {
            match v.trim().to_ascii_lowercase().as_str() {
                "true" | "on" | "1" | "yes" => Value::Bool(true),
                "false" | "off" | "0" | "no" => Value::Bool(false),
                _ => Value::String(v),
            }
        } else {
            Value::String(v)
        };
        out.insert(k, value);
    }
    Value::Object(out)
}

/// The field problems of a 422 as one line (`email: is not …; consent: must be true`),
/// for an HTML page.
pub fn problems(e: &ApiError) -> String {
    let mut out = String::new();
    if let Some(fields) = e
        .details
        .as_ref()
        .and_then(|d| d.get("fields"))
        .and_then(Value::as_object)
    {
        for (k, v) in fields {
            if !out.is_empty() {
                out.push_str("; ");
            }
            out.push_str(k);
            out.push_str(": ");
            out.push_str(v.as_str().unwrap_or_default());
        }
    }
    out
}

/// One line of an email header: control characters (a line break could start another
/// header) become spaces.
fn header_text(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// The email to the card's owner: (subject, body), plain text.
pub fn owner_email(card_name: &str, slug: &str, lead: &Lead) -> (String, String) {
    let subject = header_text(&format!("New lead from your card: {}", lead.name));
    let or_none = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
    let body = format!(
        "A visitor of your card \"{card_name}\" (/c/{slug}) left their details; they are in \
         your customers as a lead assigned to you.\n\nName: {}\nEmail: {}\nPhone: {}\n\n{}\n",
        lead.name,
        or_none(&lead.email),
        or_none(&lead.phone),
        or_none(&lead.message),
    );
    (subject, body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fields(e: ApiError) -> Value {
        assert_eq!(e.status, 422);
        e.details.unwrap()["fields"].clone()
    }

    #[test]
    fn a_lead_needs_a_name_a_contact_and_consent() {
        let ok = validate(&json!({"name": " Ada ", "email": "Ada@Example.com", "consent": true}));
        assert_eq!(
            ok.unwrap(),
            Submission::Lead(Lead {
                name: "Ada".into(),
                email: Some("ada@example.com".into()),
                phone: None,
                message: None
            })
        );
        assert!(
            validate(&json!({"name": "A", "phone": "+34 600 123 456", "consent": true})).is_ok()
        );
        let f = fields(validate(&json!({"name": "A", "consent": false})).unwrap_err());
        assert_eq!(f["consent"], "must be true");
        assert_eq!(f["email"], "give an email or a phone");
        assert_eq!(f["phone"], "give an email or a phone");
        let f = fields(validate(&json!({"email": "", "phone": " "})).unwrap_err());
        assert_eq!(f["name"], "is required");
        assert_eq!(f["consent"], "is required");
        assert!(f["email"].is_string());
        let f = fields(
            validate(&json!({"name": "x".repeat(121), "email": "nope", "consent": "yes", "id": 1}))
                .unwrap_err(),
        );
        assert!(f["name"].as_str().unwrap().contains("120"));
        assert_eq!(f["email"], "is not a valid email address");
        assert_eq!(f["consent"], "must be true or false");
        assert_eq!(f["id"], "is not a known field");
        // A malformed contact is its own problem, not "give one".
        let f =
            fields(validate(&json!({"name": "A", "phone": "abc", "consent": true})).unwrap_err());
        assert_eq!(f["phone"], "is not a valid phone number");
        assert!(f.get("email").is_none());
    }

    #[test]
    fn the_honeypot_is_a_silent_bot() {
        let body =
            json!({"name": "A", "email": "a@b.co", "consent": true, "website": "http://spam"});
        assert_eq!(validate(&body).unwrap(), Submission::Bot);
        let body = json!({"name": "A", "email": "a@b.co", "consent": true, "website": "  "});
        assert!(matches!(validate(&body).unwrap(), Submission::Lead(_)));
        // Still validated first: a bot's bad body is a plain 422.
        assert!(validate(&json!({"website": "x"})).is_err());
    }

    #[test]
    fn forms_read_like_json() {
        let v =
            form_body("name=Ada+L%C3%B6we&email=ada%40example.com&phone=&consent=on&name=second");
        assert_eq!(
            v,
            json!({"name": "Ada Löwe", "email": "ada@example.com", "phone": "", "consent": true})
        );
        assert!(matches!(validate(&v).unwrap(), Submission::Lead(l) if l.phone.is_none()));
        assert_eq!(form_body("consent=maybe")["consent"], "maybe");
        assert_eq!(form_body("consent=false")["consent"], false);
        assert_eq!(form_body(""), json!({}));
    }

    #[test]
    fn owner_email_has_no_header_breaks() {
        let lead = Lead {
            name: "Eve\r\nBcc: x@y.z".into(),
            email: Some("eve@example.com".into()),
            phone: None,
            message: Some("Hi".into()),
        };
        let (subject, body) = owner_email("Jane", "jane", &lead);
        assert!(!subject.contains('\n') && !subject.contains('\r'));
        assert!(body.contains("Email: eve@example.com") && body.contains("Hi"));
    }
}
