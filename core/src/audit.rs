//! The audit log: one row per mutating request (actor, action, resource, outcome, client).

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::Serialize;
use uuid::Uuid;

use crate::db::paginate::{PageRequest, Paged, Paginate};
use crate::db::schema::audit_logs;
use crate::error::Result;
pub use crate::severity::Severity;

/// One audit row, as stored and as the API shows it.
#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = audit_logs, check_for_backend(diesel::pg::Pg))]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
#[cfg_attr(feature = "openapi", oai(rename_all = "camelCase"))]
pub struct AuditEntry {
    pub id: Uuid,
    pub actor: String,
    pub actor_id: Option<Uuid>,
    pub actor_role: Option<String>,
    pub action: String,
    pub resource_type: Option<String>,
    pub resource_id: Option<String>,
    pub message: String,
    pub context: Option<serde_json::Value>,
    pub severity: Severity,
    pub status_code: i32,
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: String,
    pub timestamp: DateTime<Utc>,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = audit_logs)]
pub struct NewAuditEntry {
    pub id: Uuid,
    pub actor: String,
    pub actor_id: Option<Uuid>,
    pub actor_role: Option<String>,
    pub action: String,
    pub resource_type: Option<String>,
    pub resource_id: Option<String>,
    pub message: String,
    pub context: Option<serde_json::Value>,
    pub severity: Severity,
    pub status_code: i32,
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: String,
}

#[derive(Debug, Default, Clone, Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditFilter {
    pub actor: Option<String>,
    pub action: Option<String>,
    pub resource_type: Option<String>,
    pub resource_id: Option<String>,
    pub severity: Option<Severity>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

pub async fn record(conn: &mut AsyncPgConnection, entry: NewAuditEntry) -> Result<()> {
    diesel::insert_into(audit_logs::table)
        .values(entry)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn list(
    conn: &mut AsyncPgConnection,
    filter: &AuditFilter,
    page: PageRequest,
) -> Result<Paged<AuditEntry>> {
    let mut q = audit_logs::table.into_boxed();
    if let Some(v) = &filter.actor {
        q = q.filter(audit_logs::actor.eq(v.clone()));
    }
    if let Some(v) = &filter.action {
        q = q.filter(audit_logs::action.eq(v.clone()));
    }
    if let Some(v) = &filter.resource_type {
        q = q.filter(audit_logs::resource_type.eq(v.clone()));
    }
    if let Some(v) = &filter.resource_id {
        q = q.filter(audit_logs::resource_id.eq(v.clone()));
    }
    if let Some(v) = filter.severity {
        q = q.filter(audit_logs::severity.eq(v));
    }
    if let Some(v) = filter.from {
        q = q.filter(audit_logs::timestamp.ge(v));
    }
    if let Some(v) = filter.to {
        q = q.filter(audit_logs::timestamp.lt(v));
    }
    q.order((audit_logs::timestamp.desc(), audit_logs::id.desc()))
        .select(AuditEntry::as_select())
        .paginate(page)
        .load_page(conn)
        .await
}

/// Deletes rows older than `cutoff` (retention).
pub async fn purge_before(conn: &mut AsyncPgConnection, cutoff: DateTime<Utc>) -> Result<usize> {
    Ok(
        diesel::delete(audit_logs::table.filter(audit_logs::timestamp.lt(cutoff)))
            .execute(conn)
            .await?,
    )
}
