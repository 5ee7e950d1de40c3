//! `/api/publishing`: listings of properties on outside platforms (create, list, get,
//! publish now) and publishing schedules (create, list, cancel; the cron starts them).

use crate::domain::error::{ApiError, ApiResult};
use crate::domain::jobs::{Job, PUBLISHING};
use crate::domain::publishing::{self as rules, Listing, Publication, Schedule};
use crate::domain::status::{ListingStatus, PublicationStatus, ScheduleStatus};
use crate::realtime::outbox;
use crate::store::{self, i, oi, ot, st, t, Arg};
use crate::web::ctx::Ctx;
use crate::web::respond::{json, json_page};
use serde::Deserialize;
use serde_json::{json, Value};
use worker::{D1Database, D1PreparedStatement, Env, Response};

pub const KIND_PUBLISH: &str = "publish_listing";
pub const KIND_UNPUBLISH: &str = "unpublish_listing";

/// The listing's columns plus its publications as one JSON array (the publishing job also
/// builds its `publishing:completed` data from it, in the same batch as its update).
pub const LISTING_SELECT: &str = "SELECT l.id, l.property_id, l.title, l.description, l.price_minor,
    l.currency, l.city, l.kind, l.bedrooms, l.platforms, l.status, l.created_by, l.created_at,
    l.updated_at, l.published_at,
    (SELECT json_group_array(json_object('platform', p.platform, 'status', p.status,
        'job_id', p.job_id, 'external_id', p.external_id, 'url', p.url, 'attempts', p.attempts,
        'last_error', p.last_error, 'published_at', p.published_at, 'updated_at', p.updated_at))
     FROM listing_publications p WHERE p.tenant_id = l.tenant_id AND p.listing_id = l.id) AS publications
  FROM listings l";

/// What a listing copies from its property.
#[derive(Deserialize)]
struct PropertyRow {
    title: String,
    description: Option<String>,
    price_minor: i64,
    currency: String,
    city: Option<String>,
    kind: Option<String>,
    bedrooms: Option<i64>,
}

#[derive(Deserialize)]
struct ListingRow {
    id: String,
    property_id: String,
    title: String,
    description: Option<String>,
    price_minor: i64,
    currency: String,
    city: Option<String>,
    kind: Option<String>,
    bedrooms: Option<i64>,
    platforms: String,
    status: ListingStatus,
    created_by: String,
    created_at: String,
    updated_at: String,
    published_at: Option<String>,
    publications: Option<String>,
}

impl From<ListingRow> for Listing {
    fn from(r: ListingRow) -> Listing {
        let mut publications: Vec<Publication> = r
            .publications
            .and_then(|p| serde_json::from_str(&p).ok())
            .unwrap_or_default();
        publications.sort_by(|a, b| a.platform.cmp(&b.platform));
        Listing {
            id: r.id,
            property_id: r.property_id,
            title: r.title,
            description: r.description,
            price_minor: r.price_minor,
            currency: r.currency,
            city: r.city,
            kind: r.kind,
            bedrooms: r.bedrooms,
            platforms: serde_json::from_str(&r.platforms).unwrap_or_default(),
            status: r.status,
            publications,
            created_by: r.created_by,
            created_at: r.created_at,
            updated_at: r.updated_at,
            published_at: r.published_at,
        }
    }
}

pub async fn load_listing(db: &D1Database, tenant: &str, id: &str) -> ApiResult<Option<Listing>> {
    let row: Option<ListingRow> = store::first(store::query(
        db,
        &format!("{LISTING_SELECT} WHERE l.tenant_id = :tenant AND l.id = :id"),
        &[("tenant", t(tenant)), ("id", t(id))],
    )?)
    .await?;
    Ok(row.map(Listing::from))
}

/// The platforms this deployment publishes to (`PUBLISHING_PLATFORMS`), name → target.
pub fn platforms(env: &Env) -> ApiResult<Vec<(String, String)>> {
    crate::config::get(env)
        .publishing_platforms
        .clone()
        .map_err(|e| {
            worker::console_error!("PUBLISHING_PLATFORMS: {e}");
            ApiError::unavailable("publishing is misconfigured")
        })
}

