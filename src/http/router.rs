//! Routes each request to its handler and turns any error into the contract's JSON error.

use crate::api;
use crate::domain::cors;
use crate::domain::error::{ApiError, ApiResult};
use crate::domain::owners;
use crate::realtime::{rooms, routes as live};
use crate::web::error::to_response;
use crate::web::guard;
use crate::web::idempotency::{self, Begin};
use crate::web::observe;
use crate::web::routes::{self, Match, Route};
use worker::{Env, Headers, Method, Request, Response};

/// Serves one request under its request id (echoed as `X-Request-Id`, on every answer)
/// and writes its one JSON log line.
pub async fn handle(req: Request, env: Env) -> Response {
    let started = crate::platform::now_ms();
    let incoming = req.headers().get("x-request-id").ok().flatten();
    let id = observe::request_id(incoming.as_deref());
    let method = req.method().to_string();
    let route = routes::pattern(&method, &req.path());
    let (resp, scope) = observe::Scoped::new(dispatch(req, env)).await;
    let resp = observe::with_header(resp, "x-request-id", &id);
    let took = crate::platform::now_ms() - started;
    let status = resp.status_code();
    worker::console_log!(
        "{}",
        observe::line(&id, &method, route, status, took, &scope)
    );
    resp
}

async fn dispatch(req: Request, env: Env) -> Response {
    let origin = req.headers().get("origin").ok().flatten();
    let allowed = origin
        .as_deref()
        .and_then(|o| crate::config::get(&env).cors.allow(o));
    if req.method() == Method::Options {
        return preflight(allowed.as_deref());
    }
    let guarded = if req.path() == "/health" {
        Ok(())
    } else {
        guard::check(&req, &env).await
    };
    let resp = if let Err(e) = guarded {
        to_response(&e)
    } else if req.method() == Method::Post {
        match idempotency::begin(req, &env).await {
            Ok(Begin::None(req)) => respond(route(req, &env).await),
            Ok(Begin::Replay(r)) => r,
            Ok(Begin::Proceed(guard, req)) => {
                guard.finish(&env, respond(route(req, &env).await)).await
            }
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
    let method = req.method().to_string();
    let (route, p) = match routes::find(&method, &path) {
        Match::Found(route, params) => (route, params),
        Match::MethodNotAllowed => return Err(ApiError::method_not_allowed()),
        Match::NotFound => {
            return Err(ApiError::new(
                404,
                "route_not_found",
                format!("no route for {path}"),
            ))
        }
    };
    let p0 = p.first().copied().unwrap_or_default();
    let p1 = p.get(1).copied().unwrap_or_default();
    match route {
        Route::Health => api::health::get(env).await,
        Route::OpenApi => api::docs::openapi(env).await,
        Route::Docs => api::docs::page(env).await,
        Route::CustomersList => api::customers::list(req, env).await,
        Route::CustomersCreate => api::customers::create(req, env).await,
        Route::CustomerGet => api::customers::get(req, env, p0).await,
        Route::CustomerUpdate => api::customers::update(req, env, p0).await,
        Route::CustomerDelete => api::customers::delete(req, env, p0).await,
        Route::InteractionsList => api::interactions::list(req, env).await,
        Route::InteractionsCreate => api::interactions::create(req, env).await,
        Route::FollowupsList => api::followups::list(req, env).await,
        Route::FollowupsCreate => api::followups::create(req, env).await,
        Route::FollowupGet => api::followups::get(req, env, p0).await,
        Route::FollowupUpdate => api::followups::update(req, env, p0).await,
        Route::AppointmentsList => api::calendar::list(req, env).await,
        Route::AppointmentsCreate => api::calendar::create(req, env).await,
        Route::AppointmentComplete => api::calendar::complete(req, env, p0).await,
        Route::CardsList => api::cards::list(req, env).await,
        Route::CardsCreate => api::cards::create(req, env).await,
        Route::CardPublic => api::cards::public(req, env, p0).await,
        Route::CardScan => api::cards::scan(req, env, p0).await,
        Route::AuthLogin => api::auth::login(req, env).await,
        Route::AuthRefresh => api::auth::refresh(req, env).await,
        Route::AuthLogout => api::auth::logout(req, env).await,
        Route::UsersList => api::users::list(req, env).await,
        Route::UsersCreate => api::users::create(req, env).await,
        Route::UserGet => api::users::get(req, env, p0).await,
        Route::UserUpdate => api::users::update(req, env, p0).await,
        Route::UserDelete => api::users::delete(req, env, p0).await,
        Route::SalesList => api::finance::list_sales(req, env).await,
        Route::SalesCreate => api::finance::create_sale(req, env).await,
        Route::SaleGet => api::finance::get_sale(req, env, p0).await,
        Route::PaymentsList => api::finance::list_payments(req, env).await,
        Route::PaymentsCreate => api::finance::create_payment(req, env).await,
        Route::CommissionsList => api::finance::list_commissions(req, env).await,
        Route::CommissionApprove => api::finance::approve_commission(req, env, p0).await,
        Route::CommissionRatesGet => api::finance::list_rates(req, env).await,
        Route::CommissionRatesPut => api::finance::put_rate(req, env).await,
        Route::FinanceSettingsGet => api::finance::settings(req, env).await,
        Route::FinanceSettingsPut => api::finance::put_settings(req, env).await,
        Route::OwnersList => api::records::list(&owners::OWNER, req, env).await,
        Route::OwnersCreate => api::records::create(&owners::OWNER, req, env).await,
        Route::OwnerGet => api::records::get(&owners::OWNER, req, env, p0).await,
        Route::OwnerUpdate => api::records::update(&owners::OWNER, req, env, p0).await,
        Route::OwnerDelete => api::records::delete(&owners::OWNER, req, env, p0).await,
        Route::PropertiesList => api::records::list(&owners::PROPERTY, req, env).await,
        Route::PropertiesCreate => api::records::create(&owners::PROPERTY, req, env).await,
        Route::PropertyGet => api::records::get(&owners::PROPERTY, req, env, p0).await,
        Route::PropertyUpdate => api::records::update(&owners::PROPERTY, req, env, p0).await,
        Route::PropertyDelete => api::records::delete(&owners::PROPERTY, req, env, p0).await,
        Route::SeekersList => api::records::list(&owners::SEEKER, req, env).await,
        Route::SeekersCreate => api::records::create(&owners::SEEKER, req, env).await,
        Route::SeekerGet => api::records::get(&owners::SEEKER, req, env, p0).await,
        Route::SeekerUpdate => api::records::update(&owners::SEEKER, req, env, p0).await,
        Route::SeekerDelete => api::records::delete(&owners::SEEKER, req, env, p0).await,
        Route::MatchingRun => api::matching::run(req, env).await,
        Route::MatchesList => api::matching::list(req, env).await,
        Route::JobsList => api::jobs::list(req, env).await,
        Route::JobGet => api::jobs::get(req, env, p0).await,
        Route::JobRetry => api::jobs::retry(req, env, p0).await,
        Route::CustomerSms => api::customers::send_sms(req, env, p0).await,
        Route::ListingsList => api::publishing::list_listings(req, env).await,
        Route::ListingsCreate => api::publishing::create_listing(req, env).await,
        Route::ListingGet => api::publishing::get_listing(req, env, p0).await,
        Route::ListingPublish => api::publishing::publish_now(req, env, p0).await,
        Route::SchedulesList => api::publishing::list_schedules(req, env).await,
        Route::SchedulesCreate => api::publishing::create_schedule(req, env).await,
        Route::ScheduleCancel => api::publishing::cancel_schedule(req, env, p0).await,
        Route::ReportsList => api::reports::list(req, env).await,
        Route::ReportsCreate => api::reports::create(req, env).await,
        Route::ReportGet => api::reports::get(req, env, p0).await,
        Route::ReportDownload => api::reports::download(req, env, p0).await,
        Route::BlockedIpsList => api::security::list(req, env).await,
        Route::BlockedIpsCreate => api::security::create(req, env).await,
        Route::BlockedIpDelete => api::security::delete(req, env, p0).await,
        Route::Dashboard => api::dashboard::get(req, env).await,
        Route::AnalyticsSnapshot => api::analytics::snapshot(req, env).await,
        Route::Stats => api::analytics::stats(req, env).await,
        Route::DevMessages => api::dev::messages(req, env).await,
        Route::DevDeadLetters => api::dev::dead_letters(req, env).await,
        Route::DevQueueSend => api::dev::queue_send(req, env, p0).await,
        Route::DevHubAppend => api::dev::hub_append(req, env).await,
        Route::RealtimeWs => live::websocket(req, env).await,
        Route::RealtimeStream => live::stream(req, env).await,
        Route::RealtimeEvents => live::events(req, env).await,
        Route::RealtimeStats => live::stats(req, env).await,
        Route::RealtimePublish => live::publish(req, env).await,
        Route::RoomsList => rooms::list(req, env).await,
        Route::RoomsCreate => rooms::create(req, env).await,
        Route::RoomWs => rooms::websocket(req, env, p0).await,
        Route::RoomPublish => rooms::publish(req, env, p0).await,
        Route::PublicRoomWs => rooms::public_websocket(req, env, p0, p1).await,
    }
}
