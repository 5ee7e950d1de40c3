//! `/api/crm/customers`: CRUD on D1, each mutation with its event in the same batch; the
//! list's filters and text search (`customer_search`, FTS5), and reassignment.

use crate::api::job_store as email;
use crate::domain::auth::Role;
use crate::domain::customer::{self, Customer};
use crate::domain::error::{ApiError, ApiResult};
use crate::domain::event::entity_channels;
use crate::domain::version;
use crate::realtime::outbox;
use crate::store::{self, i, ot, st, t};
use crate::web::ctx::Ctx;
use crate::web::respond::{json, json_page, json_versioned};
use serde_json::json;
use worker::{Env, Response};

/// A customer's columns, from `customers c`.
const COLUMNS: &str = "c.id, c.name, c.email, c.phone, c.status, c.source, c.notes, c.assigned_to,
    c.created_by, c.created_at, c.updated_at, c.version";

async fn load(env: &Env, tenant: &str, id: &str) -> ApiResult<Option<Customer>> {
    let db = store::db(env)?;
    store::first(store::query(
        &db,
        &format!("SELECT {COLUMNS} FROM customers c WHERE c.tenant_id = :tenant AND c.id = :id"),
        &[("tenant", t(tenant)), ("id", t(id))],
    )?)
    .await
}

/// `GET /api/crm/customers`: newest first, filtered by `?status=`, `?assigned_to=`,
/// `?source=`, `?mine=1` (assigned to the caller) and `?q=` (text search). Only the
/// filters given reach the SQL, so each query can use its index.
///
/// Without `q` the list orders by id. With `q` it walks the search index newest row first
/// (`customers.seq`, creation order) and stops at the page's end, so a query matching most
/// of the tenant costs no more than a narrow one; the cursor is still the last row's id,
/// resolved to its place in that order.
pub async fn list(cx: Ctx) -> ApiResult<Response> {
    let who = cx.who()?;
    let page = cx.page()?;
    let db = cx.db()?;
    let given = |k: &str| cx.query(k).filter(|v| !v.is_empty());
    let mut conds = vec!["c.tenant_id = :tenant"];
    let mut args = vec![
        ("tenant", t(&who.tenant_id)),
        ("limit", i(i64::from(page.limit) + 1)),
    ];
    let filters = [
        ("status", "c.status = :status"),
        ("assigned_to", "c.assigned_to = :assigned_to"),
        ("source", "c.source = :source"),
    ];
    for (param, cond) in filters {
        if let Some(v) = given(param) {
            conds.push(cond);
            args.push((param, t(&v)));
        }
    }
    if given("mine").as_deref() == Some("1") {
        conds.push("c.assigned_to = :me");
        args.push(("me", t(&who.user_id)));
    }
    let sql = match given("q") {
        None => {
            if let Some(after) = page.after.as_deref() {
                conds.push("c.id < :after");
                args.push(("after", t(after)));
            }
            format!(
                "SELECT {COLUMNS} FROM customers c WHERE {} ORDER BY c.id DESC LIMIT :limit",
                conds.join(" AND ")
            )
        }
        Some(q) => {
            // Nothing to search for matches nothing: the index is asked for no word.
            let text = customer::search_match(&q).unwrap_or_else(|| "\"\"".into());
            conds.push("customer_search MATCH :text");
            args.push(("text", t(&text)));
            if let Some(after) = page.after.as_deref() {
                // The cursor's row, or (a cursor that names no row) the newest row older
                // than it by id.
                conds.push(
                    "s.rowid < COALESCE(
                       (SELECT seq FROM customers WHERE tenant_id = :tenant AND id = :after),
                       (SELECT seq + 1 FROM customers WHERE tenant_id = :tenant AND id < :after
                        ORDER BY id DESC LIMIT 1),
                       0)",
                );
                args.push(("after", t(after)));
            }
            format!(
                "SELECT {COLUMNS} FROM customer_search s JOIN customers c ON c.seq = s.rowid
                 WHERE {} ORDER BY s.rowid DESC LIMIT :limit",
                conds.join(" AND ")
            )
        }
    };
    let rows: Vec<Customer> = store::all(store::query(&db, &sql, &args)?).await?;
    json_page(rows, page.limit, |c| c.id.clone())
}

pub async fn get(cx: Ctx) -> ApiResult<Response> {
    let who = cx.who()?;
    let id = cx.path_id("customer")?;
    match load(&cx.env, &who.tenant_id, &id).await? {
        Some(c) => json_versioned(200, &c, c.version),
        None => Err(ApiError::not_found("customer")),
    }
}

