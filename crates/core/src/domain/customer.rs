//! CRM customer: the resource shape and its validation rules (create and partial update).

use super::error::{ApiError, ApiResult};
use super::schema::{self, dflt, opt, req, Field, Kind, Shape, Values, VERSION};
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
        created_by: created_by.into(),
        created_at: now_iso.into(),
        updated_at: now_iso.into(),
        version: 1,
    }
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
