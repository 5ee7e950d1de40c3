//! Pulse's client side, shared by the end-to-end tests and the bench: test tokens
//! (`token`), the HTTP client (`http`), the WebSocket client (`ws`), the SSE client
//! (`sse`), the event catalog check they apply to every event they receive (`catalog`) and
//! the local `wrangler dev` fixture (`server`). Native only: never in the Worker, and no
//! `worker` dependency.

pub mod catalog;
pub mod http;
pub mod server;
pub mod sse;
pub mod token;
pub mod ws;

pub use http::{Api, Resp};
pub use server::{fresh_tenant, Server};
pub use sse::{Sse, SseMessage};
pub use ws::{dial, dial_path, Dial, Ws};
