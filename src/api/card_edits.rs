//! `PUT` and `DELETE /api/cards/:id`: the card's owner or an admin edits (`card:updated`
//! with its changes) or deletes (`card:deleted`) a card.

use crate::domain::auth::Role;
use crate::domain::card::Card;
use crate::domain::card_edit;
use crate::domain::changes;
use crate::domain::error::{ApiError, ApiResult};
use crate::realtime::outbox;
use crate::store::{self, ot, t};
use crate::web::ctx::Ctx;
use crate::web::respond::json;
use worker::{D1Database, Response};

const COLUMNS: &str =
    "id, slug, owner_id, display_name, title, phone, email, bio, scans, created_at, updated_at";

fn channels(c: &Card) -> Vec<String> {
    vec![
        "tenant".into(),
        format!("user:{}", c.owner_id),
        format!("entity:card:{}", c.id),
    ]
}

async fn load(db: &D1Database, tenant: &str, id: &str) -> ApiResult<Card> {
    store::first(store::query(
        db,
        &format!("SELECT {COLUMNS} FROM cards WHERE tenant_id = :tenant AND id = :id"),
        &[("tenant", t(tenant)), ("id", t(id))],
    )?)
    .await?
    .ok_or_else(|| ApiError::not_found("card"))
}

/// `PUT /api/cards/:id` (partial). A new slug must be free across tenants (409); the update
/// applies only to the card as it was read, else 409.
pub async fn update(mut cx: Ctx) -> ApiResult<Response> {
    let who = cx.who()?;
    let id = cx.path_id("card")?;
    let input = cx.json().await?;
    let tenant = who.tenant_id.as_str();
    let db = cx.db()?;
    let before = load(&db, tenant, &id).await?;
    card_edit::may_edit(&before.owner_id, &who.user_id, who.role == Role::Admin)?;
    let mut c = card_edit::apply_patch(&before, &input)?;
    c.updated_at = cx.now_iso();
    let data = changes::with_changes(
        serde_json::to_value(&c)?,
        &serde_json::to_value(&before)?,
        &serde_json::to_value(&c)?,
    );
    let event = outbox::draft("card:updated", channels(&c), data).by(&who.user_id);
    let applied = outbox::update_with_event(
        &cx.env,
        &db,
        tenant,
        store::update(
            &db,
            "cards",
            &[
                ("slug", t(&c.slug)),
                ("display_name", t(&c.display_name)),
                ("title", ot(c.title.as_deref())),
                ("phone", ot(c.phone.as_deref())),
                ("email", ot(c.email.as_deref())),
                ("bio", ot(c.bio.as_deref())),
                ("updated_at", t(&c.updated_at)),
            ],
            "WHERE tenant_id = :tenant AND id = :id AND updated_at = :seen
               AND NOT EXISTS (SELECT 1 FROM cards o WHERE o.slug = :slug
                                 AND NOT (o.tenant_id = :tenant AND o.id = :id))",
            &[
                ("tenant", t(tenant)),
                ("id", t(&id)),
                ("seen", t(&before.updated_at)),
            ],
        )?,
        &event,
        vec![],
    )
    .await?;
    if !applied {
        let taken: Option<serde_json::Value> = store::first(store::query(
            &db,
            "SELECT 1 AS x FROM cards WHERE slug = :slug AND NOT (tenant_id = :tenant AND id = :id)",
            &[("slug", t(&c.slug)), ("tenant", t(tenant)), ("id", t(&id))],
        )?)
        .await?;
        return Err(match taken {
            Some(_) => ApiError::new(409, "conflict", "this slug is taken"),
            None => ApiError::new(409, "conflict", "the card changed meanwhile; read it again"),
        });
    }
    json(200, &c)
}

/// `DELETE /api/cards/:id`: the card and its scan records, with `card:deleted`.
pub async fn delete(cx: Ctx) -> ApiResult<Response> {
    let who = cx.who()?;
    let id = cx.path_id("card")?;
    let tenant = who.tenant_id.as_str();
    let db = cx.db()?;
    let c = load(&db, tenant, &id).await?;
    card_edit::may_edit(&c.owner_id, &who.user_id, who.role == Role::Admin)?;
    let event = outbox::draft(
        "card:deleted",
        channels(&c),
        serde_json::json!({"id": c.id, "slug": c.slug, "owner_id": c.owner_id}),
    )
    .by(&who.user_id);
    let applied = outbox::update_with_event(
        &cx.env,
        &db,
        tenant,
        store::query(
            &db,
            "DELETE FROM cards WHERE tenant_id = :tenant AND id = :id",
            &[("tenant", t(tenant)), ("id", t(&id))],
        )?,
        &event,
        vec![store::query(
            &db,
            "DELETE FROM card_scans WHERE tenant_id = :tenant AND card_id = :id",
            &[("tenant", t(tenant)), ("id", t(&id))],
        )?],
    )
    .await?;
    if !applied {
        return Err(ApiError::not_found("card"));
    }
    Ok(Response::empty()?.with_status(204))
}
