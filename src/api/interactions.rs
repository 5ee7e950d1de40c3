//! `/api/crm/interactions`: calls, meetings and notes logged against a customer.

use crate::domain::crm::{self, Interaction};
use crate::domain::error::{ApiError, ApiResult};
use crate::domain::event::entity_channels;
use crate::realtime::outbox;
use crate::store::{self, i, ot, t};
use crate::web::ctx::Ctx;
use crate::web::respond::{json, json_page};
use worker::Response;

const COLUMNS: &str = "id, customer_id, type, summary, occurred_at, created_by, created_at";

pub async fn create(mut cx: Ctx) -> ApiResult<Response> {
    let who = cx.who()?;
    let input = cx.json().await?;
    let n = crm::validate_interaction(&input)?;
    let now = cx.now_iso();
    let it = Interaction {
        id: crate::platform::new_id("int"),
        customer_id: n.customer_id,
        kind: n.kind,
        summary: n.summary,
        occurred_at: n.occurred_at.unwrap_or_else(|| now.clone()),
        created_by: who.user_id.clone(),
        created_at: now,
    };
    let tenant = who.tenant_id.as_str();
    let db = cx.db()?;
    let mut channels = entity_channels("customer", &it.customer_id);
    channels.push(format!("entity:interaction:{}", it.id));
    let event = outbox::draft(
        "crm:interaction:created",
        channels,
        serde_json::to_value(&it)?,
    )
    .by(&who.user_id);
    // Both rows only if the customer exists in this tenant (checked inside the batch).
    let results = store::batch(
        &db,
        vec![
            outbox::insert_if_exists(&db, tenant, &event, "customers", &it.customer_id)?,
            store::insert_if(
                &db,
                "interactions",
                &[
                    ("tenant_id", t(tenant)),
                    ("id", t(&it.id)),
                    ("customer_id", t(&it.customer_id)),
                    ("type", t(&it.kind)),
                    ("summary", t(&it.summary)),
                    ("occurred_at", t(&it.occurred_at)),
                    ("created_by", t(&it.created_by)),
                    ("created_at", t(&it.created_at)),
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
    json(201, &it)
}

pub async fn list(cx: Ctx) -> ApiResult<Response> {
    let who = cx.who()?;
    let page = cx.page()?;
    let customer = cx.query("customer_id");
    let db = cx.db()?;
    let rows: Vec<Interaction> = store::all(store::query(
        &db,
        &format!(
            "SELECT {COLUMNS} FROM interactions WHERE tenant_id = :tenant
             AND (:customer IS NULL OR customer_id = :customer) AND (:after IS NULL OR id < :after)
             ORDER BY id DESC LIMIT :limit"
        ),
        &[
            ("tenant", t(&who.tenant_id)),
            ("customer", ot(customer.as_deref())),
            ("after", ot(page.after.as_deref())),
            ("limit", i(i64::from(page.limit) + 1)),
        ],
    )?)
    .await?;
    json_page(rows, page.limit, |r| r.id.clone())
}
