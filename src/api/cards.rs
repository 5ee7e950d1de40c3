//! `/api/cards`: digital business cards. Brokers create and list them; anyone may view a
//! card's public page (`/api/cards/public/:slug`) and record a scan (`POST
//! /api/cards/:id/scan`, counted once per visitor per 10 minutes, announced at most once
//! per card per 10 seconds with the count since the last announcement).

use crate::domain::card::{self, Card, PublicCard};
use crate::domain::error::{ApiError, ApiResult};
use crate::realtime::outbox;
use crate::store::{self, i, ot, t};
use crate::web::ctx::Ctx;
use crate::web::guard;
use crate::web::respond::{json, json_page};
use serde::Deserialize;
use serde_json::{json, Value};
use worker::{Env, Request, Response};

const COLUMNS: &str =
    "id, slug, owner_id, display_name, title, phone, email, bio, scans, created_at, updated_at";
/// A visitor's repeated scans within this window count once.
const SCAN_DEDUP_MS: i64 = 10 * 60 * 1000;
/// Cards the cron announces pending scans for per run, and per D1 batch.
const FLUSH_LIMIT: i64 = 100;
const FLUSH_CHUNK: usize = 25;

fn channels(c: &Card) -> Vec<String> {
    vec![
        "tenant".into(),
        format!("user:{}", c.owner_id),
        format!("entity:card:{}", c.id),
    ]
}

pub async fn create(mut cx: Ctx) -> ApiResult<Response> {
    let who = cx.who()?;
    let input = cx.json().await?;
    let n = card::validate(&input)?;
    let now = cx.now_iso();
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
    let db = cx.db()?;
    let event =
        outbox::draft("card:created", channels(&c), serde_json::to_value(&c)?).by(&who.user_id);
    let results = store::batch(
        &db,
        vec![
            store::insert_then(
                &db,
                "cards",
                &[
                    ("tenant_id", t(tenant)),
                    ("id", t(&c.id)),
                    ("slug", t(&c.slug)),
                    ("owner_id", t(&c.owner_id)),
                    ("display_name", t(&c.display_name)),
                    ("title", ot(c.title.as_deref())),
                    ("phone", ot(c.phone.as_deref())),
                    ("email", ot(c.email.as_deref())),
                    ("bio", ot(c.bio.as_deref())),
                    ("scans", i(c.scans)),
                    ("created_at", t(&c.created_at)),
                    ("updated_at", t(&c.updated_at)),
                ],
                "ON CONFLICT (slug) DO NOTHING",
                &[],
            )?,
            outbox::insert_if_exists(&db, tenant, &event, "cards", &c.id)?,
        ],
    )
    .await?;
    if results.first().map(store::changes) != Some(1) {
        return Err(ApiError::new(409, "conflict", "this slug is taken"));
    }
    outbox::deliver_after_write(&cx.env, tenant).await;
    json(201, &c)
}

/// The caller's card `id` to change: 404 for an unknown (or another tenant's) card, 403
/// unless the caller owns it or is an admin.
async fn owned(cx: &Ctx, id: &str) -> ApiResult<Card> {
    let who = cx.who()?;
    let db = cx.db()?;
    let c: Card = store::first(store::query(
        &db,
        &format!("SELECT {COLUMNS} FROM cards WHERE tenant_id = :tenant AND id = :id"),
        &[("tenant", t(&who.tenant_id)), ("id", t(id))],
    )?)
    .await?
    .ok_or_else(|| ApiError::not_found("card"))?;
    if c.owner_id != who.user_id && who.role != crate::domain::auth::Role::Admin {
        return Err(ApiError::forbidden(
            "only the card's owner or an admin may change it",
        ));
    }
    Ok(c)
}

/// `GET /api/cards/:id`: any member of the tenant.
pub async fn get(cx: Ctx) -> ApiResult<Response> {
    let who = cx.who()?;
    let id = cx.path_id("card")?;
    let db = cx.db()?;
    let c: Card = store::first(store::query(
        &db,
        &format!("SELECT {COLUMNS} FROM cards WHERE tenant_id = :tenant AND id = :id"),
        &[("tenant", t(&who.tenant_id)), ("id", t(&id))],
    )?)
    .await?
    .ok_or_else(|| ApiError::not_found("card"))?;
    json(200, &c)
}

