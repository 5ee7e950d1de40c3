//! `GET /api/realtime/ws`: checks the token before the upgrade, then hands the socket to
//! the tenant's hub DO.

use super::hub_client;
use crate::domain::error::{ApiError, ApiResult};
use crate::http::auth;
use worker::{Env, Request, Response};

pub async fn upgrade(req: Request, env: &Env) -> ApiResult<Response> {
    let upgrade = req
        .headers()
        .get("upgrade")
        .ok()
        .flatten()
        .unwrap_or_default();
    if !upgrade.eq_ignore_ascii_case("websocket") {
        return Err(ApiError::new(
            426,
            "upgrade_required",
            "expected a WebSocket upgrade",
        ));
    }
    let who = auth::require_realtime(&req, env)?;
    Ok(hub_client::connect(env, &who).await?)
}
