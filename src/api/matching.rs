//! `POST /api/matching/run` (a `matching` job over the tenant's seekers and properties),
//! `GET /api/matches` (what the runs found) and `PUT /api/matches/:id` (a broker accepts or
//! rejects one).

use crate::domain::error::{ApiError, ApiResult};
use crate::domain::jobs::MATCHING;
use crate::domain::status::MatchStatus;
use crate::realtime::outbox;
use crate::store::{self, i, ot, st, t};
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
    id: String,
    status: MatchStatus,
    seeker_id: String,
    property_id: String,
    score: i64,
    reasons: String,
    job_id: String,
    created_at: String,
    decided_by: Option<String>,
    decided_at: Option<String>,
}

const MATCH_COLUMNS: &str = "id, status, seeker_id, property_id, score, reasons, job_id,
    created_at, decided_by, decided_at";

impl MatchRow {
    /// As REST lists it (`reasons` as a list).
    fn view(&self) -> Value {
        json!({
            "id": self.id, "status": self.status,
            "seeker_id": self.seeker_id, "property_id": self.property_id, "score": self.score,
            "reasons": serde_json::from_str::<Value>(&self.reasons).unwrap_or(Value::Null),
            "job_id": self.job_id, "created_at": self.created_at,
            "decided_by": self.decided_by, "decided_at": self.decided_at,
        })
    }
}

/// `PUT /api/matches/:id` `{"status": "accepted" | "rejected"}` (brokers, admins): the
/// decision, with `owners:match:accepted` or `owners:match:rejected` (carrying `changes`). A
/// decision may be changed later; the same decision again answers the match and emits
/// nothing. The guarded update (on the status read) makes concurrent deciders a 409.
pub async fn decide(mut cx: Ctx) -> ApiResult<Response> {
    let who = cx.who()?;
    let id = cx.path_id("match")?;
    let input = cx.json().await?;
    let to = crate::domain::matching::validate_decision(&input)?;
    let tenant = who.tenant_id.as_str();
    let db = cx.db()?;
    let mut m: MatchRow = store::first(store::query(
        &db,
        &format!("SELECT {MATCH_COLUMNS} FROM matches WHERE tenant_id = :tenant AND id = :id"),
        &[("tenant", t(tenant)), ("id", t(&id))],
    )?)
    .await?
    .ok_or_else(|| ApiError::not_found("match"))?;
    if m.status == to {
        return json(200, &m.view());
    }
    let from = m.status;
    let before = m.view();
    m.status = to;
    m.decided_by = Some(who.user_id.clone());
    m.decided_at = Some(cx.now_iso());
    let mut data = m.view();
    data["changes"] = Value::Object(crate::domain::event::changes(
        &before,
        &data,
        &["status", "decided_by", "decided_at"],
    ));
    let kind = if to == MatchStatus::Accepted {
        "owners:match:accepted"
    } else {
        "owners:match:rejected"
    };
    let event = outbox::draft(
        kind,
        vec![
            "tenant".to_string(),
            format!("entity:seeker:{}", m.seeker_id),
            format!("entity:property:{}", m.property_id),
        ],
        data,
    )
    .by(&who.user_id);
    let at = m.decided_at.clone().unwrap_or_default();
    let update = store::update(
        &db,
        "matches",
        &[
            ("status", st(to)),
            ("decided_by", t(&who.user_id)),
            ("decided_at", t(&at)),
        ],
        "WHERE tenant_id = :tenant AND id = :id AND status = :from",
        &[("tenant", t(tenant)), ("id", t(&id)), ("from", st(from))],
    )?;
    if !outbox::update_with_event(&cx.env, &db, tenant, update, &event, vec![]).await? {
        return Err(ApiError::new(
            409,
            "conflict",
            "the match was decided meanwhile",
        ));
    }
    json(200, &m.view())
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
        &format!(
            "SELECT {MATCH_COLUMNS} FROM matches
         WHERE tenant_id = :tenant AND (:seeker IS NULL OR seeker_id = :seeker)
           AND (:property IS NULL OR property_id = :property)
           AND (:status IS NULL OR status = :status)
           AND (:after IS NULL OR printf('%03d:%s:%s', score, seeker_id, property_id) < :after)
         ORDER BY printf('%03d:%s:%s', score, seeker_id, property_id) DESC LIMIT :limit"
        ),
        &[
            ("tenant", t(&who.tenant_id)),
            ("status", ot(q("status").as_deref())),
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
            let mut v = r.view();
            v["key"] = json!(format!("{:03}:{}:{}", r.score, r.seeker_id, r.property_id));
            v
        })
        .collect();
    json_page(data, page.limit, |m| {
        m["key"].as_str().unwrap_or_default().to_string()
    })
}
