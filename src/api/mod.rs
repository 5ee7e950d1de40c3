//! REST resources, one module each; handlers stay thin over domain rules and store calls.

pub mod analytics;
pub mod audit;
pub mod auth;
pub mod calendar;
pub mod cards;
pub mod customers;
pub mod dashboard;
pub mod dev;
pub mod docs;
pub mod finance;
pub mod followups;
pub mod health;
pub mod interactions;
pub mod invitations;
pub mod job_store;
pub mod jobs;
pub mod leads;
pub mod matching;
pub mod notifications;
pub mod photos;
pub mod platform;
pub mod publishing;
pub mod records;
pub mod reports;
pub mod security;
pub mod users;
