//! `/api/calendar/appointments`: brokers' appointments (create, list, get, reschedule or
//! edit, cancel, complete), and the cron's reminders (`calendar:reminder`, once per
//! appointment start, ahead of it: a reschedule re-arms it, a cancellation ends it).

use crate::domain::calendar::{self, Appointment};
use crate::domain::error::{ApiError, ApiResult};
use crate::domain::status::AppointmentStatus;
use crate::realtime::outbox;
use crate::store::{self, i, ot, st, t};
use crate::web::body;
use crate::web::respond::{json, json_page};

use crate::web::ctx::Ctx;
use worker::{Env, Response};

const COLUMNS: &str = "id, title, customer_id, assigned_to, starts_at, ends_at, location, notes, status, outcome, created_by, created_at, updated_at";
/// Reminders go out this long before the start.
const REMIND_AHEAD_MS: i64 = 30 * 60 * 1000;

fn channels(a: &Appointment) -> Vec<String> {
    let mut c = vec![
        "tenant".to_string(),
        format!("user:{}", a.assigned_to),
        format!("entity:appointment:{}", a.id),
    ];
    if let Some(cid) = &a.customer_id {
        c.push(format!("entity:customer:{cid}"));
    }
    c
}

pub async fn create(mut cx: Ctx) -> ApiResult<Response> {
    let who = cx.who()?;
    let input = cx.json().await?;
    let n = calendar::validate(&input)?;
    let now = cx.now_iso();
    let a = Appointment {
        id: crate::platform::new_id("apt"),
        title: n.title,
        customer_id: n.customer_id,
        assigned_to: n.assigned_to.unwrap_or_else(|| who.user_id.clone()),
        starts_at: n.starts_at,
        ends_at: n.ends_at,
        location: n.location,
        notes: n.notes,
        status: AppointmentStatus::Scheduled,
        outcome: None,
        created_by: who.user_id.clone(),
        created_at: now.clone(),
        updated_at: now,
    };
    let tenant = who.tenant_id.as_str();
    let db = cx.db()?;
    let event = outbox::draft(
        "calendar:appointment:created",
        channels(&a),
        serde_json::to_value(&a)?,
    )
    .by(&who.user_id);
    // A customer, when given, must exist in this tenant (checked inside the batch).
    let results = store::batch(
        &db,
        vec![
            outbox::insert_when(
                &db,
                tenant,
                &event,
                "SELECT 1 WHERE :customer IS NULL
                   OR EXISTS (SELECT 1 FROM customers WHERE tenant_id = :tenant AND id = :customer)",
                &[("customer", ot(a.customer_id.as_deref()))],
            )?,
            store::insert_if(
                &db,
                "appointments",
                &[
                    ("tenant_id", t(tenant)),
                    ("customer_id", ot(a.customer_id.as_deref())),
                    ("id", t(&a.id)),
                    ("title", t(&a.title)),
                    ("assigned_to", t(&a.assigned_to)),
                    ("starts_at", t(&a.starts_at)),
                    ("ends_at", t(&a.ends_at)),
                    ("location", ot(a.location.as_deref())),
                    ("notes", ot(a.notes.as_deref())),
                    ("status", st(a.status)),
                    ("created_by", t(&a.created_by)),
                    ("created_at", t(&a.created_at)),
                    ("updated_at", t(&a.updated_at)),
                ],
                "(:customer_id IS NULL
                  OR EXISTS (SELECT 1 FROM customers WHERE tenant_id = :tenant_id AND id = :customer_id))",
                &[],
            )?,
        ],
    )
    .await?;
    if results.get(1).map(store::changes) != Some(1) {
        return Err(ApiError::field("customer_id", "no such customer"));
    }
    outbox::deliver_after_write(&cx.env, tenant).await;
    json(201, &a)
}

