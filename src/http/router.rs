//! Routes each request to its handler and turns any error into the contract's JSON error.

use super::error::to_response;
use crate::api;
use crate::domain::error::{ApiError, ApiResult};
use worker::{Env, Method, Request, Response};

pub async fn handle(req: Request, env: Env) -> Response {
    match route(req, &env).await {
        Ok(r) => r,
        Err(e) => to_response(&e),
    }
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
        (Method::Post, ["api", "auth", "login"]) => api::auth::login(req, env).await,
        (Method::Post, ["api", "auth", "refresh"]) => api::auth::refresh(req, env).await,
        (Method::Post, ["api", "auth", "logout"]) => api::auth::logout(req, env).await,
        (Method::Get, ["api", "users"]) => api::users::list(req, env).await,
        (Method::Post, ["api", "users"]) => api::users::create(req, env).await,
        (Method::Get, ["api", "users", id]) => api::users::get(req, env, id).await,
        (Method::Put, ["api", "users", id]) => api::users::update(req, env, id).await,
        (Method::Delete, ["api", "users", id]) => api::users::delete(req, env, id).await,
        (Method::Get, ["api", "jobs", id]) => api::jobs::get(req, env, id).await,
        (Method::Get, ["api", "dev", "messages"]) => api::dev::messages(req, env).await,
        (Method::Get, ["api", "realtime", "ws"]) => {
            crate::realtime::ws_route::upgrade(req, env).await
        }
        (_, ["health"])
        | (_, ["api", "crm", "customers"])
        | (_, ["api", "crm", "customers", _])
        | (_, ["api", "auth", "login" | "refresh" | "logout"])
        | (_, ["api", "users"])
        | (_, ["api", "users", _])
        | (_, ["api", "jobs", _])
        | (_, ["api", "dev", "messages"])
        | (_, ["api", "realtime", "ws"]) => Err(ApiError::method_not_allowed()),
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
