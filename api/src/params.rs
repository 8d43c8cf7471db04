//! Inputs shared by many routes. `Paging` is every list route's `page`/`pageSize`: one
//! extractor, documented in OpenAPI as a form-exploded object parameter (so the two keys stay
//! plain `?page=2&pageSize=50`), validated into a core `PageRequest`. `Choice` is an enum
//! input validated like the rest.

use std::borrow::Cow;

use poem::{Request, RequestBody};
use poem_openapi::registry::{MetaParamIn, MetaSchemaRef, Registry};
use poem_openapi::types::{ParseFromJSON, ParseFromParameter, ParseResult, ToJSON, Type};
use poem_openapi::{ApiExtractor, ApiExtractorType, ExtractParamOptions, Object};
use serde::Deserialize;
use vigil_core::db::PageRequest;
use vigil_core::db::text_enum::TextEnum;

use crate::error::ApiError;

/// Which page of a list: `page` (from 1, default 1) and `pageSize` (1–100, default 20).
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct PageQuery {
    /// Page number, from 1.
    #[oai(validator(minimum(value = "1")))]
    pub page: Option<u32>,
    /// Items per page (default 20).
    #[oai(validator(minimum(value = "1"), maximum(value = "100")))]
    pub page_size: Option<u32>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawPage {
    page: Option<String>,
    page_size: Option<String>,
}

/// The validated page of a list route.
#[derive(Debug, Clone, Copy)]
pub struct Paging(pub PageRequest);

impl<'a> ApiExtractor<'a> for Paging {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::Parameter];
    type ParamType = ();
    type ParamRawType = ();

    fn register(registry: &mut Registry) {
        PageQuery::register(registry);
    }

    fn param_in() -> Option<MetaParamIn> {
        Some(MetaParamIn::Query)
    }

    fn param_schema_ref() -> Option<MetaSchemaRef> {
        Some(PageQuery::schema_ref())
    }

    async fn from_request(
        request: &'a Request,
        _body: &mut RequestBody,
        _opts: ExtractParamOptions<()>,
    ) -> poem::Result<Self> {
        let raw: RawPage = request
            .params()
            .map_err(|e| ApiError::bad_request(e.to_string()))?;
        let number = |name: &'static str, v: Option<String>| -> Result<Option<u32>, ApiError> {
            v.map(|v| {
                v.parse::<u32>().map_err(|_| {
                    ApiError::bad_request(format!(
                        "failed to parse parameter `{name}`: not a whole number: {v:?}"
                    ))
                })
            })
            .transpose()
        };
        let page = number("page", raw.page)?;
        let size = number("pageSize", raw.page_size)?;
        Ok(Paging(
            PageRequest::new(page, size).map_err(ApiError::from)?,
        ))
    }
}

/// An enum input (a query parameter or a JSON field) whose schema is the enum's, but whose
/// wrong values become a 422 naming the accepted ones when the handler takes it
/// ([`Choice::get`]), like every other validation error; poem-openapi's own parse error would
/// be a 400 with a generic message.
#[derive(Debug, Clone)]
pub struct Choice<E>(Result<E, String>);

impl<E: TextEnum> Choice<E> {
    /// A valid choice (for responses that reuse an input type).
    pub fn of(value: E) -> Self {
        Choice(Ok(value))
    }

    pub fn get(self, field: &'static str) -> Result<E, ApiError> {
        self.0.map_err(|given| {
            ApiError::validation(field, format!("must be {}, not {given}", E::expected()))
        })
    }
}

impl<E: Type> Type for Choice<E> {
    const IS_REQUIRED: bool = E::IS_REQUIRED;
    type RawValueType = E::RawValueType;
    type RawElementValueType = E::RawElementValueType;

    fn name() -> Cow<'static, str> {
        E::name()
    }

    fn schema_ref() -> MetaSchemaRef {
        E::schema_ref()
    }

    fn register(registry: &mut Registry) {
        E::register(registry);
    }

    fn as_raw_value(&self) -> Option<&Self::RawValueType> {
        self.0.as_ref().ok().and_then(Type::as_raw_value)
    }

    fn raw_element_iter<'a>(
        &'a self,
    ) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
        match &self.0 {
            Ok(e) => e.raw_element_iter(),
            Err(_) => Box::new(std::iter::empty()),
        }
    }
}

impl<E: ParseFromParameter> ParseFromParameter for Choice<E> {
    fn parse_from_parameter(value: &str) -> ParseResult<Self> {
        Ok(Choice(
            E::parse_from_parameter(value).map_err(|_| format!("{value:?}")),
        ))
    }
}

impl<E: ParseFromJSON> ParseFromJSON for Choice<E> {
    fn parse_from_json(value: Option<serde_json::Value>) -> ParseResult<Self> {
        let given = value.as_ref().map(ToString::to_string).unwrap_or_default();
        Ok(Choice(E::parse_from_json(value).map_err(|_| given)))
    }
}

impl<E: ToJSON> ToJSON for Choice<E> {
    fn to_json(&self) -> Option<serde_json::Value> {
        self.0.as_ref().ok().and_then(ToJSON::to_json)
    }
}
