//! CRM customer: the resource shape, its validation rules (create, partial update,
//! reassignment) and the text search over name, email and phone.

use super::auth::{Action, Role};
use super::error::{ApiError, ApiResult};
use super::schema::{self, dflt, opt, req, rule, Field, Kind, Shape, Values, VERSION};
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub const STATUSES: &[&str] = &["lead", "prospect", "active", "inactive", "closed"];

const FIELDS: [Field; 6] = [
    req("name", Kind::Text(200)),
    opt("email", Kind::Email).blank_is_null(),
    opt("phone", Kind::Phone).blank_is_null(),
    dflt("status", Kind::Enum(STATUSES), "\"lead\"").not_null(),
    opt("source", Kind::Text(100)).blank_is_null(),
    opt("notes", Kind::Text(5000)).blank_is_null(),
];
const PATCH_FIELDS: [Field; 7] = [
    FIELDS[0], FIELDS[1], FIELDS[2], FIELDS[3], FIELDS[4], FIELDS[5], VERSION,
];
/// `POST /api/crm/customers`.
pub const INPUT: Shape = Shape::create("CustomerInput", &FIELDS, &[]);
/// `PUT /api/crm/customers/:id`.
pub const PATCH: Shape = Shape::patch("CustomerPatch", &PATCH_FIELDS, &[]);
/// `PUT /api/crm/customers/:id/assign`.
pub const ASSIGN: Shape = Shape::create(
    "CustomerAssignInput",
    &[req("assigned_to", Kind::Ref("users"))],
    &[rule(
        &["assigned_to"],
        "assigned_to must be a broker or admin of the tenant.",
    )],
);
/// `POST /api/crm/customers/:id/sms`.
pub const SMS: Shape = Shape::create("SmsInput", &[req("message", Kind::Text(480))], &[]);

/// A customer as the REST API returns it (and as events carry it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Customer {
    pub id: String,
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub status: super::status::CustomerStatus,
    pub source: Option<String>,
    pub notes: Option<String>,
    /// The user who owns the lead (a broker or admin of the tenant); the creator at first.
    pub assigned_to: String,
    pub created_by: String,
    pub created_at: String,
    pub updated_at: String,
    /// Bumped by every update; the optimistic-concurrency token (`If-Match`, ETag).
    pub version: i64,
}

/// Validated fields of a create or update. `None` = not given; `Some(None)` = cleared.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct CustomerFields {
    pub name: Option<String>,
    pub email: Option<Option<String>>,
    pub phone: Option<Option<String>>,
    pub status: Option<String>,
    pub source: Option<Option<String>>,
    pub notes: Option<Option<String>>,
}

impl CustomerFields {
    pub fn is_empty(&self) -> bool {
        self == &CustomerFields::default()
    }
}

pub fn validate_create(body: &Value) -> ApiResult<CustomerFields> {
    schema::validate(&INPUT, body).map(fields)
}

pub fn validate_update(body: &Value) -> ApiResult<CustomerFields> {
    schema::validate(&PATCH, body).map(fields)
}

fn fields(v: Values) -> CustomerFields {
    CustomerFields {
        name: v.str("name"),
        email: v
            .opt_str("email")
            .map(|e| e.map(|e| e.to_ascii_lowercase())),
        phone: v.opt_str("phone"),
        status: v.str("status"),
        source: v.opt_str("source"),
        notes: v.opt_str("notes"),
    }
}

pub fn valid_email(s: &str) -> bool {
    schema::valid_email(s)
}

pub fn valid_phone(s: &str) -> bool {
    schema::valid_phone(s)
}

/// Applies validated fields to an existing customer (partial update).
pub fn apply(mut c: Customer, f: CustomerFields, now_iso: &str) -> Customer {
    if let Some(v) = f.name {
        c.name = v;
    }
    if let Some(v) = f.email {
        c.email = v;
    }
    if let Some(v) = f.phone {
        c.phone = v;
    }
    if let Some(v) = f
        .status
        .as_deref()
        .and_then(super::status::CustomerStatus::parse)
    {
        c.status = v;
    }
    if let Some(v) = f.source {
        c.source = v;
    }
    if let Some(v) = f.notes {
        c.notes = v;
    }
    c.updated_at = now_iso.to_string();
    c.version += 1;
    c
}

