//! What handlers use to read a request and answer it: their context (`Ctx`: the request,
//! the verified caller, D1, config, clock), the token reader and access rules, the body,
//! request guards (rate limit, IP blocklist), idempotency keys, and JSON and error
//! responses. It imports no feature module, so every feature may import it (the
//! dependency rule: http → features → web, store, domain).

pub mod auth;
pub mod body;
pub mod ctx;
pub mod error;
pub mod guard;
pub mod idempotency;
pub mod observe;
pub mod origins;
pub mod respond;
