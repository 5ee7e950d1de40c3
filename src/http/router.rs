//! Routes each request to its handler and turns any error into the contract's JSON error.

use super::error::to_response;
use super::idempotency::{self, Begin};
use crate::api;
use crate::domain::cors::{self, CorsPolicy};
use crate::domain::error::{ApiError, ApiResult};
use crate::realtime;
use worker::{Env, Headers, Method, Request, Response};

pub async fn handle(req: Request, env: Env) -> Response {
    let origin = req.headers().get("origin").ok().flatten();
    let allowed = origin.as_deref().and_then(|o| {
        let policy = env
            .var("CORS_ORIGINS")
            .map(|v| v.to_string())
            .unwrap_or_default();
        CorsPolicy::parse(&policy).allow(o)
    });
    if req.method() == Method::Options {
        return preflight(allowed.as_deref());
    }
    let resp = if req.method() == Method::Post {
        match idempotency::begin(&req, &env).await {
            Ok(Begin::None) => respond(route(req, &env).await),
            Ok(Begin::Replay(r)) => r,
            Ok(Begin::Proceed(guard)) => guard.finish(&env, respond(route(req, &env).await)).await,
            Err(e) => to_response(&e),
        }
    } else {
        respond(route(req, &env).await)
    };
    match allowed {
        Some(o) if resp.status_code() != 101 => with_cors(resp, &o),
        _ => resp,
    }
}

fn respond(r: ApiResult<Response>) -> Response {
    r.unwrap_or_else(|e| to_response(&e))
}

fn preflight(allowed: Option<&str>) -> Response {
    let Some(origin) = allowed else {
        return to_response(&ApiError::new(403, "forbidden", "origin not allowed"));
    };
    let h = Headers::new();
    let _ = h.set("access-control-allow-origin", origin);
    let _ = h.set("access-control-allow-methods", cors::ALLOW_METHODS);
    let _ = h.set("access-control-allow-headers", cors::ALLOW_HEADERS);
    let _ = h.set("access-control-max-age", "86400");
    let _ = h.set("vary", "origin");
    Response::empty()
        .map(|r| r.with_status(204).with_headers(h))
        .unwrap_or_else(|_| to_response(&ApiError::internal()))
}

/// Adds CORS headers on a fresh header set (responses from a Durable Object have
/// immutable headers).
fn with_cors(resp: Response, origin: &str) -> Response {
    let h = Headers::new();
    for (k, v) in resp.headers().entries() {
        let _ = h.append(&k, &v);
    }
    let _ = h.set("access-control-allow-origin", origin);
    let _ = h.set("access-control-expose-headers", cors::EXPOSE_HEADERS);
    let _ = h.append("vary", "origin");
    resp.with_headers(h)
}

async fn route(req: Request, env: &Env) -> ApiResult<Response> {
    let path = req.path();
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let m = req.method();
    match (m, segs.as_slice()) {
        (Method::Get, ["health"]) => api::health::get(env).await,
        (Method::Get, ["api", "crm", "customers"]) => api::customers::list(req, env).await,
        (Method::Post, ["api", "crm", "customers"]) => api::customers::create(req, env).await,
        (Method::Get, ["api", "crm", "customers", id]) => api::customers::get(req, env, id).await,
        (Method::Put, ["api", "crm", "customers", id]) => {
            api::customers::update(req, env, id).await
        }
        (Method::Delete, ["api", "crm", "customers", id]) => {
            api::customers::delete(req, env, id).await
        }
        (Method::Get, ["api", "jobs", id]) => api::jobs::get(req, env, id).await,
        (Method::Get, ["api", "dashboard"]) => api::dashboard::get(req, env).await,
        (Method::Get, ["api", "dev", "messages"]) => api::dev::messages(req, env).await,
        (Method::Get, ["api", "realtime", "ws"]) => realtime::routes::websocket(req, env).await,
        (Method::Get, ["api", "realtime", "stream"]) => realtime::routes::stream(req, env).await,
        (Method::Get, ["api", "realtime", "events"]) => realtime::routes::events(req, env).await,
        (Method::Get, ["api", "realtime", "stats"]) => realtime::routes::stats(req, env).await,
        (Method::Post, ["api", "realtime", "publish"]) => realtime::routes::publish(req, env).await,
        (Method::Get, ["api", "realtime", "rooms"]) => realtime::rooms::list(req, env).await,
        (Method::Post, ["api", "realtime", "rooms"]) => realtime::rooms::create(req, env).await,
        (Method::Get, ["api", "realtime", "rooms", name, "ws"]) => {
            realtime::rooms::websocket(req, env, name).await
        }
        (Method::Post, ["api", "realtime", "rooms", name, "publish"]) => {
            realtime::rooms::publish(req, env, name).await
        }
        (Method::Get, ["api", "public", "rooms", tenant, name, "ws"]) => {
            realtime::rooms::public_websocket(req, env, tenant, name).await
        }
        (_, ["health"])
        | (_, ["api", "crm", "customers"])
        | (_, ["api", "crm", "customers", _])
        | (_, ["api", "jobs", _])
        | (_, ["api", "dashboard"])
        | (_, ["api", "dev", "messages"])
        | (_, ["api", "realtime", "rooms"])
        | (_, ["api", "realtime", "rooms", _, "ws" | "publish"])
        | (_, ["api", "public", "rooms", _, _, "ws"])
        | (_, ["api", "realtime", "ws" | "stream" | "events" | "stats" | "publish"]) => {
            Err(ApiError::method_not_allowed())
        }
        _ => Err(ApiError::new(
            404,
            "route_not_found",
            format!("no route for {path}"),
        )),
    }
}

/// A JSON response with a status.
pub fn json<T: serde::Serialize>(status: u16, body: &T) -> ApiResult<Response> {
    Ok(Response::from_json(body)?.with_status(status))
}
