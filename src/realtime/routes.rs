//! The realtime routes of the frontend worker: WebSocket upgrade, SSE stream, history for
//! polling clients, server-side publish and stats. The router has verified the token (on
//! the streaming routes also from `?token=`) before the tenant's hub is called; the hub
//! re-checks channel rules.

use super::{hub_client, outbox};
use crate::domain::error::ApiResult;
use crate::store::{self, t};
use crate::web::ctx::Ctx;
use crate::web::respond::json;
use serde_json::{json, Value};
use worker::{Request, Response};

/// Query keys the hub understands, passed through re-encoded.
fn hub_query(req: &Request, keys: &[&str]) -> String {
    let url = req.inner().url();
    let pairs = crate::domain::query::pairs(&url);
    crate::domain::query::build(
        pairs
            .iter()
            .filter(|(k, _)| keys.contains(&k.as_str()))
            .map(|(k, v)| (k.as_str(), v.as_str())),
    )
}

pub async fn websocket(cx: Ctx) -> ApiResult<Response> {
    super::rooms::require_upgrade(&cx.req)?;
    let who = cx.who()?;
    Ok(hub_client::get(&cx.env, &who, "", "/ws", &[("upgrade", "websocket".into())]).await?)
}

pub async fn stream(cx: Ctx) -> ApiResult<Response> {
    let who = cx.who()?;
    let mut extra = Vec::new();
    if let Some(id) = cx.req.headers().get("last-event-id").ok().flatten() {
        extra.push(("last-event-id", id));
    }
    let q = hub_query(&cx.req, &["channels", "types", "since"]);
    Ok(hub_client::get(&cx.env, &who, "", &format!("/sse{q}"), &extra).await?)
}

pub async fn events(cx: Ctx) -> ApiResult<Response> {
    let who = cx.who()?;
    let q = hub_query(&cx.req, &["channels", "types", "since", "limit"]);
    Ok(hub_client::get(&cx.env, &who, "", &format!("/events{q}"), &[]).await?)
}

pub async fn stats(cx: Ctx) -> ApiResult<Response> {
    let who = cx.who()?;
    let mut hub = hub_client::get(&cx.env, &who, "", "/stats", &[]).await?;
    let mut stats: Value = hub.json().await?;
    #[derive(serde::Deserialize)]
    struct Lag {
        pending: i64,
        oldest_ms: Option<i64>,
    }
    // Marks still waiting for the end of another request are not lag.
    outbox::flush_here(&cx.env).await;
    let db = cx.db()?;
    let lag: Option<Lag> = store::first(store::query(
        &db,
        "SELECT COUNT(*) AS pending, MIN(created_ms) AS oldest_ms FROM outbox
         WHERE tenant_id = :tenant AND delivered_seq IS NULL",
        &[("tenant", t(&who.tenant_id))],
    )?)
    .await?;
    let now = cx.now_ms();
    let (pending, age) = lag.map_or((0, None), |l| (l.pending, l.oldest_ms.map(|o| now - o)));
    stats["outbox"] = json!({"pending": pending, "oldest_pending_age_ms": age});
    if crate::config::get(&cx.env).dev {
        stats["memory"]["worker_wasm_bytes"] = json!(super::hub::wasm_bytes());
    }
    json(200, &stats)
}

/// `POST /api/realtime/publish` (admin): a system alert or notice to roles, users, the
/// tenant or entity channels (`target_roles`), through the outbox like any change.
pub async fn publish(mut cx: Ctx) -> ApiResult<Response> {
    let who = cx.who()?;
    let input = cx.json().await?;
    let crate::domain::inputs::Publication {
        kind,
        channels,
        data,
    } = crate::domain::inputs::validate_publish(&input)?;
    let mut payload = data;
    payload["published_by"] = json!(who.user_id);
    let draft = outbox::draft(&kind, channels, payload).by(&who.user_id);
    let db = cx.db()?;
    store::run(outbox::insert(&db, &who.tenant_id, &draft)?).await?;
    outbox::deliver_now(&cx.env, &who.tenant_id).await;
    // The answer names the seq, so the delivered mark is written now, not after.
    outbox::flush_here(&cx.env).await;
    #[derive(serde::Deserialize)]
    struct Seq {
        delivered_seq: Option<i64>,
    }
    let seq: Option<i64> = store::first::<Seq>(store::query(
        &db,
        "SELECT delivered_seq FROM outbox WHERE tenant_id = :tenant AND id = :id",
        &[("tenant", t(&who.tenant_id)), ("id", t(&draft.id))],
    )?)
    .await?
    .and_then(|r| r.delivered_seq);
    json(
        202,
        &json!({"id": draft.id, "type": draft.kind, "channels": draft.channels, "seq": seq}),
    )
}

/// `/socket.io/` (Engine.IO v4, Socket.IO v5; docs/socketio.md): names its tenant with
/// `?tenant=`, passes the tenant's IP blocklist, and goes to the tenant's hub, which
/// checks the token at the CONNECT packet as the Worker checks it everywhere else.
pub async fn socketio(mut cx: Ctx) -> ApiResult<Response> {
    let url = cx.req.inner().url();
    let get = |k: &str| crate::domain::query::get(&url, k);
    let tenant = get("tenant")
        .filter(|t| crate::domain::auth::valid_tenant_id(t) && get("EIO").as_deref() == Some("4"))
        .ok_or_else(|| {
            crate::domain::error::ApiError::bad_request(
                "Engine.IO 4 (EIO=4) and a tenant: io(url, { query: { tenant } })",
            )
        })?;
    crate::web::guard::refuse_blocked(&cx.req, &cx.env, &tenant).await?;
    let upgrade = get("transport").as_deref() == Some("websocket");
    if upgrade {
        super::rooms::require_upgrade(&cx.req)?;
    }
    let method = cx.req.inner().method();
    // A polling POST is read within the body limit (413 past it), as every body is.
    let body = if method == "POST" {
        let bytes =
            crate::web::body::read_limited(&mut cx.req, crate::web::body::MAX_BODY_BYTES).await?;
        Some(String::from_utf8(bytes).map_err(|_| {
            crate::domain::error::ApiError::bad_request("Engine.IO payloads are UTF-8 text")
        })?)
    } else {
        None
    };
    let q = hub_query(&cx.req, &["transport", "sid", "token"]);
    Ok(hub_client::socketio(&cx.env, &tenant, &method, &q, upgrade, body).await?)
}
