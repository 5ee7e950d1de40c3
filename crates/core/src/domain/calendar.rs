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

/// `PUT /api/calendar/appointments/:id` (partial).
pub const PATCH: Shape = Shape::patch(
    "AppointmentPatch",
    &[
        req("title", Kind::Text(200)),
        req("starts_at", Kind::DateTime),
        req("ends_at", Kind::DateTime),
        opt("location", Kind::Text(300)).blank_is_null(),
        opt("notes", Kind::Text(2000)).blank_is_null(),
    ],
    &[
        rule(
            &["ends_at"],
            "With the appointment's other times, ends_at must be after starts_at, and at most \
             24 hours after it.",
        ),
        rule(
            &[],
            "Only a scheduled appointment changes (409 once completed or cancelled).",
        ),
    ],
);

/// `PUT /api/calendar/appointments/:id/cancel` (the body may be empty).
pub const CANCEL: Shape = Shape::create(
    "AppointmentCancelInput",
    &[opt("reason", Kind::Str(0, 2000))],
    &[rule(
        &[],
        "Only a scheduled appointment is cancelled (409 once completed or cancelled).",
    )],
)
.open();

fn check_times(starts_ms: i64, ends_ms: i64, errs: &mut super::error::FieldErrors) {
    if ends_ms <= starts_ms {
        errs.add("ends_at", "must be after starts_at");
    } else if ends_ms - starts_ms > MAX_DURATION_MS {
        errs.add("ends_at", "an appointment lasts at most 24 hours");
    }
}

/// The appointment `current` with the patch `body` applied (times checked together with
/// the stored ones); `updated_at` is left to the caller.
pub fn apply_patch(current: &Appointment, body: &Value) -> ApiResult<Appointment> {
    let (v, mut errs) = schema::check(&PATCH, body);
    let mut a = current.clone();
    if let Some(x) = v.str("title") {
        a.title = x;
    }
    if let Some(x) = v.str("starts_at") {
        a.starts_at = x;
    }
    if let Some(x) = v.str("ends_at") {
        a.ends_at = x;
    }
    if let Some(x) = v.opt_str("location") {
        a.location = x;
    }
    if let Some(x) = v.opt_str("notes") {
        a.notes = x;
    }
    if v.has("starts_at") || v.has("ends_at") {
        if let (Some(s), Some(e)) = (
            super::time::parse_rfc3339(&a.starts_at),
            super::time::parse_rfc3339(&a.ends_at),
        ) {
            check_times(s, e, &mut errs);
        }
    }
    errs.into_result()?;
    Ok(a)
}

/// The cancellation body `{"reason"?}`: the reason as given, if any.
pub fn validate_cancel(body: &Value) -> ApiResult<Option<String>> {
    Ok(schema::validate(&CANCEL, body)?
        .str("reason")
        .filter(|r| !r.trim().is_empty()))
}

pub fn validate(body: &Value) -> ApiResult<NewAppointment> {
    let (v, mut errs) = schema::check(&INPUT, body);
    if let (Some(s), Some(e)) = (v.ms("starts_at"), v.ms("ends_at")) {
        check_times(s, e, &mut errs);
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

    fn stored() -> Appointment {
        Appointment {
            id: "apt_1".into(),
            title: "Viewing".into(),
            customer_id: None,
            assigned_to: "b1".into(),
            starts_at: "2026-12-01T10:00:00.000Z".into(),
            ends_at: "2026-12-01T11:00:00.000Z".into(),
            location: Some("Hauptstr. 5".into()),
            notes: None,
            status: crate::domain::status::AppointmentStatus::Scheduled,
            outcome: None,
            created_by: "b1".into(),
            created_at: "t".into(),
            updated_at: "t".into(),
        }
    }

    #[test]
    fn patch_checks_times_against_the_stored_ones() {
        let a = stored();
        // Moving the start past the stored end is refused; moving both is fine.
        let e = apply_patch(&a, &json!({"starts_at": "2026-12-01T12:00:00Z"})).unwrap_err();
        assert!(e.details.unwrap()["fields"]["ends_at"].is_string());
        let b = apply_patch(
            &a,
            &json!({"starts_at": "2026-12-02T12:00:00+01:00", "ends_at": "2026-12-02T12:30:00+01:00", "location": ""}),
        )
        .unwrap();
        assert_eq!(b.starts_at, "2026-12-02T11:00:00.000Z");
        assert_eq!(b.location, None);
        assert_eq!(b.title, "Viewing");
        // Empty patch, nulls on required fields, unknown fields: 422.
        for bad in [
            json!({}),
            json!({"title": null}),
            json!({"starts_at": "tomorrow"}),
            json!({"x": 1}),
        ] {
            assert_eq!(apply_patch(&a, &bad).unwrap_err().status, 422, "{bad}");
        }
        assert_eq!(validate_cancel(&json!({})).unwrap(), None);
        assert_eq!(
            validate_cancel(&json!({"reason": "ill"}))
                .unwrap()
                .as_deref(),
            Some("ill")
        );
    }
}
