//! `GET /api/openapi.json` (the OpenAPI 3.1 document, generated from the endpoint table
//! into static/openapi.json by `http::openapi`), `GET /api/events.json` (the event catalog,
//! generated into static/events.json by `domain::catalog`) and `GET /api/docs`
//! (static/docs.html, a self-contained page that renders the OpenAPI document, no CDN: works
//! offline), all served from the Workers static assets so they are not part of the Wasm.

use crate::domain::error::ApiResult;
use crate::web::ctx::Ctx;
use worker::{Env, Headers, Response};

async fn asset(env: &Env, name: &str, content_type: &str) -> ApiResult<Response> {
    let assets = env
        .assets("ASSETS")
        .map_err(|e| crate::store::internal("ASSETS binding", e))?;
    let mut file = assets
        .fetch(format!("https://assets.local/{name}"), None)
        .await
        .map_err(|e| crate::store::internal("ASSETS fetch", e))?;
    if file.status_code() != 200 {
        return Err(crate::store::internal(
            "ASSETS",
            format!("{name} missing from static/"),
        ));
    }
    let body = file.bytes().await?;
    let h = Headers::new();
    h.set("content-type", content_type)?;
    h.set("cache-control", "public, max-age=300")?;
    Ok(Response::from_bytes(body)?.with_headers(h))
}

pub async fn openapi(cx: Ctx) -> ApiResult<Response> {
    asset(&cx.env, "openapi.json", "application/json").await
}

pub async fn events(cx: Ctx) -> ApiResult<Response> {
    asset(&cx.env, "events.json", "application/json").await
}

pub async fn page(cx: Ctx) -> ApiResult<Response> {
    asset(&cx.env, "docs.html", "text/html; charset=utf-8").await
}
