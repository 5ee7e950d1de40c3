//! Request bodies and query strings: JSON only, size-capped, parse errors as 4xx.

use crate::domain::error::{ApiError, ApiResult};
use futures_util::StreamExt;
use serde_json::Value;
use worker::Request;

/// Bodies up to 1 MiB; field limits keep real payloads far smaller.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Reads the body as it streams in and stops once it passes `limit`: 413 past the limit
/// whether or not a `content-length` was sent (a chunked body is never buffered whole).
/// A request without a body reads as empty.
pub async fn read_limited(req: &mut Request, limit: usize) -> ApiResult<Vec<u8>> {
    let declared = req
        .headers()
        .get("content-length")
        .ok()
        .flatten()
        .and_then(|l| l.trim().parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit as u64) {
        return Err(ApiError::too_large(limit));
    }
    if req.inner().body().is_none() {
        return Ok(Vec::new());
    }
    let unreadable = || ApiError::bad_request("could not read the request body");
    let mut stream = req.stream().map_err(|_| unreadable())?;
    // A declared length (at most `limit`, checked above) is only a hint for the buffer.
    let mut buf = Vec::with_capacity(declared.map_or(0, |l| l as usize));
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|_| unreadable())?;
        if buf.len() + chunk.len() > limit {
            return Err(ApiError::too_large(limit));
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf)
}

fn require_json(req: &Request) -> ApiResult<()> {
    let ct = req
        .headers()
        .get("content-type")
        .ok()
        .flatten()
        .unwrap_or_default();
    if ct.to_ascii_lowercase().starts_with("application/json") {
        Ok(())
    } else {
        Err(ApiError::unsupported_media())
    }
}

/// A JSON body. Read as text first: the rest of the Worker parses `&str`s, so one reader
/// of serde_json's (`StrRead`) is compiled in, not two.
pub fn parse(bytes: &[u8]) -> ApiResult<Value> {
    let text = std::str::from_utf8(bytes)
        .map_err(|_| ApiError::bad_request("malformed JSON: the body is not UTF-8"))?;
    serde_json::from_str(text).map_err(|e| ApiError::bad_request(format!("malformed JSON: {e}")))
}

pub async fn json(req: &mut Request) -> ApiResult<Value> {
    require_json(req)?;
    parse(&read_limited(req, MAX_BODY_BYTES).await?)
}

/// Like `json`, but an absent or empty body reads as `{}`.
pub async fn json_or_empty(req: &mut Request) -> ApiResult<Value> {
    let bytes = read_limited(req, MAX_BODY_BYTES).await?;
    if bytes.is_empty() {
        return Ok(Value::Object(Default::default()));
    }
    require_json(req)?;
    parse(&bytes)
}

/// A versioned update's JSON body and the version it expects: the body's `version` (taken
/// out of the body) or `If-Match`; `None` for a blind update.
pub async fn versioned_json(req: &mut Request) -> ApiResult<(Value, Option<i64>)> {
    let if_match = req.headers().get("if-match").ok().flatten();
    let mut input = json(req).await?;
    let expected = crate::domain::version::expected(&mut input, if_match.as_deref())?;
    Ok((input, expected))
}

pub fn query(req: &Request, key: &str) -> Option<String> {
    crate::domain::query::get(&req.inner().url(), key)
}

/// An optional RFC 3339 query parameter, normalised (`?from=`, `?to=`); 400 when malformed.
pub fn time_query(req: &Request, key: &str) -> ApiResult<Option<String>> {
    match query(req, key).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => crate::domain::time::parse_rfc3339(&v)
            .map(|ms| Some(crate::domain::time::format_ms(ms)))
            .ok_or_else(|| ApiError::bad_request(format!("{key} must be an RFC 3339 time"))),
    }
}

pub fn path_id(id: &str, what: &str) -> ApiResult<String> {
    if crate::domain::ids::valid_path_id(id) {
        Ok(id.to_string())
    } else {
        // Malformed ids can never exist: same answer as an unknown one.
        Err(ApiError::not_found(what))
    }
}

/// `?limit=` and `?cursor=` of a list request.
pub fn page(req: &Request) -> ApiResult<crate::domain::pagination::Page> {
    crate::domain::pagination::parse(
        query(req, "limit").as_deref(),
        query(req, "cursor").as_deref(),
    )
}
