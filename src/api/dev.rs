//! Dev-only routes (`PULSE_ENV=dev`; the endpoint table marks them, 404 in production):
//! what the `record` providers stored for the caller's tenant, the dead letters, and raw
//! queue sends for tests.

use crate::domain::error::{ApiError, ApiResult};
use crate::store::{self, i, ot, t};
use crate::web::ctx::Ctx;
use crate::web::respond::json_page;
use serde::{Deserialize, Serialize};
use serde_json::Value;
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
    fault(req, env, "hub-down")
}

/// Dev-only fault injection: `x-pulse-fault: <name>` (`hub-down`; `no-enqueue` leaves a
/// new job queued without a queue message, as if the send had been lost).
pub fn fault(req: &Request, env: &Env, name: &str) -> bool {
    dev_enabled(env) && req.headers().get("x-pulse-fault").ok().flatten().as_deref() == Some(name)
}

fn dev_enabled(env: &Env) -> bool {
    crate::config::get(env).dev
}

pub async fn messages(cx: Ctx) -> ApiResult<Response> {
    let who = cx.who()?;
    let page = cx.page()?;
    let db = cx.db()?;
    let rows: Vec<SentMessage> = store::all(store::query(
        &db,
        "SELECT id, job_id, channel, recipient, subject, body, created_at FROM sent_messages
         WHERE tenant_id = :tenant AND (:after IS NULL OR id < :after)
         ORDER BY id DESC LIMIT :limit",
        &[
            ("tenant", t(&who.tenant_id)),
            ("after", ot(page.after.as_deref())),
            ("limit", i(i64::from(page.limit) + 1)),
        ],
    )?)
    .await?;
    json_page(rows, page.limit, |m| m.id.clone())
}

#[derive(Serialize, Deserialize)]
struct DeadLetter {
    id: String,
    queue: String,
    message_id: String,
    reason: String,
    body: String,
    created_at: String,
}

/// `GET /api/dev/dead-letters` (admin): poison queue messages. They name no valid tenant,
/// so this dev view is not tenant-scoped.
pub async fn dead_letters(cx: Ctx) -> ApiResult<Response> {
    let page = cx.page()?;
    let db = cx.db()?;
    let rows: Vec<DeadLetter> = store::all(store::query(
        &db,
        "SELECT id, queue, message_id, reason, body, created_at FROM dead_letters
         WHERE (:after IS NULL OR id < :after) ORDER BY id DESC LIMIT :limit",
        &[
            ("after", ot(page.after.as_deref())),
            ("limit", i(i64::from(page.limit) + 1)),
        ],
    )?)
    .await?;
    json_page(rows, page.limit, |m| m.id.clone())
}

/// `POST /api/dev/queues/:queue` `{"messages": [...]}` (admin): sends raw bodies to a job
/// queue in one batch, so tests can deliver poison or duplicate messages.
pub async fn queue_send(mut cx: Ctx) -> ApiResult<Response> {
    let spec =
        crate::domain::jobs::queue(cx.param(0)).ok_or_else(|| ApiError::not_found("queue"))?;
    let input = cx.json().await?;
    let msgs = match input.get("messages") {
        Some(Value::Array(a)) if !a.is_empty() && a.len() <= 100 => a.clone(),
        _ => {
            return Err(ApiError::field(
                "messages",
                "must be a list of 1-100 JSON values",
            ))
        }
    };
    let q = cx
        .env
        .queue(spec.binding)
        .map_err(|e| store::internal("queue binding", e))?;
    // JSON-compatible JS values (serde's default would turn objects into JS Maps, which a
    // JSON-typed queue message would carry as `{}`).
    let mut raw = Vec::with_capacity(msgs.len());
    for m in &msgs {
        let js = worker::js_sys::JSON::parse(&m.to_string())
            .map_err(|_| ApiError::field("messages", "must be JSON values"))?;
        raw.push(
            worker::RawMessageBuilder::new(js)
                .build_with_content_type(worker::QueueContentType::Json),
        );
    }
    q.send_raw_batch(raw)
        .await
        .map_err(|e| store::internal("queue send", e))?;
    crate::web::respond::json(202, &serde_json::json!({ "sent": msgs.len() }))
}

/// `POST /api/dev/hub-append` `{"type", "channels", "data", "repeat"?}` (admin): appends events
/// straight to the tenant hub, skipping D1 and the outbox, so benchmarks can show the
/// hub's own cost apart from D1's. Dev only: real changes always go through the outbox.
pub async fn hub_append(mut cx: Ctx) -> ApiResult<Response> {
    let who = cx.who()?;
    let input = cx.json().await?;
    let (p, repeat) = crate::domain::inputs::validate_hub_append(&input)?;
    let (kind, channels, data) = (p.kind.as_str(), p.channels, p.data);
    let drafts: Vec<_> = (0..repeat)
        .map(|_| crate::realtime::outbox::draft(kind, channels.clone(), data.clone()))
        .collect();
    let results = crate::realtime::hub_client::append(&cx.env, &who.tenant_id, "", &drafts)
        .await
        .map_err(|e| store::internal("hub append", e))?;
    crate::web::respond::json(202, &serde_json::json!({ "appended": results.len() }))
}
