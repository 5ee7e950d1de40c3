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
use crate::domain::status::PropertyStatus;
use crate::realtime::outbox;
use crate::store::{self, i, ot, st, t, Arg};
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

/// The tenant's rows of `spec` where `cond` (with its `args`) holds, by id, in pages.
async fn page_all(
    run: &Run<'_>,
    spec: &crate::domain::schema::Spec,
    cond: &str,
    args: &[Arg<'_>],
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
        let mut a = vec![
            ("tenant", t(&run.tenant)),
            ("only", ot(only)),
            ("after", ot(after.as_deref())),
            ("limit", i(PAGE)),
        ];
        a.extend_from_slice(args);
        let rows: Vec<Map<String, Value>> = store::all(
            store::query(
                &db,
                &format!(
                    "SELECT {cols} FROM {} WHERE tenant_id = :tenant AND {cond}
                       AND (:only IS NULL OR id = :only) AND (:after IS NULL OR id > :after)
                     ORDER BY id LIMIT :limit",
                    spec.table
                ),
                &a,
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
        &[],
        seeker_id.as_deref(),
        MAX_SEEKERS,
    )
    .await?;
    let properties = page_all(
        run,
        &PROPERTY,
        "status = :available",
        &[("available", st(PropertyStatus::Available))],
        None,
        MAX_PROPERTIES,
    )
    .await?;
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
            let match_id = crate::platform::new_id("mch");
            let m = json!({
                "id": match_id, "status": "proposed",
                "seeker_id": sid, "property_id": pid, "score": sc.score, "reasons": sc.reasons,
                "job_id": job_id, "created_at": now,
                "seeker": {"id": sid, "name": s.get("name")},
                "property": {"id": pid, "title": p.get("title"), "city": p.get("city"), "price_minor": p.get("price_minor"), "currency": p.get("currency")},
            });
            stmts.push(
                store::insert_then(
                    &db,
                    "matches",
                    &[
                        ("tenant_id", t(&tenant)),
                        ("id", t(&match_id)),
                        ("seeker_id", t(sid)),
                        ("property_id", t(pid)),
                        ("score", i(i64::from(sc.score))),
                        ("reasons", t(&json!(sc.reasons).to_string())),
                        ("job_id", t(&job_id)),
                        ("created_at", t(&now)),
                        ("run_id", t(&run_id)),
                    ],
                    "ON CONFLICT (tenant_id, seeker_id, property_id) DO NOTHING",
                    &[],
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
                    "SELECT 1 FROM matches WHERE tenant_id = :tenant AND seeker_id = :seeker
                       AND property_id = :property AND run_id = :run",
                    &[
                        ("seeker", t(sid)),
                        ("property", t(pid)),
                        ("run", t(&run_id)),
                    ],
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
