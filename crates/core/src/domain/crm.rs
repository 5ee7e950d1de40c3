//! CRM interactions and follow-ups: resource shapes and validation rules (pure).

use super::error::{ApiError, ApiResult};
use super::schema::{self, opt, req, rule, Kind, Shape, VERSION};
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub const INTERACTION_TYPES: &[&str] = &["call", "email", "meeting", "sms", "viewing", "note"];
pub const FOLLOWUP_STATUSES: &[&str] = &["open", "done", "cancelled"];

/// `POST /api/crm/interactions`.
pub const INTERACTION_INPUT: Shape = Shape::create(
    "InteractionInput",
    &[
        req("customer_id", Kind::Ref("customers")),
        req("type", Kind::Enum(INTERACTION_TYPES)),
        req("summary", Kind::Text(2000)),
        opt("occurred_at", Kind::DateTime).not_null(),
    ],
    &[rule(
        &["customer_id"],
        "customer_id must name a customer of the tenant.",
    )],
);

/// `POST /api/crm/followups`.
pub const FOLLOWUP_INPUT: Shape = Shape::create(
    "FollowupInput",
    &[
        req("customer_id", Kind::Ref("customers")),
        opt("assigned_to", Kind::Ref("users")).not_null(),
        req("due_at", Kind::DateTime),
        opt("note", Kind::Text(2000)),
    ],
    &[
        rule(
            &["customer_id"],
            "customer_id must name a customer of the tenant.",
        ),
        rule(
            &["assigned_to"],
            "assigned_to (default: the caller) must name a user of the tenant.",
        ),
    ],
);

