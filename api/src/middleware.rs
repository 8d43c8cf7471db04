//! The request pipeline, outermost first:
//! request context (id, client ip, metrics, access log) → CORS → error rendering →
//! rate limit → body limit → text check (`crate::text`) → audit → routes.
//! Errors are rendered inside CORS so error responses carry CORS headers too.

use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use poem::PathPattern;
use poem::http::{HeaderValue, Method, header};
use poem::{Body, Endpoint, IntoResponse, Request, Response};
use poem_openapi::OperationId;
use uuid::Uuid;
use vigil_core::audit::{self, NewAuditEntry, Severity};
use vigil_core::auth::tokens;

use crate::error::{self, ApiError};
use crate::state::ApiState;

pub const REQUEST_ID_HEADER: &str = "x-request-id";

#[derive(Debug, Clone)]
pub struct RequestId(pub String);

#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub Option<IpAddr>);

fn state(req: &Request) -> poem::Result<Arc<ApiState>> {
    req.data::<Arc<ApiState>>()
        .cloned()
        .ok_or_else(|| ApiError::internal().into())
}

/// Accepts a caller's request id when it is short and plain, so ids can be traced across
/// services; otherwise makes one.
fn request_id_of(req: &Request) -> String {
    req.headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 128
                && v.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        })
        .map(String::from)
        .unwrap_or_else(|| Uuid::new_v4().to_string())
}

/// The caller's `User-Agent`, cut to a length fit for storing.
pub fn user_agent(req: &Request) -> Option<String> {
    req.headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.chars().take(512).collect())
}

/// The client's address: the peer's, or behind `hops` trusted proxies the `X-Forwarded-For`
/// entry that many places from the right. Each proxy appends the address it saw, so entries
/// further left were written by the client and prove nothing.
fn client_ip_of(req: &Request, hops: usize) -> Option<IpAddr> {
    let peer = req.remote_addr().as_socket_addr().map(|a| a.ip());
    if hops == 0 {
        return peer;
    }
    let forwarded: Vec<&str> = req
        .headers()
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    forwarded
        .len()
        .checked_sub(hops)
        .and_then(|i| forwarded[i].parse().ok())
        .or(peer)
}

/// Route label for metrics: the matched route's pattern (`/api/v1/users/:id`), so the label
/// set is bounded by the routes Vigil has, whatever paths clients send.
fn route_label(pattern: Option<&PathPattern>) -> String {
    pattern.map_or_else(|| "unmatched".into(), |p| p.0.to_string())
}

/// Method label for metrics: the methods Vigil serves, everything else as `OTHER`.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

pub async fn request_context<E: Endpoint>(ep: Arc<E>, mut req: Request) -> poem::Result<Response> {
    let state = state(&req)?;
    let started = Instant::now();
    let request_id = request_id_of(&req);
    let ip = client_ip_of(&req, state.ctx.config.proxy_hops());
    req.extensions_mut().insert(RequestId(request_id.clone()));
    req.extensions_mut().insert(ClientIp(ip));
    let method = req.method().clone();
    let path = req.uri().path().to_string();

    let (mut resp, route) = match ep.call(req).await {
        Ok(resp) => {
            let resp = resp.into_response();
            let route = route_label(resp.data::<PathPattern>());
            (resp, route)
        }
        Err(err) => {
            let route = route_label(err.data::<PathPattern>());
            (error::render(err, &request_id), route)
        }
    };
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        resp.headers_mut().insert(REQUEST_ID_HEADER, value);
    }

    let status = resp.status().as_u16();
    let elapsed = started.elapsed();
    let method_label = method_label(&method);
    metrics::counter!("vigil_http_requests_total", "method" => method_label, "route" => route.clone(), "status" => status.to_string()).increment(1);
    metrics::histogram!("vigil_http_request_duration_seconds", "method" => method_label, "route" => route).record(elapsed.as_secs_f64());
    tracing::info!(
        target: "vigil::http",
        %method, %path, status, elapsed_ms = elapsed.as_millis() as u64, request_id = %request_id,
        client = ip.map(|i| i.to_string()).unwrap_or_default(),
        "request"
    );
    Ok(resp)
}

/// Turns every error from the inner layers into the envelope.
pub async fn render_errors<E: Endpoint>(ep: Arc<E>, req: Request) -> poem::Result<Response> {
    let request_id = req
        .extensions()
        .get::<RequestId>()
        .map(|r| r.0.clone())
        .unwrap_or_default();
    Ok(match ep.call(req).await {
        Ok(resp) => resp.into_response(),
        Err(err) => error::render(err, &request_id),
    })
}

fn exempt_from_rate_limit(path: &str) -> bool {
    path.starts_with("/health/") || path == "/metrics"
}

pub async fn rate_limit<E: Endpoint>(ep: Arc<E>, req: Request) -> poem::Result<Response> {
    let state = state(&req)?;
    if !exempt_from_rate_limit(req.uri().path())
        && let Some(ClientIp(Some(ip))) = req.extensions().get::<ClientIp>().copied()
    {
        // Keep the per-client table bounded under many distinct clients.
        if state.limiter.len() > 50_000 {
            state.limiter.retain_recent();
        }
        if let Err(not_until) = state.limiter.check_key(&ip) {
            let wait = not_until.wait_time_from(governor::clock::Clock::now(
                &governor::clock::DefaultClock::default(),
            ));
            metrics::counter!("vigil_http_rate_limited_total").increment(1);
            return Err(ApiError::rate_limited(wait.as_secs().max(1)).into());
        }
    }
    Ok(ep.call(req).await?.into_response())
}