fn platform_names(env: &Env) -> ApiResult<Vec<String>> {
    let names: Vec<String> = platforms(env)?.into_iter().map(|(n, _)| n).collect();
    if names.is_empty() {
        return Err(ApiError::unavailable(
            "no publishing platforms are configured",
        ));
    }
    Ok(names)
}

/// The platforms the caller's brokerage publishes on: the deployment's, narrowed by its
/// settings (`PUT /api/settings`).
async fn tenant_platforms(cx: &Ctx) -> ApiResult<Vec<String>> {
    platform_names(&cx.env)?;
    let who = cx.who()?;
    crate::api::settings::platforms(&cx.env, &cx.db()?, &who.tenant_id).await
}

pub fn channels(l: &Listing) -> Vec<String> {
    vec![
        "tenant".into(),
        format!("user:{}", l.created_by),
        format!("entity:listing:{}", l.id),
        format!("entity:property:{}", l.property_id),
    ]
}

/// `POST /api/publishing/listings`: a draft listing, its content copied from the property.
pub async fn create_listing(mut cx: Ctx) -> ApiResult<Response> {
    let who = cx.who()?;
    let input = cx.json().await?;
    let n = rules::validate_listing(&input, &tenant_platforms(&cx).await?)?;
    let tenant = who.tenant_id.as_str();
    let db = cx.db()?;
    let p: PropertyRow = store::first(store::query(
        &db,
        "SELECT title, description, price_minor, currency, city, kind, bedrooms
         FROM properties WHERE tenant_id = :tenant AND id = :id",
        &[("tenant", t(tenant)), ("id", t(&n.property_id))],
    )?)
    .await?
    .ok_or_else(|| ApiError::field("property_id", "no such property"))?;
    let now = cx.now_iso();
    let listing = Listing {
        id: crate::platform::new_id("lst"),
        property_id: n.property_id.clone(),
        title: n.title.unwrap_or(p.title),
        description: n.description.or(p.description),
        price_minor: n.price_minor.unwrap_or(p.price_minor),
        currency: p.currency,
        city: p.city,
        kind: p.kind,
        bedrooms: p.bedrooms,
        platforms: n.platforms,
        status: ListingStatus::Draft,
        publications: vec![],
        created_by: who.user_id.clone(),
        created_at: now.clone(),
        updated_at: now,
        published_at: None,
    };
    let event = outbox::draft(
        "publishing:listing:created",
        channels(&listing),
        serde_json::to_value(&listing)?,
    )
    .by(&who.user_id);
    let l = &listing;
    let results = store::batch(
        &db,
        vec![
            store::insert_if(
                &db,
                "listings",
                &[
                    ("tenant_id", t(tenant)),
                    ("id", t(&l.id)),
                    ("property_id", t(&l.property_id)),
                    ("title", t(&l.title)),
                    ("description", ot(l.description.as_deref())),
                    ("price_minor", i(l.price_minor)),
                    ("currency", t(&l.currency)),
                    ("city", ot(l.city.as_deref())),
                    ("kind", ot(l.kind.as_deref())),
                    ("bedrooms", oi(l.bedrooms)),
                    ("platforms", t(&store::json_text(&l.platforms)?)),
                    ("status", st(l.status)),
                    ("created_by", t(&l.created_by)),
                    ("created_at", t(&l.created_at)),
                    ("updated_at", t(&l.updated_at)),
                ],
                "EXISTS (SELECT 1 FROM properties WHERE tenant_id = :tenant_id AND id = :property_id)",
                &[],
            )?,
            outbox::insert_if_exists(&db, tenant, &event, "listings", &l.id)?,
        ],
    )
    .await?;
    if results.first().map(store::changes) != Some(1) {
        return Err(ApiError::field("property_id", "no such property"));
    }
    outbox::deliver_after_write(&cx.env, tenant).await;
    let id = &listing.id;
    let mut resp = json(201, &listing)?;
    resp.headers_mut()
        .set("location", &format!("/api/publishing/listings/{id}"))?;
    Ok(resp)
}

