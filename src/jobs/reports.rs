//! The `reports` queue: builds a report from D1 aggregates page by page (emitting
//! `job:progress`), renders CSV or JSON, stores it in R2 and emits `reports:generated`.

use super::runner::{Outcome, Run};
use crate::api::reports as api;
use crate::domain::jobs::Failure;
use crate::domain::report::{self as rules, NewReport};
use crate::domain::status::{AppointmentStatus, CommissionStatus, ReportStatus};
use crate::store::{self, i, st, t, Arg};
use serde::Deserialize;
use serde_json::{json, Map, Value};

/// Aggregate rows fetched per query (and per progress step).
const PAGE: i64 = 200;
/// A report never holds more rows than this (a safety bound for the Worker's memory).
const MAX_ROWS: i64 = 100_000;

fn transient(e: crate::domain::error::ApiError) -> Failure {
    Failure::Transient(e.message)
}

/// Each kind's aggregate query over `[:from, :to)` for `:tenant`, grouped and ordered so
/// it pages stably; the statuses it counts are bound (`status_args`).
fn query(kind: &str) -> Option<&'static str> {
    Some(match kind {
        "sales_summary" => {
            "SELECT substr(sold_at, 1, 10) AS day, currency, COUNT(*) AS sales,
               SUM(total_minor) AS total_minor, SUM(paid_minor) AS paid_minor,
               SUM(total_minor - paid_minor) AS balance_minor
             FROM sales WHERE tenant_id = :tenant AND sold_at >= :from AND sold_at < :to
             GROUP BY day, currency ORDER BY day, currency"
        }
        "commissions_by_broker" => {
            "SELECT c.broker_id AS broker_id, MAX(u.name) AS broker_name, c.currency AS currency,
               COUNT(*) AS commissions, SUM(c.amount_minor) AS amount_minor,
               SUM(CASE WHEN c.status = :approved THEN c.amount_minor ELSE 0 END) AS approved_minor,
               SUM(CASE WHEN c.status = :pending THEN c.amount_minor ELSE 0 END) AS pending_minor,
               SUM(CASE WHEN c.status = :paid THEN c.amount_minor ELSE 0 END) AS paid_minor
             FROM commissions c LEFT JOIN users u ON u.tenant_id = c.tenant_id AND u.id = c.broker_id
             WHERE c.tenant_id = :tenant AND c.created_at >= :from AND c.created_at < :to
             GROUP BY c.broker_id, c.currency ORDER BY c.broker_id, c.currency"
        }
        "pipeline" => {
            "SELECT status, COUNT(*) AS customers FROM customers
             WHERE tenant_id = :tenant AND created_at >= :from AND created_at < :to
             GROUP BY status ORDER BY status"
        }
        "appointments" => {
            "SELECT assigned_to, COUNT(*) AS total,
               SUM(CASE WHEN status = :scheduled THEN 1 ELSE 0 END) AS scheduled,
               SUM(CASE WHEN status = :completed THEN 1 ELSE 0 END) AS completed,
               SUM(CASE WHEN status = :cancelled THEN 1 ELSE 0 END) AS cancelled
             FROM appointments WHERE tenant_id = :tenant AND starts_at >= :from AND starts_at < :to
             GROUP BY assigned_to ORDER BY assigned_to"
        }
        _ => return None,
    })
}

/// The statuses `query(kind)` counts, by name.
fn status_args(kind: &str) -> Vec<Arg<'static>> {
    match kind {
        "commissions_by_broker" => vec![
            ("approved", st(CommissionStatus::Approved)),
            ("pending", st(CommissionStatus::Pending)),
            ("paid", st(CommissionStatus::Paid)),
        ],
        "appointments" => vec![
            ("scheduled", st(AppointmentStatus::Scheduled)),
            ("completed", st(AppointmentStatus::Completed)),
            ("cancelled", st(AppointmentStatus::Cancelled)),
        ],
        _ => vec![],
    }
}

#[derive(Deserialize)]
struct Count {
    n: i64,
}