/// Rejects bodies over the limit with 413: early from `Content-Length`, or while reading a
/// body of unknown length (chunked), which is then buffered up to the limit.
pub async fn body_limit<E: Endpoint>(ep: Arc<E>, mut req: Request) -> poem::Result<Response> {
    let state = state(&req)?;
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return Ok(ep.call(req).await?.into_response());
    }
    // Uploads (photos, videos) have their own, larger limit and are never buffered here:
    // multipart parsing spools files to disk as they arrive.
    let upload = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"));
    if upload {
        let limit = state.ctx.config.max_upload_bytes;
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|len| len > limit) {
            return Err(ApiError::payload_too_large(limit).into());
        }
        if declared.is_none() {
            // Chunked: the body is cut one byte past the limit, so an oversized upload ends
            // as a malformed multipart body (400) instead of filling the disk.
            use tokio::io::AsyncReadExt;
            let body = req.take_body().into_async_read().take(limit + 1);
            req.set_body(Body::from_async_read(body));
        }
        return Ok(ep.call(req).await?.into_response());
    }
    let limit = state.ctx.config.max_body_bytes;
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    match declared {
        Some(len) if len > limit as u64 => {
            return Err(ApiError::payload_too_large(limit as u64).into());
        }
        Some(_) => {}
        None => {
            let body = req.take_body();
            match body.into_bytes_limit(limit).await {
                Ok(bytes) => req.set_body(Body::from_bytes(bytes)),
                Err(poem::error::ReadBodyError::PayloadTooLarge) => {
                    return Err(ApiError::payload_too_large(limit as u64).into());
                }
                Err(e) => {
                    return Err(ApiError::bad_request(format!(
                        "could not read the request body: {e}"
                    ))
                    .into());
                }
            }
        }
    }
    Ok(ep.call(req).await?.into_response())
}

/// What a handler knows about its mutation that the path does not say. (The action is the
/// route's `operation_id`, declared on every mutating route.)
#[derive(Debug, Default, Clone)]
pub struct AuditDetails {
    pub actor: Option<(Option<Uuid>, String, Option<String>)>,
    pub resource_id: Option<String>,
    pub message: Option<String>,
    pub context: Option<serde_json::Value>,
}

/// Put into each mutating request; handlers fill it through [`note`].
#[derive(Debug, Default, Clone)]
pub struct AuditNote(Arc<Mutex<AuditDetails>>);

/// Lets a handler add detail to its request's audit row.
pub fn note(req: &Request, f: impl FnOnce(&mut AuditDetails)) {
    if let Some(n) = req.extensions().get::<AuditNote>()
        && let Ok(mut details) = n.0.lock()
    {
        f(&mut details);
    }
}

fn is_mutation(method: &Method) -> bool {
    matches!(
        *method,
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    )
}

/// Writes an audit row for every mutating API request, whatever its outcome, before the
/// response leaves.
pub async fn audit<E: Endpoint>(ep: Arc<E>, mut req: Request) -> poem::Result<Response> {
    let path = req.uri().path().to_string();
    if !is_mutation(req.method()) || !path.starts_with("/api/v1/") {
        return Ok(ep.call(req).await?.into_response());
    }
    let state = state(&req)?;
    let note = AuditNote::default();
    req.extensions_mut().insert(note.clone());
    let method = req.method().clone();
    let request_id = req
        .extensions()
        .get::<RequestId>()
        .map(|r| r.0.clone())
        .unwrap_or_default();
    let ip = req.extensions().get::<ClientIp>().and_then(|c| c.0);
    let user_agent = user_agent(&req);
    let token_actor = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .and_then(|t| tokens::verify_access_token(&state.ctx.secrets, t).ok())
        .map(|c| (Some(c.sub), c.email, Some(c.role)));

    let result = ep.call(req).await.map(IntoResponse::into_response);
    let (status, operation) = match &result {
        Ok(resp) => (resp.status(), resp.data::<OperationId>().copied()),
        Err(err) => (err.status(), err.data::<OperationId>().copied()),
    };

    let details = note.0.lock().map(|d| d.clone()).unwrap_or_default();
    let (actor_id, actor, actor_role) =
        details
            .actor
            .or(token_actor)
            .unwrap_or((None, "anonymous".into(), None));
    let mut segments = path.trim_start_matches("/api/v1/").split('/');
    let resource_type = segments.next().filter(|s| !s.is_empty()).map(String::from);
    let path_id = segments.next().map(String::from);
    let severity = match status {
        s if s.is_server_error() => Severity::Critical,
        s if s.is_client_error() => Severity::Warning,
        _ => Severity::Info,
    };
    // Requests refused before reaching a route (body too large, rate limited, unknown path)
    // have no operation: they are named by method and path.
    let action = operation.map_or_else(|| format!("{method} {path}"), |op| op.0.to_string());
    let entry = NewAuditEntry {
        id: Uuid::now_v7(),
        message: details
            .message
            .unwrap_or_else(|| format!("{action} → {}", status.as_u16())),
        actor,
        actor_id,
        actor_role,
        action,
        resource_type,
        resource_id: details.resource_id.or(path_id),
        context: details.context,
        severity,
        status_code: status.as_u16() as i32,
        ip_address: ip.map(|i| i.to_string()),
        user_agent,
        request_id,
    };
    match state.ctx.db.get().await {
        Ok(mut conn) => {
            if let Err(e) = audit::record(&mut conn, entry).await {
                tracing::error!(error = %e, "could not write audit row");
            }
        }
        Err(e) => tracing::error!(error = %e, "could not write audit row"),
    }
    result
}
