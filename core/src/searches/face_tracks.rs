//! The face tracks a search followed (one row per track and searched person) and the possible
//! sightings among them: ranked when the search is summarised, reviewed by people with
//! `searches:review`.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::Serialize;
use uuid::Uuid;

use super::sightings::{self, TrackEvidence};
use crate::db::paginate::{PageRequest, Paged, Paginate};
use crate::db::schema::{appearances, face_tracks};
use crate::db::text_enum::text_enum;
use crate::error::{Error, Result};

text_enum! {
    /// A reviewer's verdict on a possible sighting.
    pub enum ReviewStatus {
        Pending = "pending",
        Confirmed = "confirmed",
        Dismissed = "dismissed",
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = face_tracks, check_for_backend(diesel::pg::Pg))]
pub struct FaceTrack {
    pub id: Uuid,
    pub search_id: Uuid,
    pub video_id: Uuid,
    pub missing_person_id: Uuid,
    pub start_ms: i64,
    pub track_no: i32,
    pub end_ms: i64,
    pub frames: i32,
    pub max_px: f32,
    pub distance: f32,
    pub best_distance: f32,
    pub best_ms: i64,
    pub best_px: f32,
    pub thumbnail_key: Option<String>,
    pub sighting_rank: Option<i32>,
    pub sighting_standout: Option<f32>,
    pub review_status: Option<ReviewStatus>,
    pub review_note: Option<String>,
    pub reviewed_by: Option<Uuid>,
    pub reviewed_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = face_tracks)]
pub struct NewFaceTrack {
    pub id: Uuid,
    pub search_id: Uuid,
    pub video_id: Uuid,
    pub missing_person_id: Uuid,
    pub start_ms: i64,
    pub track_no: i32,
    pub end_ms: i64,
    pub frames: i32,
    pub max_px: f32,
    pub distance: f32,
    pub best_distance: f32,
    pub best_ms: i64,
    pub best_px: f32,
    pub thumbnail_key: Option<String>,
}

