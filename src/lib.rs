//! Pulse Worker entry points only: fetch (HTTP/WebSocket), queue (background jobs) and
//! scheduled (cron: outbox redrive, job re-enqueue). Everything else lives in the modules.

#[cfg(test)]
mod architecture;

pub mod api;
pub mod config;
pub use pulse_core::domain;
pub mod http;
pub mod jobs;
pub mod platform;
pub mod realtime;
pub mod store;
pub mod web;
pub mod webcrypto;

pub use realtime::hub::TenantHub;

use worker::{
    event, Context, Env, MessageBatch, Request, Response, Result, ScheduleContext, ScheduledEvent,
};

#[event(start)]
fn start() {
    // The size-tuned build (`-Cpanic=immediate-abort`, scripts/build.sh) traps on a panic
    // before any hook could run, so the hook (and the formatting it pulls in) is left out.
    #[allow(unexpected_cfgs)]
    #[cfg(not(panic = "immediate-abort"))]
    console_error_panic_hook::set_once();
}

#[event(fetch)]
async fn fetch(req: Request, env: Env, ctx: Context) -> Result<Response> {
    let (resp, log_line) = http::router::handle(req, env.clone()).await;
    let grouped = config::get(&env).dev;
    ctx.wait_until(async move {
        realtime::outbox::flush(&env).await;
        web::observe::write_line(log_line, grouped).await;
    });
    Ok(resp)
}

#[event(queue)]
async fn queue(batch: MessageBatch<serde_json::Value>, env: Env, _ctx: Context) -> Result<()> {
    let r = jobs::dispatch(batch, &env).await;
    realtime::outbox::flush(&env).await;
    r
}

#[event(scheduled)]
async fn scheduled(_event: ScheduledEvent, env: Env, _ctx: ScheduleContext) {
    jobs::maintenance_cron::run(&env).await;
    realtime::outbox::flush(&env).await;
}
