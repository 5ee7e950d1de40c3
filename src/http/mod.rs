//! The HTTP entry: the router that runs the guards and dispatches each request to its
//! feature handler (see `web` for what handlers use).

pub mod router;
