//! The response envelope of the API contract (seeds/004): `{"success", "data", "meta"}` on
//! success, `{"success": false, "error": {"code", "message", "details"}, "requestId"}` on error.

use poem_openapi::types::{ParseFromJSON, ToJSON};
use poem_openapi::{ApiResponse, Object, payload::Json};
use vigil_core::db::Paged;

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct Meta {
    pub page: u32,
    pub page_size: u32,
    pub total: i64,
    pub total_pages: u32,
}

#[derive(Debug, Clone, Object)]
pub struct Envelope<T: ParseFromJSON + ToJSON> {
    pub success: bool,
    pub data: T,
    #[oai(skip_serializing_if_is_none)]
    pub meta: Option<Meta>,
}

/// A 200 response in the envelope.
pub type Ok<T> = Json<Envelope<T>>;

pub fn ok<T: ParseFromJSON + ToJSON>(data: T) -> Ok<T> {
    Json(Envelope {
        success: true,
        data,
        meta: None,
    })
}

/// A page of a list, with its `meta`.
pub fn page<T: ParseFromJSON + ToJSON>(paged: Paged<T>) -> Ok<Vec<T>> {
    let meta = Meta {
        page: paged.page.number,
        page_size: paged.page.size,
        total: paged.total,
        total_pages: paged.total_pages(),
    };
    Json(Envelope {
        success: true,
        data: paged.items,
        meta: Some(meta),
    })
}

#[derive(ApiResponse)]
pub enum Created<T: ParseFromJSON + ToJSON + Send + Sync> {
    #[oai(status = 201)]
    Created(Json<Envelope<T>>),
}

pub fn created<T: ParseFromJSON + ToJSON + Send + Sync>(data: T) -> Created<T> {
    Created::Created(ok(data))
}

#[derive(ApiResponse)]
pub enum NoContent {
    #[oai(status = 204)]
    NoContent,
}

#[derive(Debug, Clone, Object)]
pub struct ErrorBody {
    /// Stable machine-readable code, e.g. `VALIDATION_ERROR`.
    pub code: String,
    pub message: String,
    #[oai(skip_serializing_if_is_none)]
    pub details: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct ErrorEnvelope {
    pub success: bool,
    pub error: ErrorBody,
    pub request_id: String,
}