pub async fn list(cx: Ctx) -> ApiResult<Response> {
    let who = cx.who()?;
    let page = cx.page()?;
    let q = |k: &str| cx.query(k).filter(|v| !v.is_empty());
    let (from, to) = (
        body::time_query(&cx.req, "from")?,
        body::time_query(&cx.req, "to")?,
    );
    let db = cx.db()?;
    let rows: Vec<Appointment> = store::all(store::query(
        &db,
        &format!(
            "SELECT {COLUMNS} FROM appointments WHERE tenant_id = :tenant
             AND (:assigned_to IS NULL OR assigned_to = :assigned_to)
             AND (:status IS NULL OR status = :status)
             AND (:from IS NULL OR starts_at >= :from) AND (:to IS NULL OR starts_at < :to)
             AND (:after IS NULL OR id < :after)
             ORDER BY id DESC LIMIT :limit"
        ),
        &[
            ("tenant", t(&who.tenant_id)),
            ("assigned_to", ot(q("assigned_to").as_deref())),
            ("status", ot(q("status").as_deref())),
            ("from", ot(from.as_deref())),
            ("to", ot(to.as_deref())),
            ("after", ot(page.after.as_deref())),
            ("limit", i(i64::from(page.limit) + 1)),
        ],
    )?)
    .await?;
    json_page(rows, page.limit, |r| r.id.clone())
}

async fn load(cx: &Ctx, tenant: &str, id: &str) -> ApiResult<Appointment> {
    let db = cx.db()?;
    store::first(store::query(
        &db,
        &format!("SELECT {COLUMNS} FROM appointments WHERE tenant_id = :tenant AND id = :id"),
        &[("tenant", t(tenant)), ("id", t(id))],
    )?)
    .await?
    .ok_or_else(|| ApiError::not_found("appointment"))
}

fn not_scheduled(a: &Appointment) -> ApiError {
    ApiError::new(409, "conflict", format!("the appointment is {}", a.status))
}

/// `GET /api/calendar/appointments/:id`.
pub async fn get(cx: Ctx) -> ApiResult<Response> {
    let who = cx.who()?;
    let id = cx.path_id("appointment")?;
    json(200, &load(&cx, &who.tenant_id, &id).await?)
}

/// Writes `a` (read at `read_at`) and its event in one batch, only if the row is still the
/// scheduled one that was read (409 otherwise). `rearm`: the start moved, so the reminder
/// is due again.
async fn save(
    cx: &Ctx,
    tenant: &str,
    a: &Appointment,
    read_at: &str,
    rearm: bool,
    event: &crate::domain::event::EventDraft,
) -> ApiResult<()> {
    let db = cx.db()?;
    let mut set = vec![
        ("title", t(&a.title)),
        ("assigned_to", t(&a.assigned_to)),
        ("starts_at", t(&a.starts_at)),
        ("ends_at", t(&a.ends_at)),
        ("location", ot(a.location.as_deref())),
        ("notes", ot(a.notes.as_deref())),
        ("status", st(a.status)),
        ("outcome", ot(a.outcome.as_deref())),
        ("updated_at", t(&a.updated_at)),
    ];
    if rearm {
        set.push(("reminded_at", ot(None)));
    }
    let update = store::update(
        &db,
        "appointments",
        &set,
        "WHERE tenant_id = :tenant AND id = :id AND status = :scheduled
           AND updated_at = :read_at",
        &[
            ("tenant", t(tenant)),
            ("id", t(&a.id)),
            ("scheduled", st(AppointmentStatus::Scheduled)),
            ("read_at", t(read_at)),
        ],
    )?;
    if !outbox::update_with_event(&cx.env, &db, tenant, update, event, vec![]).await? {
        return Err(ApiError::new(
            409,
            "conflict",
            "the appointment changed meanwhile",
        ));
    }
    Ok(())
}

/// The timestamp of a write: after `read_at` even within the same millisecond, so the
/// write's guard (`updated_at = :read_at`) and its event's marker never collide.
fn next_stamp(cx: &Ctx, read_at: &str) -> String {
    let now = cx.now_iso();
    if now.as_str() > read_at {
        now
    } else {
        let ms = crate::domain::time::parse_rfc3339(read_at).unwrap_or(0) + 1;
        crate::platform::iso(ms)
    }
}

