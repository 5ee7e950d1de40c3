//! Dev-only views (`PULSE_ENV=dev`): `GET /api/dev/messages` lists what the `record`
//! email provider stored for the caller's tenant. In production these routes are 404.

use crate::domain::auth::Action;
use crate::domain::error::{ApiError, ApiResult};
use crate::http::router::json_page;
use crate::http::{auth, body};
use crate::store::{self, i, ot, t};
use serde::{Deserialize, Serialize};
use worker::{Env, Request, Response};

#[derive(Serialize, Deserialize)]
struct SentMessage {
    id: String,
    job_id: String,
    channel: String,
    recipient: String,
    subject: String,
    body: String,
    created_at: String,
}

/// Dev-only fault injection for tests: `x-pulse-fault: hub-down` makes a write skip its
/// inline hub delivery, as if the Durable Object call had failed. Ignored outside dev.
pub fn hub_down_fault(req: &Request, env: &Env) -> bool {
    dev_enabled(env)
        && req.headers().get("x-pulse-fault").ok().flatten().as_deref() == Some("hub-down")
}

fn dev_enabled(env: &Env) -> bool {
    env.var("PULSE_ENV")
        .map(|v| v.to_string() == "dev")
        .unwrap_or(false)
}

pub async fn messages(req: Request, env: &Env) -> ApiResult<Response> {
    if !dev_enabled(env) {
        return Err(ApiError::new(
            404,
            "route_not_found",
            "dev routes are disabled",
        ));
    }
    let who = auth::require(&req, env, Action::Read)?;
    let page = body::page(&req)?;
    let db = store::db(env)?;
    let rows: Vec<SentMessage> = store::all(store::stmt(
        &db,
        "SELECT id, job_id, channel, recipient, subject, body, created_at FROM sent_messages
         WHERE tenant_id = ?1 AND (?2 IS NULL OR id < ?2) ORDER BY id DESC LIMIT ?3",
        &[
            t(&who.tenant_id),
            ot(page.after.as_deref()),
            i(i64::from(page.limit) + 1),
        ],
    )?)
    .await?;
    json_page(rows, page.limit, |m| m.id.clone())
}
