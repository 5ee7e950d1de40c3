//! The `matching` queue: scores the tenant's active seekers against its available
//! properties (pure rules in `domain::matching`), stores new matches and emits
//! `owners:match:found` once per new match (only for rows this run inserted, in the same
//! batch as the insert; a retried or repeated run announces nothing old), with
//! `job:progress` along the way.

use super::runner::{Outcome, Run};
use crate::api::records;
use crate::domain::jobs::Failure;
use crate::domain::matching;
use crate::domain::owners::{PROPERTY, SEEKER};
use crate::realtime::outbox;
use crate::store::{self, i, t};
use serde_json::{json, Map, Value};

/// Rows read per query, and the bounds of one run (larger tenants page through).
const PAGE: i64 = 200;
const MAX_SEEKERS: usize = 2_000;
const MAX_PROPERTIES: usize = 10_000;
/// New matches written per D1 batch (2 statements each, well under D1's limits).
const WRITE_CHUNK: usize = 40;

type Record = Map<String, Value>;

fn transient(e: crate::domain::error::ApiError) -> Failure {
    Failure::Transient(e.message)
}

async fn page_all(
    run: &Run<'_>,
    spec: &crate::domain::schema::Spec,
    cond: &str,
    only: Option<&str>,
    max: usize,
) -> Result<Vec<Map<String, Value>>, Failure> {
    let db = store::db(run.env).map_err(transient)?;
    let cols = std::iter::once("id")
        .chain(spec.fields.iter().map(|f| f.name))
        .chain(["created_by", "created_at", "updated_at"])
        .collect::<Vec<_>>()
        .join(", ");
    let mut out = Vec::new();
    let mut after: Option<String> = None;
    while out.len() < max {
        let rows: Vec<Map<String, Value>> = store::all(
            store::stmt(
                &db,
                &format!(
                    "SELECT {cols} FROM {} WHERE tenant_id = ?1 AND {cond}
                       AND (?2 IS NULL OR id = ?2) AND (?3 IS NULL OR id > ?3)
                     ORDER BY id LIMIT ?4",
                    spec.table
                ),
                &[
                    t(&run.tenant),
                    crate::store::ot(only),
                    crate::store::ot(after.as_deref()),
                    i(PAGE),
                ],
            )
            .map_err(transient)?,
        )
        .await
        .map_err(transient)?;
        let n = rows.len();
        after = rows
            .last()
            .and_then(|r| r.get("id"))
            .and_then(Value::as_str)
            .map(String::from);
        out.extend(rows.into_iter().map(|r| records::from_row(spec, r)));
        if (n as i64) < PAGE {
            break;
        }
    }
    Ok(out)
}

pub async fn run(run: &mut Run<'_>) -> Outcome {
    let seeker_id = run
        .job
        .payload
        .get("seeker_id")
        .and_then(Value::as_str)
        .map(String::from);
    let seekers = page_all(
        run,
        &SEEKER,
        "active = 1",
        seeker_id.as_deref(),
        MAX_SEEKERS,
    )
    .await?;
    let properties = page_all(run, &PROPERTY, "status = 'available'", None, MAX_PROPERTIES).await?;
    run.progress(20).await;
    let mut found: Vec<(&Record, &Record, matching::Score)> = Vec::new();
    for s in &seekers {
        for p in &properties {
            if let Some(sc) = matching::score(s, p) {
                found.push((s, p, sc));
            }
        }
    }
    run.progress(40).await;
    let db = store::db(run.env).map_err(transient)?;
    let tenant = run.tenant.clone();
    let now = crate::platform::iso(crate::platform::now_ms());
    let job_id = run.job.id.clone();
    // This run's own mark on the rows it inserts (a retry of the same job gets another).
    let run_id = crate::platform::new_id("run");
    let mut new = 0usize;
    let total = found.len().max(1);
    for (k, chunk) in found.chunks(WRITE_CHUNK).enumerate() {
        let mut stmts = Vec::with_capacity(chunk.len() * 2);
        for (s, p, sc) in chunk {
            let sid = s.get("id").and_then(Value::as_str).unwrap_or_default();
            let pid = p.get("id").and_then(Value::as_str).unwrap_or_default();
            let m = json!({
                "seeker_id": sid, "property_id": pid, "score": sc.score, "reasons": sc.reasons,
                "job_id": job_id, "created_at": now,
                "seeker": {"id": sid, "name": s.get("name")},
                "property": {"id": pid, "title": p.get("title"), "city": p.get("city"), "price_minor": p.get("price_minor"), "currency": p.get("currency")},
            });
            stmts.push(
                store::stmt(
                    &db,
                    "INSERT INTO matches (tenant_id, seeker_id, property_id, score, reasons, job_id, created_at, run_id)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                     ON CONFLICT (tenant_id, seeker_id, property_id) DO NOTHING",
                    &[t(&tenant), t(sid), t(pid), i(i64::from(sc.score)), t(&json!(sc.reasons).to_string()), t(&job_id), t(&now), t(&run_id)],
                )
                .map_err(transient)?,
            );
            let mut channels = vec![
                "tenant".to_string(),
                format!("entity:seeker:{sid}"),
                format!("entity:property:{pid}"),
            ];
            if let Some(owner) = s.get("created_by").and_then(Value::as_str) {
                channels.push(format!("user:{owner}"));
            }
            let event = outbox::draft("owners:match:found", channels, m);
            // Only for a row this run inserted (a re-run finds it and emits nothing).
            stmts.push(
                outbox::insert_when(
                    &db,
                    &tenant,
                    &event,
                    "SELECT 1 FROM matches WHERE tenant_id = ?2 AND seeker_id = ?8 AND property_id = ?9 AND run_id = ?10",
                    &[t(sid), t(pid), t(&run_id)],
                )
                .map_err(transient)?,
            );
        }
        let results = store::batch(&db, stmts).await.map_err(transient)?;
        new += results.iter().step_by(2).map(store::changes).sum::<usize>();
        outbox::deliver_after_write(run.env, &tenant).await;
        let done = ((k + 1) * WRITE_CHUNK).min(total);
        run.progress((40 + done * 55 / total) as u8).await;
    }
    Ok(json!({
        "seekers": seekers.len(),
        "properties": properties.len(),
        "matches_total": found.len(),
        "matches_new": new,
    }))
}
