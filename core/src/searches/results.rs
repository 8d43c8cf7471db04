//! What searches find: detections (one per person per sampled frame) and appearances (tracks
//! that passed the vote), stored idempotently so a retried segment adds nothing twice.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde::Serialize;
use uuid::Uuid;

use crate::db::paginate::{PageRequest, Paged, Paginate};
use crate::db::schema::{appearances, detections};
use crate::error::{Error, Result};
use crate::geometry::BoxPx;

#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = detections, check_for_backend(diesel::pg::Pg))]
pub struct Detection {
    pub id: Uuid,
    pub search_id: Uuid,
    pub video_id: Uuid,
    pub missing_person_id: Uuid,
    pub appearance_id: Option<Uuid>,
    pub frame_ms: i64,
    pub observed_at: Option<DateTime<Utc>>,
    pub bbox: BoxPx,
    pub detector_score: f32,
    pub distance: f32,
    pub score: f32,
    pub runner_up_margin: Option<f32>,
    pub frame_key: Option<String>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = detections)]
pub struct NewDetection {
    pub id: Uuid,
    pub search_id: Uuid,
    pub video_id: Uuid,
    pub missing_person_id: Uuid,
    pub frame_ms: i64,
    pub observed_at: Option<DateTime<Utc>>,
    pub bbox: BoxPx,
    pub detector_score: f32,
    pub distance: f32,
    pub score: f32,
    pub runner_up_margin: Option<f32>,
    pub frame_key: Option<String>,
}

#[derive(Debug, Clone, Queryable, QueryableByName, Selectable, Serialize)]
#[diesel(table_name = appearances, check_for_backend(diesel::pg::Pg))]
pub struct Appearance {
    pub id: Uuid,
    pub search_id: Uuid,
    pub video_id: Uuid,
    pub missing_person_id: Uuid,
    pub start_secs: f64,
    pub end_secs: f64,
    pub started_at: Option<DateTime<Utc>>,
    pub frames: i32,
    pub best_distance: f32,
    pub best_score: f32,
    pub best_secs: f64,
    pub best_box: BoxPx,
    pub thumbnail_key: String,
    pub notified_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Stores detections; a frame already stored (a retried segment) is skipped.
pub async fn insert_detections(conn: &mut AsyncPgConnection, rows: &[NewDetection]) -> Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    diesel::insert_into(detections::table)
        .values(rows)
        .on_conflict((
            detections::search_id,
            detections::video_id,
            detections::missing_person_id,
            detections::frame_ms,
        ))
        .do_nothing()
        .execute(conn)
        .await?;
    Ok(())
}

/// Detections of one person in one video within `[from_ms, to_ms]`, in frame order.
pub async fn detections_between(
    conn: &mut AsyncPgConnection,
    search: Uuid,
    video: Uuid,
    from_ms: i64,
    to_ms: i64,
) -> Result<Vec<Detection>> {
    Ok(detections::table
        .filter(detections::search_id.eq(search))
        .filter(detections::video_id.eq(video))
        .filter(detections::frame_ms.between(from_ms, to_ms))
        .order(detections::frame_ms.asc())
        .select(Detection::as_select())
        .load(conn)
        .await?)
}

/// A track that passed the vote, with its best frame.
#[derive(Debug, Clone)]
pub struct FoundAppearance {
    pub person: Uuid,
    pub start_ms: i64,
    pub end_ms: i64,
    pub started_at: Option<DateTime<Utc>>,
    pub best: Detection,
}

