//! Multipart uploads that are read only after the handler has authorized the caller. poem's
//! own multipart extractor parses the whole body (text fields into memory, files into temp
//! files) before a handler runs, so a caller without the permission could still fill memory
//! and disk. `MultipartBody<T>` takes the body unread (`T`, a poem-openapi `Multipart` type,
//! only documents the form); the handler checks permissions, takes an upload slot, then reads
//! the parts one at a time under limits: which fields, how many parts, how large each text
//! field and the whole body may be. Files are streamed on to storage by the caller.

use std::marker::PhantomData;
use std::sync::Arc;

use bytes::Bytes;
use futures::{Stream, StreamExt, TryStreamExt};
use poem::{Body, Request, RequestBody};
use poem_openapi::payload::Payload;
use poem_openapi::registry::{MetaMediaType, MetaRequest, Registry};
use poem_openapi::{ApiExtractor, ApiExtractorType, ExtractParamOptions};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::ApiError;

/// Longest accepted text field (titles, descriptions): longer ones are refused with 413.
pub const MAX_TEXT_FIELD_BYTES: u64 = 16 * 1024;

/// The body of a multipart route, not read yet.
pub struct MultipartBody<T> {
    body: Body,
    boundary: String,
    _form: PhantomData<fn() -> T>,
}

impl<'a, T: Payload> ApiExtractor<'a> for MultipartBody<T> {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::RequestObject];
    type ParamType = ();
    type ParamRawType = ();

    fn register(registry: &mut Registry) {
        T::register(registry);
    }

    fn request_meta() -> Option<MetaRequest> {
        Some(MetaRequest {
            description: None,
            content: vec![MetaMediaType {
                content_type: T::CONTENT_TYPE,
                schema: T::schema_ref(),
            }],
            required: true,
        })
    }

    async fn from_request(
        request: &'a Request,
        body: &mut RequestBody,
        _opts: ExtractParamOptions<()>,
    ) -> poem::Result<Self> {
        let content_type = request.content_type().unwrap_or_default();
        let boundary = multer::parse_boundary(content_type).map_err(|_| {
            ApiError::new(
                poem::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "UNSUPPORTED_MEDIA_TYPE",
                "expected a multipart/form-data body",
            )
        })?;
        Ok(Self {
            body: body.take()?,
            boundary,
            _form: PhantomData,
        })
    }
}

/// What one route accepts.
#[derive(Debug, Clone)]
pub struct FormLimits {
    /// Text fields by name (each at most [`MAX_TEXT_FIELD_BYTES`]).
    pub text_fields: &'static [&'static str],
    /// File fields by name.
    pub file_fields: &'static [&'static str],
    /// Most parts in one body.
    pub max_parts: usize,
    /// Largest file part.
    pub max_file_bytes: u64,
    /// Largest whole body.
    pub max_total_bytes: u64,
}

impl<T> MultipartBody<T> {
    /// Starts reading the parts under `limits`.
    pub fn read(self, limits: FormLimits) -> Form {
        let mut sizes = multer::SizeLimit::new()
            .whole_stream(limits.max_total_bytes)
            .per_field(limits.max_file_bytes);
        for name in limits.text_fields {
            sizes = sizes.for_field(*name, MAX_TEXT_FIELD_BYTES);
        }
        let allowed: Vec<&str> = limits
            .text_fields
            .iter()
            .chain(limits.file_fields)
            .copied()
            .collect();
        let constraints = multer::Constraints::new()
            .allowed_fields(allowed)
            .size_limit(sizes);
        let stream = self.body.into_bytes_stream();
        Form {
            parts: multer::Multipart::with_constraints(stream, self.boundary, constraints),
            seen: 0,
            limits,
        }
    }
}

/// The parts of a body, one at a time.
pub struct Form {
    parts: multer::Multipart<'static>,
    seen: usize,
    limits: FormLimits,
}

impl Form {
    /// The next part, or `None` at the end of the body.
    pub async fn next(&mut self) -> Result<Option<Part>, ApiError> {
        let Some(field) = self.parts.next_field().await.map_err(form_error)? else {
            return Ok(None);
        };
        self.seen += 1;
        if self.seen > self.limits.max_parts {
            return Err(ApiError::validation(
                "body",
                format!("at most {} parts per request", self.limits.max_parts),
            ));
        }
        Ok(Some(Part { field }))
    }
}

/// One part of a multipart body.
pub struct Part {
    field: multer::Field<'static>,
}

impl Part {
    pub fn name(&self) -> &str {
        self.field.name().unwrap_or_default()
    }

    /// The file name the client gave, if any, without any directory.
    pub fn file_name(&self) -> Option<String> {
        self.field
            .file_name()
            .map(|n| n.rsplit(['/', '\\']).next().unwrap_or(n))
            // A name is only shown back: control characters (NUL, which the database refuses,
            // among them) are dropped rather than failing the upload.
            .map(|n| n.chars().filter(|c| !c.is_control()).collect::<String>())
            .filter(|n| !n.is_empty())
    }

    pub fn content_type(&self) -> Option<String> {
        self.field.content_type().map(ToString::to_string)
    }

    /// A text field: UTF-8 without NUL characters (PostgreSQL refuses NUL in text).
    pub async fn text(self) -> Result<String, ApiError> {
        let name = self.name().to_string();
        let bytes = self.field.bytes().await.map_err(form_error)?;
        let text = String::from_utf8(bytes.to_vec())
            .map_err(|_| ApiError::validation(&name, "must be UTF-8 text"))?;
        crate::text::check(&name, &text)?;
        Ok(text)
    }

    /// A file field, whole (bounded by the route's file limit).
    pub async fn bytes(self) -> Result<Bytes, ApiError> {
        self.field.bytes().await.map_err(form_error)
    }

    /// A file field as a stream of chunks, for streaming into storage.
    pub fn into_stream(self) -> impl Stream<Item = std::io::Result<Bytes>> + Send + 'static {
        self.field
            .map_err(|e| std::io::Error::other(form_error(e).message))
            .boxed()
    }
}

fn form_error(e: multer::Error) -> ApiError {
    use multer::Error as E;
    match e {
        E::FieldSizeExceeded { limit, field_name } => ApiError::new(
            poem::http::StatusCode::PAYLOAD_TOO_LARGE,
            "PAYLOAD_TOO_LARGE",
            format!(
                "field {} is larger than {limit} bytes",
                field_name.unwrap_or_default()
            ),
        )
        .with_details(serde_json::json!({ "limitBytes": limit })),
        E::StreamSizeExceeded { limit } => ApiError::payload_too_large(limit),
        E::UnknownField { field_name } => ApiError::validation(
            field_name.as_deref().unwrap_or_default(),
            "is not a field of this form",
        ),
        other => ApiError::bad_request(format!("malformed multipart body: {other}")),
    }
}

/// Bounds how many uploads one API process reads at once, so a burst of large uploads cannot
/// exhaust its connections to storage or its memory for part buffers.
#[derive(Clone)]
pub struct UploadSlots(Arc<Semaphore>);

impl UploadSlots {
    pub fn new(n: usize) -> Self {
        Self(Arc::new(Semaphore::new(n.max(1))))
    }

    /// A slot, or 429 when every slot is taken.
    pub fn take(&self) -> Result<OwnedSemaphorePermit, ApiError> {
        self.0.clone().try_acquire_owned().map_err(|_| {
            let mut e = ApiError::rate_limited(5);
            e.message = "too many uploads in progress; retry shortly".into();
            e
        })
    }
}
