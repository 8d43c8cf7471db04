//! Files made by export jobs. The row ties the storage object to its job, so retention deletes
//! both.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::audit::AuditFilter;
use crate::auth::{Permission, Permissions};
use crate::db::schema::exports;
use crate::db::text_enum::text_enum;
use crate::error::Result;
use crate::jobs::{Job, JobPayload, KindSpec, kinds};

text_enum! {
    pub enum ExportFormat {
        Csv = "csv",
        Pdf = "pdf",
    }
}

impl ExportFormat {
    pub fn content_type(self) -> &'static str {
        match self {
            ExportFormat::Csv => "text/csv",
            ExportFormat::Pdf => "application/pdf",
        }
    }
}

/// What to export; the payload of an `export` job. Serialised as
/// `{"format": "csv", "source": "audit", "filters": {…}}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExportRequest {
    pub format: ExportFormat,
    #[serde(flatten)]
    pub source: ExportSource,
}

impl JobPayload for ExportRequest {
    const KIND: &'static KindSpec = &kinds::EXPORT;
}

/// Where the rows come from, each with its own filters. Counts join here next.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "source", content = "filters", rename_all = "camelCase")]
pub enum ExportSource {
    Audit(AuditFilter),
    /// A search's appearances.
    #[serde(rename_all = "camelCase")]
    Search {
        search_id: Uuid,
    },
    /// Attendance logs (one per person and day).
    Attendance(crate::attendance::logs::Filter),
}

impl ExportSource {
    pub fn name(&self) -> &'static str {
        match self {
            ExportSource::Audit(_) => "audit",
            ExportSource::Search { .. } => "search",
            ExportSource::Attendance(_) => "attendance",
        }
    }

    /// The permission that reads the source; the export's file holds the same rows, so its
    /// download link is for the same callers.
    pub fn read_permission(&self) -> Permission {
        match self {
            ExportSource::Audit(_) => Permission::AuditRead,
            ExportSource::Search { .. } => Permission::SearchesRead,
            ExportSource::Attendance(_) => Permission::AttendanceRead,
        }
    }
}

/// Whether a caller holding `permissions` may read `job`'s result. Every job's result is
/// readable except an export's, which is for those who may read its source: `jobs:read` alone
/// would hand an admin's audit export to every viewer. An export whose payload does not parse
/// is withheld.
pub fn result_readable(job: &Job, permissions: &Permissions) -> bool {
    if job.kind != kinds::EXPORT.name {
        return true;
    }
    serde_json::from_value::<ExportRequest>(job.payload.clone())
        .is_ok_and(|request| permissions.allows(request.source.read_permission()))
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = exports, check_for_backend(diesel::pg::Pg))]
pub struct ExportFile {
    pub id: Uuid,
    pub job_id: Uuid,
    pub format: ExportFormat,
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
    format: ExportFormat,
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