pub async fn list_listings(cx: Ctx) -> ApiResult<Response> {
    let who = cx.who()?;
    let page = cx.page()?;
    let q = |k: &str| cx.query(k).filter(|v| !v.is_empty());
    let db = cx.db()?;
    let rows: Vec<ListingRow> = store::all(store::query(
        &db,
        &format!(
            "{LISTING_SELECT} WHERE l.tenant_id = :tenant
               AND (:status IS NULL OR l.status = :status)
               AND (:property IS NULL OR l.property_id = :property)
               AND (:after IS NULL OR l.id < :after)
             ORDER BY l.id DESC LIMIT :limit"
        ),
        &[
            ("tenant", t(&who.tenant_id)),
            ("status", ot(q("status").as_deref())),
            ("property", ot(q("property_id").as_deref())),
            ("after", ot(page.after.as_deref())),
            ("limit", i(i64::from(page.limit) + 1)),
        ],
    )?)
    .await?;
    let rows: Vec<Listing> = rows.into_iter().map(Listing::from).collect();
    json_page(rows, page.limit, |l| l.id.clone())
}

pub async fn get_listing(cx: Ctx) -> ApiResult<Response> {
    let who = cx.who()?;
    let id = cx.path_id("listing")?;
    let db = cx.db()?;
    match load_listing(&db, &who.tenant_id, &id).await? {
        Some(l) => json(200, &l),
        None => Err(ApiError::not_found("listing")),
    }
}

/// A `publishing` job of `kind` for one listing on one platform.
fn platform_job(created_by: &str, kind: &str, listing_id: &str, platform: &str) -> Job {
    crate::api::job_store::new_job(
        created_by,
        PUBLISHING,
        kind,
        json!({ "listing_id": listing_id, "platform": platform }),
        Some(format!("listing:{listing_id}")),
    )
}