/// Stores tracks; a track already stored (same start, a retried segment) is replaced, its
/// review kept.
pub async fn record(conn: &mut AsyncPgConnection, rows: &[NewFaceTrack]) -> Result<()> {
    use diesel::upsert::excluded;
    if rows.is_empty() {
        return Ok(());
    }
    diesel::insert_into(face_tracks::table)
        .values(rows)
        .on_conflict((
            face_tracks::search_id,
            face_tracks::video_id,
            face_tracks::missing_person_id,
            face_tracks::start_ms,
            face_tracks::track_no,
        ))
        .do_update()
        .set((
            face_tracks::end_ms.eq(excluded(face_tracks::end_ms)),
            face_tracks::frames.eq(excluded(face_tracks::frames)),
            face_tracks::max_px.eq(excluded(face_tracks::max_px)),
            face_tracks::distance.eq(excluded(face_tracks::distance)),
            face_tracks::best_distance.eq(excluded(face_tracks::best_distance)),
            face_tracks::best_ms.eq(excluded(face_tracks::best_ms)),
            face_tracks::best_px.eq(excluded(face_tracks::best_px)),
            face_tracks::thumbnail_key.eq(excluded(face_tracks::thumbnail_key)),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// Ranks the possible sightings of a search, per video and person, from its tracks and
/// appearances. Idempotent: run again after more tracks arrive, earlier reviews stay.
pub async fn rank_sightings(
    conn: &mut AsyncPgConnection,
    search: Uuid,
    bounds: sightings::Bounds,
) -> Result<usize> {
    let tracks: Vec<(Uuid, Uuid, Uuid, i64, i64, f32, f32)> = face_tracks::table
        .filter(face_tracks::search_id.eq(search))
        .select((
            face_tracks::id,
            face_tracks::video_id,
            face_tracks::missing_person_id,
            face_tracks::start_ms,
            face_tracks::end_ms,
            face_tracks::distance,
            face_tracks::max_px,
        ))
        .load(conn)
        .await?;
    let found: Vec<(Uuid, Uuid, f64, f64)> = appearances::table
        .filter(appearances::search_id.eq(search))
        .select((
            appearances::video_id,
            appearances::missing_person_id,
            appearances::start_secs,
            appearances::end_secs,
        ))
        .load(conn)
        .await?;
    let mut groups: HashMap<(Uuid, Uuid), Vec<TrackEvidence>> = HashMap::new();
    for (id, video, person, start_ms, end_ms, distance, face_px) in tracks {
        let (start, end) = (start_ms as f64 / 1000.0, end_ms as f64 / 1000.0);
        let in_appearance = found
            .iter()
            .any(|(v, p, s, e)| *v == video && *p == person && start <= *e && end >= *s);
        groups
            .entry((video, person))
            .or_default()
            .push(TrackEvidence {
                id,
                distance,
                face_px,
                in_appearance,
            });
    }
    let ranked: Vec<sightings::Sighting> = groups
        .values()
        .flat_map(|tracks| sightings::rank(tracks, bounds))
        .collect();
    diesel::update(face_tracks::table.filter(face_tracks::search_id.eq(search)))
        .set((
            face_tracks::sighting_rank.eq(None::<i32>),
            face_tracks::sighting_standout.eq(None::<f32>),
        ))
        .execute(conn)
        .await?;
    for s in &ranked {
        diesel::update(face_tracks::table.find(s.id))
            .set((
                face_tracks::sighting_rank.eq(Some(s.rank as i32)),
                face_tracks::sighting_standout.eq(Some(s.standout)),
            ))
            .execute(conn)
            .await?;
        diesel::update(
            face_tracks::table
                .find(s.id)
                .filter(face_tracks::review_status.is_null()),
        )
        .set(face_tracks::review_status.eq(Some(ReviewStatus::Pending)))
        .execute(conn)
        .await?;
    }
    Ok(ranked.len())
}

#[derive(Debug, Clone, Default)]
pub struct SightingFilter {
    pub video: Option<Uuid>,
    pub person: Option<Uuid>,
    pub status: Option<ReviewStatus>,
}

/// A search's possible sightings, those standing out most first.
pub async fn list_sightings(
    conn: &mut AsyncPgConnection,
    search: Uuid,
    f: &SightingFilter,
    page: PageRequest,
) -> Result<Paged<FaceTrack>> {
    let mut q = face_tracks::table
        .filter(face_tracks::search_id.eq(search))
        .filter(face_tracks::sighting_rank.is_not_null())
        .into_boxed();
    if let Some(v) = f.video {
        q = q.filter(face_tracks::video_id.eq(v));
    }
    if let Some(p) = f.person {
        q = q.filter(face_tracks::missing_person_id.eq(p));
    }
    if let Some(s) = f.status {
        q = q.filter(face_tracks::review_status.eq(s));
    }
    q.order((
        face_tracks::sighting_standout.asc(),
        face_tracks::distance.asc(),
        face_tracks::id,
    ))
    .select(FaceTrack::as_select())
    .paginate(page)
    .load_page(conn)
    .await
}

/// Records a reviewer's verdict on one possible sighting of a search.
pub async fn review(
    conn: &mut AsyncPgConnection,
    search: Uuid,
    id: Uuid,
    verdict: ReviewStatus,
    note: Option<&str>,
    by: Uuid,
) -> Result<FaceTrack> {
    diesel::update(
        face_tracks::table
            .find(id)
            .filter(face_tracks::search_id.eq(search))
            .filter(face_tracks::sighting_rank.is_not_null()),
    )
    .set((
        face_tracks::review_status.eq(Some(verdict)),
        face_tracks::review_note.eq(note),
        face_tracks::reviewed_by.eq(Some(by)),
        face_tracks::reviewed_at.eq(Some(Utc::now())),
    ))
    .returning(FaceTrack::as_returning())
    .get_result(conn)
    .await
    .optional()?
    .ok_or_else(|| Error::not_found("no such possible sighting"))
}
