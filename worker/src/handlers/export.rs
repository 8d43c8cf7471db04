use chrono::Utc;
use serde_json::json;
use vigil_core::audit;
use vigil_core::audit::AuditFilter;
use vigil_core::db::PageRequest;
use vigil_core::exports::{self, ExportRequest, ExportSource};
use vigil_core::storage::ObjectKey;

use crate::context::{JobContext, JobError, Outcome};
use crate::export::{self as exporter, Format, Table};
use crate::registry::Handler;

/// Most rows one export holds; larger selections are cut, and the report says so.
const MAX_ROWS: i64 = 100_000;
const PAGE: u32 = 1_000;

/// Renders a report to CSV or PDF into `exports/{job}.{ext}`. The key is the job's, so a
/// retried run replaces its own file instead of leaving a second one.
#[derive(Default)]
pub struct Export;

async fn audit_table(job: &JobContext, filter: AuditFilter) -> Result<Table, JobError> {
    let mut conn = job.db().await?;
    let mut rows = Vec::new();
    let mut total;
    let mut offset = 0;
    loop {
        job.check()?;
        let page = audit::list(&mut conn, &filter, PageRequest::at_offset(offset, PAGE)).await?;
        total = page.total;
        let fetched = page.items.len() as i64;
        rows.extend(page.items.into_iter().map(|e| {
            vec![
                e.timestamp.to_rfc3339(),
                e.actor,
                e.actor_role.unwrap_or_default(),
                e.action,
                e.resource_type.unwrap_or_default(),
                e.resource_id.unwrap_or_default(),
                e.status_code.to_string(),
                e.severity.to_string(),
                e.ip_address.unwrap_or_default(),
                e.message,
            ]
        }));
        offset += fetched;
        job.progress(
            80.0 * offset as f32 / total.clamp(1, MAX_ROWS) as f32,
            "collecting rows",
        );
        if fetched < i64::from(PAGE) || offset >= MAX_ROWS {
            break;
        }
    }
    let shown = rows.len();
    let subtitle = if (total as usize) > shown {
        format!(
            "{shown} of {total} rows (cut at {MAX_ROWS}); generated {}",
            Utc::now().format("%Y-%m-%d %H:%M UTC")
        )
    } else {
        format!(
            "{shown} rows; generated {}",
            Utc::now().format("%Y-%m-%d %H:%M UTC")
        )
    };
    Ok(Table {
        title: "Vigil audit log".into(),
        subtitle,
        columns: [
            "time",
            "actor",
            "role",
            "action",
            "resource",
            "resource id",
            "status",
            "severity",
            "ip",
            "message",
        ]
        .map(String::from)
        .to_vec(),
        rows,
        thumbnails: Vec::new(),
    })
}

/// A search's appearances, one row each, with the best frame's thumbnail (pictures in PDF, a
/// download link in CSV).
async fn search_table(
    job: &JobContext,
    search_id: uuid::Uuid,
    format: Format,
) -> Result<Table, JobError> {
    use vigil_core::searches;

    let mut conn = job.db().await?;
    let search = searches::get(&mut conn, search_id).await?;
    let searches::read::Findings {
        appearances,
        titles,
        names,
    } = searches::read::findings(&mut conn, &search).await?;
    let videos = searches::videos(&mut conn, search.id).await?.len();
    drop(conn);
    let url_ttl = job.app.config.download_url_ttl();
    let mut rows = Vec::with_capacity(appearances.len());
    let mut thumbnails = Vec::with_capacity(appearances.len());
    for (i, a) in appearances.iter().enumerate() {
        job.check()?;
        let seen = |secs: f64| match a.started_at {
            Some(_) => chrono::DateTime::from_timestamp(secs as i64, 0)
                .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
                .unwrap_or_default(),
            None => format!("{secs:.1} s"),
        };
        let mut row = vec![
            titles.get(&a.video_id).cloned().unwrap_or_default(),
            names.get(&a.missing_person_id).cloned().unwrap_or_default(),
            seen(a.start_secs),
            seen(a.end_secs),
            a.frames.to_string(),
            format!("{:.2}", a.best_score),
            format!("{:.3}", a.best_distance),
            seen(a.best_secs),
        ];
        match format {
            Format::Csv => {
                row.push(
                    job.app
                        .storage
                        .download_url(&a.thumbnail_key, url_ttl)
                        .await
                        .unwrap_or_default(),
                );
                thumbnails.push(None);
            }
            Format::Pdf => {
                let picture = match job.app.storage.get_bytes(&a.thumbnail_key).await {
                    Ok(bytes) => vigil_models::decode_rgb(&bytes).ok(),
                    Err(_) => None,
                };
                thumbnails.push(picture);
            }
        }
        rows.push(row);
        job.progress(
            80.0 * (i + 1) as f32 / appearances.len() as f32,
            "collecting rows",
        );
    }
    let mut columns: Vec<String> = [
        "video",
        "person",
        "first seen",
        "last seen",
        "frames",
        "similarity",
        "distance",
        "best frame",
    ]
    .map(String::from)
    .to_vec();
    if format == Format::Csv {
        columns.push("thumbnail url".into());
    }
    Ok(Table {
        title: format!(
            "Vigil search: {}",
            search.name.clone().unwrap_or_else(|| search.id.to_string())
        ),
        subtitle: format!(
            "{} appearance(s) in {} video(s); generated {}",
            rows.len(),
            videos,
            Utc::now().format("%Y-%m-%d %H:%M UTC")
        ),
        columns,
        rows,
        thumbnails,
    })
}

#[async_trait::async_trait]
impl Handler for Export {
    type Payload = ExportRequest;

    async fn run(&self, job: &JobContext, request: ExportRequest) -> Result<Outcome, JobError> {
        let format = request.format;
        job.progress(1.0, "collecting rows");
        let table = match request.source {
            ExportSource::Audit(filter) => audit_table(job, filter).await?,
            ExportSource::Search { search_id } => search_table(job, search_id, format).await?,
        };
        job.progress(85.0, "rendering");
        let thumbs = table.has_thumbnails();
        let bytes = tokio::task::spawn_blocking(move || {
            exporter::render(&table, format).map(|b| (b, table.rows.len()))
        })
        .await
        .map_err(|e| JobError::Retryable(format!("renderer stopped: {e}")))?
        .map_err(JobError::Permanent)?;
        let (bytes, rows) = bytes;
        job.check()?;
        job.progress(90.0, "storing");
        let key = ObjectKey::Export {
            job: job.job.id,
            format,
        }
        .to_string();
        let size = job
            .app
            .storage
            .put_bytes(&key, bytes, format.content_type())
            .await?;
        let ttl = chrono::Duration::days(job.app.config.export_ttl_days as i64);
        let expires_at = Utc::now() + ttl;
        let mut conn = job.db().await?;
        exports::record(
            &mut conn,
            job.job.id,
            format,
            &key,
            size as i64,
            rows as i64,
            job.job.created_by,
            expires_at,
        )
        .await?;
        let url_ttl = job.app.config.download_url_ttl();
        let download_url = job.app.storage.download_url(&key, url_ttl).await?;
        Ok(Outcome::Done(json!({
            "key": key,
            "format": format,
            "rows": rows,
            "sizeBytes": size,
            "pages": (format == Format::Pdf).then(|| exporter::page_count(rows, thumbs)),
            "downloadUrl": download_url,
            "downloadUrlExpiresAt": Utc::now() + url_ttl,
            "expiresAt": expires_at,
        })))
    }
}
