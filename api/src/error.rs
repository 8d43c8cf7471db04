//! API errors. Handlers return `ApiError`; every error leaving the routes — ours, poem's
//! (unknown route, bad JSON) or poem-openapi's (parameter parsing, missing auth) — is rendered
//! into the error envelope by [`render`], with the request id.

use poem::http::{StatusCode, header};
use poem::{IntoResponse, Response};
use poem_openapi::ApiResponse;
use poem_openapi::error::{ParseParamError, ParseRequestPayloadError};
use poem_openapi::registry::{MetaMediaType, MetaResponse, MetaResponses, Registry};
use poem_openapi::types::{ToJSON, Type};
use serde_json::json;
use vigil_core::Error as CoreError;

use crate::envelope::{ErrorBody, ErrorEnvelope};

#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub details: Option<serde_json::Value>,
    pub retry_after_secs: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            details: None,
            retry_after_secs: None,
        }
    }

    pub fn with_details(mut self, details: serde_json::Value) -> Self {
        self.details = Some(details);
        self
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "BAD_REQUEST", message)
    }

    pub fn validation(field: &str, issue: impl Into<String>) -> Self {
        let issue = issue.into();
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "VALIDATION_ERROR",
            format!("{field}: {issue}"),
        )
        .with_details(json!({ "field": field, "issue": issue }))
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "FORBIDDEN", message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "NOT_FOUND", message)
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "CONFLICT", message)
    }

    pub fn payload_too_large(limit: u64) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "PAYLOAD_TOO_LARGE",
            format!("request body exceeds the limit of {limit} bytes"),
        )
        .with_details(json!({ "limitBytes": limit }))
    }

    pub fn rate_limited(retry_after_secs: u64) -> Self {
        let mut err = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "RATE_LIMITED",
            "too many requests; slow down",
        );
        err.retry_after_secs = Some(retry_after_secs);
        err
    }

    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "SERVICE_UNAVAILABLE",
            message,
        )
    }

    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL_ERROR",
            "internal server error",
        )
    }
}

impl From<CoreError> for ApiError {
    fn from(err: CoreError) -> Self {
        match err {
            CoreError::NotFound(m) => ApiError::not_found(m),
            CoreError::Conflict(m) => ApiError::conflict(m),
            CoreError::Validation { message, field } => match field {
                Some(field) => ApiError::validation(field, message),
                None => ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "VALIDATION_ERROR",
                    message,
                ),
            },
            CoreError::Unauthorized(m) => ApiError::unauthorized(m),
            CoreError::Forbidden(m) => ApiError::forbidden(m),
            CoreError::Unavailable { service, message } => {
                tracing::warn!(service, %message, "dependency unavailable");
                let mut err = ApiError::unavailable(format!("{service} is unavailable"));
                err.retry_after_secs = Some(5);
                err
            }
            CoreError::Config(m) => {
                tracing::error!(error = %m, "configuration error");
                ApiError::internal()
            }
            CoreError::Internal(e) => {
                tracing::error!(error = format!("{e:#}"), "internal error");
                ApiError::internal()
            }
        }
    }
}

impl poem::error::ResponseError for ApiError {
    fn status(&self) -> StatusCode {
        self.status
    }
}

/// Error statuses every operation documents: the envelope schema for each.
const DOCUMENTED: &[(u16, &str)] = &[
    (
        400,
        "Malformed request (bad JSON, wrong types, bad parameters)",
    ),
    (401, "Missing, invalid or expired credentials"),
    (403, "Authenticated but not permitted"),
    (404, "Not found"),
    (409, "Conflicts with the current state"),
    (413, "Request body too large"),
    (415, "Unsupported content type"),
    (422, "Well-formed but invalid input"),
    (429, "Rate limited; see Retry-After"),
    (503, "A dependency is unavailable"),
];

impl ApiResponse for ApiError {
    fn meta() -> MetaResponses {
        MetaResponses {
            responses: DOCUMENTED
                .iter()
                .map(|(status, description)| MetaResponse {
                    description,
                    status: Some(*status),
                    status_range: None,
                    content: vec![MetaMediaType {
                        content_type: "application/json; charset=utf-8",
                        schema: ErrorEnvelope::schema_ref(),
                    }],
                    headers: vec![],
                })
                .collect(),
        }
    }

    fn register(registry: &mut Registry) {
        ErrorEnvelope::register(registry);
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        render_api_error(&self, "")
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

fn code_for(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "BAD_REQUEST",
        401 => "UNAUTHORIZED",
        403 => "FORBIDDEN",
        404 => "NOT_FOUND",
        405 => "METHOD_NOT_ALLOWED",
        409 => "CONFLICT",
        413 => "PAYLOAD_TOO_LARGE",
        415 => "UNSUPPORTED_MEDIA_TYPE",
        422 => "VALIDATION_ERROR",
        429 => "RATE_LIMITED",
        503 => "SERVICE_UNAVAILABLE",
        s if s >= 500 => "INTERNAL_ERROR",
        _ => "ERROR",
    }
}

fn render_api_error(err: &ApiError, request_id: &str) -> Response {
    let body = ErrorEnvelope {
        success: false,
        error: ErrorBody {
            code: err.code.to_string(),
            message: err.message.clone(),
            details: err.details.clone(),
        },
        request_id: request_id.to_string(),
    };
    let mut resp = Response::builder()
        .status(err.status)
        .content_type("application/json; charset=utf-8")
        .body(serde_json::to_vec(&body.to_json()).unwrap_or_default());
    if let Some(secs) = err.retry_after_secs
        && let Ok(value) = secs.to_string().parse()
    {
        resp.headers_mut().insert(header::RETRY_AFTER, value);
    }
    resp
}

/// A value that broke a constraint the OpenAPI document states (length, range, items): well
/// formed but invalid, so a 422 like the checks handlers make, naming the field. poem-openapi
/// reports these as 400 parse errors whose reason says "verification failed".
fn constraint_failure(err: &poem::Error) -> Option<ApiError> {
    let (reason, param) = if let Some(e) = err.downcast_ref::<ParseRequestPayloadError>() {
        (e.reason.as_str(), None)
    } else if let Some(e) = err.downcast_ref::<ParseParamError>() {
        (e.reason.as_str(), Some(e.name))
    } else {
        return None;
    };
    let at = reason.find("verification failed")?;
    let field = reason[..at]
        .rsplit_once("field `")
        .and_then(|(_, rest)| rest.split('`').next())
        .or(param)
        .unwrap_or("body");
    let rule = reason[at..]
        .trim_start_matches("verification failed.")
        .trim();
    Some(ApiError::validation(field, format!("must satisfy {rule}")))
}

/// Renders any poem error into the envelope. Internal details of 5xx errors are logged, never
/// sent to the client.
pub fn render(err: poem::Error, request_id: &str) -> Response {
    if let Some(api) = err.downcast_ref::<ApiError>() {
        return render_api_error(api, request_id);
    }
    if let Some(api) = constraint_failure(&err) {
        return render_api_error(&api, request_id);
    }
    let status = err.status();
    let message = if status.is_server_error() {
        tracing::error!(error = %err, request_id, "unhandled error");
        "internal server error".to_string()
    } else {
        err.to_string()
    };
    render_api_error(
        &ApiError::new(status, code_for(status), message),
        request_id,
    )
}
