//! Serves each request: the guards, the endpoint's access rule, idempotency keys, then the
//! endpoint's handler; any error becomes the contract's JSON error.

use super::endpoints::{self, Match, UNGUARDED};
use crate::domain::cors;
use crate::domain::error::{ApiError, ApiResult};
use crate::web::ctx::Ctx;
use crate::web::error::to_response;
use crate::web::guard;
use crate::web::idempotency::{self, Begin};
use crate::web::observe;
use crate::web::origins;
use worker::{Env, Headers, Method, Request, Response};

/// Serves one request under its request id (echoed as `X-Request-Id`, on every answer).
/// Returns the answer and the request's one JSON log line, which the caller writes
/// after the answer has gone (`lib.rs`): writing a line costs the isolate time that the
/// client need not wait for.
pub async fn handle(req: Request, env: Env) -> (Response, String) {
    let started = crate::platform::now_ms();
    let incoming = req.headers().get("x-request-id").ok().flatten();
    let id = observe::request_id(incoming.as_deref());
    let method = req.method().to_string();
    let route = endpoints::pattern(&method, &req.path());
    let (resp, scope) = observe::Scoped::new(dispatch(req, env)).await;
    let resp = observe::with_header(resp, "x-request-id", &id);
    let took = crate::platform::now_ms() - started;
    let status = resp.status_code();
    let line = observe::line(&id, &method, route, status, took, &scope);
    (resp, line)
}

async fn dispatch(req: Request, env: Env) -> Response {
    let origin = req.headers().get("origin").ok().flatten();
    if req.method() == Method::Options {
        let ok = match &origin {
            Some(o) => origins::allowed(&env, o, None).await,
            None => false,
        };
        return preflight(origin.as_deref().filter(|_| ok));
    }
    let path = req.path();
    let method = req.method().to_string();
    let found = endpoints::find(&method, &path);
    let (query_token, tenant) = match &found {
        // Socket.IO's `?token=` keys the rate limit per user (its handshakes and polls are
        // otherwise counted per address; the hub checks the token itself at CONNECT).
        Match::Found(ep, params) => (
            ep.access.query_token() || ep.path == endpoints::SOCKET_IO,
            endpoints::named(ep, params, "tenant"),
        ),
        _ => (false, None),
    };
    // Whose origins apply, when the deployment's list does not already allow the page: the
    // verified caller's tenant (memoized, so the route's own check verifies nothing twice).
    let deployment_allows = origin
        .as_deref()
        .is_some_and(|o| crate::config::get(&env).cors.allow(o).is_some());
    let caller_tenant = if origin.is_some() && !deployment_allows {
        crate::web::auth::principal(&req, &env, query_token)
            .await
            .ok()
            .map(|p| p.tenant_id)
    } else {
        None
    };
    let guarded = if path == UNGUARDED {
        Ok(())
    } else {
        guard::check(guard::gate(&req, &env, query_token, tenant).await, &env).await
    };
    let resp = match guarded {
        Ok(()) => served(found, req, env.clone()).await,
        Err(e) => to_response(&e),
    };
    match origin {
        Some(o)
            if resp.status_code() != 101
                && (deployment_allows
                    || origins::tenant_allowed(&env, &o, caller_tenant.as_deref()).await) =>
        {
            with_cors(resp, &o)
        }
        _ => resp,
    }
}

/// The answer of a request that passed the guards.
async fn served(found: Match<'_>, req: Request, env: Env) -> Response {
    let (ep, params) = match found {
        Match::Found(ep, params) => (ep, params.iter().map(|p| p.to_string()).collect()),
        Match::MethodNotAllowed => return to_response(&ApiError::method_not_allowed()),
        Match::NotFound => {
            return to_response(&ApiError::new(
                404,
                "route_not_found",
                format!("no route for {}", req.path()),
            ))
        }
    };
    if ep.dev_only && !crate::config::get(&env).dev {
        return to_response(&ApiError::new(
            404,
            "route_not_found",
            "dev routes are disabled",
        ));
    }
    // The access rule, before anything else reads the request (401/403).
    let caller = match ep.access.admit(&req, &env).await {
        Ok(caller) => caller,
        Err(e) => return to_response(&e),
    };
    // The declared query parameters, before the handler reads any (400).
    if !ep.query.is_empty() {
        let pairs = crate::domain::query::pairs(&req.inner().url());
        if let Err(e) = crate::domain::params::check(ep.query, &pairs) {
            return to_response(&e);
        }
    }
    if req.method() != Method::Post {
        return respond((ep.handler)(Ctx::new(req, env, params, caller)).await);
    }
    match idempotency::begin(req, &env, caller.as_ref(), ep.body_limit).await {
        Ok(Begin::None(req)) => respond((ep.handler)(Ctx::new(req, env, params, caller)).await),
        Ok(Begin::Replay(r)) => r,
        Ok(Begin::Proceed(guard, req)) => {
            let ctx = Ctx::new(req, env.clone(), params, caller);
            let resp = respond((ep.handler)(ctx).await);
            guard.finish(&env, resp).await
        }
        Err(e) => to_response(&e),
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