/// `PUT /api/cards/:id`: a partial edit by its owner or an admin, with `card:updated`
/// carrying `changes`. A new slug must be free (409); the fields as read guard against
/// a concurrent edit (409).
pub async fn update(mut cx: Ctx) -> ApiResult<Response> {
    let who = cx.who()?;
    let id = cx.path_id("card")?;
    let input = cx.json().await?;
    let current = owned(&cx, &id).await?;
    let (mut c, changes) = card::validate_patch(&current, &input)?;
    if changes.is_empty() {
        return json(200, &current);
    }
    c.updated_at = cx.now_iso();
    if c.updated_at <= current.updated_at {
        c.updated_at = crate::platform::iso(
            crate::domain::time::parse_rfc3339(&current.updated_at).unwrap_or(0) + 1,
        );
    }
    let tenant = who.tenant_id.as_str();
    let db = cx.db()?;
    if changes.contains_key("slug") {
        let taken: Option<serde_json::Value> = store::first(store::query(
            &db,
            "SELECT 1 AS taken FROM cards WHERE slug = :slug",
            &[("slug", t(&c.slug))],
        )?)
        .await?;
        if taken.is_some() {
            return Err(ApiError::new(409, "conflict", "this slug is taken"));
        }
    }
    let mut data = serde_json::to_value(&c)?;
    data["changes"] = serde_json::Value::Object(changes);
    let event = outbox::draft("card:updated", channels(&c), data).by(&who.user_id);
    // The slug is unique across tenants: a slug taken meanwhile fails the statement, and
    // the batch (and its event) with it.
    let update = store::update(
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
        // Guarded by the fields as read, not `updated_at`: scans move that all the time.
        "WHERE tenant_id = :tenant AND id = :id AND slug = :was_slug
           AND display_name = :was_name AND title IS :was_title AND phone IS :was_phone
           AND email IS :was_email AND bio IS :was_bio",
        &[
            ("tenant", t(tenant)),
            ("id", t(&c.id)),
            ("was_slug", t(&current.slug)),
            ("was_name", t(&current.display_name)),
            ("was_title", ot(current.title.as_deref())),
            ("was_phone", ot(current.phone.as_deref())),
            ("was_email", ot(current.email.as_deref())),
            ("was_bio", ot(current.bio.as_deref())),
        ],
    )?;
    let applied = outbox::update_with_event(&cx.env, &db, tenant, update, &event, vec![])
        .await
        .map_err(|e| {
            if e.status == 500 && changes_slug(&current, &c) {
                ApiError::new(409, "conflict", "this slug is taken")
            } else {
                e
            }
        })?;
    if !applied {
        return Err(ApiError::new(409, "conflict", "the card changed meanwhile"));
    }
    json(200, &c)
}

fn changes_slug(a: &Card, b: &Card) -> bool {
    a.slug != b.slug
}

/// `DELETE /api/cards/:id`: by its owner or an admin; its scans go with it, and
/// `card:deleted` is emitted. Its public page, vCard and lead form answer 404 from then on;
/// leads already captured stay customers.
pub async fn delete(cx: Ctx) -> ApiResult<Response> {
    let who = cx.who()?;
    let id = cx.path_id("card")?;
    let c = owned(&cx, &id).await?;
    let tenant = who.tenant_id.as_str();
    let db = cx.db()?;
    let event = outbox::draft(
        "card:deleted",
        channels(&c),
        serde_json::json!({"id": c.id, "slug": c.slug, "owner_id": c.owner_id}),
    )
    .by(&who.user_id);
    let results = store::batch(
        &db,
        vec![
            // The event first, while the row still proves the card existed.
            outbox::insert_if_exists(&db, tenant, &event, "cards", &c.id)?,
            store::query(
                &db,
                "DELETE FROM cards WHERE tenant_id = :tenant AND id = :id",
                &[("tenant", t(tenant)), ("id", t(&c.id))],
            )?,
            store::query(
                &db,
                "DELETE FROM card_scans WHERE tenant_id = :tenant AND card_id = :id",
                &[("tenant", t(tenant)), ("id", t(&c.id))],
            )?,
        ],
    )
    .await?;
    if results.get(1).map(store::changes) != Some(1) {
        return Err(ApiError::not_found("card"));
    }
    outbox::deliver_after_write(&cx.env, tenant).await;
    Ok(Response::empty()?.with_status(204))
}

