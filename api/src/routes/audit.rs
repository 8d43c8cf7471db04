use std::sync::Arc;

use chrono::{DateTime, Utc};
use poem::Request;
use poem_openapi::param::{Header, Query};
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};
use uuid::Uuid;
use vigil_core::audit::{self, AuditEntry, AuditFilter};
use vigil_core::exports::{ExportFilters, ExportRequest};
use vigil_core::jobs::{NewJob, kinds};

use super::{Tag, conn};
use crate::auth::BearerAuth;
use crate::envelope::{self, Ok, Page};
use crate::error::{ApiError, ApiResult};
use crate::middleware::note;
use crate::routes::jobs::{Accepted, submit};
use crate::state::ApiState;

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct AuditEntryDto {
    pub id: Uuid,
    pub actor: String,
    pub actor_id: Option<Uuid>,
    pub actor_role: Option<String>,
    pub action: String,
    pub resource_type: Option<String>,
    pub resource_id: Option<String>,
    pub message: String,
    pub context: Option<serde_json::Value>,
    /// `info`, `warning` or `critical`.
    pub severity: String,
    pub status_code: i32,
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: String,
    pub timestamp: DateTime<Utc>,
}

impl From<AuditEntry> for AuditEntryDto {
    fn from(e: AuditEntry) -> Self {
        Self {
            id: e.id,
            actor: e.actor,
            actor_id: e.actor_id,
            actor_role: e.actor_role,
            action: e.action,
            resource_type: e.resource_type,
            resource_id: e.resource_id,
            message: e.message,
            context: e.context,
            severity: e.severity,
            status_code: e.status_code,
            ip_address: e.ip_address,
            user_agent: e.user_agent,
            request_id: e.request_id,
            timestamp: e.timestamp,
        }
    }
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct AuditExportRequest {
    /// `csv` or `pdf`.
    pub format: String,
    pub actor: Option<String>,
    pub action: Option<String>,
    pub resource_type: Option<String>,
    pub resource_id: Option<String>,
    pub severity: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

pub struct AuditApi {
    pub state: Arc<ApiState>,
}

#[OpenApi(prefix_path = "/api/v1/audit", tag = "Tag::Audit")]
impl AuditApi {
    /// The audit log, newest first.
    #[allow(clippy::too_many_arguments)]
    #[oai(path = "/", method = "get")]
    async fn list(
        &self,
        auth: BearerAuth,
        actor: Query<Option<String>>,
        action: Query<Option<String>>,
        #[oai(name = "resourceType")] resource_type: Query<Option<String>>,
        #[oai(name = "resourceId")] resource_id: Query<Option<String>>,
        severity: Query<Option<String>>,
        from: Query<Option<DateTime<Utc>>>,
        to: Query<Option<DateTime<Utc>>>,
        page: Query<Option<u32>>,
        #[oai(name = "pageSize")] page_size: Query<Option<u32>>,
    ) -> ApiResult<Ok<Vec<AuditEntryDto>>> {
        auth.0.require("audit:read")?;
        let page = Page::new(page.0, page_size.0)?;
        let filter = AuditFilter {
            actor: actor.0,
            action: action.0,
            resource_type: resource_type.0,
            resource_id: resource_id.0,
            severity: severity.0,
            from: from.0,
            to: to.0,
        };
        let mut conn = conn(&self.state).await?;
        let (items, total) = audit::list(&mut conn, &filter, page.offset(), page.limit()).await?;
        Ok(envelope::page(
            items.into_iter().map(Into::into).collect(),
            &page,
            total,
        ))
    }

    /// Export the audit log as CSV or PDF (an `export` job); the job's result holds the
    /// download URL.
    #[oai(path = "/export", method = "post")]
    async fn export(
        &self,
        req: &Request,
        auth: BearerAuth,
        #[oai(name = "Idempotency-Key")] idempotency_key: Header<Option<String>>,
        body: Json<AuditExportRequest>,
    ) -> ApiResult<Accepted> {
        note(req, |n| n.action = Some("audit.export".into()));
        auth.0.require("audit:read")?;
        let b = body.0;
        if b.format != "csv" && b.format != "pdf" {
            return Err(ApiError::validation("format", "must be csv or pdf"));
        }
        let request = ExportRequest {
            format: b.format,
            source: "audit".into(),
            filters: ExportFilters {
                actor: b.actor,
                action: b.action,
                resource_type: b.resource_type,
                resource_id: b.resource_id,
                severity: b.severity,
                from: b.from,
                to: b.to,
                search_id: None,
            },
        };
        let payload = serde_json::to_value(request).map_err(|_| ApiError::internal())?;
        submit(
            &self.state,
            req,
            &auth.0,
            NewJob::new(&kinds::EXPORT, payload),
            idempotency_key.0,
        )
        .await
    }
}
