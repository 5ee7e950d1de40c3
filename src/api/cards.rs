//! `/api/cards`: digital business cards. Brokers create and list them; anyone may view a
//! card's public page (`/api/cards/public/:slug`) and record a scan (`POST
//! /api/cards/:id/scan`, counted once per visitor per 10 minutes).

use crate::domain::auth::Action;
use crate::domain::card::{self, Card, PublicCard};
use crate::domain::error::{ApiError, ApiResult};
use crate::http::router::{json, json_page};
use crate::http::{auth, body, guard};
use crate::realtime::outbox;
use crate::store::{self, i, ot, t};
use serde::Deserialize;
use serde_json::{json, Value};
use worker::{Env, Request, Response};

const COLUMNS: &str =
    "id, slug, owner_id, display_name, title, phone, email, bio, scans, created_at, updated_at";
/// A visitor's repeated scans within this window count once.
const SCAN_DEDUP_MS: i64 = 10 * 60 * 1000;

fn channels(c: &Card) -> Vec<String> {
    vec![
        "tenant".into(),
        format!("user:{}", c.owner_id),
        format!("entity:card:{}", c.id),
    ]
}

pub async fn create(mut req: Request, env: &Env) -> ApiResult<Response> {
    let who = auth::require(&req, env, Action::Write)?;
    let input = body::json(&mut req).await?;
    let n = card::validate(&input)?;
    let now = crate::platform::iso(crate::platform::now_ms());
    let c = Card {
        id: crate::platform::new_id("card"),
        slug: n.slug,
        owner_id: who.user_id.clone(),
        display_name: n.display_name,
        title: n.title,
        phone: n.phone,
        email: n.email,
        bio: n.bio,
        scans: 0,
        created_at: now.clone(),
        updated_at: now,
    };
    let tenant = who.tenant_id.as_str();
    let db = store::db(env)?;
    let event = outbox::draft("card:created", channels(&c), serde_json::to_value(&c)?);
    let results = store::batch(
        &db,
        vec![
            store::stmt(
                &db,
                &format!(
                    "INSERT INTO cards (tenant_id, {COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 0, ?10, ?10)
                     ON CONFLICT (slug) DO NOTHING"
                ),
                &[t(tenant), t(&c.id), t(&c.slug), t(&c.owner_id), t(&c.display_name), ot(c.title.as_deref()), ot(c.phone.as_deref()), ot(c.email.as_deref()), ot(c.bio.as_deref()), t(&c.created_at)],
            )?,
            outbox::insert_when(&db, tenant, &event, "SELECT 1 FROM cards WHERE tenant_id = ?2 AND id = ?8", &[t(&c.id)])?,
        ],
    )
    .await?;
    if results.first().map(store::changes) != Some(1) {
        return Err(ApiError::new(409, "conflict", "this slug is taken"));
    }
    outbox::deliver_after_write(env, tenant).await;
    json(201, &c)
}

pub async fn list(req: Request, env: &Env) -> ApiResult<Response> {
    let who = auth::require(&req, env, Action::Read)?;
    let page = body::page(&req)?;
    let owner = body::query(&req, "owner_id").filter(|o| !o.is_empty());
    let db = store::db(env)?;
    let rows: Vec<Card> = store::all(store::stmt(
        &db,
        &format!(
            "SELECT {COLUMNS} FROM cards WHERE tenant_id = ?1 AND (?2 IS NULL OR owner_id = ?2)
             AND (?3 IS NULL OR id < ?3) ORDER BY id DESC LIMIT ?4"
        ),
        &[
            t(&who.tenant_id),
            ot(owner.as_deref()),
            ot(page.after.as_deref()),
            i(i64::from(page.limit) + 1),
        ],
    )?)
    .await?;
    json_page(rows, page.limit, |r| r.id.clone())
}

#[derive(Deserialize)]
struct CardTenant {
    tenant_id: String,
}

/// Public: the card's own details only (refused to addresses its tenant blocks).
pub async fn public(req: Request, env: &Env, slug: &str) -> ApiResult<Response> {
    if !card::valid_slug(slug) {
        return Err(ApiError::not_found("card"));
    }
    let db = store::db(env)?;
    let owner: CardTenant = store::first(store::stmt(
        &db,
        "SELECT tenant_id FROM cards WHERE slug = ?1",
        &[t(slug)],
    )?)
    .await?
    .ok_or_else(|| ApiError::not_found("card"))?;
    guard::refuse_blocked(&req, env, &owner.tenant_id).await?;
    let c: Option<Card> = store::first(store::stmt(
        &db,
        &format!("SELECT {COLUMNS} FROM cards WHERE slug = ?1"),
        &[t(slug)],
    )?)
    .await?;
    let c = c.ok_or_else(|| ApiError::not_found("card"))?;
    let mut r = json(200, &PublicCard::from(c))?;
    r.headers_mut().set("cache-control", "public, max-age=30")?;
    Ok(r)
}

