//! HTTP edge: routing, authentication/authorization, request bodies and error responses.

pub mod auth;
pub mod body;
pub mod error;
pub mod guard;
pub mod idempotency;
pub mod observe;
pub mod router;
pub mod routes;
