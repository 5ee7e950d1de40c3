//! Request bodies and query strings: JSON only, size-capped, parse errors as 4xx.

use crate::domain::error::{ApiError, ApiResult};
use serde_json::Value;
use worker::Request;

/// Issue 4: bodies up to 1 MiB; field limits keep real payloads far smaller.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

pub async fn json(req: &mut Request) -> ApiResult<Value> {
    let ct = req
        .headers()
        .get("content-type")
        .ok()
        .flatten()
        .unwrap_or_default();
    if !ct.to_ascii_lowercase().starts_with("application/json") {
        return Err(ApiError::unsupported_media());
    }
    if let Some(len) = req
        .headers()
        .get("content-length")
        .ok()
        .flatten()
        .and_then(|l| l.parse::<usize>().ok())
    {
        if len > MAX_BODY_BYTES {
            return Err(ApiError::too_large(MAX_BODY_BYTES));
        }
    }
    let bytes = req
        .bytes()
        .await
        .map_err(|_| ApiError::bad_request("could not read the request body"))?;
    if bytes.len() > MAX_BODY_BYTES {
        return Err(ApiError::too_large(MAX_BODY_BYTES));
    }
    serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::bad_request(format!("malformed JSON: {e}")))
}

/// Like `json`, but an absent body (no `content-length`, or 0) reads as `{}`.
pub async fn json_or_empty(req: &mut Request) -> ApiResult<Value> {
    let has_body = req
        .headers()
        .get("content-length")
        .ok()
        .flatten()
        .is_some_and(|l| l != "0");
    if has_body {
        json(req).await
    } else {
        Ok(Value::Object(Default::default()))
    }
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
    req.url()
        .ok()?
        .query_pairs()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
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
