//! The tenant hub: one Durable Object per tenant (and per room) that keeps the tenant's
//! event history, serves hibernatable WebSockets and SSE streams, replays history on
//! resume, fans new events out live, and tracks presence, snapshots and stats.
//!
//! Layout (each file opens with what it owns):
//! - `tenant_hub_do`: the `#[durable_object]` struct and its entry points, dispatch only;
//! - `storage`: history, meta and presence rows behind `HubStore` (SQLite, and an
//!   in-memory double for the unit tests);
//! - `sockets`: socket attachments and admission rules;
//! - `frames/`: one handler per client frame;
//! - `delivery`: live fan-out and the one history scan (`replay`) behind WebSocket
//!   resume, SSE resume and the REST history;
//! - `socketio`: Socket.IO sessions (polling and WebSocket), recovery, client events;
//! - `presence`, `snapshots`, `sse`, `stats`, `tokens`: one concern each;
//! - `requests`: the internal HTTP surface (`/append`, `/events`) and the trusted headers;
//! - `owners`: D1 owner lookups for sale and job channels.
//!
//! The read policy is not here: every delivery, replay and snapshot asks
//! `protocol::view` (channel rules, then `policy::event_view`).

mod delivery;
mod frames;
mod owners;
mod presence;
mod requests;
mod snapshots;
mod socketio;
mod sockets;
mod sse;
mod stats;
pub mod storage;
mod tenant_hub_do;
mod tokens;

pub use requests::{H_ANON, H_EXP, H_ROLE, H_TENANT, H_USER};
pub use stats::wasm_bytes;
pub use storage::{HubStore, SqliteStore};
pub use tenant_hub_do::TenantHub;

/// Wall-clock milliseconds (the DO's clock; the pure parts take `now` as an argument).
fn now_ms() -> i64 {
    worker::js_sys::Date::now() as i64
}
