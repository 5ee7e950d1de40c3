//! Realtime: wire protocol, the tenant hub Durable Object, its history, the outbox that
//! feeds it, and the WebSocket entry route.

pub mod hub;
pub mod hub_client;
pub mod outbox;
pub mod protocol;
pub mod rooms;
pub mod routes;
