//! Property photos: upload (the raw image, told by its first bytes, stored in R2 under its
//! tenant), list and delete, serving (public once a listing of the property is out on a
//! platform), the URLs a listing's webhook carries, and removing deleted photos' files
//! (right away, and again by the cron until R2 has let them go).

use crate::domain::error::{ApiError, ApiResult};
use crate::domain::owners::PROPERTY;
use crate::domain::photo::{self, Photo, JSON_SQL};
use crate::domain::policy::{may_read, Reader, Resource};
use crate::domain::status::{PhotoStatus, PublicationStatus};
use crate::realtime::outbox;
use crate::store::{self, i, oi, st, t};
use crate::web::ctx::Ctx;
use crate::web::respond::json;
use serde_json::{json, Map, Value};
use worker::{Bucket, D1Database, Env, Headers, HttpMetadata, Response};

/// An `uploading` row is left to the cron only after this long, so an upload still at work
/// is not raced (a `deleting` row is the cron's at once: removing twice is harmless).
pub const UPLOAD_GRACE_MS: i64 = 60 * 1000;
/// Files the cron removes per run at most (R2 removes up to 1000 per call).
const PURGE_LIMIT: i64 = 200;
/// `Cache-Control` of a public photo: shared caches may keep it this long, so taking the
/// listing down (or deleting the photo) reaches them within the hour.
const CACHE_PUBLIC: &str = "public, max-age=3600";
/// `Cache-Control` of a photo only its tenant sees: kept by the browser, revalidated each
/// time (a 304 with the ETag).
const CACHE_PRIVATE: &str = "private, no-cache";

/// A D1 row, read as JSON (one decoder for every query here).
type Row = Map<String, Value>;

fn text<'a>(row: &'a Row, key: &str) -> &'a str {
    row.get(key).and_then(Value::as_str).unwrap_or_default()
}

fn bucket(env: &Env) -> ApiResult<Bucket> {
    env.bucket("PHOTOS")
        .map_err(|e| store::internal("R2 binding PHOTOS", e))
}

/// The property's channels: photo events go where the property's own events go.
fn channels(property: &str) -> Vec<String> {
    vec!["tenant".into(), format!("entity:property:{property}")]
}

