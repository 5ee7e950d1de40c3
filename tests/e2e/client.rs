//! The test clients, from the test kit: HTTP (`Api`, `Resp`), WebSocket (`Ws`, `dial`),
//! SSE (`Sse`), and reading a token's claims.

pub use pulse_testkit::http::{Api, Resp};
pub use pulse_testkit::sse::Sse;
pub use pulse_testkit::token::{base64url, claim};
pub use pulse_testkit::ws::{dial, dial_path, Dial, Ws};