/// The jobs and publication rows that publish `listing_id` on `platforms`, all written
/// only when `cond` (`SELECT 1 …` that may use `:tenant` and the names of `cond_args`)
/// holds at commit.
pub fn publish_statements(
    db: &D1Database,
    tenant: &str,
    created_by: &str,
    listing_id: &str,
    platforms: &[String],
    cond: &str,
    cond_args: &[Arg<'_>],
) -> ApiResult<(Vec<D1PreparedStatement>, Vec<Job>)> {
    let now = crate::platform::iso(crate::platform::now_ms());
    // All jobs first (each guarded by `cond`, evaluated before any publication row of
    // this batch exists), then their publication rows.
    let mut stmts = Vec::new();
    let mut jobs = Vec::new();
    for p in platforms {
        let job = platform_job(created_by, KIND_PUBLISH, listing_id, p);
        stmts.extend(crate::api::job_store::insert_when(
            db, tenant, &job, cond, cond_args,
        )?);
        jobs.push(job);
    }
    for (p, job) in platforms.iter().zip(&jobs) {
        stmts.push(store::insert_if(
            db,
            "listing_publications",
            &[
                ("tenant_id", t(tenant)),
                ("listing_id", t(listing_id)),
                ("platform", t(p)),
                ("status", st(PublicationStatus::Queued)),
                ("job_id", t(&job.id)),
                ("attempts", i(0)),
                ("updated_at", t(&now)),
            ],
            "EXISTS (SELECT 1 FROM jobs WHERE tenant_id = :tenant_id AND id = :job_id)
             ON CONFLICT (tenant_id, listing_id, platform) DO UPDATE SET
               status = excluded.status, job_id = excluded.job_id, attempts = excluded.attempts,
               last_error = NULL, updated_at = excluded.updated_at",
            &[],
        )?);
    }
    stmts.push(update_listing_status(
        db,
        tenant,
        listing_id,
        &now,
        "",
        &[],
    )?);
    Ok((stmts, jobs))
}

/// Rolls the listing's status up from its publications (`rules::LISTING_STATUS_SQL`) and
/// stamps `updated_at = :now`; `more` adds assignments (`, col = <expr>`) that may use
/// `:now`, the roll-up's status names and their own `args`.
pub fn update_listing_status(
    db: &D1Database,
    tenant: &str,
    listing_id: &str,
    now: &str,
    more: &str,
    args: &[Arg<'_>],
) -> ApiResult<D1PreparedStatement> {
    let mut a = vec![
        ("tenant", t(tenant)),
        ("listing", t(listing_id)),
        ("now", t(now)),
    ];
    a.extend(rules::LISTING_STATUS_ARGS.iter().map(|(n, v)| (*n, t(v))));
    a.extend_from_slice(args);
    store::query(
        db,
        &format!(
            "UPDATE listings SET status = {}, updated_at = :now{more}
             WHERE tenant_id = :tenant AND id = :listing",
            rules::LISTING_STATUS_SQL
        ),
        &a,
    )
}

/// `POST /api/publishing/listings/:id/publish` `{platforms?}`: one job per platform, sent
/// in one `send_batch`; 202 with the listing and the jobs. A platform still in flight is
/// a 409.
pub async fn publish_now(mut cx: Ctx) -> ApiResult<Response> {
    let who = cx.who()?;
    let id = cx.path_id("listing")?;
    let input = cx.json_or_empty().await?;
    let tenant = who.tenant_id.as_str();
    let db = cx.db()?;
    let listing = load_listing(&db, tenant, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("listing"))?;
    let chosen = rules::validate_publish(&input, &listing.platforms)?;
    let busy: Vec<&str> = listing
        .publications
        .iter()
        .filter(|p| {
            chosen.contains(&p.platform)
                && matches!(
                    p.status,
                    PublicationStatus::Queued
                        | PublicationStatus::Publishing
                        | PublicationStatus::Unpublishing
                )
        })
        .map(|p| p.platform.as_str())
        .collect();
    if !busy.is_empty() {
        return Err(ApiError::new(
            409,
            "conflict",
            format!("already publishing on: {}", busy.join(", ")),
        ));
    }
    // Guard: nothing for these platforms went in flight since we looked.
    let in_flight = "SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM listing_publications
           WHERE tenant_id = :tenant AND listing_id = :listing
             AND status IN (:queued, :publishing, :unpublishing)
             AND platform IN (SELECT value FROM json_each(:platforms)))";
    let (stmts, jobs) = publish_statements(
        &db,
        tenant,
        &who.user_id,
        &id,
        &chosen,
        in_flight,
        &[
            ("listing", t(&id)),
            ("queued", st(PublicationStatus::Queued)),
            ("publishing", st(PublicationStatus::Publishing)),
            ("unpublishing", st(PublicationStatus::Unpublishing)),
            ("platforms", t(&store::json_text(&chosen)?)),
        ],
    )?;
    let results = store::batch(&db, stmts).await?;
    if results.first().map(store::changes) != Some(1) {
        return Err(ApiError::new(409, "conflict", "already publishing"));
    }
    crate::api::job_store::enqueue(&cx.env, tenant, &jobs).await;
    outbox::deliver_after_write(&cx.env, tenant).await;
    let listing = load_listing(&db, tenant, &id)
        .await?
        .ok_or_else(ApiError::internal)?;
    json(202, &json!({ "listing": listing, "jobs": jobs }))
}

/// `PUT /api/publishing/listings/:id`: the advert's title, description or price, with
/// `publishing:listing:updated` carrying `changes`; guarded by the `updated_at` read (409).
pub async fn update_listing(mut cx: Ctx) -> ApiResult<Response> {
    let who = cx.who()?;
    let id = cx.path_id("listing")?;
    let input = cx.json().await?;
    let tenant = who.tenant_id.as_str();
    let db = cx.db()?;
    let current = load_listing(&db, tenant, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("listing"))?;
    let (mut l, changes) = rules::validate_listing_patch(&current, &input)?;
    if changes.is_empty() {
        return json(200, &current);
    }
    let mut now = cx.now_iso();
    if now <= current.updated_at {
        now = crate::platform::iso(
            crate::domain::time::parse_rfc3339(&current.updated_at).unwrap_or(0) + 1,
        );
    }
    l.updated_at = now.clone();
    let mut data = serde_json::to_value(&l)?;
    data["changes"] = Value::Object(changes);
    let event = outbox::draft("publishing:listing:updated", channels(&l), data).by(&who.user_id);
    let update = store::update(
        &db,
        "listings",
        &[
            ("title", t(&l.title)),
            ("description", ot(l.description.as_deref())),
            ("price_minor", i(l.price_minor)),
            ("updated_at", t(&now)),
        ],
        "WHERE tenant_id = :tenant AND id = :id AND updated_at = :read",
        &[
            ("tenant", t(tenant)),
            ("id", t(&id)),
            ("read", t(&current.updated_at)),
        ],
    )?;
    if !outbox::update_with_event(&cx.env, &db, tenant, update, &event, vec![]).await? {
        return Err(ApiError::new(
            409,
            "conflict",
            "the listing changed meanwhile",
        ));
    }
    json(200, &l)
}

/// The jobs that withdraw `listing_id` from `platforms`, each written only while that
/// platform's publication is `published` at commit, which it turns `unpublishing`.
pub fn unpublish_statements(
    db: &D1Database,
    tenant: &str,
    created_by: &str,
    listing_id: &str,
    platforms: &[String],
) -> ApiResult<(Vec<D1PreparedStatement>, Vec<Job>)> {
    let now = crate::platform::iso(crate::platform::now_ms());
    let mut stmts = Vec::new();
    let mut jobs = Vec::new();
    for p in platforms {
        let job = platform_job(created_by, KIND_UNPUBLISH, listing_id, p);
        stmts.extend(crate::api::job_store::insert_when(
            db,
            tenant,
            &job,
            "SELECT 1 FROM listing_publications WHERE tenant_id = :tenant
               AND listing_id = :listing AND platform = :platform AND status = :published",
            &[
                ("listing", t(listing_id)),
                ("platform", t(p)),
                ("published", st(PublicationStatus::Published)),
            ],
        )?);
        stmts.push(store::update(
            db,
            "listing_publications",
            &[
                ("status", st(PublicationStatus::Unpublishing)),
                ("job_id", t(&job.id)),
                ("attempts", i(0)),
                ("updated_at", t(&now)),
            ],
            "WHERE tenant_id = :tenant AND listing_id = :listing AND platform = :platform
               AND status = :published
               AND EXISTS (SELECT 1 FROM jobs WHERE tenant_id = :tenant AND id = :job_id)",
            &[
                ("tenant", t(tenant)),
                ("listing", t(listing_id)),
                ("platform", t(p)),
                ("published", st(PublicationStatus::Published)),
            ],
        )?);
        jobs.push(job);
    }
    stmts.push(update_listing_status(
        db,
        tenant,
        listing_id,
        &now,
        "",
        &[],
    )?);
    Ok((stmts, jobs))
}

/// `POST /api/publishing/listings/:id/unpublish` `{platforms?}`: one job per platform
/// (a signed webhook asking the platform to take the advert down); 202 with the listing and
/// the jobs. `publishing:unpublished` follows per platform when it confirms.
pub async fn unpublish(mut cx: Ctx) -> ApiResult<Response> {
    let who = cx.who()?;
    let id = cx.path_id("listing")?;
    let input = cx.json_or_empty().await?;
    let tenant = who.tenant_id.as_str();
    let db = cx.db()?;
    let listing = load_listing(&db, tenant, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("listing"))?;
    let chosen = rules::validate_unpublish(&input, &listing)?;
    let (stmts, jobs) = unpublish_statements(&db, tenant, &who.user_id, &id, &chosen)?;
    let results = store::batch(&db, stmts).await?;
    // Every platform's job is guarded by its publication still being `published`.
    let started: Vec<Job> = jobs
        .into_iter()
        .enumerate()
        .filter(|(k, _)| results.get(k * 3).map(store::changes) == Some(1))
        .map(|(_, j)| j)
        .collect();
    if started.is_empty() {
        return Err(ApiError::new(
            409,
            "conflict",
            "the listing changed meanwhile",
        ));
    }
    crate::api::job_store::enqueue(&cx.env, tenant, &started).await;
    outbox::deliver_after_write(&cx.env, tenant).await;
    let listing = load_listing(&db, tenant, &id)
        .await?
        .ok_or_else(ApiError::internal)?;
    json(202, &json!({ "listing": listing, "jobs": started }))
}

#[derive(Deserialize)]
struct SoldRow {
    tenant_id: String,
    listing_id: String,
    platform: String,
    created_by: String,
}

/// Listings of sold properties come off the portals: every publication still `published`
/// gets an unpublish job (as its listing's author). Run right after a property is marked
/// sold (`tenant` and `property` given) and by the every-minute cron for all tenants, which
/// also catches a property whose own run was cut short. Returns the jobs started.
pub async fn unpublish_sold(
    env: &Env,
    tenant: Option<&str>,
    property: Option<&str>,
) -> ApiResult<usize> {
    let db = store::db(env)?;
    // A withdrawal that failed for good is not retried every minute: at most one unpublish
    // job per publication an hour (a person can unpublish again at any time).
    let rows: Vec<SoldRow> = store::all(store::query(
        &db,
        "SELECT p.tenant_id, p.listing_id, p.platform, l.created_by
           FROM listing_publications p
           JOIN listings l ON l.tenant_id = p.tenant_id AND l.id = p.listing_id
           JOIN properties pr ON pr.tenant_id = l.tenant_id AND pr.id = l.property_id
          WHERE p.status = :published AND pr.status = :sold
            AND (:tenant IS NULL OR p.tenant_id = :tenant)
            AND (:property IS NULL OR l.property_id = :property)
            AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.tenant_id = p.tenant_id
                  AND j.kind = :kind AND j.subject = 'listing:' || p.listing_id
                  AND json_extract(j.payload, '$.platform') = p.platform
                  AND j.created_at > :hour_ago)
          ORDER BY p.tenant_id, p.listing_id LIMIT 100",
        &[
            ("published", st(PublicationStatus::Published)),
            ("sold", st(crate::domain::status::PropertyStatus::Sold)),
            ("tenant", ot(tenant)),
            ("property", ot(property)),
            ("kind", t(KIND_UNPUBLISH)),
            (
                "hour_ago",
                t(&crate::platform::iso(crate::platform::now_ms() - 3_600_000)),
            ),
        ],
    )?)
    .await?;
    let mut started = 0;
    let mut k = 0;
    while k < rows.len() {
        let (tn, listing, author) = (&rows[k].tenant_id, &rows[k].listing_id, &rows[k].created_by);
        let mut platforms = Vec::new();
        while k < rows.len() && rows[k].tenant_id == *tn && rows[k].listing_id == *listing {
            platforms.push(rows[k].platform.clone());
            k += 1;
        }
        let (stmts, jobs) = unpublish_statements(&db, tn, author, listing, &platforms)?;
        let results = store::batch(&db, stmts).await?;
        let jobs: Vec<Job> = jobs
            .into_iter()
            .enumerate()
            .filter(|(j, _)| results.get(j * 3).map(store::changes) == Some(1))
            .map(|(_, j)| j)
            .collect();
        started += jobs.len();
        crate::api::job_store::enqueue(env, tn, &jobs).await;
        outbox::deliver_after_write(env, tn).await;
    }
    Ok(started)
}

