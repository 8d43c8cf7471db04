//! Files made by export jobs. The row ties the storage object to its job, so retention deletes
//! both.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::audit::AuditFilter;
use crate::db::schema::exports;
use crate::error::Result;

/// What to export; the payload of an `export` job.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExportRequest {
    /// `csv` or `pdf`.
    pub format: String,
    /// What the rows come from. `audit` today; attendance and search results reuse the exporter.
    pub source: String,
    #[serde(default)]
    pub filters: ExportFilters,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExportFilters {
    pub actor: Option<String>,
    pub action: Option<String>,
    pub resource_type: Option<String>,
    pub resource_id: Option<String>,
    pub severity: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    /// Source `search`: the search whose appearances are exported.
    pub search_id: Option<Uuid>,
}

impl From<&ExportFilters> for AuditFilter {
    fn from(f: &ExportFilters) -> Self {
        AuditFilter {
            actor: f.actor.clone(),
            action: f.action.clone(),
            resource_type: f.resource_type.clone(),
            resource_id: f.resource_id.clone(),
            severity: f.severity.clone(),
            from: f.from,
            to: f.to,
        }
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = exports, check_for_backend(diesel::pg::Pg))]
pub struct ExportFile {
    pub id: Uuid,
    pub job_id: Uuid,
    pub format: String,
    pub storage_key: String,
    pub size_bytes: i64,
    pub rows: i64,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// Records (or, for a retried job, replaces) the file of an export job.
#[allow(clippy::too_many_arguments)]
pub async fn record(
    conn: &mut AsyncPgConnection,
    job_id: Uuid,
    format: &str,
    storage_key: &str,
    size_bytes: i64,
    rows: i64,
    created_by: Option<Uuid>,
    expires_at: DateTime<Utc>,
) -> Result<ExportFile> {
    Ok(diesel::insert_into(exports::table)
        .values((
            exports::id.eq(Uuid::now_v7()),
            exports::job_id.eq(job_id),
            exports::format.eq(format),
            exports::storage_key.eq(storage_key),
            exports::size_bytes.eq(size_bytes),
            exports::rows.eq(rows),
            exports::created_by.eq(created_by),
            exports::expires_at.eq(expires_at),
        ))
        .on_conflict(exports::job_id)
        .do_update()
        .set((
            exports::storage_key.eq(storage_key),
            exports::size_bytes.eq(size_bytes),
            exports::rows.eq(rows),
            exports::expires_at.eq(expires_at),
        ))
        .returning(ExportFile::as_returning())
        .get_result(conn)
        .await?)
}

pub async fn for_job(conn: &mut AsyncPgConnection, job_id: Uuid) -> Result<Option<ExportFile>> {
    Ok(exports::table
        .filter(exports::job_id.eq(job_id))
        .select(ExportFile::as_select())
        .first(conn)
        .await
        .optional()?)
}

pub async fn expired(
    conn: &mut AsyncPgConnection,
    now: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<ExportFile>> {
    Ok(exports::table
        .filter(exports::expires_at.lt(now))
        .limit(limit)
        .select(ExportFile::as_select())
        .load(conn)
        .await?)
}

pub async fn delete(conn: &mut AsyncPgConnection, id: Uuid) -> Result<()> {
    diesel::delete(exports::table.find(id))
        .execute(conn)
        .await?;
    Ok(())
}