pub async fn create(mut cx: Ctx) -> ApiResult<Response> {
    let who = cx.who()?;
    let hub_down = crate::api::dev::hub_down_fault(&cx.req, &cx.env);
    let input = cx.json().await?;
    let fields = customer::validate_create(&input)?;
    let now = cx.now_iso();
    let c = customer::build(crate::platform::new_id("c"), fields, &who.user_id, &now);
    let tenant = who.tenant_id.as_str();
    let db = cx.db()?;
    let event = outbox::draft(
        "crm:customer:created",
        entity_channels("customer", &c.id),
        serde_json::to_value(&c)?,
    )
    .by(&who.user_id);
    let mut stmts = vec![
        insert_row(&db, tenant, &c)?,
        outbox::insert(&db, tenant, &event)?,
    ];
    // A customer with an email gets a welcome email, tracked as a job in the same batch.
    let welcome = c.email.as_deref().map(|to| email::welcome(&who, &c, to));
    if let Some(job) = &welcome {
        stmts.extend(crate::api::job_store::insert(&db, tenant, job)?);
    }
    outbox::commit_and_deliver(&cx.env, &db, tenant, stmts, !hub_down).await?;
    if let Some(job) = &welcome {
        crate::api::job_store::enqueue(&cx.env, tenant, std::slice::from_ref(job)).await;
    }
    let mut resp = json_versioned(201, &c, c.version)?;
    if let Some(job) = welcome {
        resp.headers_mut().set("pulse-job-id", &job.id)?;
    }
    resp.headers_mut()
        .set("location", &format!("/api/crm/customers/{}", c.id))?;
    Ok(resp)
}

/// 422 unless `user` is a user of the tenant whose role may own leads.
async fn check_assignee(db: &worker::D1Database, tenant: &str, user: &str) -> ApiResult<()> {
    let found: Option<serde_json::Value> = store::first(store::query(
        db,
        "SELECT role FROM users WHERE tenant_id = :tenant AND id = :id",
        &[("tenant", t(tenant)), ("id", t(user))],
    )?)
    .await?;
    let role = |u: &serde_json::Value| u.get("role")?.as_str().and_then(Role::parse);
    match found.as_ref().map(role) {
        None => Err(ApiError::field("assigned_to", "no such user")),
        Some(Some(r)) if customer::may_own_leads(r) => Ok(()),
        Some(_) => Err(ApiError::field(
            "assigned_to",
            "this user's role may not own leads (broker or admin only)",
        )),
    }
}

/// `PUT /api/crm/customers/:id/assign` `{"assigned_to"}`: admins, or the customer's current
/// assignee, hand it to a broker or admin of the tenant. Emits `crm:customer:assigned` to
/// the new and the previous assignee (and the customer's channels), with
/// `previous_assigned_to`; assigning to the current assignee changes nothing. Applied to
/// the version read, re-read when a concurrent change wins (the rights are checked again).
pub async fn assign(mut cx: Ctx) -> ApiResult<Response> {
    let who = cx.who()?;
    let id = cx.path_id("customer")?;
    let input = cx.json().await?;
    let target = customer::validate_assign(&input)?;
    let tenant = who.tenant_id.as_str();
    let db = cx.db()?;
    let mut checked = false;
    for _ in 0..version::BLIND_ATTEMPTS {
        let mut c = load(&cx.env, tenant, &id)
            .await?
            .ok_or_else(|| ApiError::not_found("customer"))?;
        if who.role != Role::Admin && c.assigned_to != who.user_id {
            return Err(ApiError::forbidden(
                "only admins and the customer's assignee may reassign it",
            ));
        }
        if !checked {
            check_assignee(&db, tenant, &target).await?;
            checked = true;
        }
        if c.assigned_to == target {
            return json_versioned(200, &c, c.version);
        }
        let read = c.version;
        let previous = std::mem::replace(&mut c.assigned_to, target.clone());
        c.updated_at = cx.now_iso();
        c.version += 1;
        let mut channels = entity_channels("customer", &c.id);
        channels.push(format!("user:{target}"));
        channels.push(format!("user:{previous}"));
        let mut data = serde_json::to_value(&c)?;
        if let serde_json::Value::Object(m) = &mut data {
            m.insert("previous_assigned_to".into(), previous.into());
        }
        let event = outbox::draft("crm:customer:assigned", channels, data).by(&who.user_id);
        let update = store::update(
            &db,
            "customers",
            &[
                ("assigned_to", t(&target)),
                ("updated_at", t(&c.updated_at)),
                ("version", i(c.version)),
            ],
            "WHERE tenant_id = :tenant AND id = :id AND version = :read AND EXISTS (
               SELECT 1 FROM users WHERE tenant_id = :tenant AND id = :assigned_to
                 AND role IN ('admin', 'broker'))",
            &[("tenant", t(tenant)), ("id", t(&id)), ("read", i(read))],
        )?;
        if outbox::update_with_event(&cx.env, &db, tenant, update, &event, vec![]).await? {
            return json_versioned(200, &c, c.version);
        }
        // Changed meanwhile (or the assignee left): read again.
    }
    Err(version::busy("customer"))
}

