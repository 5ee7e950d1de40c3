//! `/api/calendar/appointments`: brokers' appointments (create, list, complete), and the
//! cron's reminders (`calendar:reminder`, once per appointment, ahead of its start).

use crate::domain::calendar::{self, Appointment};
use crate::domain::error::{ApiError, ApiResult};
use crate::realtime::outbox;
use crate::store::{self, i, ot, t};
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
        status: "scheduled".into(),
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
    );
    // A customer, when given, must exist in this tenant (checked inside the batch).
    let cond = "(?2 IS NULL OR EXISTS (SELECT 1 FROM customers WHERE tenant_id = ?1 AND id = ?2))";
    let results = store::batch(
        &db,
        vec![
            outbox::insert_when(&db, tenant, &event,
                "SELECT 1 WHERE ?8 IS NULL OR EXISTS (SELECT 1 FROM customers WHERE tenant_id = ?2 AND id = ?8)",
                &[ot(a.customer_id.as_deref())])?,
            store::stmt(
                &db,
                &format!(
                    "INSERT INTO appointments (tenant_id, customer_id, id, title, assigned_to, starts_at,
                       ends_at, location, notes, status, created_by, created_at, updated_at)
                     SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 'scheduled', ?10, ?11, ?11 WHERE {cond}"
                ),
                &[t(tenant), ot(a.customer_id.as_deref()), t(&a.id), t(&a.title), t(&a.assigned_to), t(&a.starts_at), t(&a.ends_at), ot(a.location.as_deref()), ot(a.notes.as_deref()), t(&a.created_by), t(&a.created_at)],
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
    let rows: Vec<Appointment> = store::all(store::stmt(
        &db,
        &format!(
            "SELECT {COLUMNS} FROM appointments WHERE tenant_id = ?1
             AND (?2 IS NULL OR assigned_to = ?2) AND (?3 IS NULL OR status = ?3)
             AND (?4 IS NULL OR starts_at >= ?4) AND (?5 IS NULL OR starts_at < ?5)
             AND (?6 IS NULL OR id < ?6)
             ORDER BY id DESC LIMIT ?7"
        ),
        &[
            t(&who.tenant_id),
            ot(q("assigned_to").as_deref()),
            ot(q("status").as_deref()),
            ot(from.as_deref()),
            ot(to.as_deref()),
            ot(page.after.as_deref()),
            i(i64::from(page.limit) + 1),
        ],
    )?)
    .await?;
    json_page(rows, page.limit, |r| r.id.clone())
}

/// `PUT /api/calendar/appointments/:id/complete` `{"outcome"?}`: once (409 after).
pub async fn complete(mut cx: Ctx) -> ApiResult<Response> {
    let who = cx.who()?;
    let id = cx.path_id("appointment")?;
    let input = cx.json_or_empty().await?;
    let outcome = calendar::validate_complete(&input)?;
    let tenant = who.tenant_id.as_str();
    let db = cx.db()?;
    let mut a: Appointment = store::first(store::stmt(
        &db,
        &format!("SELECT {COLUMNS} FROM appointments WHERE tenant_id = ?1 AND id = ?2"),
        &[t(tenant), t(&id)],
    )?)
    .await?
    .ok_or_else(|| ApiError::not_found("appointment"))?;
    if a.status != "scheduled" {
        return Err(ApiError::new(
            409,
            "conflict",
            format!("the appointment is already {}", a.status),
        ));
    }
    a.status = "completed".into();
    a.outcome = outcome;
    a.updated_at = cx.now_iso();
    let event = outbox::draft(
        "calendar:appointment:completed",
        channels(&a),
        serde_json::to_value(&a)?,
    );
    let marker = a.updated_at.clone();
    let results = store::batch(
        &db,
        vec![
            store::stmt(
                &db,
                "UPDATE appointments SET status = 'completed', outcome = ?3, updated_at = ?4
                 WHERE tenant_id = ?1 AND id = ?2 AND status = 'scheduled'",
                &[t(tenant), t(&a.id), ot(a.outcome.as_deref()), t(&marker)],
            )?,
            outbox::insert_when(&db, tenant, &event,
                "SELECT 1 FROM appointments WHERE tenant_id = ?2 AND id = ?8 AND status = 'completed' AND updated_at = ?9",
                &[t(&a.id), t(&marker)])?,
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

#[derive(serde::Deserialize)]
struct ReminderRow {
    tenant_id: String,
    assignee_email: Option<String>,
    #[serde(flatten)]
    item: Appointment,
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
    let rows: Vec<ReminderRow> = store::all(store::stmt(
        &db,
        &format!(
            "SELECT a.tenant_id, u.email AS assignee_email, {cols} FROM appointments a
             LEFT JOIN users u ON u.tenant_id = a.tenant_id AND u.id = a.assigned_to
             WHERE a.status = 'scheduled' AND a.reminded_at IS NULL AND a.starts_at <= ?1 AND a.starts_at > ?2
             ORDER BY a.starts_at LIMIT 100"
        ),
        &[t(&horizon), t(&now)],
    )?)
    .await?;
    let marker = format!("{now}#{}", crate::platform::random_hex());
    for r in &rows {
        let a = &r.item;
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
                "SELECT 1 FROM appointments WHERE tenant_id = ?1 AND id = ?9 AND reminded_at = ?10",
                &[t(&a.id), t(&marker)],
            )?,
            None => vec![],
        };
        let emitted = outbox::emit_once(
            &db,
            &r.tenant_id,
            "appointments",
            &a.id,
            "reminded_at",
            "status = 'scheduled'",
            &marker,
            &event,
            extra,
        )
        .await?;
        if let (true, Some(j)) = (emitted, job) {
            crate::api::job_store::enqueue(env, &r.tenant_id, &[j]).await;
        }
    }
    outbox::deliver_tenants(env, rows.iter().map(|r| &r.tenant_id)).await;
    Ok(rows.len())
}
