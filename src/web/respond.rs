//! JSON responses of the handlers: a status and a body, a versioned record with its ETag,
//! and a list page.

use crate::domain::error::ApiResult;
use worker::Response;

/// A JSON response with a status. The body goes through `serde_json::Value` first, so each
/// record type has one serializer in the Worker (lists and events build `Value`s of the
/// same types) instead of two; the text is then written by `Value`'s one serializer.
pub fn json<T: serde::Serialize>(status: u16, body: &T) -> ApiResult<Response> {
    json_value(status, &serde_json::to_value(body)?)
}

fn json_value(status: u16, body: &serde_json::Value) -> ApiResult<Response> {
    Ok(Response::from_json(body)?.with_status(status))
}

/// A JSON response for a versioned record, with its `ETag` (the version, for `If-Match`).
pub fn json_versioned<T: serde::Serialize>(
    status: u16,
    body: &T,
    version: i64,
) -> ApiResult<Response> {
    let mut resp = json(status, body)?;
    resp.headers_mut()
        .set("etag", &crate::domain::version::etag(version))?;
    Ok(resp)
}

/// A list page: `{"data": [...], "next_cursor": ...}` from `limit + 1` fetched rows,
/// written straight as text: through `Value`, a page's maps cost a list ~12 % of its CPU
/// (BENCHMARKS.md, stop 15), more than the second serializer per row type costs in size.
pub fn json_page<T: serde::Serialize>(
    rows: Vec<T>,
    limit: u32,
    key: impl Fn(&T) -> String,
) -> ApiResult<Response> {
    let (data, next) = crate::domain::pagination::finish(rows, limit, key);
    #[derive(serde::Serialize)]
    struct Page<'a, T> {
        data: &'a [T],
        next_cursor: Option<String>,
    }
    Ok(Response::from_json(&Page {
        data: &data,
        next_cursor: next,
    })?)
}
