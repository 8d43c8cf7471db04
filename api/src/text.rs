//! Text the database can store. PostgreSQL refuses NUL characters in `text` columns and
//! invalid UTF-8 anywhere, so such input reaching a query was a 500 (a fuzzer found
//! `GET /missing-persons?q=%00`). Every request's path, query string and JSON body is checked
//! here before any route sees it, and multipart text fields use [`check`]: NUL is a 422 naming
//! where it was, bytes that are not UTF-8 a 400.

use std::sync::Arc;

use poem::http::{Method, header};
use poem::{Body, Endpoint, IntoResponse, Request, Response};
use serde_json::Value;

use crate::error::ApiError;
use crate::state::ApiState;

/// Checks one text value (`field` names it in the error).
pub fn check(field: &str, text: &str) -> Result<(), ApiError> {
    if text.contains('\0') {
        Err(ApiError::validation(
            field,
            "must not contain NUL characters",
        ))
    } else {
        Ok(())
    }
}

/// Decodes `%XX` escapes (and `+` as a space in queries) into bytes.
fn percent_decode(raw: &str, plus_is_space: bool) -> Vec<u8> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push((h << 4) | l);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b'+' if plus_is_space => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    out
}

/// Checks a path or query string as the routes will decode it.
fn check_uri_part(what: &str, raw: &str, plus_is_space: bool) -> Result<(), ApiError> {
    let decoded = percent_decode(raw, plus_is_space);
    let text = std::str::from_utf8(&decoded)
        .map_err(|_| ApiError::bad_request(format!("the {what} is not valid UTF-8")))?;
    check(what, text)
}

/// The JSON path of the first string (or key) holding a NUL character, if any.
fn nul_in_json(value: &Value, path: &mut String) -> bool {
    match value {
        Value::String(s) => s.contains('\0'),
        Value::Array(items) => items.iter().enumerate().any(|(i, v)| {
            let len = path.len();
            path.push_str(&format!("[{i}]"));
            let found = nul_in_json(v, path);
            if !found {
                path.truncate(len);
            }
            found
        }),
        Value::Object(map) => map.iter().any(|(k, v)| {
            let len = path.len();
            if !path.is_empty() {
                path.push('.');
            }
            path.push_str(&k.replace('\0', "\\u0000"));
            let found = k.contains('\0') || nul_in_json(v, path);
            if !found {
                path.truncate(len);
            }
            found
        }),
        _ => false,
    }
}

fn is_json(req: &Request) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(str::trim)
        .is_some_and(|t| t.eq_ignore_ascii_case("application/json") || t.ends_with("+json"))
}

/// The middleware: paths, query strings and JSON bodies with NUL characters or invalid UTF-8
/// are refused before the routes (and the audit log) see them.
pub async fn validate<E: Endpoint>(ep: Arc<E>, mut req: Request) -> poem::Result<Response> {
    check_uri_part("path", req.uri().path(), false)?;
    if let Some(query) = req.uri().query() {
        check_uri_part("query", query, true)?;
    }
    if is_json(&req) && !matches!(*req.method(), Method::GET | Method::HEAD) {
        let limit = req
            .data::<Arc<ApiState>>()
            .map_or(1024 * 1024, |s| s.ctx.config.max_body_bytes);
        let bytes = req
            .take_body()
            .into_bytes_limit(limit)
            .await
            .map_err(|e| match e {
                poem::error::ReadBodyError::PayloadTooLarge => {
                    ApiError::payload_too_large(limit as u64)
                }
                e => ApiError::bad_request(format!("could not read the request body: {e}")),
            })?;
        // JSON writes NUL only as the escape `\u0000`; bodies without it need no parsing.
        if memchr(&bytes, b"\\u0000")
            && let Ok(value) = serde_json::from_slice::<Value>(&bytes)
        {
            let mut path = String::new();
            if nul_in_json(&value, &mut path) {
                let field = if path.is_empty() { "body" } else { &path };
                return Err(ApiError::validation(field, "must not contain NUL characters").into());
            }
        }
        req.set_body(Body::from_bytes(bytes));
    }
    Ok(ep.call(req).await?.into_response())
}

fn memchr(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_parts_are_checked_decoded() {
        assert!(check_uri_part("query", "q=ada&page=2", true).is_ok());
        assert!(check_uri_part("query", "q=%C3%A9l%C3%A8ne+x", true).is_ok());
        assert!(
            check_uri_part("query", "q=100%", true).is_ok(),
            "a lone % stays"
        );
        let nul = check_uri_part("query", "q=%00", true).unwrap_err();
        assert_eq!(nul.status.as_u16(), 422);
        let bad = check_uri_part("query", "q=%FF%FE", true).unwrap_err();
        assert_eq!(bad.status.as_u16(), 400);
        assert!(check_uri_part("path", "/api/v1/queues/a%00b", false).is_err());
    }

    #[test]
    fn json_nul_is_found_with_its_path() {
        let value: Value =
            serde_json::from_str(r#"{"name":"ok","tags":["a","b\u0000"],"n":1}"#).unwrap();
        let mut path = String::new();
        assert!(nul_in_json(&value, &mut path));
        assert_eq!(path, "tags[1]");
        let clean: Value = serde_json::from_str(r#"{"name":"a\\u0000b"}"#).unwrap();
        assert!(
            !nul_in_json(&clean, &mut String::new()),
            "an escaped backslash"
        );
    }
}