/// `POST /api/properties/:id/photos` with the image as the body: 201 with the photo.
///
/// The row is claimed first (`uploading`, not shown; only for a property of the tenant
/// with room left), then the file goes to R2, then the row is shown and
/// `owners:property:photo_added` recorded in one batch. A file whose row never became
/// `stored` (the property went meanwhile, a failure between the steps) is removed here or
/// by the cron: no file outlives its row.
pub async fn upload(mut cx: Ctx) -> ApiResult<Response> {
    let who = cx.who()?;
    let property = cx.path_id(PROPERTY.name)?;
    let body = cx.bytes(photo::MAX_BYTES).await?;
    let image = photo::sniff(&body).ok_or_else(|| {
        ApiError::new(
            415,
            "unsupported_media_type",
            "the body must be a JPEG, PNG or WebP image (told by its first bytes)",
        )
    })?;
    let tenant = who.tenant_id.as_str();
    let db = cx.db()?;
    let id = crate::platform::new_id("pho");
    let key = photo::object_key(tenant, &property, &id);
    let origin = photo::origin(&cx.req.inner().url())
        .unwrap_or_default()
        .to_string();
    let now = cx.now_iso();
    let record = Photo {
        id: id.clone(),
        property_id: property.clone(),
        url: photo::url(&origin, &id),
        content_type: image.content_type.to_string(),
        bytes: body.len() as i64,
        width: image.width.map(i64::from),
        height: image.height.map(i64::from),
        created_by: who.user_id.clone(),
        created_at: now.clone(),
    };
    let claimed = store::run(store::insert_if(
        &db,
        "property_photos",
        &[
            ("tenant_id", t(tenant)),
            ("id", t(&id)),
            ("property_id", t(&property)),
            ("object_key", t(&key)),
            ("content_type", t(image.content_type)),
            ("bytes", i(record.bytes)),
            ("width", oi(record.width)),
            ("height", oi(record.height)),
            ("origin", t(&origin)),
            ("status", st(PhotoStatus::Uploading)),
            ("status_at", t(&now)),
            ("created_by", t(&who.user_id)),
            ("created_at", t(&now)),
        ],
        "EXISTS (SELECT 1 FROM properties WHERE tenant_id = :tenant_id AND id = :property_id)
         AND (SELECT COUNT(*) FROM property_photos WHERE tenant_id = :tenant_id
                AND property_id = :property_id AND status <> :deleting) < :max",
        &[
            ("deleting", st(PhotoStatus::Deleting)),
            ("max", i(photo::MAX_PER_PROPERTY)),
        ],
    )?)
    .await?;
    if store::changes(&claimed) != 1 {
        let found: Option<Row> = store::first(store::query(
            &db,
            "SELECT 1 AS found FROM properties WHERE tenant_id = :tenant AND id = :id",
            &[("tenant", t(tenant)), ("id", t(&property))],
        )?)
        .await?;
        return Err(match found {
            None => ApiError::not_found(PROPERTY.name),
            Some(_) => ApiError::new(
                409,
                "conflict",
                "the property has as many photos as it may have (50)",
            ),
        });
    }
    let meta = HttpMetadata {
        content_type: Some(record.content_type.clone()),
        ..Default::default()
    };
    let etag = match bucket(&cx.env)?
        .put(&key, body)
        .http_metadata(meta)
        .execute()
        .await
    {
        Ok(Some(object)) => object.http_etag(),
        _ => {
            forget(&cx.env, &db, &[id.as_str()], &[key.as_str()]).await;
            return Err(ApiError::unavailable(
                "the photo could not be stored; try again",
            ));
        }
    };
    let event = outbox::draft(
        "owners:property:photo_added",
        channels(&property),
        record.to_json(),
    )
    .by(&who.user_id);
    let results = outbox::commit_and_deliver(
        &cx.env,
        &db,
        tenant,
        vec![
            store::update(
                &db,
                "property_photos",
                &[("status", st(PhotoStatus::Stored)), ("etag", t(&etag))],
                "WHERE tenant_id = :tenant AND id = :id AND status = :uploading
                   AND EXISTS (SELECT 1 FROM properties WHERE tenant_id = :tenant AND id = :property)",
                &[
                    ("tenant", t(tenant)),
                    ("id", t(&id)),
                    ("uploading", st(PhotoStatus::Uploading)),
                    ("property", t(&property)),
                ],
            )?,
            outbox::insert_when(&db, tenant, &event, "SELECT 1 WHERE changes() = 1", &[])?,
        ],
        true,
    )
    .await;
    if !matches!(&results, Ok(r) if r.first().map(store::changes) == Some(1)) {
        // The property was deleted meanwhile (or the write failed): the file goes too.
        forget(&cx.env, &db, &[id.as_str()], &[key.as_str()]).await;
        results?;
        return Err(ApiError::not_found(PROPERTY.name));
    }
    let mut resp = json(201, &record.to_json())?;
    resp.headers_mut()
        .set("location", &format!("/api/photos/{id}"))?;
    Ok(resp)
}

/// `GET /api/properties/:id/photos`: every shown photo, in upload order (404 for a
/// property that is not the tenant's).
pub async fn list(cx: Ctx) -> ApiResult<Response> {
    let who = cx.who()?;
    let property = cx.path_id(PROPERTY.name)?;
    let db = cx.db()?;
    let row: Option<Row> = store::first(store::query(
        &db,
        &format!(
            "SELECT (SELECT json_group_array(json(x.photo)) FROM
                       (SELECT {JSON_SQL} AS photo FROM property_photos
                        WHERE tenant_id = :tenant AND property_id = :property AND status = :stored
                        ORDER BY id) x) AS data
             FROM properties WHERE tenant_id = :tenant AND id = :property"
        ),
        &[
            ("tenant", t(&who.tenant_id)),
            ("property", t(&property)),
            ("stored", st(PhotoStatus::Stored)),
        ],
    )?)
    .await?;
    let row = row.ok_or_else(|| ApiError::not_found(PROPERTY.name))?;
    let data: Value = serde_json::from_str(text(&row, "data")).unwrap_or(json!([]));
    json(200, &json!({"data": data, "next_cursor": null}))
}

