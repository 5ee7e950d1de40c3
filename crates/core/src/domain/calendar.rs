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

/// `PUT /api/calendar/appointments/:id`: reschedule or edit a scheduled appointment.
pub const PATCH: Shape = Shape::patch(
    "AppointmentPatch",
    &[
        req("title", Kind::Text(200)),
        opt("assigned_to", Kind::Ref("users")).not_null(),
        req("starts_at", Kind::DateTime),
        req("ends_at", Kind::DateTime),
        opt("location", Kind::Text(300)).blank_is_null(),
        opt("notes", Kind::Text(2000)).blank_is_null(),
    ],
    &[rule(
        &["ends_at"],
        "After the change, ends_at must be after starts_at, and at most 24 hours after it \
         (give both to move an appointment by more than its length). Only a scheduled \
         appointment can be changed (409 otherwise).",
    )],
);

/// `PUT /api/calendar/appointments/:id/cancel` (the body may be empty).
pub const CANCEL: Shape = Shape::create(
    "AppointmentCancelInput",
    &[opt("reason", Kind::Text(500)).blank_is_null()],
    &[],
);

/// The fields a patch may change, in the order `changes` lists them.
const EDITABLE: &[&str] = &[
    "title",
    "assigned_to",
    "starts_at",
    "ends_at",
    "location",
    "notes",
];

/// An edit of `current` by `body`: the edited appointment and what changed
/// (`{field: {from, to}}`, only fields whose value differs). `rescheduled`: the start or end
/// moved. `updated_at` is left to the caller.
#[derive(Debug)]
pub struct Edit {
    pub appointment: Appointment,
    pub changes: serde_json::Map<String, Value>,
    pub rescheduled: bool,
}

pub fn validate_patch(current: &Appointment, body: &Value) -> ApiResult<Edit> {
    let (v, errs) = schema::check(&PATCH, body);
    errs.into_result()?;
    let mut a = current.clone();
    if let Some(t) = v.str("title") {
        a.title = t;
    }
    if let Some(u) = v.str("assigned_to") {
        a.assigned_to = u;
    }
    if let Some(s) = v.str("starts_at") {
        a.starts_at = s;
    }
    if let Some(e) = v.str("ends_at") {
        a.ends_at = e;
    }
    if let Some(l) = v.opt_str("location") {
        a.location = l;
    }
    if let Some(n) = v.opt_str("notes") {
        a.notes = n;
    }
    let mut errs = super::error::FieldErrors::default();
    match (
        super::time::parse_rfc3339(&a.starts_at),
        super::time::parse_rfc3339(&a.ends_at),
    ) {
        (Some(s), Some(e)) if e <= s => errs.add("ends_at", "must be after starts_at"),
        (Some(s), Some(e)) if e - s > MAX_DURATION_MS => {
            errs.add("ends_at", "an appointment lasts at most 24 hours")
        }
        (Some(_), Some(_)) => {}
        _ => return Err(ApiError::internal()),
    }
    errs.into_result()?;
    let before = serde_json::to_value(current)?;
    let after = serde_json::to_value(&a)?;
    let changes = super::event::changes(&before, &after, EDITABLE);
    let rescheduled = changes.contains_key("starts_at") || changes.contains_key("ends_at");
    Ok(Edit {
        appointment: a,
        changes,
        rescheduled,
    })
}

/// The cancellation body `{"reason"?}`: the reason, if any.
pub fn validate_cancel(body: &Value) -> ApiResult<Option<String>> {
    Ok(schema::validate(&CANCEL, body)?.str("reason"))
}

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

    fn booked() -> Appointment {
        Appointment {
            id: "apt_1".into(),
            title: "Viewing".into(),
            customer_id: None,
            assigned_to: "b1".into(),
            starts_at: "2026-12-01T10:00:00.000Z".into(),
            ends_at: "2026-12-01T11:00:00.000Z".into(),
            location: Some("Calle Mayor 5".into()),
            notes: None,
            status: crate::domain::status::AppointmentStatus::Scheduled,
            outcome: None,
            created_by: "b1".into(),
            created_at: "2026-11-30T10:00:00.000Z".into(),
            updated_at: "2026-11-30T10:00:00.000Z".into(),
        }
    }

    #[test]
    fn a_patch_lists_what_changed_and_keeps_the_times_consistent() {
        let e = validate_patch(
            &booked(),
            &json!({"starts_at": "2026-12-02T10:00:00+01:00", "ends_at": "2026-12-02T10:30:00+01:00", "location": "", "title": "Viewing"}),
        )
        .unwrap();
        assert!(e.rescheduled);
        assert_eq!(e.appointment.starts_at, "2026-12-02T09:00:00.000Z");
        assert_eq!(
            Value::Object(e.changes),
            json!({
                "starts_at": {"from": "2026-12-01T10:00:00.000Z", "to": "2026-12-02T09:00:00.000Z"},
                "ends_at": {"from": "2026-12-01T11:00:00.000Z", "to": "2026-12-02T09:30:00.000Z"},
                "location": {"from": "Calle Mayor 5", "to": null}
            })
        );
        // A title edit alone is not a reschedule.
        let e = validate_patch(&booked(), &json!({"title": "Second viewing"})).unwrap();
        assert!(!e.rescheduled);
        assert_eq!(e.changes.len(), 1);
        // Moving only the start past the end is refused, as is an empty patch.
        let err =
            validate_patch(&booked(), &json!({"starts_at": "2026-12-01T12:00:00Z"})).unwrap_err();
        assert!(err.details.unwrap()["fields"]["ends_at"].is_string());
        assert!(validate_patch(&booked(), &json!({})).is_err());
        assert!(validate_patch(&booked(), &json!({"title": null})).is_err());
        assert!(validate_cancel(&json!({"reason": "Client ill", "x": 1})).is_err());
        assert_eq!(validate_cancel(&json!({})).unwrap(), None);
    }
}
