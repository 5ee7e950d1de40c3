//! `/api/jobs`: background jobs of the tenant (list, status) and the admin's re-run of a
//! dead or failed job.

use crate::api::job_store::{Change, JobRow, COLUMNS};
use crate::domain::error::{ApiError, ApiResult};
use crate::domain::jobs::{self as rules, Job, JobStatus};
use crate::domain::policy;
use crate::store::{self, i, ot, t};
use crate::web::ctx::Ctx;
use crate::web::respond::{json, json_page};
use worker::Response;

/// `GET /api/jobs?status=&queue=&subject=`: newest first. Brokers and viewers see the
/// jobs they started; admins see all of the tenant's.
pub async fn list(cx: Ctx) -> ApiResult<Response> {
    let who = cx.who()?;
    let page = cx.page()?;
    let q = |k: &str| cx.query(k).filter(|v| !v.is_empty());
    let status = match q("status") {
        Some(s) => Some(JobStatus::parse(&s).ok_or_else(|| {
            ApiError::bad_request(format!(
                "status must be one of: {}",
                rules::STATUSES.join(", ")
            ))
        })?),
        None => None,
    };
    let admin = policy::may_read(&who.reader(), &policy::Resource::AdminOnly);
    let mine = (!admin).then(|| who.user_id.clone());
    let db = cx.db()?;
    let rows: Vec<JobRow> = store::all(store::query(
        &db,
        &format!(
            "SELECT {COLUMNS} FROM jobs WHERE tenant_id = :tenant
               AND (:status IS NULL OR status = :status) AND (:queue IS NULL OR queue = :queue)
               AND (:subject IS NULL OR subject = :subject)
               AND (:mine IS NULL OR (created_by = :mine AND queue <> :reports_queue))
               AND (:after IS NULL OR id < :after)
             ORDER BY id DESC LIMIT :limit"
        ),
        &[
            ("tenant", t(&who.tenant_id)),
            ("status", ot(status.map(JobStatus::as_str))),
            ("queue", ot(q("queue").as_deref())),
            ("subject", ot(q("subject").as_deref())),
            ("mine", ot(mine.as_deref())),
            ("reports_queue", t(policy::REPORTS_QUEUE)),
            ("after", ot(page.after.as_deref())),
            ("limit", i(i64::from(page.limit) + 1)),
        ],
    )?)
    .await?;
    let rows: Vec<Job> = rows.into_iter().map(Job::from).collect();
    json_page(rows, page.limit, |j| j.id.clone())
}

pub async fn get(cx: Ctx) -> ApiResult<Response> {
    let who = cx.who()?;
    let id = cx.path_id("job")?;
    let db = cx.db()?;
    // A job the caller may not read is answered like a missing one, as the list hides it.
    match crate::api::job_store::load(&db, &who.tenant_id, &id).await? {
        Some(job) if may_read(&who, &job) => json(200, &job),
        _ => Err(crate::api::job_store::not_found()),
    }
}

/// The read rule for a job, the same one its `job:*` events follow: admins, and the user
/// who started it; report jobs (their results are report totals) are admin-only.
fn may_read(who: &crate::domain::auth::Principal, job: &Job) -> bool {
    policy::may_read(
        &who.reader(),
        &policy::job_resource(&job.queue, &job.created_by),
    )
}

/// `POST /api/jobs/:id/retry` (admin): a `dead` or `failed` job runs again from a fresh
/// retry budget; `job:queued` is emitted. Anything else is a 409.
pub async fn retry(cx: Ctx) -> ApiResult<Response> {
    let who = cx.who()?;
    let id = cx.path_id("job")?;
    let tenant = who.tenant_id.as_str();
    let db = cx.db()?;
    let job = crate::api::job_store::load(&db, tenant, &id)
        .await?
        .ok_or_else(crate::api::job_store::not_found)?;
    if !rules::retryable_by_admin(job.status) {
        return Err(ApiError::new(
            409,
            "conflict",
            format!(
                "only dead or failed jobs can be retried; this one is {}",
                job.status
            ),
        ));
    }
    let change = Change {
        attempts: Some(0),
        progress: Some(0),
        ..Change::to(JobStatus::Queued, "job:queued")
    };
    let Some(queued) =
        crate::api::job_store::transition(&cx.env, tenant, &job, change, vec![]).await?
    else {
        return Err(ApiError::new(409, "conflict", "the job changed meanwhile"));
    };
    crate::api::job_store::enqueue(&cx.env, tenant, std::slice::from_ref(&queued)).await;
    json(202, &queued)
}