/// `PUT /api/calendar/appointments/:id`: a partial edit of a scheduled appointment.
/// `calendar:appointment:rescheduled` when the start or end moved (the reminder is re-armed),
/// else `calendar:appointment:updated`; both carry `changes`.
pub async fn update(mut cx: Ctx) -> ApiResult<Response> {
    let who = cx.who()?;
    let id = cx.path_id("appointment")?;
    let input = cx.json().await?;
    let tenant = who.tenant_id.clone();
    let current = load(&cx, &tenant, &id).await?;
    if current.status != AppointmentStatus::Scheduled {
        return Err(not_scheduled(&current));
    }
    let edit = calendar::validate_patch(&current, &input)?;
    if edit.changes.is_empty() {
        return json(200, &current);
    }
    let mut a = edit.appointment;
    a.updated_at = next_stamp(&cx, &current.updated_at);
    let kind = if edit.rescheduled {
        "calendar:appointment:rescheduled"
    } else {
        "calendar:appointment:updated"
    };
    let mut data = serde_json::to_value(&a)?;
    data["changes"] = serde_json::Value::Object(edit.changes);
    // The old assignee hears of it too (the appointment left their calendar).
    let mut to = channels(&a);
    if current.assigned_to != a.assigned_to {
        to.push(format!("user:{}", current.assigned_to));
    }
    let event = outbox::draft(kind, to, data).by(&who.user_id);
    save(
        &cx,
        &tenant,
        &a,
        &current.updated_at,
        edit.rescheduled,
        &event,
    )
    .await?;
    json(200, &a)
}

/// `PUT /api/calendar/appointments/:id/cancel` `{"reason"?}`: a scheduled appointment is
/// cancelled (409 otherwise), with `calendar:appointment:cancelled`; its reminder is not
/// sent (the cron reminds scheduled appointments only). The reason is kept as `outcome`.
pub async fn cancel(mut cx: Ctx) -> ApiResult<Response> {
    let who = cx.who()?;
    let id = cx.path_id("appointment")?;
    let input = cx.json_or_empty().await?;
    let reason = calendar::validate_cancel(&input)?;
    let tenant = who.tenant_id.clone();
    let current = load(&cx, &tenant, &id).await?;
    if current.status != AppointmentStatus::Scheduled {
        return Err(not_scheduled(&current));
    }
    let mut a = current.clone();
    a.status = AppointmentStatus::Cancelled;
    a.outcome = reason;
    a.updated_at = next_stamp(&cx, &current.updated_at);
    let event = outbox::draft(
        "calendar:appointment:cancelled",
        channels(&a),
        serde_json::to_value(&a)?,
    )
    .by(&who.user_id);
    save(&cx, &tenant, &a, &current.updated_at, false, &event).await?;
    json(200, &a)
}

/// `PUT /api/calendar/appointments/:id/complete` `{"outcome"?}`: once (409 after).
pub async fn complete(mut cx: Ctx) -> ApiResult<Response> {
    let who = cx.who()?;
    let id = cx.path_id("appointment")?;
    let input = cx.json_or_empty().await?;
    let outcome = calendar::validate_complete(&input)?;
    let tenant = who.tenant_id.as_str();
    let db = cx.db()?;
    let mut a: Appointment = store::first(store::query(
        &db,
        &format!("SELECT {COLUMNS} FROM appointments WHERE tenant_id = :tenant AND id = :id"),
        &[("tenant", t(tenant)), ("id", t(&id))],
    )?)
    .await?
    .ok_or_else(|| ApiError::not_found("appointment"))?;
    if a.status != AppointmentStatus::Scheduled {
        return Err(ApiError::new(
            409,
            "conflict",
            format!("the appointment is already {}", a.status),
        ));
    }
    a.status = AppointmentStatus::Completed;
    a.outcome = outcome;
    a.updated_at = cx.now_iso();
    let event = outbox::draft(
        "calendar:appointment:completed",
        channels(&a),
        serde_json::to_value(&a)?,
    )
    .by(&who.user_id);
    let marker = a.updated_at.clone();
    let results = store::batch(
        &db,
        vec![
            store::update(
                &db,
                "appointments",
                &[
                    ("status", st(a.status)),
                    ("outcome", ot(a.outcome.as_deref())),
                    ("updated_at", t(&marker)),
                ],
                "WHERE tenant_id = :tenant AND id = :id AND status = :scheduled",
                &[
                    ("tenant", t(tenant)),
                    ("id", t(&a.id)),
                    ("scheduled", st(AppointmentStatus::Scheduled)),
                ],
            )?,
            outbox::insert_when(
                &db,
                tenant,
                &event,
                "SELECT 1 FROM appointments WHERE tenant_id = :tenant AND id = :appointment
                   AND status = :completed AND updated_at = :marker",
                &[
                    ("appointment", t(&a.id)),
                    ("completed", st(AppointmentStatus::Completed)),
                    ("marker", t(&marker)),
                ],
            )?,
        ],
    )
    .await?;
    if results.first().map(store::changes) != Some(1) {
        return Err(ApiError::new(
            409,
            "conflict",
            "the appointment was completed meanwhile",
        ));
    }
    outbox::deliver_after_write(&cx.env, tenant).await;
    json(200, &a)
}

