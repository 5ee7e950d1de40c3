//! The one place where `ApiError` becomes an HTTP response (JSON body, status, headers).

use crate::domain::error::ApiError;
use worker::{Headers, Response};

pub fn to_response(e: &ApiError) -> Response {
    if e.status >= 500 {
        worker::console_error!(
            "{} {}: {}{}",
            e.status,
            e.code,
            e.message,
            e.cause
                .as_deref()
                .map(|c| format!(" ({c})"))
                .unwrap_or_default()
        );
    }
    let headers = Headers::new();
    let _ = headers.set("content-type", "application/json");
    if let Some(s) = e.retry_after {
        let _ = headers.set("retry-after", &s.to_string());
    }
    if e.status == 401 {
        let _ = headers.set("www-authenticate", "Bearer");
    }
    Response::ok(e.body().to_string())
        .map(|r| r.with_status(e.status).with_headers(headers))
        .unwrap_or_else(|_| Response::empty().unwrap_or_else(|_| unreachable_response()))
}

fn unreachable_response() -> Response {
    // Response::empty cannot fail in practice; keep a panic-free path anyway.
    Response::from_bytes(Vec::new()).expect("empty response")
}
