//! Realtime: wire protocol, the tenant hub Durable Object, its history, the outbox that
//! feeds it, and the WebSocket entry route.

pub mod hub;
pub mod hub_client;
pub mod outbox;
pub use pulse_core::protocol;
pub use pulse_core::socketio;
pub mod rooms;
pub mod routes;
