//! `/api/reports`: report requests (create → a `reports` job), list, status, and the
//! download of a finished report from R2.

use crate::domain::error::{ApiError, ApiResult};
use crate::domain::jobs::REPORTS;
use crate::domain::report::{self as rules, Report};
use crate::domain::status::ReportStatus;
use crate::realtime::outbox;
use crate::store::{self, i, oi, ot, st, t};
use crate::web::ctx::Ctx;
use crate::web::respond::{json, json_page};
use serde::Deserialize;
use serde_json::{json, Value};
use worker::{D1Database, Env, Response};

pub const KIND_BUILD: &str = "build_report";
const COLUMNS: &str = "id, kind, format, from_ts, to_ts, status, job_id, object_key, size_bytes,
    row_count, totals, error, created_by, created_at, finished_at";

#[derive(Deserialize)]
pub struct ReportRow {
    id: String,
    kind: String,
    format: String,
    from_ts: String,
    to_ts: String,
    status: ReportStatus,
    job_id: String,
    pub object_key: Option<String>,
    size_bytes: Option<i64>,
    row_count: Option<i64>,
    totals: Option<String>,
    error: Option<String>,
    created_by: String,
    created_at: String,
    finished_at: Option<String>,
}

impl From<&ReportRow> for Report {
    fn from(r: &ReportRow) -> Report {
        Report {
            id: r.id.clone(),
            kind: r.kind.clone(),
            format: r.format.clone(),
            from: r.from_ts.clone(),
            to: r.to_ts.clone(),
            status: r.status,
            job_id: r.job_id.clone(),
            size_bytes: r.size_bytes,
            row_count: r.row_count,
            totals: r
                .totals
                .as_deref()
                .and_then(|s| serde_json::from_str(s).ok()),
            error: r.error.clone(),
            download_url: (r.status == ReportStatus::Ready)
                .then(|| format!("/api/reports/{}/download", r.id)),
            created_by: r.created_by.clone(),
            created_at: r.created_at.clone(),
            finished_at: r.finished_at.clone(),
        }
    }
}

pub async fn load(db: &D1Database, tenant: &str, id: &str) -> ApiResult<Option<ReportRow>> {
    store::first(store::query(
        db,
        &format!("SELECT {COLUMNS} FROM reports WHERE tenant_id = :tenant AND id = :id"),
        &[("tenant", t(tenant)), ("id", t(id))],
    )?)
    .await
}

pub fn channels(created_by: &str, id: &str) -> Vec<String> {
    vec![
        format!("user:{created_by}"),
        format!("entity:report:{id}"),
        "role:admin".into(),
    ]
}

/// `POST /api/reports` `{kind, format?, from, to}` → 202 with the report (status queued).
/// Reports show money across brokers, so they are for admins.
pub async fn create(mut cx: Ctx) -> ApiResult<Response> {
    let who = cx.who()?;
    let input = cx.json().await?;
    let n = rules::validate(&input)?;
    let tenant = who.tenant_id.as_str();
    let db = cx.db()?;
    let id = crate::platform::new_id("rpt");
    let job = crate::api::job_store::new_job(
        &who.user_id,
        REPORTS,
        KIND_BUILD,
        json!({ "report_id": id }),
        Some(format!("report:{id}")),
    );
    let mut stmts = vec![store::insert(
        &db,
        "reports",
        &[
            ("tenant_id", t(tenant)),
            ("id", t(&id)),
            ("kind", t(&n.kind)),
            ("format", t(&n.format)),
            ("from_ts", t(&n.from)),
            ("to_ts", t(&n.to)),
            ("status", st(ReportStatus::Queued)),
            ("job_id", t(&job.id)),
            ("created_by", t(&who.user_id)),
            ("created_at", t(&job.created_at)),
        ],
    )?];
    stmts.extend(crate::api::job_store::insert(&db, tenant, &job)?);
    store::batch(&db, stmts).await?;
    crate::api::job_store::enqueue(&cx.env, tenant, std::slice::from_ref(&job)).await;
    outbox::deliver_after_write(&cx.env, tenant).await;
    let row = load(&db, tenant, &id)
        .await?
        .ok_or_else(ApiError::internal)?;
    let mut resp = json(202, &Report::from(&row))?;
    resp.headers_mut()
        .set("location", &format!("/api/reports/{id}"))?;
    Ok(resp)
}

