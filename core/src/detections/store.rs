//! Detections: one row per face track of a camera, written when the track is decided and kept
//! current while the face stays in the picture. A decided enrolled person also gets an
//! attendance event whose evidence is the detection (same transaction).

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde::Serialize;
use uuid::Uuid;

use super::classify::Verdict;
use super::{DetectionSource, DetectionStatus};
use crate::attendance::{EventSource, events};
use crate::db::paginate::{PageRequest, Paged, Paginate};
use crate::db::schema::{attendance_events, face_detections, people};
use crate::error::{Error, Result};
use crate::geometry::BoxPx;

/// Most rows `GET /detections/live` returns.
pub const MAX_LIVE: i64 = 100;

#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = face_detections, check_for_backend(diesel::pg::Pg))]
#[serde(rename_all = "camelCase")]
pub struct Detection {
    pub id: Uuid,
    pub camera_id: String,
    pub track_id: String,
    pub source: DetectionSource,
    pub status: DetectionStatus,
    pub person_id: Option<Uuid>,
    pub confidence: Option<f32>,
    pub distance: Option<f32>,
    pub margin: Option<f32>,
    pub reason: Option<String>,
    pub bbox: BoxPx,
    pub face_px: f32,
    pub frames: i32,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    pub thumbnail_key: Option<String>,
    pub job_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
}

/// The person a detection names, as lists show them.
#[derive(Debug, Clone, Serialize)]
pub struct Named {
    pub name: String,
    /// `employeeId` or `studentNumber`.
    pub number: Option<String>,
}

/// A decided track to store.
pub struct NewDetection<'a> {
    /// Chosen by the caller, so the thumbnail can be stored under it first.
    pub id: Uuid,
    pub camera_id: &'a str,
    pub track_id: String,
    pub source: DetectionSource,
    pub verdict: Verdict,
    pub confidence: Option<f32>,
    pub distance: Option<f32>,
    pub margin: Option<f32>,
    pub bbox: BoxPx,
    pub face_px: f32,
    pub frames: u32,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    pub thumbnail_key: Option<String>,
    pub job_id: Option<Uuid>,
    /// The largest face's descriptor, sealed (`attendance::negatives::seal_descriptor`).
    pub descriptor: Option<String>,
}

/// Stores a decided track and its attendance event. A track stored already is left as it is.
pub async fn record(conn: &mut AsyncPgConnection, d: NewDetection<'_>) -> Result<Detection> {
    conn.transaction::<_, Error, _>(async move |conn| {
        let stored: Option<Detection> = diesel::insert_into(face_detections::table)
            .values((
                face_detections::id.eq(d.id),
                face_detections::camera_id.eq(d.camera_id),
                face_detections::track_id.eq(&d.track_id),
                face_detections::source.eq(d.source),
                face_detections::status.eq(d.verdict.status),
                face_detections::person_id.eq(d.verdict.person),
                face_detections::confidence.eq(d.confidence),
                face_detections::distance.eq(d.distance),
                face_detections::margin.eq(d.margin),
                face_detections::reason.eq(&d.verdict.reason),
                face_detections::bbox.eq(d.bbox),
                face_detections::face_px.eq(d.face_px),
                face_detections::frames.eq(d.frames as i32),
                face_detections::first_seen.eq(d.first_seen),
                face_detections::last_seen.eq(d.last_seen),
                face_detections::thumbnail_key.eq(&d.thumbnail_key),
                face_detections::job_id.eq(d.job_id),
                face_detections::descriptor.eq(&d.descriptor),
            ))
            .on_conflict((face_detections::camera_id, face_detections::track_id))
            .do_nothing()
            .returning(Detection::as_returning())
            .get_result(conn)
            .await
            .optional()?;
        let Some(detection) = stored else {
            return face_detections::table
                .filter(face_detections::camera_id.eq(d.camera_id))
                .filter(face_detections::track_id.eq(&d.track_id))
                .select(Detection::as_select())
                .first(conn)
                .await
                .map_err(Into::into);
        };
        if let Some((person, status)) = d.verdict.attendance {
            events::add_sighting(
                conn,
                events::Sighting {
                    person,
                    source: EventSource::Camera,
                    occurred_at: d.first_seen,
                    confidence: d.confidence,
                    status,
                    review_reason: d.verdict.reason.clone(),
                    capture_id: None,
                    device_id: None,
                    classroom_id: None,
                    camera_id: Some(d.camera_id),
                    detection_id: Some(detection.id),
                    last_seen_at: Some(d.last_seen),
                },
            )
            .await?;
        }
        Ok(detection)
    })
    .await
}