#[derive(Deserialize)]
struct Owner {
    tenant_id: String,
    owner_id: String,
    slug: String,
    scans: f64,
}

/// A visitor's scans dedupe on a keyed tag of their address (never the address itself).
fn visitor(req: &Request, env: &Env) -> String {
    guard::ip_tag(req, env, "card-visitor")
}

/// Public: `POST /api/cards/:id/scan` `{"source"?: "qr"|"nfc"|"link"}`.
pub async fn scan(mut req: Request, env: &Env, id: &str) -> ApiResult<Response> {
    let id = body::path_id(id, "card")?;
    let input = body::json_or_empty(&mut req).await?;
    let source = match input.get("source") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if ["qr", "nfc", "link"].contains(&s.as_str()) => Some(s.clone()),
        Some(_) => {
            let mut e = crate::domain::error::FieldErrors::default();
            e.add("source", "must be qr, nfc or link");
            return Err(ApiError::validation(e));
        }
    };
    let db = store::db(env)?;
    // Card ids are unguessable and global: the lookup names the tenant.
    let owner: Owner = store::first(store::stmt(
        &db,
        "SELECT tenant_id, owner_id, slug, scans FROM cards WHERE id = ?1",
        &[t(&id)],
    )?)
    .await?
    .ok_or_else(|| ApiError::not_found("card"))?;
    let tenant = owner.tenant_id.as_str();
    guard::refuse_blocked(&req, env, tenant).await?;
    let who = visitor(&req, env);
    let now = crate::platform::now_ms();
    let scans = owner.scans as i64 + 1;
    let event = outbox::draft(
        "card:scanned",
        vec![
            "tenant".into(),
            format!("user:{}", owner.owner_id),
            format!("entity:card:{id}"),
        ],
        json!({"card_id": id, "slug": owner.slug, "scans": scans, "source": source,
               "at": crate::platform::iso(now)}),
    );
    // The owner's running analytics for the card (seed 000's `card:analytics:updated`).
    let analytics = outbox::draft(
        "card:analytics:updated",
        vec![
            format!("user:{}", owner.owner_id),
            format!("entity:card:{id}"),
            "role:admin".into(),
        ],
        json!({"card_id": id, "slug": owner.slug, "scans": scans,
               "last_scan_at": crate::platform::iso(now), "last_source": source}),
    );
    let results = store::batch(
        &db,
        vec![
            store::stmt(
                &db,
                "INSERT INTO card_scans (tenant_id, card_id, visitor, source, at_ms)
                 SELECT ?1, ?2, ?3, ?4, ?5
                 WHERE NOT EXISTS (SELECT 1 FROM card_scans WHERE tenant_id = ?1 AND card_id = ?2
                                   AND visitor = ?3 AND at_ms > ?6)",
                &[t(tenant), t(&id), t(&who), ot(source.as_deref()), i(now), i(now - SCAN_DEDUP_MS)],
            )?,
            store::stmt(
                &db,
                "UPDATE cards SET scans = scans + 1, updated_at = ?3
                 WHERE tenant_id = ?1 AND id = ?2 AND EXISTS (SELECT 1 FROM card_scans
                   WHERE tenant_id = ?1 AND card_id = ?2 AND visitor = ?4 AND at_ms = ?5)",
                &[t(tenant), t(&id), t(&crate::platform::iso(now)), t(&who), i(now)],
            )?,
            outbox::insert_when(&db, tenant, &event,
                "SELECT 1 FROM card_scans WHERE tenant_id = ?2 AND card_id = ?8 AND visitor = ?9 AND at_ms = ?10",
                &[t(&id), t(&who), i(now)])?,
            outbox::insert_when(&db, tenant, &analytics,
                "SELECT 1 FROM card_scans WHERE tenant_id = ?2 AND card_id = ?8 AND visitor = ?9 AND at_ms = ?10",
                &[t(&id), t(&who), i(now)])?,
        ],
    )
    .await?;
    let counted = results.first().map(store::changes) == Some(1);
    if counted {
        outbox::deliver_after_write(env, tenant).await;
    }
    json(
        202,
        &json!({"counted": counted, "scans": if counted { scans } else { scans - 1 }}),
    )
}
