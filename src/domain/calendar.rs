//! Calendar appointments: the resource and its validation (pure).

use super::error::{ApiError, ApiResult, FieldErrors};
use super::time;
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Appointment {
    pub id: String,
    pub title: String,
    pub customer_id: Option<String>,
    pub assigned_to: String,
    pub starts_at: String,
    pub ends_at: String,
    pub location: Option<String>,
    pub notes: Option<String>,
    pub status: String,
    pub outcome: Option<String>,
    pub created_by: String,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug)]
pub struct NewAppointment {
    pub title: String,
    pub customer_id: Option<String>,
    pub assigned_to: Option<String>,
    pub starts_at: String,
    pub ends_at: String,
    pub location: Option<String>,
    pub notes: Option<String>,
}

const FIELDS: &[&str] = &[
    "title",
    "customer_id",
    "assigned_to",
    "starts_at",
    "ends_at",
    "location",
    "notes",
];
/// Appointments longer than this are surely a mistake.
const MAX_DURATION_MS: i64 = 24 * 3600 * 1000;

fn opt_text(v: Option<&Value>, f: &str, max: usize, errs: &mut FieldErrors) -> Option<String> {
    match v {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.trim().is_empty() => None,
        Some(Value::String(s)) if s.chars().count() <= max => Some(s.trim().to_string()),
        Some(_) => {
            errs.add(f, format!("must be a string of at most {max} characters"));
            None
        }
    }
}

pub fn validate(body: &Value) -> ApiResult<NewAppointment> {
    let mut errs = FieldErrors::default();
    let Some(o) = body.as_object() else {
        errs.add("body", "must be a JSON object");
        return Err(ApiError::validation(errs));
    };
    for k in o.keys().filter(|k| !FIELDS.contains(&k.as_str())) {
        errs.add(k, "is not a known field");
    }
    let title = match o.get("title") {
        Some(Value::String(s)) if !s.trim().is_empty() && s.chars().count() <= 200 => {
            Some(s.trim().to_string())
        }
        _ => {
            errs.add("title", "is required (1-200 characters)");
            None
        }
    };
    let starts = time::required(o.get("starts_at"), "starts_at", &mut errs);
    let ends = time::required(o.get("ends_at"), "ends_at", &mut errs);
    if let (Some(s), Some(e)) = (starts, ends) {
        if e <= s {
            errs.add("ends_at", "must be after starts_at");
        } else if e - s > MAX_DURATION_MS {
            errs.add("ends_at", "an appointment lasts at most 24 hours");
        }
    }
    let id_of = |f: &str, errs: &mut FieldErrors| match o.get(f) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if super::auth::valid_user_id(s) => Some(s.clone()),
        Some(_) => {
            errs.add(f, "must be an id");
            None
        }
    };
    let customer_id = id_of("customer_id", &mut errs);
    let assigned_to = id_of("assigned_to", &mut errs);
    let location = opt_text(o.get("location"), "location", 300, &mut errs);
    let notes = opt_text(o.get("notes"), "notes", 2000, &mut errs);
    errs.into_result()?;
    match (title, starts, ends) {
        (Some(title), Some(s), Some(e)) => Ok(NewAppointment {
            title,
            customer_id,
            assigned_to,
            starts_at: time::format_ms(s),
            ends_at: time::format_ms(e),
            location,
            notes,
        }),
        _ => Err(ApiError::internal()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rules() {
        let a = validate(&json!({"title": "Viewing", "starts_at": "2026-12-01T10:00:00+01:00", "ends_at": "2026-12-01T10:30:00+01:00"})).unwrap();
        assert_eq!(a.starts_at, "2026-12-01T09:00:00.000Z");
        let e = validate(&json!({"title": "", "starts_at": "2026-12-01T10:00:00Z", "ends_at": "2026-12-01T09:00:00Z", "x": 1})).unwrap_err();
        let f = &e.details.unwrap()["fields"];
        assert!(f["title"].is_string() && f["ends_at"].is_string() && f["x"].is_string());
        assert!(validate(&json!({"title": "Long", "starts_at": "2026-12-01T10:00:00Z", "ends_at": "2026-12-03T10:00:00Z"})).is_err());
    }
}