const SCHEDULE_COLUMNS: &str =
    "id, listing_id, platforms, run_at, status, job_ids, created_by, created_at, started_at";

#[derive(Deserialize)]
struct ScheduleRow {
    id: String,
    listing_id: String,
    platforms: String,
    run_at: String,
    status: ScheduleStatus,
    job_ids: String,
    created_by: String,
    created_at: String,
    started_at: Option<String>,
}

impl From<ScheduleRow> for Schedule {
    fn from(r: ScheduleRow) -> Schedule {
        Schedule {
            id: r.id,
            listing_id: r.listing_id,
            platforms: serde_json::from_str(&r.platforms).unwrap_or_default(),
            run_at: r.run_at,
            status: r.status,
            job_ids: serde_json::from_str(&r.job_ids).unwrap_or_default(),
            created_by: r.created_by,
            created_at: r.created_at,
            started_at: r.started_at,
        }
    }
}

fn schedule_channels(s: &Schedule) -> Vec<String> {
    vec![
        format!("user:{}", s.created_by),
        format!("entity:listing:{}", s.listing_id),
        "role:admin".into(),
    ]
}

/// `POST /api/publishing/schedules` `{listing_id, run_at, platforms?}`.
pub async fn create_schedule(mut cx: Ctx) -> ApiResult<Response> {
    let who = cx.who()?;
    let input = cx.json().await?;
    let n = rules::validate_schedule(&input, cx.now_ms(), &tenant_platforms(&cx).await?)?;
    let tenant = who.tenant_id.as_str();
    let db = cx.db()?;
    let listing = load_listing(&db, tenant, &n.listing_id)
        .await?
        .ok_or_else(|| ApiError::field("listing_id", "no such listing"))?;
    let platforms = match n.platforms {
        Some(p) if p.iter().all(|x| listing.platforms.contains(x)) => p,
        Some(_) => {
            return Err(ApiError::field(
                "platforms",
                "must be platforms of the listing",
            ))
        }
        None => listing.platforms.clone(),
    };
    let s = Schedule {
        id: crate::platform::new_id("sch"),
        listing_id: listing.id.clone(),
        platforms,
        run_at: n.run_at,
        status: ScheduleStatus::Pending,
        job_ids: vec![],
        created_by: who.user_id.clone(),
        created_at: cx.now_iso(),
        started_at: None,
    };
    let event = outbox::draft(
        "publishing:schedule:created",
        schedule_channels(&s),
        serde_json::to_value(&s)?,
    )
    .by(&who.user_id);
    store::batch(
        &db,
        vec![
            store::insert(
                &db,
                "publishing_schedules",
                &[
                    ("tenant_id", t(tenant)),
                    ("id", t(&s.id)),
                    ("listing_id", t(&s.listing_id)),
                    ("platforms", t(&store::json_text(&s.platforms)?)),
                    ("run_at", t(&s.run_at)),
                    ("status", st(s.status)),
                    ("created_by", t(&s.created_by)),
                    ("created_at", t(&s.created_at)),
                ],
            )?,
            outbox::insert(&db, tenant, &event)?,
        ],
    )
    .await?;
    outbox::deliver_after_write(&cx.env, tenant).await;
    json(201, &s)
}

