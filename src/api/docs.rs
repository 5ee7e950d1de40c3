//! `GET /api/openapi.json` (the OpenAPI 3.1 document, generated from the endpoint table
//! into static/openapi.json by `http::openapi`), `GET /api/events.json` (the event catalog,
//! generated into static/events.json by `domain::catalog`), the API reference (`GET
//! /api/docs` and its files: Swagger UI from npm, copied into static/api-docs/ by
//! scripts/build.sh; no CDN, works offline) and the live console (`GET /console` and its
//! files under static/console/), all served from the Workers static assets so they are not
//! part of the Wasm.

use crate::domain::error::{ApiError, ApiResult};
use crate::web::ctx::Ctx;
use worker::{Env, Headers, Response};

async fn asset(env: &Env, name: &str, content_type: &str) -> ApiResult<Response> {
    asset_with(env, name, content_type, "public, max-age=300", &[]).await
}

async fn asset_with(
    env: &Env,
    name: &str,
    content_type: &str,
    cache: &str,
    extra: &[(&str, &str)],
) -> ApiResult<Response> {
    let assets = env
        .assets("ASSETS")
        .map_err(|e| crate::store::internal("ASSETS binding", e))?;
    let file = assets
        // A built request, not `fetch(url, None)`: that one's `RequestInit` conversion
        // compiles worker's `cf` option serializers into the Worker (`platform::request`).
        .fetch_request(crate::platform::request(
            &format!("https://assets.local/{name}"),
            "GET",
            &worker::Headers::new(),
            None,
        )?)
        .await
        .map_err(|e| crate::store::internal("ASSETS fetch", e))?;
    if file.status_code() != 200 {
        return Err(crate::store::internal(
            "ASSETS",
            format!("{name} missing from static/"),
        ));
    }
    // The asset's body is passed through as it streams (Swagger UI's script is 1.7 MB):
    // only the headers are this route's own.
    let h = Headers::new();
    h.set("content-type", content_type)?;
    h.set("cache-control", cache)?;
    for (k, v) in extra {
        h.set(k, v)?;
    }
    Ok(file.with_headers(h))
}

pub async fn openapi(cx: Ctx) -> ApiResult<Response> {
    asset(&cx.env, "openapi.json", "application/json").await
}

pub async fn events(cx: Ctx) -> ApiResult<Response> {
    asset(&cx.env, "events.json", "application/json").await
}

/// The API reference's files besides its page (under static/api-docs/). Any other name is
/// a 404.
const DOCS_FILES: &[(&str, &str)] = &[
    ("swagger-ui-bundle.js", "text/javascript; charset=utf-8"),
    ("swagger-ui.css", "text/css; charset=utf-8"),
    ("docs.js", "text/javascript; charset=utf-8"),
    ("docs.css", "text/css; charset=utf-8"),
];

/// The reference loads only its own files and calls only this origin ("Try it out"). Swagger
/// UI sets element styles from script and inlines its SVG icons, hence `'unsafe-inline'`
/// styles and `data:` images; no script runs that is not one of `DOCS_FILES`.
const DOCS_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
img-src 'self' data:; font-src 'self' data:; connect-src 'self'; base-uri 'none'; \
form-action 'self'; frame-ancestors 'none'";

const DOCS_HEADERS: &[(&str, &str)] = &[
    ("content-security-policy", DOCS_CSP),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "no-referrer"),
];

/// `GET /api/docs`: the API reference's page.
pub async fn page(cx: Ctx) -> ApiResult<Response> {
    asset_with(
        &cx.env,
        "api-docs/index.html",
        "text/html; charset=utf-8",
        "no-cache",
        DOCS_HEADERS,
    )
    .await
}

/// `GET /api/docs/:file`: one of `DOCS_FILES`.
pub async fn docs_file(cx: Ctx) -> ApiResult<Response> {
    let name = cx.param(0);
    let Some((file, content_type)) = DOCS_FILES.iter().find(|(f, _)| *f == name) else {
        return Err(ApiError::not_found("docs file"));
    };
    asset_with(
        &cx.env,
        &format!("api-docs/{file}"),
        content_type,
        "public, max-age=300",
        DOCS_HEADERS,
    )
    .await
}

/// The console's files besides its page: name under static/console/ and content type. Any
/// other name is a 404 (no path ever reaches the asset store from the request).
const CONSOLE_FILES: &[(&str, &str)] = &[
    ("app.js", "text/javascript; charset=utf-8"),
    ("app.css", "text/css; charset=utf-8"),
];

/// The console loads only its own files and talks only to this origin (REST, WebSocket,
/// SSE): no inline script or style, no frame around it, no form posted elsewhere.
const CONSOLE_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; \
frame-ancestors 'none'";

const CONSOLE_HEADERS: &[(&str, &str)] = &[
    ("content-security-policy", CONSOLE_CSP),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "no-referrer"),
];

/// `GET /console`: the live console's page (its script is built by scripts/build.sh).
pub async fn console_page(cx: Ctx) -> ApiResult<Response> {
    asset_with(
        &cx.env,
        "console/index.html",
        "text/html; charset=utf-8",
        "no-cache",
        CONSOLE_HEADERS,
    )
    .await
}

/// `GET /console/:file`: one of `CONSOLE_FILES`.
pub async fn console_file(cx: Ctx) -> ApiResult<Response> {
    let name = cx.param(0);
    let Some((file, content_type)) = CONSOLE_FILES.iter().find(|(f, _)| *f == name) else {
        return Err(ApiError::not_found("console file"));
    };
    asset_with(
        &cx.env,
        &format!("console/{file}"),
        content_type,
        "no-cache",
        CONSOLE_HEADERS,
    )
    .await
}
