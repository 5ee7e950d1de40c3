//! `POST /api/matching/run` (a `matching` job over the tenant's seekers and properties)
//! and `GET /api/matches` (what the runs found).

use crate::domain::error::{ApiError, ApiResult};
use crate::domain::jobs::MATCHING;
use crate::realtime::outbox;
use crate::store::{self, i, ot, t};
use crate::web::ctx::Ctx;
use crate::web::respond::{json, json_page};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use worker::Response;

pub const KIND_RUN: &str = "match_seekers";

/// `{seeker_id?}`: one seeker, or every active seeker of the tenant → 202 with the job.
pub async fn run(mut cx: Ctx) -> ApiResult<Response> {
    let who = cx.who()?;
    let input = cx.json_or_empty().await?;
    let seeker = crate::domain::matching::validate_run(&input)?;
    let tenant = who.tenant_id.as_str();
    let db = cx.db()?;
    let job = crate::api::job_store::new_job(
        &who.user_id,
        MATCHING,
        KIND_RUN,
        json!({ "seeker_id": seeker }),
        seeker.as_ref().map(|s| format!("seeker:{s}")),
    );
    let stmts = crate::api::job_store::insert_when(
        &db,
        tenant,
        &job,
        "SELECT 1 WHERE :seeker IS NULL
           OR EXISTS (SELECT 1 FROM seekers WHERE tenant_id = :tenant AND id = :seeker)",
        &[("seeker", ot(seeker.as_deref()))],
    )?;
    let results = store::batch(&db, stmts).await?;
    if results.first().map(store::changes) != Some(1) {
        return Err(ApiError::field("seeker_id", "no such seeker"));
    }
    crate::api::job_store::enqueue(&cx.env, tenant, std::slice::from_ref(&job)).await;
    outbox::deliver_after_write(&cx.env, tenant).await;
    json(202, &job)
}

#[derive(Serialize, Deserialize)]
struct MatchRow {
    seeker_id: String,
    property_id: String,
    score: i64,
    reasons: String,
    job_id: String,
    created_at: String,
}

/// `GET /api/matches?seeker_id=&property_id=`: best first, then newest.
pub async fn list(cx: Ctx) -> ApiResult<Response> {
    let who = cx.who()?;
    let page = cx.page()?;
    let q = |k: &str| cx.query(k).filter(|v| !v.is_empty());
    let db = cx.db()?;
    // Cursor: the row's position key `<score 3 digits>:<seeker>:<property>` (descending).
    let rows: Vec<MatchRow> = store::all(store::query(
        &db,
        "SELECT seeker_id, property_id, score, reasons, job_id, created_at FROM matches
         WHERE tenant_id = :tenant AND (:seeker IS NULL OR seeker_id = :seeker)
           AND (:property IS NULL OR property_id = :property)
           AND (:after IS NULL OR printf('%03d:%s:%s', score, seeker_id, property_id) < :after)
         ORDER BY printf('%03d:%s:%s', score, seeker_id, property_id) DESC LIMIT :limit",
        &[
            ("tenant", t(&who.tenant_id)),
            ("seeker", ot(q("seeker_id").as_deref())),
            ("property", ot(q("property_id").as_deref())),
            ("after", ot(page.after.as_deref())),
            ("limit", i(i64::from(page.limit) + 1)),
        ],
    )?)
    .await?;
    let data: Vec<Value> = rows
        .iter()
        .map(|r| {
            json!({
                "seeker_id": r.seeker_id, "property_id": r.property_id, "score": r.score,
                "reasons": serde_json::from_str::<Value>(&r.reasons).unwrap_or(Value::Null),
                "job_id": r.job_id, "created_at": r.created_at,
                "key": format!("{:03}:{}:{}", r.score, r.seeker_id, r.property_id),
            })
        })
        .collect();
    json_page(data, page.limit, |m| {
        m["key"].as_str().unwrap_or_default().to_string()
    })
}