/// The columns a reminder reads beside the appointment (`store::all_pairs`).
#[derive(serde::Deserialize)]
struct ReminderRow {
    tenant_id: String,
    assignee_email: Option<String>,
}

/// Cron: `calendar:reminder` to the assignee for each scheduled appointment starting
/// within `REMIND_AHEAD_MS`, plus a reminder email job when the assignee has an email;
/// once per appointment (the marker technique of follow-ups guards the event and the job).
pub async fn remind(env: &Env) -> ApiResult<usize> {
    let db = store::db(env)?;
    let now_ms = crate::platform::now_ms();
    let now = crate::platform::iso(now_ms);
    let horizon = crate::platform::iso(now_ms + REMIND_AHEAD_MS);
    let cols: String = COLUMNS
        .split(", ")
        .map(|c| format!("a.{c}"))
        .collect::<Vec<_>>()
        .join(", ");
    // On the partial index `appointments_to_remind` (its WHERE repeats the literal status).
    let rows: Vec<(ReminderRow, Appointment)> = store::all_pairs(store::query(
        &db,
        &format!(
            "SELECT a.tenant_id, u.email AS assignee_email, {cols} FROM appointments a
             LEFT JOIN users u ON u.tenant_id = a.tenant_id AND u.id = a.assigned_to
             WHERE a.status = {scheduled} AND a.reminded_at IS NULL
               AND a.starts_at <= :horizon AND a.starts_at > :now
             ORDER BY a.starts_at LIMIT 100",
            scheduled = store::lit(AppointmentStatus::Scheduled)
        ),
        &[("horizon", t(&horizon)), ("now", t(&now))],
    )?)
    .await?;
    let marker = format!("{now}#{}", crate::platform::random_hex());
    for (r, a) in &rows {
        let data = serde_json::to_value(a)?;
        let event = outbox::draft(
            "calendar:reminder",
            vec![
                format!("user:{}", a.assigned_to),
                format!("entity:appointment:{}", a.id),
            ],
            data.clone(),
        );
        let job = r
            .assignee_email
            .as_deref()
            .map(|to| crate::api::job_store::reminder(&a.created_by, to, &data));
        let extra = match &job {
            Some(j) => crate::api::job_store::insert_when(
                &db,
                &r.tenant_id,
                j,
                "SELECT 1 FROM appointments WHERE tenant_id = :tenant AND id = :appointment
                   AND reminded_at = :marker",
                &[("appointment", t(&a.id)), ("marker", t(&marker))],
            )?,
            None => vec![],
        };
        let emitted = outbox::emit_once(
            &db,
            &r.tenant_id,
            "appointments",
            &a.id,
            "reminded_at",
            AppointmentStatus::Scheduled.as_str(),
            &marker,
            &event,
            extra,
            // Not if a reschedule moved it since it was read (its new start is reminded).
            (
                " AND starts_at = :read_start",
                &[("read_start", t(&a.starts_at))],
            ),
        )
        .await?;
        if let (true, Some(j)) = (emitted, job) {
            crate::api::job_store::enqueue(env, &r.tenant_id, &[j]).await;
        }
    }
    outbox::deliver_tenants(env, rows.iter().map(|(r, _)| &r.tenant_id)).await;
    Ok(rows.len())
}
