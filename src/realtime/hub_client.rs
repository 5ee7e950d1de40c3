//! Calls from the frontend worker into a tenant's hub DO (`id_from_name(tenant)`).

use super::hub::{H_EXP, H_ROLE, H_TENANT, H_USER};
use crate::domain::auth::Principal;
use crate::domain::event::EventDraft;
use serde::Deserialize;
use worker::wasm_bindgen::JsValue;
use worker::{Env, Headers, Response, Result, Stub};

/// The hub DO's name: the tenant id, or `<tenant>:room:<name>` for a room.
pub fn hub_name(tenant: &str, room: &str) -> String {
    if room.is_empty() {
        tenant.to_string()
    } else {
        format!("{tenant}:room:{room}")
    }
}

fn stub(env: &Env, tenant: &str, room: &str) -> Result<Stub> {
    env.durable_object("HUB")?
        .id_from_name(&hub_name(tenant, room))?
        .get_stub()
}

#[derive(Debug, Deserialize)]
pub struct AppendResult {
    pub id: String,
    pub seq: u64,
}

#[derive(Deserialize)]
struct AppendResponse {
    results: Vec<AppendResult>,
}

/// Appends drafts to the tenant's history; returns each event's seq (new or earlier).
pub async fn append(
    env: &Env,
    tenant: &str,
    room: &str,
    drafts: &[EventDraft],
) -> Result<Vec<AppendResult>> {
    let headers = Headers::new();
    headers.set("content-type", "application/json")?;
    headers.set(H_TENANT, tenant)?;
    let body = serde_json::to_string(drafts)?;
    let req = crate::platform::request(
        "https://hub/append",
        "POST",
        &headers,
        Some(&JsValue::from_str(&body)),
    )?;
    let mut resp = stub(env, tenant, room)?.fetch_with_request(req).await?;
    if resp.status_code() != 200 {
        let text = resp.text().await.unwrap_or_default();
        return Err(worker::Error::RustError(format!(
            "hub append answered {}: {text}",
            resp.status_code()
        )));
    }
    Ok(resp.json::<AppendResponse>().await?.results)
}

/// A GET to the caller's tenant hub carrying the verified identity; `extra` headers are
/// passed along (`upgrade` for WebSockets, `last-event-id` for SSE).
pub async fn get(
    env: &Env,
    who: &Principal,
    room: &str,
    path_and_query: &str,
    extra: &[(&str, String)],
) -> Result<Response> {
    let headers = Headers::new();
    headers.set(H_TENANT, &who.tenant_id)?;
    headers.set(H_USER, &who.user_id)?;
    headers.set(H_ROLE, who.role.as_str())?;
    headers.set(H_EXP, &who.exp.to_string())?;
    for (k, v) in extra {
        headers.set(k, v)?;
    }
    let req = crate::platform::request(
        &format!("https://hub{path_and_query}"),
        "GET",
        &headers,
        None,
    )?;
    stub(env, &who.tenant_id, room)?
        .fetch_with_request(req)
        .await
}

/// A Socket.IO request for tenant `tenant`'s hub (`/sio?<query>`): the token is checked
/// there, at the CONNECT packet, since Socket.IO clients send it only then.
pub async fn socketio(
    env: &Env,
    tenant: &str,
    method: &str,
    query: &str,
    upgrade: bool,
    body: Option<String>,
) -> Result<Response> {
    let headers = Headers::new();
    headers.set(H_TENANT, tenant)?;
    if upgrade {
        headers.set("upgrade", "websocket")?;
    }
    let body = body.map(|b| JsValue::from_str(&b));
    let req = crate::platform::request(
        &format!("https://hub/sio{query}"),
        method,
        &headers,
        body.as_ref(),
    )?;
    stub(env, tenant, "")?.fetch_with_request(req).await
}