/// Records an appearance, merging it with the person's appearances in this video that overlap
/// it or lie within `max_gap_ms` (a track cut by a segment boundary, or found again by a
/// retried segment). Returns the appearance as stored and whether nobody was notified of it
/// yet. Serialised per (search, video, person) with an advisory lock, so two segments finishing
/// at once merge instead of racing.
pub async fn record_appearance(
    conn: &mut AsyncPgConnection,
    search: Uuid,
    video: Uuid,
    found: FoundAppearance,
    max_gap_ms: i64,
) -> Result<(Appearance, bool)> {
    conn.transaction::<_, Error, _>(async move |conn| {
        diesel::sql_query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
            .bind::<Text, _>(format!("appearance:{search}:{video}:{}", found.person))
            .execute(conn)
            .await?;
        let start = found.start_ms as f64 / 1000.0;
        let end = found.end_ms as f64 / 1000.0;
        let gap = max_gap_ms as f64 / 1000.0;
        // Notified ones first: the merged appearance keeps the id its email named.
        let existing: Vec<Appearance> = appearances::table
            .filter(appearances::search_id.eq(search))
            .filter(appearances::video_id.eq(video))
            .filter(appearances::missing_person_id.eq(found.person))
            .filter(appearances::start_secs.le(end + gap))
            .filter(appearances::end_secs.ge(start - gap))
            .order((
                appearances::notified_at.is_null(),
                appearances::created_at.asc(),
            ))
            .select(Appearance::as_select())
            .load(conn)
            .await?;
        let best = &found.best;
        let thumbnail = best.frame_key.clone().unwrap_or_default();
        let now = Utc::now();
        let id = match existing.as_slice().first() {
            None => {
                let id = Uuid::now_v7();
                diesel::insert_into(appearances::table)
                    .values((
                        appearances::id.eq(id),
                        appearances::search_id.eq(search),
                        appearances::video_id.eq(video),
                        appearances::missing_person_id.eq(found.person),
                        appearances::start_secs.eq(start),
                        appearances::end_secs.eq(end),
                        appearances::started_at.eq(found.started_at),
                        appearances::frames.eq(0),
                        appearances::best_distance.eq(best.distance),
                        appearances::best_score.eq(best.score),
                        appearances::best_secs.eq(best.frame_ms as f64 / 1000.0),
                        appearances::best_box.eq(&best.bbox),
                        appearances::thumbnail_key.eq(&thumbnail),
                    ))
                    .execute(conn)
                    .await?;
                id
            }
            Some(keep) => {
                let mut start = start;
                let mut end = end;
                let mut started_at = found.started_at;
                let (mut dist, mut score, mut secs, mut bbox, mut thumb) = (
                    best.distance,
                    best.score,
                    best.frame_ms as f64 / 1000.0,
                    best.bbox,
                    thumbnail,
                );
                for a in &existing {
                    start = start.min(a.start_secs);
                    end = end.max(a.end_secs);
                    started_at = match (started_at, a.started_at) {
                        (Some(x), Some(y)) => Some(x.min(y)),
                        (x, y) => x.or(y),
                    };
                    if a.best_distance < dist {
                        (dist, score, secs) = (a.best_distance, a.best_score, a.best_secs);
                        bbox = a.best_box;
                        thumb = a.thumbnail_key.clone();
                    }
                }
                let absorbed: Vec<Uuid> = existing[1..].iter().map(|a| a.id).collect();
                diesel::update(
                    detections::table.filter(detections::appearance_id.eq_any(&absorbed)),
                )
                .set(detections::appearance_id.eq(keep.id))
                .execute(conn)
                .await?;
                diesel::delete(appearances::table.filter(appearances::id.eq_any(&absorbed)))
                    .execute(conn)
                    .await?;
                diesel::update(appearances::table.find(keep.id))
                    .set((
                        appearances::start_secs.eq(start),
                        appearances::end_secs.eq(end),
                        appearances::started_at.eq(started_at),
                        appearances::best_distance.eq(dist),
                        appearances::best_score.eq(score),
                        appearances::best_secs.eq(secs),
                        appearances::best_box.eq(bbox),
                        appearances::thumbnail_key.eq(thumb),
                        appearances::updated_at.eq(now),
                    ))
                    .execute(conn)
                    .await?;
                keep.id
            }
        };
        let appearance = get_appearance(conn, id).await?;
        let (from_ms, to_ms) = (
            (appearance.start_secs * 1000.0).round() as i64,
            (appearance.end_secs * 1000.0).round() as i64,
        );
        let frames = diesel::update(
            detections::table
                .filter(detections::search_id.eq(search))
                .filter(detections::video_id.eq(video))
                .filter(detections::missing_person_id.eq(found.person))
                .filter(detections::frame_ms.between(from_ms, to_ms)),
        )
        .set(detections::appearance_id.eq(id))
        .execute(conn)
        .await?;
        diesel::update(appearances::table.find(id))
            .set(appearances::frames.eq(frames as i32))
            .execute(conn)
            .await?;
        let appearance = get_appearance(conn, id).await?;
        let unnotified = appearance.notified_at.is_none();
        Ok((appearance, unnotified))
    })
    .await
}

pub async fn get_appearance(conn: &mut AsyncPgConnection, id: Uuid) -> Result<Appearance> {
    appearances::table
        .find(id)
        .select(Appearance::as_select())
        .first(conn)
        .await
        .optional()?
        .ok_or_else(|| Error::not_found("no such appearance"))
}