pub async fn run(run: &mut Run<'_>) -> Outcome {
    let Some(report_id) = run
        .job
        .payload
        .get("report_id")
        .and_then(Value::as_str)
        .map(String::from)
    else {
        return Err(Failure::Permanent("job payload lacks report_id".into()));
    };
    let tenant = run.tenant.clone();
    let db = store::db(run.env).map_err(transient)?;
    let Some(row) = api::load(&db, &tenant, &report_id)
        .await
        .map_err(transient)?
    else {
        return Err(Failure::Permanent(format!(
            "report {report_id} no longer exists"
        )));
    };
    let r = crate::domain::report::Report::from(&row);
    if r.status == ReportStatus::Ready {
        return Ok(json!({ "report_id": r.id, "already": ReportStatus::Ready }));
    }
    let sql =
        query(&r.kind).ok_or_else(|| Failure::Permanent(format!("unknown kind {}", r.kind)))?;
    api::finish(
        run.env,
        &tenant,
        &row,
        ReportStatus::Running,
        api::Outcome::default(),
        None,
    )
    .await
    .map_err(transient)?;
    let mut args = vec![
        ("tenant", t(&tenant)),
        ("from", t(&r.from)),
        ("to", t(&r.to)),
    ];
    args.extend(status_args(&r.kind));
    let total: Option<Count> = store::first(
        store::query(&db, &format!("SELECT COUNT(*) AS n FROM ({sql})"), &args)
            .map_err(transient)?,
    )
    .await
    .map_err(transient)?;
    let total = total.map_or(0, |c| c.n).min(MAX_ROWS);
    let mut rows: Vec<Map<String, Value>> = Vec::new();
    while (rows.len() as i64) < total {
        let mut page_args = args.clone();
        page_args.extend([("limit", i(PAGE)), ("offset", i(rows.len() as i64))]);
        let page: Vec<Map<String, Value>> = store::all(
            store::query(
                &db,
                &format!("{sql} LIMIT :limit OFFSET :offset"),
                &page_args,
            )
            .map_err(transient)?,
        )
        .await
        .map_err(transient)?;
        if page.is_empty() {
            break;
        }
        rows.extend(page);
        let pct = (rows.len() as i64 * 90 / total.max(1)) as u8;
        run.progress(pct).await;
    }
    let new = NewReport {
        kind: r.kind.clone(),
        format: r.format.clone(),
        from: r.from.clone(),
        to: r.to.clone(),
    };
    let (cols, summed) = rules::columns(&r.kind);
    let now = crate::platform::iso(crate::platform::now_ms());
    let (content, ctype, ext) = if r.format == "json" {
        (
            rules::render_json(&new, &now, &rows),
            "application/json",
            "json",
        )
    } else {
        (
            rules::render_csv(cols, &rows),
            "text/csv; charset=utf-8",
            "csv",
        )
    };
    let totals = rules::totals(&rows, summed);
    let key = format!("reports/{tenant}/{}.{ext}", r.id);
    let bucket = run
        .env
        .bucket("REPORTS")
        .map_err(|e| Failure::Transient(format!("R2 binding REPORTS: {e}")))?;
    let size = content.len() as i64;
    bucket
        .put(&key, content.into_bytes())
        .http_metadata(worker::HttpMetadata {
            content_type: Some(ctype.into()),
            ..Default::default()
        })
        .execute()
        .await
        .map_err(|e| Failure::Transient(format!("R2 put: {e}")))?;
    api::finish(
        run.env,
        &tenant,
        &row,
        ReportStatus::Ready,
        api::Outcome {
            key: Some(&key),
            size: Some(size),
            rows: Some(rows.len() as i64),
            totals: Some(&totals),
            error: None,
        },
        Some("reports:generated"),
    )
    .await
    .map_err(transient)?;
    Ok(json!({ "report_id": r.id, "rows": rows.len(), "size_bytes": size, "totals": totals }))
}

/// The job went dead: the report is marked `failed` (`reports:failed`).
pub async fn give_up(env: &worker::Env, tenant: &str, job: &crate::domain::jobs::Job) {
    let Some(id) = job.payload.get("report_id").and_then(Value::as_str) else {
        return;
    };
    let Ok(db) = store::db(env) else { return };
    if let Ok(Some(row)) = api::load(&db, tenant, id).await {
        let error = job
            .last_error
            .as_deref()
            .or(Some("the report could not be built"));
        if let Err(e) = api::finish(
            env,
            tenant,
            &row,
            ReportStatus::Failed,
            api::Outcome {
                error,
                ..Default::default()
            },
            Some("reports:failed"),
        )
        .await
        {
            worker::console_error!("report {id}: failure not recorded: {}", e.message);
        }
    }
}