/// `PUT /api/crm/followups/:id`.
pub const FOLLOWUP_PATCH: Shape = Shape::patch(
    "FollowupPatch",
    &[
        opt("status", Kind::Enum(FOLLOWUP_STATUSES)).not_null(),
        opt("due_at", Kind::DateTime).not_null(),
        opt("note", Kind::Text(2000)),
        VERSION,
    ],
    &[],
);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Interaction {
    pub id: String,
    pub customer_id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub summary: String,
    pub occurred_at: String,
    pub created_by: String,
    pub created_at: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Followup {
    pub id: String,
    pub customer_id: String,
    pub assigned_to: String,
    pub due_at: String,
    pub note: Option<String>,
    pub status: super::status::FollowupStatus,
    pub created_by: String,
    pub created_at: String,
    pub updated_at: String,
    /// Bumped by every update; the optimistic-concurrency token (`If-Match`, ETag).
    pub version: i64,
}

#[derive(Debug)]
pub struct NewInteraction {
    pub customer_id: String,
    pub kind: String,
    pub summary: String,
    pub occurred_at: Option<String>,
}

pub fn validate_interaction(body: &Value) -> ApiResult<NewInteraction> {
    let v = schema::validate(&INTERACTION_INPUT, body)?;
    match (v.str("customer_id"), v.str("type"), v.str("summary")) {
        (Some(customer_id), Some(kind), Some(summary)) => Ok(NewInteraction {
            customer_id,
            kind,
            summary,
            occurred_at: v.str("occurred_at"),
        }),
        _ => Err(ApiError::internal()),
    }
}

#[derive(Debug)]
pub struct NewFollowup {
    pub customer_id: String,
    pub assigned_to: Option<String>,
    pub due_at: String,
    pub note: Option<String>,
}

pub fn validate_followup(body: &Value) -> ApiResult<NewFollowup> {
    let v = schema::validate(&FOLLOWUP_INPUT, body)?;
    match (v.str("customer_id"), v.str("due_at")) {
        (Some(customer_id), Some(due_at)) => Ok(NewFollowup {
            customer_id,
            assigned_to: v.str("assigned_to"),
            due_at,
            note: v.str("note"),
        }),
        _ => Err(ApiError::internal()),
    }
}

/// A follow-up change: `status` (done/cancelled/open), `due_at` (reschedule), `note`.
#[derive(Debug, Default, Clone)]
pub struct FollowupChange {
    pub status: Option<String>,
    pub due_at: Option<String>,
    pub note: Option<Option<String>>,
}

pub fn validate_followup_change(body: &Value) -> ApiResult<FollowupChange> {
    let v = schema::validate(&FOLLOWUP_PATCH, body)?;
    Ok(FollowupChange {
        status: v.str("status"),
        due_at: v.str("due_at"),
        note: v.opt_str("note"),
    })
}

/// Applies a change to a follow-up: the result and the event it emits.
pub fn apply_followup_change(
    mut f: Followup,
    ch: &FollowupChange,
    now_iso: &str,
) -> (Followup, &'static str) {
    let before = f.status;
    if let Some(s) = ch
        .status
        .as_deref()
        .and_then(super::status::FollowupStatus::parse)
    {
        f.status = s;
    }
    if let Some(d) = &ch.due_at {
        f.due_at = d.clone();
    }
    if let Some(n) = &ch.note {
        f.note = n.clone();
    }
    f.updated_at = now_iso.to_string();
    f.version += 1;
    let kind = followup_event(before, f.status);
    (f, kind)
}

/// The event a follow-up change emits.
pub fn followup_event(
    before: super::status::FollowupStatus,
    after: super::status::FollowupStatus,
) -> &'static str {
    use super::status::FollowupStatus::Done;
    match (before, after) {
        (b, Done) if b != Done => "crm:followup:completed",
        _ => "crm:followup:updated",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::status::FollowupStatus;
    use serde_json::json;

    #[test]
    fn interaction_rules() {
        let ok = validate_interaction(&json!({"customer_id": "c_1", "type": "call", "summary": " Called ", "occurred_at": "2026-11-23T10:00:00+02:00"})).unwrap();
        assert_eq!(
            (ok.summary.as_str(), ok.occurred_at.as_deref()),
            ("Called", Some("2026-11-23T08:00:00.000Z"))
        );
        let e = validate_interaction(
            &json!({"type": "fax", "summary": "", "occurred_at": "yesterday"}),
        )
        .unwrap_err();
        let f = &e.details.unwrap()["fields"];
        assert!(
            f["customer_id"].is_string()
                && f["type"].is_string()
                && f["summary"].is_string()
                && f["occurred_at"].is_string()
        );
    }

    #[test]
    fn followup_rules() {
        assert!(validate_followup(
            &json!({"customer_id": "c_1", "due_at": "2026-12-01T09:00:00Z"})
        )
        .is_ok());
        assert_eq!(
            validate_followup(&json!({"customer_id": "c_1"}))
                .unwrap_err()
                .status,
            422
        );
        assert!(validate_followup_change(&json!({})).is_err());
        assert!(validate_followup_change(&json!({"status": "later"})).is_err());
        assert_eq!(
            validate_followup_change(&json!({"note": null}))
                .unwrap()
                .note,
            Some(None)
        );
        assert_eq!(
            followup_event(FollowupStatus::Open, FollowupStatus::Done),
            "crm:followup:completed"
        );
        let f = Followup {
            id: "fu_1".into(),
            customer_id: "c_1".into(),
            assigned_to: "u".into(),
            due_at: "d0".into(),
            note: Some("n".into()),
            status: FollowupStatus::Open,
            created_by: "u".into(),
            created_at: "t0".into(),
            updated_at: "t0".into(),
            version: 4,
        };
        let ch = validate_followup_change(&json!({"status": "done"})).unwrap();
        let (g, kind) = apply_followup_change(f, &ch, "t1");
        assert_eq!(kind, "crm:followup:completed");
        assert_eq!(
            (g.version, g.note.as_deref(), g.due_at.as_str()),
            (5, Some("n"), "d0")
        );
        assert_eq!(
            followup_event(FollowupStatus::Done, FollowupStatus::Done),
            "crm:followup:updated"
        );
    }
}
