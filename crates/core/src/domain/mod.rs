//! Pure business rules, free of worker types, so plain `cargo test` covers them.

pub mod auth;
pub mod calendar;
pub mod card;
pub mod cors;
pub mod crm;
pub mod customer;
pub mod error;
pub mod event;
pub mod finance;
pub mod identity;
pub mod ids;
pub mod inputs;
pub mod jobs;
pub mod matching;
pub mod owners;
pub mod pagination;
pub mod password;
pub mod policy;
pub mod publishing;
pub mod query;
pub mod report;
pub mod schema;
pub mod status;
pub mod time;
pub mod user;
pub mod version;
