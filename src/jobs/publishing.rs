//! The `publishing` queue: one job per listing and platform, POSTed to the platform's
//! signed webhook (or recorded), with `publishing:started`, `publishing:completed` and
//! `publishing:failed` events and the publication row kept in step.

use super::providers::{Outgoing, Provider};
use super::runner::{Outcome, Run};
use crate::api::publishing as api;
use crate::domain::jobs::Failure;
use crate::domain::status::PublicationStatus;
use crate::realtime::outbox;
use crate::store::{self, ot, st, t};
use serde_json::{json, Value};
use worker::D1Database;

fn transient(e: crate::domain::error::ApiError) -> Failure {
    Failure::Transient(e.message)
}

pub async fn run(run: &mut Run<'_>) -> Outcome {
    let p = &run.job.payload;
    let field = |k: &str| p.get(k).and_then(Value::as_str).map(String::from);
    let (Some(listing_id), Some(platform)) = (field("listing_id"), field("platform")) else {
        return Err(Failure::Permanent(
            "job payload lacks listing_id/platform".into(),
        ));
    };
    let tenant = run.tenant.clone();
    let db = store::db(run.env).map_err(transient)?;
    let Some(listing) = api::load_listing(&db, &tenant, &listing_id)
        .await
        .map_err(transient)?
    else {
        return Err(Failure::Permanent(format!(
            "listing {listing_id} no longer exists"
        )));
    };
    let target = api::platforms(run.env)
        .map_err(transient)?
        .into_iter()
        .find(|(n, _)| *n == platform)
        .map(|(_, target)| target)
        .ok_or_else(|| Failure::Permanent(format!("platform {platform} is not configured")))?;
    let attempt = run.job.attempts;
    let job_id = run.job.id.clone();
    if run.job.kind == api::KIND_UNPUBLISH {
        return unpublish(run, &db, &listing, &platform, &target).await;
    }
    let info = json!({ "listing_id": listing_id, "platform": platform, "job_id": job_id, "attempt": attempt });
    set_publication(
        run,
        &db,
        &listing,
        &platform,
        PublicationStatus::Publishing,
        None,
        None,
        "publishing:started",
        info.clone(),
    )
    .await
    .map_err(transient)?;

    let photos = crate::api::photos::urls(&db, &tenant, &listing.property_id)
        .await
        .map_err(transient)?;
    let doc = api::document(&listing, &platform, &photos);
    let msg = Outgoing {
        tenant_id: tenant.clone(),
        job_id: job_id.clone(),
        channel: format!("publishing:{platform}"),
        to: platform.clone(),
        subject: listing.title.clone(),
        body: doc.to_string(),
        data: Some(doc),
    };
    match Provider::webhook(run.env, &target)
        .send(run.env, &msg)
        .await
    {
        Ok(answer) => {
            let external_id = answer
                .get("external_id")
                .or_else(|| answer.get("id"))
                .and_then(Value::as_str)
                .map(String::from);
            let url = answer.get("url").and_then(Value::as_str).map(String::from);
            let listing = set_publication(
                run,
                &db,
                &listing,
                &platform,
                PublicationStatus::Published,
                external_id.as_deref(),
                url.as_deref(),
                "publishing:completed",
                Value::Null,
            )
            .await
            .map_err(transient)?;
            Ok(
                json!({ "platform": platform, "external_id": external_id, "url": url, "listing_status": listing.map(|l| l.status) }),
            )
        }
        Err(f) => {
            let last = match &f {
                Failure::Permanent(_) => true,
                Failure::Transient(_) => attempt >= run.job.max_attempts,
            };
            let mut data = info;
            data["error"] = json!(f.message());
            data["will_retry"] = json!(!last);
            let status = if last {
                PublicationStatus::Failed
            } else {
                PublicationStatus::Queued
            };
            let _ = set_publication(
                run,
                &db,
                &listing,
                &platform,
                status,
                None,
                None,
                "publishing:failed",
                data,
            )
            .await;
            Err(f)
        }
    }
}

/// Withdraws the listing from `platform`: the same signed webhook as publishing, with
/// `"action": "unpublish"` and the platform's own id for the advert. Confirmed: the
/// publication is `unpublished` and `publishing:unpublished` carries the listing. Failed for
/// good: it is `published` again (the advert is still up) with `publishing:failed`.
async fn unpublish(
    run: &mut Run<'_>,
    db: &D1Database,
    listing: &crate::domain::publishing::Listing,
    platform: &str,
    target: &str,
) -> Outcome {
    let publication = listing.publications.iter().find(|p| p.platform == platform);
    // Only while this job still owns a withdrawal in flight: a later publish or unpublish
    // took the platform over, and this (late or retried) job must not take the advert down.
    let ours = publication.is_some_and(|p| {
        p.status == PublicationStatus::Unpublishing
            && p.job_id.as_deref() == Some(run.job.id.as_str())
    });
    if !ours {
        return Ok(
            json!({ "platform": platform, "action": "unpublish", "skipped": "no longer this job's" }),
        );
    }
    let external_id = publication.and_then(|p| p.external_id.clone());
    let doc = json!({
        "action": "unpublish", "listing_id": listing.id, "property_id": listing.property_id,
        "platform": platform, "external_id": external_id,
    });
    let msg = Outgoing {
        tenant_id: run.tenant.clone(),
        job_id: run.job.id.clone(),
        channel: format!("publishing:{platform}"),
        to: platform.to_string(),
        subject: format!("Unpublish: {}", listing.title),
        body: doc.to_string(),
        data: Some(doc),
    };
    match Provider::webhook(run.env, target).send(run.env, &msg).await {
        Ok(_) => {
            let after = set_publication(
                run,
                db,
                listing,
                platform,
                PublicationStatus::Unpublished,
                None,
                None,
                "publishing:unpublished",
                Value::Null,
            )
            .await
            .map_err(transient)?;
            Ok(
                json!({ "platform": platform, "action": "unpublish", "listing_status": after.map(|l| l.status) }),
            )
        }
        Err(f) => {
            let last = match &f {
                Failure::Permanent(_) => true,
                Failure::Transient(_) => run.job.attempts >= run.job.max_attempts,
            };
            let data = json!({
                "listing_id": listing.id, "platform": platform, "job_id": run.job.id,
                "attempt": run.job.attempts, "error": f.message(), "will_retry": !last,
                "action": "unpublish",
            });
            let status = if last {
                PublicationStatus::Published
            } else {
                PublicationStatus::Unpublishing
            };
            let _ = set_publication(
                run,
                db,
                listing,
                platform,
                status,
                None,
                None,
                "publishing:failed",
                data,
            )
            .await;
            Err(f)
        }
    }
}

