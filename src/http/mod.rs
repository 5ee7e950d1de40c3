//! The HTTP entry: the endpoint table (each route declared once), the router that runs the
//! guards and the access rule and dispatches to the feature handler, and, natively, the
//! OpenAPI document generated from the table (see `web` for what handlers use).

pub mod endpoints;
#[cfg(not(target_arch = "wasm32"))]
pub mod openapi;
pub mod router;
