//! What handlers use to read a request and answer it: the caller (token reader and role
//! check), the body, the route table, request guards (rate limit, IP blocklist),
//! idempotency keys, and JSON and error responses. It imports no feature module, so every
//! feature may import it (the dependency rule: http → features → web, store, domain).

pub mod auth;
pub mod body;
pub mod error;
pub mod guard;
pub mod idempotency;
pub mod observe;
pub mod respond;
pub mod routes;