/// Updates the publication (only while this job owns it), rolls the listing's status up,
/// and records `event` in the same batch, only when the publication changed. `data` Null =
/// the listing as REST returns it, read by that batch after its own updates.
#[allow(clippy::too_many_arguments)]
async fn set_publication(
    run: &Run<'_>,
    db: &D1Database,
    listing: &crate::domain::publishing::Listing,
    platform: &str,
    status: PublicationStatus,
    external_id: Option<&str>,
    url: Option<&str>,
    event: &str,
    data: Value,
) -> crate::domain::error::ApiResult<Option<crate::domain::publishing::Listing>> {
    let tenant = run.tenant.as_str();
    let listing_id = listing.id.as_str();
    let now = crate::platform::iso(crate::platform::now_ms());
    let error = matches!(
        status,
        PublicationStatus::Failed | PublicationStatus::Queued
    )
    .then(|| data.get("error").and_then(Value::as_str).map(String::from))
    .flatten();
    // The publication as this batch wrote it: the event exists exactly when the change does.
    let changed = "EXISTS (SELECT 1 FROM listing_publications WHERE tenant_id = :tenant
        AND listing_id = :listing AND platform = :platform AND job_id = :job
        AND status = :status AND updated_at = :at)";
    let guard = [
        ("listing", t(listing_id)),
        ("platform", t(platform)),
        ("job", t(&run.job.id)),
        ("status", st(status)),
        ("at", t(&now)),
    ];
    let draft = outbox::draft(event, api::channels(listing), data.clone());
    let record = if data.is_null() {
        outbox::insert_select(
            db,
            tenant,
            &draft,
            &format!(
                "SELECT json_object('id', x.id, 'property_id', x.property_id, 'title', x.title,
                   'description', x.description, 'price_minor', x.price_minor,
                   'currency', x.currency, 'city', x.city, 'kind', x.kind,
                   'bedrooms', x.bedrooms, 'platforms', json(x.platforms), 'status', x.status,
                   'publications', json(COALESCE(x.publications, '[]')),
                   'created_by', x.created_by, 'created_at', x.created_at,
                   'updated_at', x.updated_at, 'published_at', x.published_at) AS data
                 FROM ({} WHERE l.tenant_id = :tenant AND l.id = :listing) x WHERE {changed}",
                api::LISTING_SELECT
            ),
            &guard,
        )?
    } else {
        outbox::insert_when(
            db,
            tenant,
            &draft,
            &format!("SELECT 1 WHERE {changed}"),
            &guard,
        )?
    };
    let results = store::batch(
        db,
        vec![
            store::update(
                db,
                "listing_publications",
                &[
                    ("status", st(status)),
                    ("attempts", store::i(i64::from(run.job.attempts))),
                    ("updated_at", t(&now)),
                ],
                ", external_id = COALESCE(:external_id, external_id), url = COALESCE(:url, url),
                   last_error = CASE WHEN :status = :published THEN NULL
                                     ELSE COALESCE(:error, last_error) END,
                   published_at = CASE WHEN :status = :published THEN :updated_at
                                       ELSE published_at END
                 WHERE tenant_id = :tenant AND listing_id = :listing AND platform = :platform
                   AND job_id = :job",
                &[
                    ("external_id", ot(external_id)),
                    ("url", ot(url)),
                    ("published", st(PublicationStatus::Published)),
                    ("error", ot(error.as_deref())),
                    ("tenant", t(tenant)),
                    ("listing", t(listing_id)),
                    ("platform", t(platform)),
                    ("job", t(&run.job.id)),
                ],
            )?,
            api::update_listing_status(
                db,
                tenant,
                listing_id,
                &now,
                ", published_at = CASE WHEN :publication = :p_published THEN :now
                                      ELSE published_at END",
                &[("publication", st(status))],
            )?,
            record,
        ],
    )
    .await?;
    if results.first().map(store::changes) != Some(1) {
        // A newer publish took this platform over: this job's outcome is not news.
        return Ok(None);
    }
    outbox::deliver_after_write(run.env, tenant).await;
    api::load_listing(db, tenant, listing_id).await
}
