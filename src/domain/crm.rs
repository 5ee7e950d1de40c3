//! CRM interactions and follow-ups: resource shapes and validation rules (pure).

use super::error::{ApiError, ApiResult, FieldErrors};
use super::time;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub const INTERACTION_TYPES: &[&str] = &["call", "email", "meeting", "sms", "viewing", "note"];
pub const FOLLOWUP_STATUSES: &[&str] = &["open", "done", "cancelled"];
const SUMMARY_MAX: usize = 2000;
const NOTE_MAX: usize = 2000;

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
    pub status: String,
    pub created_by: String,
    pub created_at: String,
    pub updated_at: String,
    /// Bumped by every update; the optimistic-concurrency token (`If-Match`, ETag).
    pub version: i64,
}

fn object<'a>(
    body: &'a Value,
    allowed: &[&str],
    errs: &mut FieldErrors,
) -> Option<&'a Map<String, Value>> {
    let Some(o) = body.as_object() else {
        errs.add("body", "must be a JSON object");
        return None;
    };
    for k in o.keys().filter(|k| !allowed.contains(&k.as_str())) {
        errs.add(k, "is not a known field");
    }
    Some(o)
}

fn id_field(
    o: &Map<String, Value>,
    f: &str,
    required: bool,
    errs: &mut FieldErrors,
) -> Option<String> {
    match o.get(f) {
        None if required => {
            errs.add(f, "is required");
            None
        }
        None => None,
        Some(Value::String(s)) if super::ids::valid_path_id(s) || super::auth::valid_user_id(s) => {
            Some(s.clone())
        }
        Some(_) => {
            errs.add(f, "must be an id");
            None
        }
    }
}

fn text(
    o: &Map<String, Value>,
    f: &str,
    max: usize,
    required: bool,
    errs: &mut FieldErrors,
) -> Option<String> {
    match o.get(f) {
        None | Some(Value::Null) if required => {
            errs.add(f, "is required");
            None
        }
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if !s.trim().is_empty() && s.chars().count() <= max => {
            Some(s.trim().to_string())
        }
        Some(_) => {
            errs.add(
                f,
                format!("must be a non-empty string of at most {max} characters"),
            );
            None
        }
    }
}

/// An RFC 3339 time, normalised to UTC milliseconds `…Z`.
fn when(o: &Map<String, Value>, f: &str, required: bool, errs: &mut FieldErrors) -> Option<String> {
    match o.get(f) {
        None if required => {
            errs.add(f, "is required");
            None
        }
        None => None,
        Some(Value::String(s)) => match time::parse_rfc3339(s) {
            Some(ms) => Some(time::format_ms(ms)),
            None => {
                errs.add(f, "must be an RFC 3339 time, e.g. 2026-11-23T10:00:00Z");
                None
            }
        },
        Some(_) => {
            errs.add(f, "must be an RFC 3339 time string");
            None
        }
    }
}

#[derive(Debug)]
pub struct NewInteraction {
    pub customer_id: String,
    pub kind: String,
    pub summary: String,
    pub occurred_at: Option<String>,
}

pub fn validate_interaction(body: &Value) -> ApiResult<NewInteraction> {
    let mut errs = FieldErrors::default();
    let o = object(
        body,
        &["customer_id", "type", "summary", "occurred_at"],
        &mut errs,
    );
    let (mut c, mut k, mut s, mut w) = (None, None, None, None);
    if let Some(o) = o {
        c = id_field(o, "customer_id", true, &mut errs);
        k = match o.get("type").and_then(Value::as_str) {
            Some(t) if INTERACTION_TYPES.contains(&t) => Some(t.to_string()),
            _ => {
                errs.add(
                    "type",
                    format!("must be one of: {}", INTERACTION_TYPES.join(", ")),
                );
                None
            }
        };
        s = text(o, "summary", SUMMARY_MAX, true, &mut errs);
        w = when(o, "occurred_at", false, &mut errs);
    }
    errs.into_result()?;
    match (c, k, s) {
        (Some(customer_id), Some(kind), Some(summary)) => Ok(NewInteraction {
            customer_id,
            kind,
            summary,
            occurred_at: w,
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
    let mut errs = FieldErrors::default();
    let o = object(
        body,
        &["customer_id", "assigned_to", "due_at", "note"],
        &mut errs,
    );
    let (mut c, mut a, mut d, mut n) = (None, None, None, None);
    if let Some(o) = o {
        c = id_field(o, "customer_id", true, &mut errs);
        a = id_field(o, "assigned_to", false, &mut errs);
        d = when(o, "due_at", true, &mut errs);
        n = text(o, "note", NOTE_MAX, false, &mut errs);
    }
    errs.into_result()?;
    match (c, d) {
        (Some(customer_id), Some(due_at)) => Ok(NewFollowup {
            customer_id,
            assigned_to: a,
            due_at,
            note: n,
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
    let mut errs = FieldErrors::default();
    let mut ch = FollowupChange::default();
    if let Some(o) = object(body, &["status", "due_at", "note"], &mut errs) {
        if o.is_empty() {
            errs.add("body", "give at least one of: status, due_at, note");
        }
        match o.get("status") {
            None => {}
            Some(Value::String(s)) if FOLLOWUP_STATUSES.contains(&s.as_str()) => {
                ch.status = Some(s.clone())
            }
            Some(_) => errs.add(
                "status",
                format!("must be one of: {}", FOLLOWUP_STATUSES.join(", ")),
            ),
        }
        ch.due_at = when(o, "due_at", false, &mut errs);
        if o.contains_key("note") {
            ch.note = Some(text(o, "note", NOTE_MAX, false, &mut errs));
        }
    }
    errs.into_result()?;
    Ok(ch)
}

/// Applies a change to a follow-up: the result and the event it emits.
pub fn apply_followup_change(
    mut f: Followup,
    ch: &FollowupChange,
    now_iso: &str,
) -> (Followup, &'static str) {
    let before = f.status.clone();
    if let Some(s) = &ch.status {
        f.status = s.clone();
    }
    if let Some(d) = &ch.due_at {
        f.due_at = d.clone();
    }
    if let Some(n) = &ch.note {
        f.note = n.clone();
    }
    f.updated_at = now_iso.to_string();
    f.version += 1;
    let kind = followup_event(&before, &f.status);
    (f, kind)
}

/// The event a follow-up change emits.
pub fn followup_event(before: &str, after: &str) -> &'static str {
    match (before, after) {
        (b, "done") if b != "done" => "crm:followup:completed",
        _ => "crm:followup:updated",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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
        assert_eq!(followup_event("open", "done"), "crm:followup:completed");
        let f = Followup {
            id: "fu_1".into(),
            customer_id: "c_1".into(),
            assigned_to: "u".into(),
            due_at: "d0".into(),
            note: Some("n".into()),
            status: "open".into(),
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
        assert_eq!(followup_event("done", "done"), "crm:followup:updated");
    }
}