/// `DELETE /api/properties/:id/photos/:photo`: hidden and announced
/// (`owners:property:photo_removed`, the photo as it was) in one batch, then its file
/// removed.
pub async fn delete(cx: Ctx) -> ApiResult<Response> {
    let who = cx.who()?;
    let property = cx.path_id(PROPERTY.name)?;
    let id = crate::web::body::path_id(cx.param(1), "photo")?;
    let tenant = who.tenant_id.as_str();
    let db = cx.db()?;
    let at = cx.now_iso();
    let event = outbox::draft(
        "owners:property:photo_removed",
        channels(&property),
        Value::Null,
    )
    .by(&who.user_id);
    let results = outbox::commit_and_deliver(
        &cx.env,
        &db,
        tenant,
        vec![
            store::update(
                &db,
                "property_photos",
                &[("status", st(PhotoStatus::Deleting)), ("status_at", t(&at))],
                "WHERE tenant_id = :tenant AND id = :photo AND property_id = :property
                   AND status = :stored",
                &[
                    ("tenant", t(tenant)),
                    ("photo", t(&id)),
                    ("property", t(&property)),
                    ("stored", st(PhotoStatus::Stored)),
                ],
            )?,
            outbox::insert_select(
                &db,
                tenant,
                &event,
                &format!(
                    "SELECT {JSON_SQL} AS data FROM property_photos WHERE changes() = 1
                       AND tenant_id = :tenant AND id = :photo AND status_at = :at"
                ),
                &[("photo", t(&id)), ("at", t(&at))],
            )?,
        ],
        true,
    )
    .await?;
    if results.first().map(store::changes) != Some(1) {
        return Err(ApiError::not_found("photo"));
    }
    if !keep_files(&cx) {
        let key = photo::object_key(tenant, &property, &id);
        forget(&cx.env, &db, &[id.as_str()], &[key.as_str()]).await;
    }
    Ok(Response::empty()?.with_status(204))
}

/// Dev-only fault injection (`x-pulse-fault: r2-delete`): the files of a deletion are left
/// in R2 as if their removal had failed, for the cron to retry.
fn keep_files(cx: &Ctx) -> bool {
    crate::api::dev::fault(&cx.req, &cx.env, "r2-delete")
}

/// `DELETE /api/properties/:id`: the property, and in the same batch its photos hidden for
/// removal; then their files are removed (the cron retries what fails).
pub async fn delete_property(cx: Ctx) -> ApiResult<Response> {
    let (tenant, id) = crate::api::records::delete_with(&PROPERTY, &cx, |db, tenant, id| {
        Ok(vec![store::update(
            db,
            "property_photos",
            &[
                ("status", st(PhotoStatus::Deleting)),
                (
                    "status_at",
                    t(&crate::platform::iso(crate::platform::now_ms())),
                ),
            ],
            "WHERE tenant_id = :tenant AND property_id = :property AND status <> :deleting",
            &[
                ("tenant", t(tenant)),
                ("property", t(id)),
                ("deleting", st(PhotoStatus::Deleting)),
            ],
        )?])
    })
    .await?;
    if !keep_files(&cx) {
        let db = cx.db()?;
        let rows: Vec<Row> = store::all(store::query(
            &db,
            "SELECT id, object_key FROM property_photos
             WHERE tenant_id = :tenant AND property_id = :property AND status = :deleting",
            &[
                ("tenant", t(&tenant)),
                ("property", t(&id)),
                ("deleting", st(PhotoStatus::Deleting)),
            ],
        )?)
        .await?;
        let (ids, keys) = ids_and_keys(&rows);
        forget(&cx.env, &db, &ids, &keys).await;
    }
    Ok(Response::empty()?.with_status(204))
}

fn ids_and_keys(rows: &[Row]) -> (Vec<&str>, Vec<&str>) {
    rows.iter()
        .map(|r| (text(r, "id"), text(r, "object_key")))
        .unzip()
}

/// `remove`, whose failure is logged and left to the cron (never the caller's error).
async fn forget(env: &Env, db: &D1Database, ids: &[&str], keys: &[&str]) {
    if let Err(e) = remove(env, db, ids, keys).await {
        worker::console_error!(
            "photos: file removal failed, the cron retries: {}",
            e.message
        );
    }
}

/// Removes the files, then their rows (only rows no longer shown).
async fn remove(env: &Env, db: &D1Database, ids: &[&str], keys: &[&str]) -> ApiResult<()> {
    if keys.is_empty() {
        return Ok(());
    }
    bucket(env)?
        .delete_multiple(keys.to_vec())
        .await
        .map_err(|e| store::internal("R2 delete", e))?;
    store::run(store::query(
        db,
        &format!(
            "DELETE FROM property_photos WHERE status <> {stored}
               AND id IN (SELECT value FROM json_each(:ids))",
            stored = store::lit(PhotoStatus::Stored)
        ),
        &[("ids", t(&store::json_text(&ids)?))],
    )?)
    .await?;
    Ok(())
}

/// Cron: the files of deleted photos whose removal failed, and of uploads left behind,
/// then their rows; a bounded slice per run, across tenants. Returns the files removed.
pub async fn purge(env: &Env) -> ApiResult<usize> {
    let db = store::db(env)?;
    let before = crate::platform::iso(crate::platform::now_ms() - UPLOAD_GRACE_MS);
    // On the partial index `photos_to_purge` (its WHERE repeats the literal status).
    let rows: Vec<Row> = store::all(store::query(
        &db,
        &format!(
            "SELECT id, object_key FROM property_photos
             WHERE status <> {stored} AND (status = :deleting OR status_at < :before)
             ORDER BY status_at LIMIT :limit",
            stored = store::lit(PhotoStatus::Stored)
        ),
        &[
            ("deleting", st(PhotoStatus::Deleting)),
            ("before", t(&before)),
            ("limit", i(PURGE_LIMIT)),
        ],
    )?)
    .await?;
    let (ids, keys) = ids_and_keys(&rows);
    remove(env, &db, &ids, &keys).await?;
    Ok(rows.len())
}

