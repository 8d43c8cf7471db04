//! `/audit`: the audit log and its exports.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use poem::Request;
use poem_openapi::param::{Header, Query};
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};
use vigil_core::audit::{self, AuditEntry, AuditFilter, Severity};
use vigil_core::auth::Permission;
use vigil_core::exports::{ExportFormat, ExportRequest, ExportSource};
use vigil_core::jobs::NewJob;

use super::{Tag, conn};
use crate::auth::BearerAuth;
use crate::envelope::{self, Ok};
use crate::error::ApiResult;
use crate::params::{Choice, Paging};
use crate::routes::jobs::{Accepted, submit};
use crate::state::ApiState;

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct AuditExportRequest {
    pub format: Choice<ExportFormat>,
    pub actor: Option<String>,
    pub action: Option<String>,
    pub resource_type: Option<String>,
    pub resource_id: Option<String>,
    pub severity: Option<Choice<Severity>>,
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
        severity: Query<Option<Choice<Severity>>>,
        from: Query<Option<DateTime<Utc>>>,
        to: Query<Option<DateTime<Utc>>>,
        paging: Paging,
    ) -> ApiResult<Ok<Vec<AuditEntry>>> {
        auth.0.require(Permission::AuditRead)?;
        let filter = AuditFilter {
            actor: actor.0,
            action: action.0,
            resource_type: resource_type.0,
            resource_id: resource_id.0,
            severity: severity.0.map(|s| s.get("severity")).transpose()?,
            from: from.0,
            to: to.0,
        };
        let mut conn = conn(&self.state).await?;
        let page = audit::list(&mut conn, &filter, paging.0).await?;
        Ok(envelope::page(page))
    }

    /// Export the audit log as CSV or PDF (an `export` job); the job's result holds the
    /// download URL.
    #[oai(path = "/export", method = "post", operation_id = "audit.export")]
    async fn export(
        &self,
        req: &Request,
        auth: BearerAuth,
        #[oai(name = "Idempotency-Key")] idempotency_key: Header<Option<String>>,
        body: Json<AuditExportRequest>,
    ) -> ApiResult<Accepted> {
        auth.0.require(Permission::AuditRead)?;
        let b = body.0;
        let request = ExportRequest {
            format: b.format.get("format")?,
            source: ExportSource::Audit(AuditFilter {
                actor: b.actor,
                action: b.action,
                resource_type: b.resource_type,
                resource_id: b.resource_id,
                severity: b.severity.map(|s| s.get("severity")).transpose()?,
                from: b.from,
                to: b.to,
            }),
        };
        submit(
            &self.state,
            req,
            &auth.0,
            NewJob::of(&request),
            idempotency_key.0,
        )
        .await
    }
}
