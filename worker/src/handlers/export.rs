use chrono::Utc;
use serde_json::json;
use uuid::Uuid;
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
/// Largest side of a picture in a PDF report (pixels).
const THUMB_PX: u32 = 240;
/// Rows of a PDF attendance report shown with their picture; later rows go without, so a
/// year of logs stays a file one can open (CSV links every row).
const MAX_PDF_PICTURES: usize = 2_000;

/// Reads a listing page by page, at most `MAX_ROWS` rows, reporting progress as it goes.
#[derive(Default)]
struct Pages {
    offset: i64,
    /// The listing's size, as its latest page said.
    total: i64,
    done: bool,
}

impl Pages {
    /// The next page to read; `None` once the listing or the row limit is exhausted.
    fn next(&self, job: &JobContext) -> Result<Option<PageRequest>, JobError> {
        if self.done {
            return Ok(None);
        }
        job.check()?;
        Ok(Some(PageRequest::at_offset(self.offset, PAGE)))
    }

    /// Counts a page whose rows have been taken.
    fn taken(&mut self, job: &JobContext, fetched: usize, total: i64) {
        self.total = total;
        self.offset += fetched as i64;
        job.progress(
            80.0 * self.offset as f32 / total.clamp(1, MAX_ROWS) as f32,
            "collecting rows",
        );
        self.done = fetched < PAGE as usize || self.offset >= MAX_ROWS;
    }
}

/// Renders a report to CSV or PDF into `exports/{job}.{ext}`. The key is the job's, so a
/// retried run replaces its own file instead of leaving a second one.
#[derive(Default)]
pub struct Export;

async fn audit_table(job: &JobContext, filter: AuditFilter) -> Result<Table, JobError> {
    let mut conn = job.db().await?;
    let mut rows = Vec::new();
    let mut pages = Pages::default();
    while let Some(request) = pages.next(job)? {
        let page = audit::list(&mut conn, &filter, request).await?;
        let (fetched, total) = (page.items.len(), page.total);
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
        pages.taken(job, fetched, total);
    }
    let (shown, total) = (rows.len(), pages.total);
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

/// A row's picture: for CSV a download link in a last column (empty when there is none), for
/// PDF the picture itself, shown beside the row. A picture that cannot be read is left out
/// rather than failing the report.
async fn thumbnail(
    job: &JobContext,
    format: Format,
    key: Option<&str>,
    row: &mut Vec<String>,
) -> Option<image::RgbImage> {
    match (format, key) {
        (Format::Csv, key) => {
            let url = match key {
                Some(key) => {
                    let ttl = job.app.config.download_url_ttl();
                    job.app.storage.download_url(key, ttl).await.ok()
                }
                None => None,
            };
            row.push(url.unwrap_or_default());
            None
        }
        (Format::Pdf, Some(key)) => {
            let bytes = job.app.storage.get_bytes(key).await.ok()?;
            let picture = vigil_models::decode_rgb(&bytes).ok()?;
            // A device's whole capture is a full-size photo; a thumbnail's worth is enough
            // and keeps a report of thousands of rows small.
            Some(
                image::DynamicImage::from(picture)
                    .thumbnail(THUMB_PX, THUMB_PX)
                    .to_rgb8(),
            )
        }
        (Format::Pdf, None) => None,
    }
}

/// One reported item of a search, as an export row: a confirmed appearance, or a possible
/// sighting (ranked, for review; never counted as an appearance).
struct Reported {
    kind: String,
    video: Uuid,
    person: Uuid,
    /// Times are Unix seconds for live streams.
    live: bool,
    start_secs: f64,
    end_secs: f64,
    frames: i32,
    similarity: Option<f32>,
    distance: f32,
    best_secs: f64,
    thumbnail_key: Option<String>,
}

/// A search's appearances, then its possible sightings, one row each, with the best face's
/// thumbnail (pictures in PDF, a download link in CSV).
async fn search_table(
    job: &JobContext,
    search_id: Uuid,
    format: Format,
) -> Result<Table, JobError> {
    use vigil_core::searches::{self, face_tracks};

    let mut conn = job.db().await?;
    let search = searches::get(&mut conn, search_id).await?;
    let searches::read::Findings {
        appearances,
        titles,
        names,
    } = searches::read::findings(&mut conn, &search).await?;
    let mut sightings = Vec::new();
    let mut offset = 0;
    loop {
        let page = face_tracks::list_sightings(
            &mut conn,
            search.id,
            &face_tracks::SightingFilter::default(),
            PageRequest::at_offset(offset, PAGE),
        )
        .await?;
        let fetched = page.items.len() as i64;
        sightings.extend(page.items);
        offset += fetched;
        if fetched < i64::from(PAGE) || offset >= MAX_ROWS {
            break;
        }
    }
    let lines = searches::videos(&mut conn, search.id).await?;
    let ids: Vec<Uuid> = lines.iter().map(|l| l.video_id).collect();
    let live: std::collections::HashSet<Uuid> = vigil_core::videos::get_many(&mut conn, &ids)
        .await?
        .into_iter()
        .filter(|v| v.is_live())
        .map(|v| v.id)
        .collect();
    let videos = lines.len();
    drop(conn);
    let confirmed = appearances.len();
    let items: Vec<Reported> = appearances
        .into_iter()
        .map(|a| Reported {
            kind: "appearance".into(),
            video: a.video_id,
            person: a.missing_person_id,
            live: live.contains(&a.video_id),
            start_secs: a.start_secs,
            end_secs: a.end_secs,
            frames: a.frames,
            similarity: Some(a.best_score),
            distance: a.best_distance,
            best_secs: a.best_secs,
            thumbnail_key: Some(a.thumbnail_key),
        })
        .chain(sightings.into_iter().map(|t| Reported {
            kind: format!(
                "possible sighting #{} ({})",
                t.sighting_rank.unwrap_or_default(),
                t.review_status.map_or("pending", |s| s.as_str())
            ),
            video: t.video_id,
            person: t.missing_person_id,
            live: live.contains(&t.video_id),
            start_secs: t.start_ms as f64 / 1000.0,
            end_secs: t.end_ms as f64 / 1000.0,
            frames: t.frames,
            similarity: None,
            distance: t.distance,
            best_secs: t.best_ms as f64 / 1000.0,
            thumbnail_key: t.thumbnail_key,
        }))
        .collect();
    let mut rows = Vec::with_capacity(items.len());
    let mut thumbnails = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        job.check()?;
        let seen = |secs: f64| {
            if item.live {
                chrono::DateTime::from_timestamp(secs as i64, 0)
                    .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
                    .unwrap_or_default()
            } else {
                format!("{secs:.1} s")
            }
        };
        let mut row = vec![
            item.kind.clone(),
            titles.get(&item.video).cloned().unwrap_or_default(),
            names.get(&item.person).cloned().unwrap_or_default(),
            seen(item.start_secs),
            seen(item.end_secs),
            item.frames.to_string(),
            item.similarity
                .map(|s| format!("{s:.2}"))
                .unwrap_or_default(),
            format!("{:.3}", item.distance),
            seen(item.best_secs),
        ];
        let key = item.thumbnail_key.as_deref().filter(|k| !k.is_empty());
        thumbnails.push(thumbnail(job, format, key, &mut row).await);
        rows.push(row);
        job.progress(
            80.0 * (i + 1) as f32 / items.len() as f32,
            "collecting rows",
        );
    }
    let mut columns: Vec<String> = [
        "kind",
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
            "{confirmed} appearance(s) and {} possible sighting(s) for review in {videos} video(s); generated {}",
            rows.len() - confirmed,
            Utc::now().format("%Y-%m-%d %H:%M UTC")
        ),
        columns,
        rows,
        thumbnails,
    })
}