/// The URLs of a property's photos, in upload order (what a listing's webhook carries).
pub async fn urls(db: &D1Database, tenant: &str, property: &str) -> ApiResult<Vec<String>> {
    let rows: Vec<Row> = store::all(store::query(
        db,
        "SELECT id, origin FROM property_photos
         WHERE tenant_id = :tenant AND property_id = :property AND status = :stored
         ORDER BY id",
        &[
            ("tenant", t(tenant)),
            ("property", t(property)),
            ("stored", st(PhotoStatus::Stored)),
        ],
    )?)
    .await?;
    Ok(rows
        .iter()
        .map(|r| photo::url(text(r, "origin"), text(r, "id")))
        .collect())
}

/// `GET /api/photos/:id`: the image, streamed from R2.
///
/// Public while a listing of its property is published, or being published, on some
/// platform (the webhook hands the platform its URL, which it may fetch at once). Before
/// that only members of its tenant see it (the property read rule): without a token the
/// answer is 401, with another tenant's 404, and the same for a photo that does not exist,
/// so neither tells whether it does.
pub async fn serve(cx: Ctx) -> ApiResult<Response> {
    let caller = cx.caller();
    let db = cx.db()?;
    let row: Option<Row> = store::first(store::query(
        &db,
        "SELECT ph.tenant_id, ph.object_key, ph.content_type, ph.etag,
           EXISTS (SELECT 1 FROM listings l JOIN listing_publications p
                     ON p.tenant_id = l.tenant_id AND p.listing_id = l.id
                   WHERE l.tenant_id = ph.tenant_id AND l.property_id = ph.property_id
                     AND p.status IN (:published, :publishing)) AS public
         FROM property_photos ph WHERE ph.id = :id AND ph.status = :stored",
        &[
            ("id", t(cx.param(0))),
            ("stored", st(PhotoStatus::Stored)),
            ("published", st(PublicationStatus::Published)),
            ("publishing", st(PublicationStatus::Publishing)),
        ],
    )?)
    .await?;
    let row = row.unwrap_or_default();
    let public = row.get("public").and_then(Value::as_i64) == Some(1);
    let member = caller.as_ref().is_some_and(|w| {
        w.tenant_id == text(&row, "tenant_id")
            && may_read(&Reader::new(&w.user_id, w.role), &Resource::Shared)
    });
    if !public && !member {
        return Err(match caller {
            None => ApiError::unauthorized(
                "a token of the photo's tenant is needed until its property is published",
            ),
            Some(_) => ApiError::not_found("photo"),
        });
    }
    let etag = text(&row, "etag");
    let h = Headers::new();
    h.set("etag", etag)?;
    h.set(
        "cache-control",
        if public { CACHE_PUBLIC } else { CACHE_PRIVATE },
    )?;
    let inm = cx.req.headers().get("if-none-match")?;
    if inm.is_some_and(|v| photo::etag_matches(&v, etag)) {
        return Ok(Response::empty()?.with_status(304).with_headers(h));
    }
    let object = bucket(&cx.env)?
        .get(text(&row, "object_key"))
        .execute()
        .await
        .map_err(|e| store::internal("R2 get", e))?
        .ok_or_else(|| ApiError::not_found("photo"))?;
    let body = object
        .body()
        .ok_or_else(ApiError::internal)?
        .response_body()?;
    h.set("content-type", text(&row, "content_type"))?;
    // The bytes are the uploader's: never sniffed as anything but the stated image.
    h.set("x-content-type-options", "nosniff")?;
    Ok(Response::from_body(body)?.with_headers(h))
}

/// Dev only: the keys of the caller's tenant's photo files in R2 (how tests see that a
/// file was removed).
pub async fn dev_files(cx: Ctx) -> ApiResult<Response> {
    let who = cx.who()?;
    let listed = bucket(&cx.env)?
        .list()
        .prefix(format!("photos/{}/", who.tenant_id))
        .execute()
        .await
        .map_err(|e| store::internal("R2 list", e))?;
    let keys: Vec<String> = listed.objects().iter().map(|o| o.key()).collect();
    json(200, &json!({"data": keys, "next_cursor": null}))
}