/// A new customer from validated create fields.
pub fn build(id: String, f: CustomerFields, created_by: &str, now_iso: &str) -> Customer {
    Customer {
        id,
        name: f.name.unwrap_or_default(),
        email: f.email.flatten(),
        phone: f.phone.flatten(),
        status: f
            .status
            .as_deref()
            .and_then(super::status::CustomerStatus::parse)
            .unwrap_or(super::status::CustomerStatus::Lead),
        source: f.source.flatten(),
        notes: f.notes.flatten(),
        assigned_to: created_by.into(),
        created_by: created_by.into(),
        created_at: now_iso.into(),
        updated_at: now_iso.into(),
        version: 1,
    }
}

/// The body of `PUT /api/crm/customers/:id/assign`: the new assignee's id.
pub fn validate_assign(body: &Value) -> ApiResult<String> {
    schema::validate(&ASSIGN, body)?
        .str("assigned_to")
        .ok_or_else(ApiError::internal)
}

/// Whether a user of this role may be assigned leads: the roles that write CRM records.
pub fn may_own_leads(role: Role) -> bool {
    role.allows(Action::Write)
}

/// Words of `?q=` that count (the rest are ignored), and characters kept of each.
pub const MAX_SEARCH_WORDS: usize = 10;
pub const MAX_SEARCH_WORD_CHARS: usize = 64;

/// The FTS5 query for `?q=` over the `customer_search` index (name, email, phone), or
/// `None` when `q` has nothing to search for (it then matches no customer).
///
/// A `q` made only of phone characters with at least 3 digits is one number: its digits
/// as a prefix (the index holds every suffix of each phone's digits, so any run of digits
/// matches). Otherwise every whitespace-separated word must match the start of a word of
/// the name, email or phone (case and accents ignored); a word with punctuation
/// (`ada@example.com`, `o'brien`) is a phrase of its parts, the last one a prefix. Only
/// ASCII letters and digits and non-ASCII characters reach the query (FTS5 syntax is all
/// ASCII; the tokenizer splits on non-ASCII punctuation itself), so no input is syntax.
pub fn search_match(q: &str) -> Option<String> {
    let q = q.trim();
    let digits: String = q.chars().filter(char::is_ascii_digit).collect();
    let phone_like = q
        .bytes()
        .all(|c| c.is_ascii_digit() || matches!(c, b'+' | b'-' | b'.' | b'(' | b')' | b' '));
    if phone_like && digits.len() >= 3 {
        let digits = &digits[..digits.len().min(MAX_SEARCH_WORD_CHARS)];
        return Some(format!("\"{digits}\"*"));
    }
    let mut out = String::new();
    for (n, word) in q.split_whitespace().enumerate() {
        if n == MAX_SEARCH_WORDS {
            break;
        }
        // The word's letters and digits, its other characters as single spaces.
        let mut phrase = String::new();
        for c in word.chars().take(MAX_SEARCH_WORD_CHARS) {
            if c.is_ascii_alphanumeric() || !c.is_ascii() {
                phrase.push(c);
            } else if !phrase.is_empty() && !phrase.ends_with(' ') {
                phrase.push(' ');
            }
        }
        let phrase = phrase.trim_end();
        if phrase.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push_str(" AND ");
        }
        out.push('"');
        out.push_str(phrase);
        out.push_str("\"*");
    }
    (!out.is_empty()).then_some(out)
}

