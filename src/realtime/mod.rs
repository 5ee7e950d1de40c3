//! Realtime: wire protocol, the tenant hub Durable Object, its history, the outbox that
//! feeds it, and the WebSocket entry route.

pub mod history;
pub mod hub_client;
pub mod hub_do;
pub mod outbox;
pub mod presence;
pub mod protocol;
pub mod rooms;
pub mod routes;
pub mod sse;