/// The track is still in the picture: when it was last seen, in how many frames, where.
/// With `attendance`, its attendance event follows (the day's time out, the person's
/// presence): callers do that now and then and when the track ends, not on every frame.
pub async fn touch(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    last_seen: DateTime<Utc>,
    frames: u32,
    bbox: BoxPx,
    attendance: bool,
) -> Result<()> {
    conn.transaction::<_, Error, _>(async move |conn| {
        diesel::update(face_detections::table.find(id))
            .set((
                face_detections::last_seen.eq(last_seen),
                face_detections::frames.eq(frames as i32),
                face_detections::bbox.eq(bbox),
            ))
            .execute(conn)
            .await?;
        if attendance {
            let event: Option<(Uuid, DateTime<Utc>)> = diesel::update(
                attendance_events::table.filter(attendance_events::detection_id.eq(id)),
            )
            .set(attendance_events::last_seen_at.eq(last_seen))
            .returning((attendance_events::person_id, attendance_events::occurred_at))
            .get_result(conn)
            .await
            .optional()?;
            if let Some((person, at)) = event {
                crate::attendance::logs::refresh(conn, person, at).await?;
            }
        }
        Ok(())
    })
    .await
}

/// A detection with the name of the person it names.
pub type Row = (Detection, Option<Named>);

/// The detections with the names of the people they name (one query for all).
async fn with_names(conn: &mut AsyncPgConnection, rows: Vec<Detection>) -> Result<Vec<Row>> {
    let ids: Vec<Uuid> = rows.iter().filter_map(|d| d.person_id).collect();
    let names: Vec<(Uuid, String, Option<String>)> = if ids.is_empty() {
        Vec::new()
    } else {
        people::table
            .filter(people::id.eq_any(&ids))
            .select((
                people::id,
                people::name,
                diesel::dsl::sql::<diesel::sql_types::Nullable<diesel::sql_types::Text>>(
                    "coalesce(people.employee_id, people.student_number)",
                ),
            ))
            .load(conn)
            .await?
    };
    Ok(rows
        .into_iter()
        .map(|d| {
            let named = d.person_id.and_then(|p| {
                names.iter().find(|n| n.0 == p).map(|n| Named {
                    name: n.1.clone(),
                    number: n.2.clone(),
                })
            });
            (d, named)
        })
        .collect())
}

/// The most recently seen detections, of one camera or all.
pub async fn live(
    conn: &mut AsyncPgConnection,
    camera: Option<&str>,
    limit: i64,
) -> Result<Vec<Row>> {
    let mut q = face_detections::table
        .select(Detection::as_select())
        .into_boxed();
    if let Some(c) = camera {
        q = q.filter(face_detections::camera_id.eq(c.to_string()));
    }
    let rows = q
        .order((
            face_detections::last_seen.desc(),
            face_detections::id.desc(),
        ))
        .limit(limit.clamp(1, MAX_LIVE))
        .load(conn)
        .await?;
    with_names(conn, rows).await
}

#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub camera_id: Option<String>,
    pub person_id: Option<Uuid>,
    pub status: Option<DetectionStatus>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

/// Detections, newest first (a person's history, a camera's day).
pub async fn list(
    conn: &mut AsyncPgConnection,
    f: &Filter,
    page: PageRequest,
) -> Result<Paged<Row>> {
    let mut q = face_detections::table.into_boxed();
    if let Some(c) = f.camera_id.clone() {
        q = q.filter(face_detections::camera_id.eq(c));
    }
    if let Some(p) = f.person_id {
        q = q.filter(face_detections::person_id.eq(p));
    }
    if let Some(s) = f.status {
        q = q.filter(face_detections::status.eq(s));
    }
    if let Some(from) = f.from {
        q = q.filter(face_detections::last_seen.ge(from));
    }
    if let Some(to) = f.to {
        q = q.filter(face_detections::first_seen.lt(to));
    }
    let page: Paged<Detection> = q
        .order((
            face_detections::last_seen.desc(),
            face_detections::id.desc(),
        ))
        .select(Detection::as_select())
        .paginate(page)
        .load_page(conn)
        .await?;
    let items = with_names(conn, page.items).await?;
    Ok(Paged {
        items,
        total: page.total,
        page: page.page,
    })
}

/// Deletes detections last seen before `before` (their thumbnails follow through the storage
/// orphans sweep; attendance events keep their time, losing the link) and provider calls
/// older than it. Returns (detections, calls) deleted.
pub async fn purge_before(
    conn: &mut AsyncPgConnection,
    before: DateTime<Utc>,
) -> Result<(usize, usize)> {
    use crate::db::schema::detection_events;
    let detections =
        diesel::delete(face_detections::table.filter(face_detections::last_seen.lt(before)))
            .execute(conn)
            .await?;
    let calls =
        diesel::delete(detection_events::table.filter(detection_events::created_at.lt(before)))
            .execute(conn)
            .await?;
    Ok((detections, calls))
}