pub async fn mark_notified(conn: &mut AsyncPgConnection, id: Uuid) -> Result<()> {
    diesel::update(appearances::table.find(id))
        .set(appearances::notified_at.eq(Some(Utc::now())))
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn appearances(conn: &mut AsyncPgConnection, search: Uuid) -> Result<Vec<Appearance>> {
    Ok(appearances::table
        .filter(appearances::search_id.eq(search))
        .order((appearances::video_id, appearances::start_secs))
        .select(Appearance::as_select())
        .load(conn)
        .await?)
}

/// The first `per_video` appearances of each video of a search, in time order: what a summary
/// shows without growing with what was found.
pub async fn first_appearances(
    conn: &mut AsyncPgConnection,
    search: Uuid,
    per_video: i64,
) -> Result<Vec<Appearance>> {
    Ok(diesel::sql_query(
        "SELECT * FROM (
             SELECT a.*, row_number() OVER (PARTITION BY video_id ORDER BY start_secs, id) AS nth
             FROM appearances a WHERE search_id = $1) s
         WHERE nth <= $2 ORDER BY video_id, start_secs, id",
    )
    .bind::<diesel::sql_types::Uuid, _>(search)
    .bind::<BigInt, _>(per_video)
    .load(conn)
    .await?)
}

#[derive(Debug, Clone, Default)]
pub struct DetectionFilter {
    pub video: Option<Uuid>,
    pub person: Option<Uuid>,
    pub min_score: Option<f32>,
    pub from_secs: Option<f64>,
    pub to_secs: Option<f64>,
    /// Also frames that did not become part of an appearance (weak or lone matches).
    pub include_unconfirmed: bool,
}

pub async fn list_detections(
    conn: &mut AsyncPgConnection,
    search: Uuid,
    f: &DetectionFilter,
    page: PageRequest,
) -> Result<Paged<Detection>> {
    let mut q = detections::table
        .filter(detections::search_id.eq(search))
        .into_boxed();
    if let Some(v) = f.video {
        q = q.filter(detections::video_id.eq(v));
    }
    if let Some(p) = f.person {
        q = q.filter(detections::missing_person_id.eq(p));
    }
    if let Some(min) = f.min_score {
        q = q.filter(detections::score.ge(min));
    }
    if let Some(from) = f.from_secs {
        q = q.filter(detections::frame_ms.ge((from * 1000.0) as i64));
    }
    if let Some(to) = f.to_secs {
        q = q.filter(detections::frame_ms.le((to * 1000.0) as i64));
    }
    if !f.include_unconfirmed {
        q = q.filter(detections::appearance_id.is_not_null());
    }
    q.order((detections::video_id, detections::frame_ms, detections::id))
        .select(Detection::as_select())
        .paginate(page)
        .load_page(conn)
        .await
}

/// Per video and person: confirmed detections, first and last seen, best score.
#[derive(Debug, Clone, QueryableByName, Serialize)]
pub struct DetectionSummary {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    pub video_id: Uuid,
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    pub missing_person_id: Uuid,
    #[diesel(sql_type = BigInt)]
    pub detections: i64,
    #[diesel(sql_type = BigInt)]
    pub appearances: i64,
    #[diesel(sql_type = diesel::sql_types::Double)]
    pub first_seen_secs: f64,
    #[diesel(sql_type = diesel::sql_types::Double)]
    pub last_seen_secs: f64,
    #[diesel(sql_type = diesel::sql_types::Float)]
    pub best_score: f32,
}

pub async fn detection_summary(
    conn: &mut AsyncPgConnection,
    search: Uuid,
) -> Result<Vec<DetectionSummary>> {
    Ok(diesel::sql_query(
        "SELECT video_id, missing_person_id, count(*) AS detections,
                count(DISTINCT appearance_id) AS appearances,
                min(frame_ms) / 1000.0::float8 AS first_seen_secs,
                max(frame_ms) / 1000.0::float8 AS last_seen_secs,
                max(score) AS best_score
         FROM detections WHERE search_id = $1 AND appearance_id IS NOT NULL
         GROUP BY video_id, missing_person_id ORDER BY video_id, first_seen_secs",
    )
    .bind::<diesel::sql_types::Uuid, _>(search)
    .load(conn)
    .await?)
}
