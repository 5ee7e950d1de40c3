//! `/api/crm/followups`: follow-ups on customers, assigned to a broker with a due time;
//! the cron announces due ones (`crm:followup:due`) once each.

use crate::domain::crm::{self, Followup};
use crate::domain::error::{ApiError, ApiResult};
use crate::domain::status::FollowupStatus;
use crate::domain::version;
use crate::realtime::outbox;
use crate::store::{self, i, ot, st, t};
use crate::web::ctx::Ctx;
use crate::web::respond::{json_page, json_versioned};
use worker::{Env, Response};

const COLUMNS: &str =
    "id, customer_id, assigned_to, due_at, note, status, created_by, created_at, updated_at, version";

fn channels(f: &Followup) -> Vec<String> {
    vec![
        "tenant".into(),
        format!("user:{}", f.assigned_to),
        format!("entity:followup:{}", f.id),
        format!("entity:customer:{}", f.customer_id),
    ]
}

async fn load(env: &Env, tenant: &str, id: &str) -> ApiResult<Option<Followup>> {
    let db = store::db(env)?;
    store::first(store::query(
        &db,
        &format!("SELECT {COLUMNS} FROM followups WHERE tenant_id = :tenant AND id = :id"),
        &[("tenant", t(tenant)), ("id", t(id))],
    )?)
    .await
}

pub async fn create(mut cx: Ctx) -> ApiResult<Response> {
    let who = cx.who()?;
    let input = cx.json().await?;
    let n = crm::validate_followup(&input)?;
    let tenant = who.tenant_id.as_str();
    let db = cx.db()?;
    // An explicit assignee must be a user of the tenant (the caller always may be).
    if let Some(a) = n.assigned_to.as_deref().filter(|a| *a != who.user_id) {
        let found: Option<serde_json::Value> = store::first(store::query(
            &db,
            "SELECT id FROM users WHERE tenant_id = :tenant AND id = :id",
            &[("tenant", t(tenant)), ("id", t(a))],
        )?)
        .await?;
        if found.is_none() {
            return Err(ApiError::field("assigned_to", "no such user"));
        }
    }
    let now = cx.now_iso();
    let f = Followup {
        id: crate::platform::new_id("fu"),
        customer_id: n.customer_id,
        assigned_to: n.assigned_to.unwrap_or_else(|| who.user_id.clone()),
        due_at: n.due_at,
        note: n.note,
        status: FollowupStatus::Open,
        created_by: who.user_id.clone(),
        created_at: now.clone(),
        updated_at: now,
        version: 1,
    };
    let event = outbox::draft(
        "crm:followup:created",
        channels(&f),
        serde_json::to_value(&f)?,
    )
    .by(&who.user_id);
    let results = store::batch(
        &db,
        vec![
            outbox::insert_if_exists(&db, tenant, &event, "customers", &f.customer_id)?,
            store::insert_if(
                &db,
                "followups",
                &[
                    ("tenant_id", t(tenant)),
                    ("id", t(&f.id)),
                    ("customer_id", t(&f.customer_id)),
                    ("assigned_to", t(&f.assigned_to)),
                    ("due_at", t(&f.due_at)),
                    ("note", ot(f.note.as_deref())),
                    ("status", st(f.status)),
                    ("created_by", t(&f.created_by)),
                    ("created_at", t(&f.created_at)),
                    ("updated_at", t(&f.updated_at)),
                    ("version", i(f.version)),
                ],
                "EXISTS (SELECT 1 FROM customers WHERE tenant_id = :tenant_id AND id = :customer_id)",
                &[],
            )?,
        ],
    )
    .await?;
    if results.get(1).map(store::changes) != Some(1) {
        return Err(ApiError::field("customer_id", "no such customer"));
    }
    outbox::deliver_after_write(&cx.env, tenant).await;
    json_versioned(201, &f, f.version)
}

pub async fn list(cx: Ctx) -> ApiResult<Response> {
    let who = cx.who()?;
    let page = cx.page()?;
    let q = |k: &str| cx.query(k).filter(|v| !v.is_empty());
    let status = match q("status") {
        Some(s) => Some(
            FollowupStatus::parse(&s)
                .ok_or_else(|| ApiError::bad_request("status must be open, done or cancelled"))?,
        ),
        None => None,
    };
    let due_before = match q("due_before") {
        Some(s) => Some(
            crate::domain::time::parse_rfc3339(&s)
                .map(crate::domain::time::format_ms)
                .ok_or_else(|| ApiError::bad_request("due_before must be an RFC 3339 time"))?,
        ),
        None => None,
    };
    let db = cx.db()?;
    let rows: Vec<Followup> = store::all(store::query(
        &db,
        &format!(
            "SELECT {COLUMNS} FROM followups WHERE tenant_id = :tenant
             AND (:assigned_to IS NULL OR assigned_to = :assigned_to)
             AND (:status IS NULL OR status = :status)
             AND (:customer IS NULL OR customer_id = :customer)
             AND (:due_before IS NULL OR due_at < :due_before)
             AND (:after IS NULL OR id < :after)
             ORDER BY id DESC LIMIT :limit"
        ),
        &[
            ("tenant", t(&who.tenant_id)),
            ("assigned_to", ot(q("assigned_to").as_deref())),
            ("status", ot(status.map(FollowupStatus::as_str))),
            ("customer", ot(q("customer_id").as_deref())),
            ("due_before", ot(due_before.as_deref())),
            ("after", ot(page.after.as_deref())),
            ("limit", i(i64::from(page.limit) + 1)),
        ],
    )?)
    .await?;
    json_page(rows, page.limit, |r| r.id.clone())
}