pub async fn list(cx: Ctx) -> ApiResult<Response> {
    let who = cx.who()?;
    let page = cx.page()?;
    let q = |k: &str| cx.query(k).filter(|v| !v.is_empty());
    let db = cx.db()?;
    let rows: Vec<ReportRow> = store::all(store::query(
        &db,
        &format!(
            "SELECT {COLUMNS} FROM reports WHERE tenant_id = :tenant
               AND (:kind IS NULL OR kind = :kind) AND (:status IS NULL OR status = :status)
               AND (:after IS NULL OR id < :after)
             ORDER BY id DESC LIMIT :limit"
        ),
        &[
            ("tenant", t(&who.tenant_id)),
            ("kind", ot(q("kind").as_deref())),
            ("status", ot(q("status").as_deref())),
            ("after", ot(page.after.as_deref())),
            ("limit", i(i64::from(page.limit) + 1)),
        ],
    )?)
    .await?;
    let rows: Vec<Report> = rows.iter().map(Report::from).collect();
    json_page(rows, page.limit, |r| r.id.clone())
}

pub async fn get(cx: Ctx) -> ApiResult<Response> {
    let who = cx.who()?;
    let id = cx.path_id("report")?;
    let db = cx.db()?;
    match load(&db, &who.tenant_id, &id).await? {
        Some(r) => json(200, &Report::from(&r)),
        None => Err(ApiError::not_found("report")),
    }
}

/// `GET /api/reports/:id/download`: the file, once ready (409 before).
pub async fn download(cx: Ctx) -> ApiResult<Response> {
    let who = cx.who()?;
    let id = cx.path_id("report")?;
    let db = cx.db()?;
    let r = load(&db, &who.tenant_id, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("report"))?;
    let (Some(key), ReportStatus::Ready) = (r.object_key.as_deref(), r.status) else {
        return Err(ApiError::new(
            409,
            "conflict",
            format!("the report is {}", r.status),
        ));
    };
    let bucket = cx
        .env
        .bucket("REPORTS")
        .map_err(|e| store::internal("R2 binding REPORTS", e))?;
    let object = bucket
        .get(key)
        .execute()
        .await
        .map_err(|e| store::internal("R2 get", e))?
        .ok_or_else(|| ApiError::new(410, "gone", "the report file is no longer stored"))?;
    let body = object
        .body()
        .ok_or_else(ApiError::internal)?
        .bytes()
        .await
        .map_err(|e| store::internal("R2 read", e))?;
    let (ctype, ext) = if r.format == "json" {
        ("application/json", "json")
    } else {
        ("text/csv; charset=utf-8", "csv")
    };
    let mut resp = Response::from_bytes(body)?;
    let h = resp.headers_mut();
    h.set("content-type", ctype)?;
    h.set(
        "content-disposition",
        &format!("attachment; filename=\"{}-{}.{ext}\"", r.kind, r.id),
    )?;
    h.set("cache-control", "private, no-store")?;
    Ok(resp)
}

/// What a report run produced (all optional: a status change may carry none).
#[derive(Default)]
pub struct Outcome<'a> {
    pub key: Option<&'a str>,
    pub size: Option<i64>,
    pub rows: Option<i64>,
    pub totals: Option<&'a Value>,
    pub error: Option<&'a str>,
}

/// For the job: marks the report's status and records an event, in one batch.
pub async fn finish(
    env: &Env,
    tenant: &str,
    row: &ReportRow,
    status: ReportStatus,
    update: Outcome<'_>,
    event: Option<&str>,
) -> ApiResult<()> {
    let db = store::db(env)?;
    let now = crate::platform::iso(crate::platform::now_ms());
    let Outcome {
        key,
        size,
        rows,
        totals,
        error,
    } = update;
    let totals_text = totals.map(store::json_text).transpose()?;
    let mut next = Report::from(row);
    next.status = status;
    next.size_bytes = size.or(next.size_bytes);
    next.row_count = rows.or(next.row_count);
    next.totals = totals.cloned().or(next.totals);
    next.error = error.map(String::from);
    if matches!(status, ReportStatus::Ready | ReportStatus::Failed) {
        next.finished_at = Some(now.clone());
    }
    if status == ReportStatus::Ready {
        next.download_url = Some(format!("/api/reports/{}/download", next.id));
    }
    let mut stmts = vec![store::update(
        &db,
        "reports",
        &[
            ("status", st(status)),
            ("error", ot(error)),
            ("finished_at", ot(next.finished_at.as_deref())),
        ],
        ", object_key = COALESCE(:key, object_key), size_bytes = COALESCE(:size, size_bytes),
           row_count = COALESCE(:rows, row_count), totals = COALESCE(:totals, totals)
         WHERE tenant_id = :tenant AND id = :id",
        &[
            ("key", ot(key)),
            ("size", oi(size)),
            ("rows", oi(rows)),
            ("totals", ot(totals_text.as_deref())),
            ("tenant", t(tenant)),
            ("id", t(&row.id)),
        ],
    )?];
    if let Some(kind) = event {
        let draft = outbox::draft(
            kind,
            channels(&row.created_by, &row.id),
            serde_json::to_value(&next)?,
        );
        stmts.push(outbox::insert(&db, tenant, &draft)?);
    }
    store::batch(&db, stmts).await?;
    outbox::deliver_after_write(env, tenant).await;
    Ok(())
}
