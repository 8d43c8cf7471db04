//! The response envelope of the API contract (seeds/004): `{"success", "data", "meta"}` on
//! success, `{"success": false, "error": {"code", "message", "details"}, "requestId"}` on error.

use poem_openapi::types::{ParseFromJSON, ToJSON};
use poem_openapi::{ApiResponse, Object, payload::Json};

use crate::error::ApiError;

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

pub fn page<T: ParseFromJSON + ToJSON>(items: Vec<T>, page: &Page, total: i64) -> Ok<Vec<T>> {
    let total_pages = if total == 0 {
        0
    } else {
        ((total + page.size as i64 - 1) / page.size as i64) as u32
    };
    Json(Envelope {
        success: true,
        data: items,
        meta: Some(Meta {
            page: page.number,
            page_size: page.size,
            total,
            total_pages,
        }),
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

pub const DEFAULT_PAGE_SIZE: u32 = 20;
pub const MAX_PAGE_SIZE: u32 = 100;

/// A validated `page`/`pageSize` pair.
#[derive(Debug, Clone, Copy)]
pub struct Page {
    pub number: u32,
    pub size: u32,
}

impl Page {
    pub fn new(page: Option<u32>, page_size: Option<u32>) -> Result<Self, ApiError> {
        let number = page.unwrap_or(1);
        let size = page_size.unwrap_or(DEFAULT_PAGE_SIZE);
        if number == 0 {
            return Err(ApiError::validation("page", "must be at least 1"));
        }
        if size == 0 || size > MAX_PAGE_SIZE {
            return Err(ApiError::validation(
                "pageSize",
                format!("must be between 1 and {MAX_PAGE_SIZE}"),
            ));
        }
        Ok(Self { number, size })
    }

    pub fn offset(&self) -> i64 {
        (self.number as i64 - 1) * self.size as i64
    }

    pub fn limit(&self) -> i64 {
        self.size as i64
    }
}
