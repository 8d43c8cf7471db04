//! Photos sent by capture devices. Each is stored, recognised by an `attendance.recognize`
//! job, and — when it shows an enrolled person — becomes an attendance event in the same
//! transaction as its decision, so a retried job adds nothing twice.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::decision::Decision;
use super::{EventSource, events};
use crate::db::schema::{attendance_events, captures};
use crate::db::text_enum::text_enum;
use crate::error::{Error, Result};
use crate::jobs::{JobPayload, KindSpec, kinds};

text_enum! {
    /// What the recognizer made of a capture.
    pub enum CaptureStatus {
        /// Queued or being recognised.
        Processing = "processing",
        /// An enrolled person (see the attendance event for approval).
        Authorized = "authorized",
        /// A face, but nobody enrolled is close enough.
        Unknown = "unknown",
        /// No usable face (with a reason).
        NoFace = "no_face",
        /// Not readable as an image (with a reason).
        Failed = "failed",
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = captures, check_for_backend(diesel::pg::Pg))]
#[serde(rename_all = "camelCase")]
pub struct Capture {
    pub id: Uuid,
    pub device_id: Option<Uuid>,
    pub capture_id: String,
    pub classroom_id: Option<String>,
    pub captured_at: DateTime<Utc>,
    pub object_key: Option<String>,
    pub content_type: String,
    pub size_bytes: i64,
    pub job_id: Option<Uuid>,
    pub status: CaptureStatus,
    pub reason: Option<String>,
    pub predicted_person_id: Option<Uuid>,
    pub distance: Option<f32>,
    pub confidence: Option<f32>,
    pub margin: Option<f32>,
    pub face: Option<serde_json::Value>,
    #[serde(skip)]
    pub descriptor: Option<String>,
    pub decided_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The payload of an `attendance.recognize` job.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecognizeCapture {
    pub capture: Uuid,
}

impl JobPayload for RecognizeCapture {
    const KIND: &'static KindSpec = &kinds::ATTENDANCE_RECOGNIZE;
}

/// Longest capture id a device may choose.
pub const MAX_CAPTURE_ID_LEN: usize = 100;

pub struct NewCapture<'a> {
    pub id: Uuid,
    pub device_id: Uuid,
    pub capture_id: &'a str,
    pub classroom_id: Option<&'a str>,
    pub captured_at: DateTime<Utc>,
    pub object_key: &'a str,
    pub content_type: &'a str,
    pub size_bytes: i64,
}

/// Checks a device-chosen capture id: 1–100 printable characters.
pub fn validate_capture_id(id: &str) -> Result<()> {
    if id.is_empty() || id.chars().count() > MAX_CAPTURE_ID_LEN || id.chars().any(char::is_control)
    {
        return Err(Error::validation(
            "captureId",
            format!("captureId must be 1 to {MAX_CAPTURE_ID_LEN} printable characters"),
        ));
    }
    Ok(())
}

/// The device's capture with this id, if it sent one before.
pub async fn find(
    conn: &mut AsyncPgConnection,
    device: Uuid,
    capture_id: &str,
) -> Result<Option<Capture>> {
    Ok(captures::table
        .filter(captures::device_id.eq(device))
        .filter(captures::capture_id.eq(capture_id))
        .select(Capture::as_select())
        .first(conn)
        .await
        .optional()?)
}

/// Records a capture; when the device already sent one with this id (a retry), returns that
/// one and `false`.
pub async fn insert(conn: &mut AsyncPgConnection, c: NewCapture<'_>) -> Result<(Capture, bool)> {
    let inserted = diesel::insert_into(captures::table)
        .values((
            captures::id.eq(c.id),
            captures::device_id.eq(c.device_id),
            captures::capture_id.eq(c.capture_id),
            captures::classroom_id.eq(c.classroom_id),
            captures::captured_at.eq(c.captured_at),
            captures::object_key.eq(c.object_key),
            captures::content_type.eq(c.content_type),
            captures::size_bytes.eq(c.size_bytes),
        ))
        .on_conflict((captures::device_id, captures::capture_id))
        .do_nothing()
        .returning(Capture::as_returning())
        .get_result(conn)
        .await
        .optional()?;
    match inserted {
        Some(capture) => Ok((capture, true)),
        None => find(conn, c.device_id, c.capture_id)
            .await?
            .map(|c| (c, false))
            .ok_or_else(|| Error::conflict("the capture was deleted while being sent again")),
    }
}

