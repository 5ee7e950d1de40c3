//! Calendar appointments: the resource and its validation (pure).

use super::error::{ApiError, ApiResult};
use super::schema::{self, opt, req, rule, Kind, Shape};
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
    pub status: super::status::AppointmentStatus,
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

/// Appointments longer than this are surely a mistake.
const MAX_DURATION_MS: i64 = 24 * 3600 * 1000;

/// `POST /api/calendar/appointments`.
pub const INPUT: Shape = Shape::create(
    "AppointmentInput",
    &[
        req("title", Kind::Text(200)),
        opt("customer_id", Kind::Ref("customers")),
        opt("assigned_to", Kind::Ref("users")),
        req("starts_at", Kind::DateTime),
        req("ends_at", Kind::DateTime),
        opt("location", Kind::Text(300)).blank_is_null(),
        opt("notes", Kind::Text(2000)).blank_is_null(),
    ],
    &[
        rule(
            &["ends_at"],
            "ends_at must be after starts_at, and at most 24 hours after it.",
        ),
        rule(
            &["customer_id"],
            "customer_id must name a customer of the tenant; assigned_to defaults to the caller.",
        ),
    ],
);

/// `PUT /api/calendar/appointments/:id/complete` (the body may be empty).
pub const COMPLETE: Shape = Shape::create(
    "AppointmentCompleteInput",
    &[opt("outcome", Kind::Str(0, 2000))],
    &[],
)
.open();

pub fn validate(body: &Value) -> ApiResult<NewAppointment> {
    let (v, mut errs) = schema::check(&INPUT, body);
    if let (Some(s), Some(e)) = (v.ms("starts_at"), v.ms("ends_at")) {
        if e <= s {
            errs.add("ends_at", "must be after starts_at");
        } else if e - s > MAX_DURATION_MS {
            errs.add("ends_at", "an appointment lasts at most 24 hours");
        }
    }
    errs.into_result()?;
    match (v.str("title"), v.str("starts_at"), v.str("ends_at")) {
        (Some(title), Some(starts_at), Some(ends_at)) => Ok(NewAppointment {
            title,
            customer_id: v.str("customer_id"),
            assigned_to: v.str("assigned_to"),
            starts_at,
            ends_at,
            location: v.str("location"),
            notes: v.str("notes"),
        }),
        _ => Err(ApiError::internal()),
    }
}

/// The completion body `{"outcome"?}`: the outcome as given, if any.
pub fn validate_complete(body: &Value) -> ApiResult<Option<String>> {
    Ok(schema::validate(&COMPLETE, body)?.str("outcome"))
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