/// Attendance logs, newest day first, with their people; times local to `VIGIL_TIMEZONE`.
async fn attendance_table(
    job: &JobContext,
    filter: vigil_core::attendance::logs::Filter,
    format: Format,
) -> Result<Table, JobError> {
    use vigil_core::attendance::{calendar, logs};
    use vigil_core::people;

    let mut conn = job.db().await?;
    let mut rows = Vec::new();
    let mut thumbnails = Vec::new();
    let mut pages = Pages::default();
    let clock = |t: Option<chrono::DateTime<Utc>>| {
        t.map(|t| calendar::local(t).format("%H:%M:%S").to_string())
            .unwrap_or_default()
    };
    while let Some(request) = pages.next(job)? {
        let page = logs::list(&mut conn, &filter, request).await?;
        let (fetched, total) = (page.items.len(), page.total);
        let ids: Vec<Uuid> = page.items.iter().map(|l| l.person_id).collect();
        let persons = people::get_many(&mut conn, &ids).await?;
        let faces = logs::first_faces(&mut conn, &page.items).await?;
        for l in page.items {
            let Some(p) = persons.iter().find(|p| p.id == l.person_id) else {
                continue;
            };
            let mut row = vec![
                l.date.to_string(),
                p.number().to_string(),
                p.name.clone(),
                p.department.clone().unwrap_or_default(),
                l.status.to_string(),
                clock(l.time_in),
                clock(l.time_out),
                l.shift_id.clone().unwrap_or_default(),
                l.camera_id.clone().unwrap_or_default(),
                l.classroom_id.clone().unwrap_or_default(),
                l.accuracy
                    .map(|a| format!("{:.1}", a * 100.0))
                    .unwrap_or_default(),
                l.events.to_string(),
                l.odoo_status.to_string(),
            ];
            let face = faces
                .get(&l.id)
                .map(String::as_str)
                .filter(|_| format == Format::Csv || rows.len() < MAX_PDF_PICTURES);
            thumbnails.push(thumbnail(job, format, face, &mut row).await);
            rows.push(row);
        }
        pages.taken(job, fetched, total);
    }
    let (shown, total) = (rows.len(), pages.total);
    let cut = if (total as usize) > shown {
        format!(" of {total} (cut at {MAX_ROWS})")
    } else {
        String::new()
    };
    let mut columns: Vec<String> = [
        "date",
        "employee id",
        "name",
        "department",
        "status",
        "time in",
        "time out",
        "shift",
        "camera",
        "classroom",
        "accuracy %",
        "sightings",
        "odoo",
    ]
    .map(String::from)
    .to_vec();
    if format == Format::Csv {
        columns.push("time in face url".into());
    }
    Ok(Table {
        title: "Vigil attendance".into(),
        subtitle: format!(
            "{shown}{cut} log(s), times in {}; generated {}",
            calendar::tz(),
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
            ExportSource::Attendance(filter) => attendance_table(job, filter, format).await?,
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