pub async fn list_schedules(cx: Ctx) -> ApiResult<Response> {
    let who = cx.who()?;
    let page = cx.page()?;
    let q = |k: &str| cx.query(k).filter(|v| !v.is_empty());
    let db = cx.db()?;
    let rows: Vec<ScheduleRow> = store::all(store::query(
        &db,
        &format!(
            "SELECT {SCHEDULE_COLUMNS} FROM publishing_schedules WHERE tenant_id = :tenant
               AND (:status IS NULL OR status = :status)
               AND (:listing IS NULL OR listing_id = :listing)
               AND (:after IS NULL OR id < :after)
             ORDER BY id DESC LIMIT :limit"
        ),
        &[
            ("tenant", t(&who.tenant_id)),
            ("status", ot(q("status").as_deref())),
            ("listing", ot(q("listing_id").as_deref())),
            ("after", ot(page.after.as_deref())),
            ("limit", i(i64::from(page.limit) + 1)),
        ],
    )?)
    .await?;
    let rows: Vec<Schedule> = rows.into_iter().map(Schedule::from).collect();
    json_page(rows, page.limit, |s| s.id.clone())
}

/// `DELETE /api/publishing/schedules/:id`: cancels a pending schedule (409 once started).
pub async fn cancel_schedule(cx: Ctx) -> ApiResult<Response> {
    let who = cx.who()?;
    let id = cx.path_id("schedule")?;
    let tenant = who.tenant_id.as_str();
    let db = cx.db()?;
    let row: Option<ScheduleRow> = store::first(store::query(
        &db,
        &format!(
            "SELECT {SCHEDULE_COLUMNS} FROM publishing_schedules WHERE tenant_id = :tenant AND id = :id"
        ),
        &[("tenant", t(tenant)), ("id", t(&id))],
    )?)
    .await?;
    let mut s: Schedule = row.ok_or_else(|| ApiError::not_found("schedule"))?.into();
    if s.status != ScheduleStatus::Pending {
        return Err(ApiError::new(
            409,
            "conflict",
            format!("the schedule is already {}", s.status),
        ));
    }
    s.status = ScheduleStatus::Cancelled;
    let event = outbox::draft(
        "publishing:schedule:cancelled",
        schedule_channels(&s),
        serde_json::to_value(&s)?,
    )
    .by(&who.user_id);
    let update = store::update(
        &db,
        "publishing_schedules",
        &[("status", st(s.status))],
        "WHERE tenant_id = :tenant AND id = :id AND status = :pending",
        &[
            ("tenant", t(tenant)),
            ("id", t(&id)),
            ("pending", st(ScheduleStatus::Pending)),
        ],
    )?;
    if !outbox::update_with_event(&cx.env, &db, tenant, update, &event, vec![]).await? {
        return Err(ApiError::new(
            409,
            "conflict",
            "the schedule started meanwhile",
        ));
    }
    json(200, &s)
}

