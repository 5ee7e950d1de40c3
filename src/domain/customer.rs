//! CRM customer: the resource shape and its validation rules (create and partial update).

use super::error::{ApiError, ApiResult, FieldErrors};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub const STATUSES: &[&str] = &["lead", "prospect", "active", "inactive", "closed"];
const NAME_MAX: usize = 200;
const EMAIL_MAX: usize = 254;
const PHONE_MAX: usize = 32;
const SOURCE_MAX: usize = 100;
const NOTES_MAX: usize = 5000;
const FIELDS: &[&str] = &["name", "email", "phone", "status", "source", "notes"];

/// A customer as the REST API returns it (and as events carry it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Customer {
    pub id: String,
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub status: String,
    pub source: Option<String>,
    pub notes: Option<String>,
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
    validate(body, true)
}

pub fn validate_update(body: &Value) -> ApiResult<CustomerFields> {
    let f = validate(body, false)?;
    if f.is_empty() {
        let mut e = FieldErrors::default();
        e.add(
            "body",
            format!("give at least one of: {}", FIELDS.join(", ")),
        );
        e.into_result()?;
    }
    Ok(f)
}

fn validate(body: &Value, create: bool) -> ApiResult<CustomerFields> {
    let mut errs = FieldErrors::default();
    let Some(obj) = body.as_object() else {
        errs.add("body", "must be a JSON object");
        return Err(super::error::ApiError::validation(errs));
    };
    for k in obj.keys() {
        if !FIELDS.contains(&k.as_str()) {
            errs.add(k, "is not a known field");
        }
    }
    let mut out = CustomerFields::default();
    match obj.get("name") {
        None if create => errs.add("name", "is required"),
        None => {}
        Some(Value::String(s)) => {
            let s = s.trim();
            if s.is_empty() {
                errs.add("name", "must not be empty");
            } else if s.chars().count() > NAME_MAX {
                errs.add("name", format!("must be at most {NAME_MAX} characters"));
            } else {
                out.name = Some(s.to_string());
            }
        }
        Some(_) => errs.add("name", "must be a string"),
    }
    out.email = optional_text(obj, "email", EMAIL_MAX, &mut errs, |s| {
        valid_email(s)
            .then(|| s.to_ascii_lowercase())
            .ok_or("is not a valid email address")
    });
    out.phone = optional_text(obj, "phone", PHONE_MAX, &mut errs, |s| {
        valid_phone(s)
            .then(|| s.to_string())
            .ok_or("is not a valid phone number")
    });
    out.source = optional_text(obj, "source", SOURCE_MAX, &mut errs, |s| Ok(s.to_string()));
    out.notes = optional_text(obj, "notes", NOTES_MAX, &mut errs, |s| Ok(s.to_string()));
    match obj.get("status") {
        None => {}
        Some(Value::String(s)) if STATUSES.contains(&s.as_str()) => out.status = Some(s.clone()),
        Some(_) => errs.add("status", format!("must be one of: {}", STATUSES.join(", "))),
    }
    errs.into_result()?;
    Ok(out)
}

fn optional_text(
    obj: &Map<String, Value>,
    field: &str,
    max: usize,
    errs: &mut FieldErrors,
    check: impl Fn(&str) -> Result<String, &'static str>,
) -> Option<Option<String>> {
    match obj.get(field)? {
        Value::Null => Some(None),
        Value::String(s) => {
            let s = s.trim();
            if s.is_empty() {
                return Some(None);
            }
            if s.chars().count() > max {
                errs.add(field, format!("must be at most {max} characters"));
                return None;
            }
            match check(s) {
                Ok(v) => Some(Some(v)),
                Err(p) => {
                    errs.add(field, p);
                    None
                }
            }
        }
        _ => {
            errs.add(field, "must be a string or null");
            None
        }
    }
}

pub fn valid_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !s.chars().any(|c| c.is_whitespace() || c.is_control())
}

pub fn valid_phone(s: &str) -> bool {
    let digits = s.chars().filter(char::is_ascii_digit).count();
    (5..=20).contains(&digits)
        && s.chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '+' | '-' | ' ' | '(' | ')' | '.'))
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
    if let Some(v) = f.status {
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
        status: f.status.unwrap_or_else(|| "lead".into()),
        source: f.source.flatten(),
        notes: f.notes.flatten(),
        created_by: created_by.into(),
        created_at: now_iso.into(),
        updated_at: now_iso.into(),
        version: 1,
    }
}

/// The body of `POST /api/crm/customers/:id/sms`: `{"message": 1-480 characters}`.
pub fn sms_message(body: &Value) -> ApiResult<String> {
    let mut errs = FieldErrors::default();
    let Some(o) = body.as_object() else {
        errs.add("body", "must be a JSON object");
        return Err(ApiError::validation(errs));
    };
    for k in o.keys().filter(|k| k.as_str() != "message") {
        errs.add(k, "is not a known field");
    }
    let msg = match o.get("message") {
        Some(Value::String(s)) if !s.trim().is_empty() && s.chars().count() <= 480 => {
            Some(s.trim().to_string())
        }
        _ => {
            errs.add("message", "is required (1-480 characters)");
            None
        }
    };
    errs.into_result()?;
    msg.ok_or_else(|| ApiError::field("message", "is required"))
}

#[cfg(test)]
mod tests {
    use super::*;
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
        assert_eq!(c.status, "lead");
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
