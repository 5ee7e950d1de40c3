//! `/api/crm/customers`: CRUD on D1, each mutation with its event in the same batch.

use crate::api::job_store as email;
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

const COLUMNS: &str =
    "id, name, email, phone, status, source, notes, created_by, created_at, updated_at, version";

async fn load(env: &Env, tenant: &str, id: &str) -> ApiResult<Option<Customer>> {
    let db = store::db(env)?;
    store::first(store::query(
        &db,
        &format!("SELECT {COLUMNS} FROM customers WHERE tenant_id = :tenant AND id = :id"),
        &[("tenant", t(tenant)), ("id", t(id))],
    )?)
    .await
}

pub async fn list(cx: Ctx) -> ApiResult<Response> {
    let who = cx.who()?;
    let page = cx.page()?;
    let db = cx.db()?;
    // Newest first; ids sort by creation time.
    let rows: Vec<Customer> = store::all(store::query(
        &db,
        &format!(
            "SELECT {COLUMNS} FROM customers
             WHERE tenant_id = :tenant AND (:after IS NULL OR id < :after)
             ORDER BY id DESC LIMIT :limit"
        ),
        &[
            ("tenant", t(&who.tenant_id)),
            ("after", ot(page.after.as_deref())),
            ("limit", i(i64::from(page.limit) + 1)),
        ],
    )?)
    .await?;
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
        store::insert(
            &db,
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
                ("created_by", t(&c.created_by)),
                ("created_at", t(&c.created_at)),
                ("updated_at", t(&c.updated_at)),
                ("version", i(c.version)),
            ],
        )?,
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
        let c = customer::apply(current, fields.clone(), &now);
        let event = outbox::draft(
            "crm:customer:updated",
            entity_channels("customer", &c.id),
            serde_json::to_value(&c)?,
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
    if results.get(1).map(store::changes) != Some(1) {
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