#[derive(Deserialize)]
struct DueSchedule {
    tenant_id: String,
    id: String,
    listing_id: String,
    platforms: String,
    created_by: String,
}

/// Cron: starts every due schedule once. The claim (pending → started with a unique
/// marker) and its jobs commit in one batch, so a schedule starts exactly once even when
/// two cron runs overlap.
pub async fn start_due(env: &Env) -> ApiResult<usize> {
    let db = store::db(env)?;
    let now = crate::platform::iso(crate::platform::now_ms());
    // On the partial index `schedules_due` (its WHERE repeats the literal status).
    let due: Vec<DueSchedule> = store::all(store::query(
        &db,
        &format!(
            "SELECT tenant_id, id, listing_id, platforms, created_by FROM publishing_schedules
             WHERE status = {pending} AND run_at <= :now ORDER BY run_at LIMIT 50",
            pending = store::lit(ScheduleStatus::Pending)
        ),
        &[("now", t(&now))],
    )?)
    .await?;
    let mut started = 0;
    for s in &due {
        let platforms: Vec<String> = serde_json::from_str(&s.platforms).unwrap_or_default();
        let marker = format!("{now}#{}", crate::platform::random_hex());
        let (mut stmts, jobs) = publish_statements(
            &db,
            &s.tenant_id,
            &s.created_by,
            &s.listing_id,
            &platforms,
            "SELECT 1 FROM publishing_schedules WHERE tenant_id = :tenant AND id = :schedule
               AND started_at = :marker",
            &[("schedule", t(&s.id)), ("marker", t(&marker))],
        )?;
        let job_ids: Vec<&str> = jobs.iter().map(|j| j.id.as_str()).collect();
        stmts.insert(
            0,
            store::update(
                &db,
                "publishing_schedules",
                &[
                    ("status", st(ScheduleStatus::Started)),
                    ("started_at", t(&marker)),
                    ("job_ids", t(&store::json_text(&job_ids)?)),
                ],
                "WHERE tenant_id = :tenant AND id = :id AND status = :pending",
                &[
                    ("tenant", t(&s.tenant_id)),
                    ("id", t(&s.id)),
                    ("pending", st(ScheduleStatus::Pending)),
                ],
            )?,
        );
        let results = store::batch(&db, stmts).await?;
        if results.first().map(store::changes) == Some(1) {
            started += 1;
            crate::api::job_store::enqueue(env, &s.tenant_id, &jobs).await;
        }
    }
    outbox::deliver_tenants(env, due.iter().map(|s| &s.tenant_id)).await;
    Ok(started)
}

/// For the job: the listing's content as platforms receive it, with the URLs of its
/// property's photos (public while the listing is out, so the platform can fetch them).
pub fn document(l: &Listing, platform: &str, photos: &[String]) -> Value {
    json!({
        "listing_id": l.id,
        "property_id": l.property_id,
        "platform": platform,
        "title": l.title,
        "description": l.description,
        "price_minor": l.price_minor,
        "currency": l.currency,
        "city": l.city,
        "kind": l.kind,
        "bedrooms": l.bedrooms,
        "photos": photos,
    })
}