pub async fn get(cx: Ctx) -> ApiResult<Response> {
    let who = cx.who()?;
    let id = cx.path_id("follow-up")?;
    match load(&cx.env, &who.tenant_id, &id).await? {
        Some(f) => json_versioned(200, &f, f.version),
        None => Err(ApiError::not_found("follow-up")),
    }
}

/// `PUT /api/crm/followups/:id`: complete, cancel, reopen, reschedule or re-note; versioned
/// like customers (expected version or 409; a blind change is re-read and re-applied when
/// a concurrent change wins).
pub async fn update(mut cx: Ctx) -> ApiResult<Response> {
    let who = cx.who()?;
    let id = cx.path_id("follow-up")?;
    let (input, expected) = cx.versioned_json().await?;
    let ch = crm::validate_followup_change(&input)?;
    let tenant = who.tenant_id.as_str();
    let rescheduled = ch.due_at.is_some();
    let db = cx.db()?;
    for _ in 0..version::BLIND_ATTEMPTS {
        let current = load(&cx.env, tenant, &id)
            .await?
            .ok_or_else(|| ApiError::not_found("follow-up"))?;
        let read = current.version;
        if expected.is_some_and(|v| v != read) {
            return Err(version::conflict("follow-up", read));
        }
        let now = cx.now_iso();
        let before = serde_json::to_value(&current)?;
        let (f, kind) = crm::apply_followup_change(current, &ch, &now);
        let mut data = serde_json::to_value(&f)?;
        if kind == "crm:followup:updated" {
            data =
                crate::domain::event::with_changes(&before, data, &crm::FOLLOWUP_PATCH.editable());
        }
        let event = outbox::draft(kind, channels(&f), data).by(&who.user_id);
        let update = store::update(
            &db,
            "followups",
            &[
                ("status", st(f.status)),
                ("due_at", t(&f.due_at)),
                ("note", ot(f.note.as_deref())),
                ("updated_at", t(&f.updated_at)),
                ("version", i(f.version)),
            ],
            // A reschedule makes the follow-up due again (announced again when due).
            ", notified_at = CASE WHEN :rescheduled = 1 THEN NULL ELSE notified_at END
             WHERE tenant_id = :tenant AND id = :id AND version = :read",
            &[
                ("rescheduled", i(i64::from(rescheduled))),
                ("tenant", t(tenant)),
                ("id", t(&f.id)),
                ("read", i(read)),
            ],
        )?;
        if outbox::update_with_event(&cx.env, &db, tenant, update, &event, vec![]).await? {
            return json_versioned(200, &f, f.version);
        }
    }
    Err(version::busy("follow-up"))
}

/// Cron: announces each open follow-up that came due, exactly once.
pub async fn announce_due(env: &Env) -> ApiResult<usize> {
    let db = store::db(env)?;
    let now = crate::platform::iso(crate::platform::now_ms());
    // On the partial index `followups_due` (its WHERE repeats the literal status).
    let due: Vec<(outbox::Tenant, Followup)> = store::all_pairs(store::query(
        &db,
        &format!(
            "SELECT tenant_id, {COLUMNS} FROM followups
             WHERE status = {open} AND notified_at IS NULL AND due_at <= :now
             ORDER BY due_at LIMIT 100",
            open = store::lit(FollowupStatus::Open)
        ),
        &[("now", t(&now))],
    )?)
    .await?;
    let marker = format!("{now}#{}", crate::platform::random_hex());
    for (tn, f) in &due {
        let event = outbox::draft(
            "crm:followup:due",
            vec![
                format!("user:{}", f.assigned_to),
                format!("entity:followup:{}", f.id),
            ],
            serde_json::to_value(f)?,
        );
        outbox::emit_once(
            &db,
            &tn.tenant_id,
            "followups",
            &f.id,
            "notified_at",
            FollowupStatus::Open.as_str(),
            &marker,
            &event,
            vec![],
            // Not if a reschedule moved it since it was read (announced again when due).
            (" AND due_at = :read_due", &[("read_due", t(&f.due_at))]),
        )
        .await?;
    }
    outbox::deliver_tenants(env, due.iter().map(|(tn, _)| &tn.tenant_id)).await;
    Ok(due.len())
}