/// The body of `POST /api/crm/customers/:id/sms`: `{"message": 1-480 characters}`.
pub fn sms_message(body: &Value) -> ApiResult<String> {
    schema::validate(&SMS, body)?
        .str("message")
        .ok_or_else(ApiError::internal)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::status::CustomerStatus;
    use serde_json::json;

    fn fields_of(e: crate::domain::error::ApiError) -> Value {
        assert_eq!(e.status, 422);
        e.details.unwrap()["fields"].clone()
    }

    #[test]
    fn create_requires_name_and_checks_formats() {
        let f = fields_of(
            validate_create(&json!({"email": "nope", "phone": "abc", "x": 1})).unwrap_err(),
        );
        assert_eq!(f["name"], "is required");
        assert_eq!(f["email"], "is not a valid email address");
        assert_eq!(f["phone"], "is not a valid phone number");
        assert_eq!(f["x"], "is not a known field");
    }

    #[test]
    fn create_normalises() {
        let f =
            validate_create(&json!({"name": "  Ada  ", "email": "Ada@Example.COM", "phone": ""}))
                .unwrap();
        let c = build("c_1".into(), f, "u", "t");
        assert_eq!(c.name, "Ada");
        assert_eq!(c.email.as_deref(), Some("ada@example.com"));
        assert_eq!(c.phone, None);
        assert_eq!(c.status, CustomerStatus::Lead);
    }

    #[test]
    fn wrong_types_and_limits() {
        let f = fields_of(
            validate_create(&json!({"name": 5, "status": "vip", "notes": "x".repeat(5001)}))
                .unwrap_err(),
        );
        assert_eq!(f["name"], "must be a string");
        assert!(f["status"].as_str().unwrap().starts_with("must be one of"));
        assert!(f["notes"].as_str().unwrap().contains("5000"));
        assert!(validate_create(&json!([1, 2])).is_err());
    }

    #[test]
    fn new_customers_are_assigned_to_their_creator() {
        let c = build(
            "c".into(),
            validate_create(&json!({"name": "A"})).unwrap(),
            "u7",
            "t",
        );
        assert_eq!(
            (c.assigned_to.as_str(), c.created_by.as_str()),
            ("u7", "u7")
        );
        assert_eq!(serde_json::to_value(&c).unwrap()["assigned_to"], "u7");
    }

    #[test]
    fn assign_takes_one_user_id() {
        assert_eq!(
            validate_assign(&json!({"assigned_to": "u_2"})).unwrap(),
            "u_2"
        );
        for bad in [
            json!({}),
            json!({"assigned_to": ""}),
            json!({"assigned_to": "a b"}),
            json!({"assigned_to": 5}),
            json!({"assigned_to": "u", "x": 1}),
        ] {
            assert_eq!(validate_assign(&bad).unwrap_err().status, 422, "{bad}");
        }
        assert!(may_own_leads(Role::Admin) && may_own_leads(Role::Broker));
        assert!(!may_own_leads(Role::Viewer));
    }

    #[test]
    fn search_queries_are_word_prefixes_or_one_number() {
        let m = |q: &str| search_match(q);
        assert_eq!(m("Ada").as_deref(), Some("\"Ada\"*"));
        assert_eq!(
            m("  ada   love ").as_deref(),
            Some("\"ada\"* AND \"love\"*")
        );
        assert_eq!(
            m("ada@example.com").as_deref(),
            Some("\"ada example com\"*")
        );
        assert_eq!(m("+34 600-123").as_deref(), Some("\"34600123\"*"));
        assert_eq!(m("(555) 0100").as_deref(), Some("\"5550100\"*"));
        // Too few digits for a number: words.
        assert_eq!(m("12").as_deref(), Some("\"12\"*"));
        assert_eq!(m("José").as_deref(), Some("\"José\"*"));
        // FTS5 syntax never gets through.
        assert_eq!(
            m("a\" OR b*").as_deref(),
            Some("\"a\"* AND \"OR\"* AND \"b\"*")
        );
        assert_eq!(m("NEAR(x y)").as_deref(), Some("\"NEAR x\"* AND \"y\"*"));
        for nothing in ["", "   ", "+", "\"\"", "*", "- ( )", "\\"] {
            assert_eq!(m(nothing), None, "{nothing:?}");
        }
        let many = "w ".repeat(50);
        assert_eq!(
            m(&many).unwrap().matches("AND").count(),
            MAX_SEARCH_WORDS - 1
        );
        let long = "x".repeat(500);
        assert_eq!(m(&long).unwrap().len(), MAX_SEARCH_WORD_CHARS + 3);
        for q in [
            "ab\"cd",
            "a\\b",
            "a:b",
            "{x}",
            "^y",
            "a\u{301}",
            "«x»",
            "(a) -b +c",
        ] {
            let s = m(q).unwrap();
            let plain = |c: char| c.is_ascii_alphanumeric() || c == ' ' || !c.is_ascii();
            for phrase in s.split(" AND ") {
                let inner = phrase.strip_prefix('"').and_then(|p| p.strip_suffix("\"*"));
                assert!(inner.is_some_and(|i| i.chars().all(plain)), "{q:?} -> {s}");
            }
        }
    }

    #[test]
    fn update_is_partial_and_not_empty() {
        assert!(validate_update(&json!({})).is_err());
        let f = validate_update(&json!({"phone": null})).unwrap();
        let c = build(
            "c".into(),
            validate_create(&json!({"name": "A", "phone": "+1 555 0100"})).unwrap(),
            "u",
            "t0",
        );
        let c2 = apply(c, f, "t1");
        assert_eq!(
            (c2.name.as_str(), c2.phone.clone(), c2.updated_at.as_str()),
            ("A", None, "t1")
        );
        assert_eq!(c2.version, 2);
        assert!(validate_update(&json!({"name": null})).is_err());
    }
}