/// The statement inserting a new customer (its search index row comes from a trigger).
pub(crate) fn insert_row(
    db: &worker::D1Database,
    tenant: &str,
    c: &Customer,
) -> ApiResult<worker::D1PreparedStatement> {
    store::insert(
        db,
        "customers",
        &[
            ("tenant_id", t(tenant)),
            ("id", t(&c.id)),
            ("name", t(&c.name)),
            ("email", ot(c.email.as_deref())),
            ("phone", ot(c.phone.as_deref())),
            ("status", st(c.status)),
            ("source", ot(c.source.as_deref())),
            ("notes", ot(c.notes.as_deref())),
            ("assigned_to", t(&c.assigned_to)),
            ("created_by", t(&c.created_by)),
            ("created_at", t(&c.created_at)),
            ("updated_at", t(&c.updated_at)),
            ("version", i(c.version)),
        ],
    )
}

/// `PUT /api/crm/customers/:id`: a partial update. With an expected version (`version` in
/// the body or `If-Match`) it applies only to that version, else 409; without one it is
/// re-read and re-applied when a concurrent update wins, so no field is silently lost.
pub async fn update(mut cx: Ctx) -> ApiResult<Response> {
    let who = cx.who()?;
    let id = cx.path_id("customer")?;
    let (input, expected) = cx.versioned_json().await?;
    let fields = customer::validate_update(&input)?;
    let tenant = who.tenant_id.as_str();
    let db = cx.db()?;
    for _ in 0..version::BLIND_ATTEMPTS {
        let current = load(&cx.env, tenant, &id)
            .await?
            .ok_or_else(|| ApiError::not_found("customer"))?;
        let read = current.version;
        if expected.is_some_and(|v| v != read) {
            return Err(version::conflict("customer", read));
        }
        let now = cx.now_iso();
        let before = serde_json::to_value(&current)?;
        let c = customer::apply(current, fields.clone(), &now);
        let event = outbox::draft(
            "crm:customer:updated",
            entity_channels("customer", &c.id),
            crate::domain::event::with_changes(
                &before,
                serde_json::to_value(&c)?,
                &customer::PATCH.editable(),
            ),
        )
        .by(&who.user_id);
        let update = store::update(
            &db,
            "customers",
            &[
                ("name", t(&c.name)),
                ("email", ot(c.email.as_deref())),
                ("phone", ot(c.phone.as_deref())),
                ("status", st(c.status)),
                ("source", ot(c.source.as_deref())),
                ("notes", ot(c.notes.as_deref())),
                ("updated_at", t(&c.updated_at)),
                ("version", i(c.version)),
            ],
            "WHERE tenant_id = :tenant AND id = :id AND version = :read",
            &[("tenant", t(tenant)), ("id", t(&c.id)), ("read", i(read))],
        )?;
        if outbox::update_with_event(&cx.env, &db, tenant, update, &event, vec![]).await? {
            return json_versioned(200, &c, c.version);
        }
        // Changed (or deleted) meanwhile: the next read says which.
    }
    Err(version::busy("customer"))
}

pub async fn delete(cx: Ctx) -> ApiResult<Response> {
    let who = cx.who()?;
    let id = cx.path_id("customer")?;
    let tenant = who.tenant_id.as_str();
    let db = cx.db()?;
    let event = outbox::draft(
        "crm:customer:deleted",
        entity_channels("customer", &id),
        json!({"id": id}),
    )
    .by(&who.user_id);
    let results = store::batch(
        &db,
        vec![
            outbox::insert_if_exists(&db, tenant, &event, "customers", &id)?,
            store::query(
                &db,
                "DELETE FROM customers WHERE tenant_id = :tenant AND id = :id",
                &[("tenant", t(tenant)), ("id", t(&id))],
            )?,
        ],
    )
    .await?;
    // The count may include the search index rows the delete trigger wrote.
    if results.get(1).map(store::changes).unwrap_or(0) == 0 {
        return Err(ApiError::not_found("customer"));
    }
    outbox::deliver_after_write(&cx.env, tenant).await;
    Ok(Response::empty()?.with_status(204))
}

/// `POST /api/crm/customers/:id/sms` `{"message"}`: texts the customer's phone through the
/// `sms` queue; 202 with the job (its progress arrives as `job:*` events).
pub async fn send_sms(mut cx: Ctx) -> ApiResult<Response> {
    let who = cx.who()?;
    let id = cx.path_id("customer")?;
    let input = cx.json().await?;
    let message = customer::sms_message(&input)?;
    let tenant = who.tenant_id.as_str();
    let c = load(&cx.env, tenant, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("customer"))?;
    let Some(phone) = c.phone.as_deref() else {
        return Err(ApiError::new(
            409,
            "conflict",
            "the customer has no phone number",
        ));
    };
    let job = crate::api::job_store::customer_sms(&who, &c.id, phone, &message);
    let db = cx.db()?;
    store::batch(&db, crate::api::job_store::insert(&db, tenant, &job)?).await?;
    if !crate::api::dev::fault(&cx.req, &cx.env, "no-enqueue") {
        crate::api::job_store::enqueue(&cx.env, tenant, std::slice::from_ref(&job)).await;
    }
    outbox::deliver_after_write(&cx.env, tenant).await;
    json(202, &job)
}
