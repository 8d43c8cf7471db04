use chrono::Utc;
use serde_json::json;
use vigil_core::audit;
use vigil_core::exports::{self, ExportRequest};

use crate::context::{Handler, JobContext, JobError, Outcome};
use crate::export::{self as exporter, Format, Table};

/// Most rows one export holds; larger selections are cut, and the report says so.
const MAX_ROWS: i64 = 100_000;
const PAGE: i64 = 1_000;

/// Renders a report to CSV or PDF into `exports/{job}.{ext}`. The key is the job's, so a
/// retried run replaces its own file instead of leaving a second one.
pub struct Export;

async fn audit_table(job: &JobContext, request: &ExportRequest) -> Result<Table, JobError> {
    let filter = audit::AuditFilter::from(&request.filters);
    let mut conn = job.app.db.get().await.map_err(vigil_core::Error::from)?;
    let mut rows = Vec::new();
    let mut total;
    let mut offset = 0;
    loop {
        job.check()?;
        let (page, count) = audit::list(&mut conn, &filter, offset, PAGE).await?;
        total = count;
        let fetched = page.len() as i64;
        rows.extend(page.into_iter().map(|e| {
            vec![
                e.timestamp.to_rfc3339(),
                e.actor,
                e.actor_role.unwrap_or_default(),
                e.action,
                e.resource_type.unwrap_or_default(),
                e.resource_id.unwrap_or_default(),
                e.status_code.to_string(),
                e.severity,
                e.ip_address.unwrap_or_default(),
                e.message,
            ]
        }));
        offset += fetched;
        job.progress(
            80.0 * offset as f32 / total.clamp(1, MAX_ROWS) as f32,
            "collecting rows",
        );
        if fetched < PAGE || offset >= MAX_ROWS {
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
    request: &ExportRequest,
    format: Format,
) -> Result<Table, JobError> {
    use std::collections::HashMap;
    use vigil_core::searches::{self, results};
    use vigil_core::{missing_persons, videos};

    let search_id = request
        .filters
        .search_id
        .ok_or_else(|| JobError::Permanent("a search export needs filters.searchId".into()))?;
    let mut conn = job.app.db.get().await.map_err(vigil_core::Error::from)?;
    let search = searches::get(&mut conn, search_id).await?;
    let appearances = results::appearances(&mut conn, search.id).await?;
    let lines = searches::videos(&mut conn, search.id).await?;
    let video_ids: Vec<_> = lines.iter().map(|l| l.video_id).collect();
    let titles: HashMap<_, _> = videos::get_many(&mut conn, &video_ids)
        .await?
        .into_iter()
        .map(|v| (v.id, v.title))
        .collect();
    let person_ids = searches::person_ids(&mut conn, search.id).await?;
    let names: HashMap<_, _> = missing_persons::get_many(&mut conn, &person_ids)
        .await?
        .into_iter()
        .map(|p| (p.id, p.name))
        .collect();
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
                    Ok(bytes) => image::load_from_memory(&bytes).ok().map(|i| i.to_rgb8()),
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
            lines.len(),
            Utc::now().format("%Y-%m-%d %H:%M UTC")
        ),
        columns,
        rows,
        thumbnails,
    })
}

#[async_trait::async_trait]
impl Handler for Export {
    async fn run(&self, job: &JobContext) -> Result<Outcome, JobError> {
        let request: ExportRequest = job.payload()?;
        let format: Format = serde_json::from_value(json!(request.format)).map_err(|_| {
            JobError::Permanent(format!(
                "unknown format {:?}; use csv or pdf",
                request.format
            ))
        })?;
        job.progress(1.0, "collecting rows");
        let table = match request.source.as_str() {
            "audit" => audit_table(job, &request).await?,
            "search" => search_table(job, &request, format).await?,
            other => {
                return Err(JobError::Permanent(format!(
                    "unknown export source {other:?}"
                )));
            }
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
        let key = format!("exports/{}.{}", job.job.id, format.extension());
        let size = job
            .app
            .storage
            .put_bytes(&key, bytes, format.content_type())
            .await?;
        let ttl = chrono::Duration::days(job.app.config.export_ttl_days as i64);
        let expires_at = Utc::now() + ttl;
        let mut conn = job.app.db.get().await.map_err(vigil_core::Error::from)?;
        exports::record(
            &mut conn,
            job.job.id,
            format.extension(),
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
            "format": format.extension(),
            "rows": rows,
            "sizeBytes": size,
            "pages": (format == Format::Pdf).then(|| exporter::page_count(rows, thumbs)),
            "downloadUrl": download_url,
            "downloadUrlExpiresAt": Utc::now() + url_ttl,
            "expiresAt": expires_at,
        })))
    }
}