pub async fn set_job(conn: &mut AsyncPgConnection, id: Uuid, job: Uuid) -> Result<()> {
    diesel::update(captures::table.find(id))
        .set(captures::job_id.eq(job))
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn get(conn: &mut AsyncPgConnection, id: Uuid) -> Result<Capture> {
    captures::table
        .find(id)
        .select(Capture::as_select())
        .first(conn)
        .await
        .optional()?
        .ok_or_else(|| Error::not_found("no such capture"))
}

pub async fn get_many(conn: &mut AsyncPgConnection, ids: &[Uuid]) -> Result<Vec<Capture>> {
    Ok(captures::table
        .filter(captures::id.eq_any(ids))
        .select(Capture::as_select())
        .load(conn)
        .await?)
}

/// A capture with no usable face or an unreadable photo: a result, not an error.
pub async fn record_unusable(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    status: CaptureStatus,
    reason: &str,
    face: Option<serde_json::Value>,
) -> Result<()> {
    diesel::update(captures::table.find(id))
        .set((
            captures::status.eq(status),
            captures::reason.eq(reason),
            captures::face.eq(face),
            captures::decided_at.eq(Utc::now()),
            captures::updated_at.eq(Utc::now()),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// What the recognizer measured for the capture's face.
pub struct Measured {
    /// The nearest enrolled person, even when too far to be them.
    pub nearest: Option<Uuid>,
    pub distance: Option<f32>,
    pub confidence: Option<f32>,
    pub margin: Option<f32>,
    pub face: serde_json::Value,
    /// Sealed descriptor.
    pub descriptor: String,
}

/// Stores the decision on a face and, for an enrolled person, their attendance event (and the
/// day's log when approved), in one transaction. Idempotent.
pub async fn record_decision(
    conn: &mut AsyncPgConnection,
    capture: &Capture,
    measured: Measured,
    decision: Decision,
) -> Result<()> {
    let capture = capture.clone();
    conn.transaction::<_, Error, _>(async move |conn| {
        let (status, person) = match &decision {
            Decision::Unknown => (CaptureStatus::Unknown, None),
            Decision::Match { person, .. } => (CaptureStatus::Authorized, Some(*person)),
        };
        diesel::update(captures::table.find(capture.id))
            .set((
                captures::status.eq(status),
                captures::reason.eq(None::<String>),
                captures::predicted_person_id.eq(person.or(measured.nearest)),
                captures::distance.eq(measured.distance),
                captures::confidence.eq(measured.confidence),
                captures::margin.eq(measured.margin),
                captures::face.eq(&measured.face),
                captures::descriptor.eq(&measured.descriptor),
                captures::decided_at.eq(Utc::now()),
                captures::updated_at.eq(Utc::now()),
            ))
            .execute(conn)
            .await?;
        if let Decision::Match {
            person,
            status,
            review_reason,
        } = decision
        {
            events::add_sighting(
                conn,
                events::Sighting {
                    person,
                    source: EventSource::Capture,
                    occurred_at: capture.captured_at,
                    confidence: measured.confidence,
                    status,
                    review_reason,
                    capture_id: Some(capture.id),
                    device_id: capture.device_id,
                    classroom_id: capture.classroom_id.as_deref(),
                    camera_id: None,
                    detection_id: None,
                    last_seen_at: None,
                },
            )
            .await?;
        }
        Ok(())
    })
    .await
}

/// The attendance event made from each capture (by capture id).
pub async fn events_of(
    conn: &mut AsyncPgConnection,
    capture_ids: &[Uuid],
) -> Result<Vec<events::Event>> {
    Ok(attendance_events::table
        .filter(attendance_events::capture_id.eq_any(capture_ids))
        .select(events::Event::as_select())
        .load(conn)
        .await?)
}

/// Deletes every capture that shows `person` (predicted, or attributed by a reviewer) and
/// returns their photos' storage keys for the caller to delete: part of erasing a person.
pub async fn erase_for_person(conn: &mut AsyncPgConnection, person: Uuid) -> Result<Vec<String>> {
    let attributed = attendance_events::table
        .filter(attendance_events::person_id.eq(person))
        .filter(attendance_events::capture_id.is_not_null())
        .select(attendance_events::capture_id.assume_not_null());
    let keys: Vec<Option<String>> = diesel::delete(
        captures::table.filter(
            captures::predicted_person_id
                .eq(person)
                .or(captures::id.eq_any(attributed)),
        ),
    )
    .returning(captures::object_key)
    .get_results(conn)
    .await?;
    Ok(keys.into_iter().flatten().collect())
}

/// Erases the photos (and sealed descriptors) of captures taken before `before`, up to
/// `limit` at a time: the objects go to the storage orphans sweep, the rows keep their
/// decision, so the attendance they gave stays. Returns how many were erased.
pub async fn expire_photos(
    conn: &mut AsyncPgConnection,
    before: DateTime<Utc>,
    limit: i64,
) -> Result<usize> {
    Ok(diesel::sql_query(
        "WITH old AS (
             SELECT id, object_key FROM captures
              WHERE captured_at < $1 AND object_key IS NOT NULL
              ORDER BY captured_at LIMIT $2 FOR UPDATE SKIP LOCKED),
         orphaned AS (
             INSERT INTO storage_orphans (key) SELECT object_key FROM old ON CONFLICT DO NOTHING)
         UPDATE captures c SET object_key = NULL, descriptor = NULL, updated_at = now()
           FROM old WHERE c.id = old.id",
    )
    .bind::<diesel::sql_types::Timestamptz, _>(before)
    .bind::<diesel::sql_types::BigInt, _>(limit)
    .execute(conn)
    .await?)
}