pub async fn list(cx: Ctx) -> ApiResult<Response> {
    let who = cx.who()?;
    let page = cx.page()?;
    let owner = cx.query("owner_id").filter(|o| !o.is_empty());
    let db = cx.db()?;
    let rows: Vec<Card> = store::all(store::query(
        &db,
        &format!(
            "SELECT {COLUMNS} FROM cards
             WHERE tenant_id = :tenant AND (:owner IS NULL OR owner_id = :owner)
               AND (:after IS NULL OR id < :after)
             ORDER BY id DESC LIMIT :limit"
        ),
        &[
            ("tenant", t(&who.tenant_id)),
            ("owner", ot(owner.as_deref())),
            ("after", ot(page.after.as_deref())),
            ("limit", i(i64::from(page.limit) + 1)),
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
pub async fn public(cx: Ctx) -> ApiResult<Response> {
    let slug = cx.param(0);
    if !card::valid_slug(slug) {
        return Err(ApiError::not_found("card"));
    }
    let db = cx.db()?;
    let owner: CardTenant = store::first(store::query(
        &db,
        "SELECT tenant_id FROM cards WHERE slug = :slug",
        &[("slug", t(slug))],
    )?)
    .await?
    .ok_or_else(|| ApiError::not_found("card"))?;
    guard::refuse_blocked(&cx.req, &cx.env, &owner.tenant_id).await?;
    let c: Option<Card> = store::first(store::query(
        &db,
        &format!("SELECT {COLUMNS} FROM cards WHERE slug = :slug"),
        &[("slug", t(slug))],
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
    scans: i64,
}

/// A visitor's scans dedupe on a keyed tag of their address (never the address itself).
fn visitor(req: &Request, env: &Env) -> String {
    guard::ip_tag(req, env, "card-visitor")
}

/// A card's scans are announced at most once per this window (`CARD_SCAN_EVENT_WINDOW_MS`).
fn scan_window_ms(env: &Env) -> i64 {
    crate::config::get(env).card_scan_event_window_ms
}

/// The statements announcing a card's scans counted since its last announcement, once the
/// window since that one has passed: the card row claims the announcement (a guarded
/// UPDATE that one concurrent batch wins), `card:scanned` and `card:analytics:updated`
/// are recorded only for the winner with the count read in the same batch, and the
/// pending count restarts. `visitor` (with `now`) also requires that this request's scan
/// was counted.
fn announce(
    db: &worker::D1Database,
    c: &ScanTarget,
    now: i64,
    window: i64,
    visitor: Option<&str>,
    source: Option<&str>,
) -> ApiResult<Vec<worker::D1PreparedStatement>> {
    let scanned = outbox::draft(
        "card:scanned",
        vec![
            "tenant".into(),
            format!("user:{}", c.owner_id),
            format!("entity:card:{}", c.id),
        ],
        Value::Null,
    );
    let analytics = outbox::draft(
        "card:analytics:updated",
        vec![
            format!("user:{}", c.owner_id),
            format!("entity:card:{}", c.id),
            "role:admin".into(),
        ],
        Value::Null,
    );
    let tenant = c.tenant_id.as_str();
    let claimed =
        "FROM cards c WHERE c.tenant_id = :tenant AND c.id = :card AND c.scan_event_id = :claim";
    let marker = [
        ("card", t(&c.id)),
        ("claim", t(&scanned.id)),
        ("source", ot(source)),
    ];
    Ok(vec![
        store::update(
            db,
            "cards",
            &[("scan_event_ms", i(now)), ("scan_event_id", t(&scanned.id))],
            "WHERE tenant_id = :tenant AND id = :id AND scans_pending > 0
               AND (scan_event_ms IS NULL OR scan_event_ms <= :scan_event_ms - :window)
               AND (:visitor IS NULL OR EXISTS (SELECT 1 FROM card_scans WHERE tenant_id = :tenant
                      AND card_id = :id AND visitor = :visitor AND at_ms = :scan_event_ms))",
            &[
                ("tenant", t(tenant)),
                ("id", t(&c.id)),
                ("window", i(window)),
                ("visitor", ot(visitor)),
            ],
        )?,
        outbox::insert_select(
            db,
            tenant,
            &scanned,
            &format!(
                "SELECT json_object('card_id', c.id, 'slug', c.slug, 'scans', c.scans,
                   'count', c.scans_pending, 'source', :source, 'at', c.updated_at) AS data {claimed}"
            ),
            &marker,
        )?,
        outbox::insert_select(
            db,
            tenant,
            &analytics,
            &format!(
                "SELECT json_object('card_id', c.id, 'slug', c.slug, 'scans', c.scans,
                   'count', c.scans_pending, 'last_scan_at', c.updated_at,
                   'last_source', :source) AS data {claimed}"
            ),
            &marker,
        )?,
        store::query(
            db,
            "UPDATE cards SET scans_pending = 0
             WHERE tenant_id = :tenant AND id = :id AND scan_event_id = :claim",
            &[
                ("tenant", t(tenant)),
                ("id", t(&c.id)),
                ("claim", t(&scanned.id)),
            ],
        )?,
    ])
}

#[derive(Deserialize)]
struct ScanTarget {
    tenant_id: String,
    id: String,
    owner_id: String,
}

/// Public: `POST /api/cards/:id/scan` `{"source"?: "qr"|"nfc"|"link"}`.
pub async fn scan(mut cx: Ctx) -> ApiResult<Response> {
    let id = cx.path_id("card")?;
    let input = cx.json_or_empty().await?;
    let source = card::validate_scan(&input)?;
    let db = cx.db()?;
    // Card ids are unguessable and global: the lookup names the tenant.
    let owner: Owner = store::first(store::query(
        &db,
        "SELECT tenant_id, owner_id, scans FROM cards WHERE id = :id",
        &[("id", t(&id))],
    )?)
    .await?
    .ok_or_else(|| ApiError::not_found("card"))?;
    let tenant = owner.tenant_id.as_str();
    guard::refuse_blocked(&cx.req, &cx.env, tenant).await?;
    let who = visitor(&cx.req, &cx.env);
    let now = cx.now_ms();
    let scans = owner.scans + 1;
    let target = ScanTarget {
        tenant_id: owner.tenant_id.clone(),
        id: id.clone(),
        owner_id: owner.owner_id.clone(),
    };
    let mut stmts =
        vec![
        store::insert_if(
            &db,
            "card_scans",
            &[
                ("tenant_id", t(tenant)),
                ("card_id", t(&id)),
                ("visitor", t(&who)),
                ("source", ot(source.as_deref())),
                ("at_ms", i(now)),
            ],
            "NOT EXISTS (SELECT 1 FROM card_scans WHERE tenant_id = :tenant_id
               AND card_id = :card_id AND visitor = :visitor AND at_ms > :since)",
            &[("since", i(now - SCAN_DEDUP_MS))],
        )?,
        store::query(
            &db,
            "UPDATE cards SET scans = scans + 1, scans_pending = scans_pending + 1, updated_at = :now
             WHERE tenant_id = :tenant AND id = :id AND EXISTS (SELECT 1 FROM card_scans
               WHERE tenant_id = :tenant AND card_id = :id AND visitor = :visitor AND at_ms = :at)",
            &[
                ("now", t(&crate::platform::iso(now))),
                ("tenant", t(tenant)),
                ("id", t(&id)),
                ("visitor", t(&who)),
                ("at", i(now)),
            ],
        )?,
    ];
    stmts.extend(announce(
        &db,
        &target,
        now,
        scan_window_ms(&cx.env),
        Some(&who),
        source.as_deref(),
    )?);
    let results = store::batch(&db, stmts).await?;
    let counted = results.first().map(store::changes) == Some(1);
    if results.get(2).map(store::changes) == Some(1) {
        outbox::deliver_after_write(&cx.env, tenant).await;
    }
    json(
        202,
        &json!({"counted": counted, "scans": if counted { scans } else { scans - 1 }}),
    )
}

/// Cron: announces the scans still pending on cards whose window has passed (the trailing
/// scans of a burst). Returns how many cards were announced.
pub async fn flush_scans(env: &Env) -> ApiResult<usize> {
    let db = store::db(env)?;
    let now = crate::platform::now_ms();
    let window = scan_window_ms(env);
    let due: Vec<ScanTarget> = store::all(store::query(
        &db,
        "SELECT tenant_id, id, owner_id FROM cards
         WHERE scans_pending > 0 AND (scan_event_ms IS NULL OR scan_event_ms <= :before)
         LIMIT :limit",
        &[("before", i(now - window)), ("limit", i(FLUSH_LIMIT))],
    )?)
    .await?;
    let mut announced = 0;
    for chunk in due.chunks(FLUSH_CHUNK) {
        let mut stmts = Vec::with_capacity(chunk.len() * 4);
        for c in chunk {
            stmts.extend(announce(&db, c, now, window, None, None)?);
        }
        let results = store::batch(&db, stmts).await?;
        announced += results
            .iter()
            .step_by(4)
            .filter(|r| store::changes(r) == 1)
            .count();
    }
    outbox::deliver_tenants(env, due.iter().map(|c| &c.tenant_id)).await;
    Ok(announced)
}
