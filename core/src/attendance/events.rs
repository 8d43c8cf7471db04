//! Attendance events: each sighting of a person, and the review workflow over them.
//! Reviewers approve, reject or correct the person; a rejection (or correction) stores the
//! face as a negative example of the person it was wrongly matched to. Every change rebuilds
//! the logs of the days it touches, in the same transaction.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde::Serialize;
use uuid::Uuid;

use super::{EventSource, EventStatus, logs, negatives};
use crate::db::paginate::{PageRequest, Paged, Paginate};
use crate::db::schema::{attendance_events, captures, face_detections};
use crate::error::{Error, Result};

#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = attendance_events, check_for_backend(diesel::pg::Pg))]
#[serde(rename_all = "camelCase")]
pub struct Event {
    pub id: Uuid,
    pub person_id: Uuid,
    pub source: EventSource,
    pub capture_id: Option<Uuid>,
    pub occurred_at: DateTime<Utc>,
    pub confidence: Option<f32>,
    pub device_id: Option<Uuid>,
    pub classroom_id: Option<String>,
    pub camera_id: Option<String>,
    pub status: EventStatus,
    pub auto_approved: bool,
    pub review_reason: Option<String>,
    pub reviewed_by: Option<Uuid>,
    pub reviewed_at: Option<DateTime<Utc>>,
    pub review_notes: Option<String>,
    pub predicted_person_id: Option<Uuid>,
    pub note: Option<String>,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The camera detection this sighting came from.
    pub detection_id: Option<Uuid>,
    /// The end of a sighting that lasted (a camera track); `None`: the moment only.
    pub last_seen_at: Option<DateTime<Utc>>,
}

pub async fn get(conn: &mut AsyncPgConnection, id: Uuid) -> Result<Option<Event>> {
    Ok(attendance_events::table
        .find(id)
        .select(Event::as_select())
        .first(conn)
        .await
        .optional()?)
}

#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub status: Option<EventStatus>,
    pub person_id: Option<Uuid>,
    pub device_id: Option<Uuid>,
    pub classroom_id: Option<String>,
}

/// Events, newest first.
pub async fn list(
    conn: &mut AsyncPgConnection,
    filter: &Filter,
    page: PageRequest,
) -> Result<Paged<Event>> {
    let mut q = attendance_events::table.into_boxed();
    if let Some(s) = filter.status {
        q = q.filter(attendance_events::status.eq(s));
    }
    if let Some(p) = filter.person_id {
        q = q.filter(attendance_events::person_id.eq(p));
    }
    if let Some(d) = filter.device_id {
        q = q.filter(attendance_events::device_id.eq(d));
    }
    if let Some(c) = filter.classroom_id.clone() {
        q = q.filter(attendance_events::classroom_id.eq(c));
    }
    q.order((
        attendance_events::occurred_at.desc(),
        attendance_events::id.desc(),
    ))
    .select(Event::as_select())
    .paginate(page)
    .load_page(conn)
    .await
}

/// The stored pictures of the faces events saw, by event: the device capture, or the camera
/// detection's thumbnail. Manual entries, and pictures retention has removed, have none.
pub async fn face_images(
    conn: &mut AsyncPgConnection,
    events: &[Event],
) -> Result<HashMap<Uuid, String>> {
    let capture_ids: Vec<Uuid> = events.iter().filter_map(|e| e.capture_id).collect();
    let detection_ids: Vec<Uuid> = events.iter().filter_map(|e| e.detection_id).collect();
    let mut keys: HashMap<Uuid, String> = captures::table
        .filter(captures::id.eq_any(&capture_ids))
        .filter(captures::object_key.is_not_null())
        .select((captures::id, captures::object_key.assume_not_null()))
        .load::<(Uuid, String)>(conn)
        .await?
        .into_iter()
        .collect();
    keys.extend(
        face_detections::table
            .filter(face_detections::id.eq_any(&detection_ids))
            .filter(face_detections::thumbnail_key.is_not_null())
            .select((
                face_detections::id,
                face_detections::thumbnail_key.assume_not_null(),
            ))
            .load::<(Uuid, String)>(conn)
            .await?,
    );
    Ok(events
        .iter()
        .filter_map(|e| {
            let source = e.capture_id.or(e.detection_id)?;
            Some((e.id, keys.get(&source)?.clone()))
        })
        .collect())
}

/// The sealed descriptor of the face an event saw: its capture's, or its camera detection's.
async fn sealed_face(conn: &mut AsyncPgConnection, event: &Event) -> Result<Option<String>> {
    let sealed = if let Some(capture) = event.capture_id {
        captures::table
            .find(capture)
            .select(captures::descriptor)
            .first(conn)
            .await
            .optional()?
    } else if let Some(detection) = event.detection_id {
        face_detections::table
            .find(detection)
            .select(face_detections::descriptor)
            .first(conn)
            .await
            .optional()?
    } else {
        None
    };
    Ok(sealed.flatten())
}

/// A reviewer's verdict on an event.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Verdict {
    Approve,
    Reject,
    /// It is this other person (approved as them).
    Correct(Uuid),
}

/// Applies a review. A rejected or corrected sighting's face (a device capture, or a camera
/// track's largest face) becomes a negative example of the person it was matched to, so the
/// same confusion waits for review next time.
pub async fn review(
    conn: &mut AsyncPgConnection,
    sealer: &crate::auth::Sealer,
    id: Uuid,
    verdict: Verdict,
    notes: Option<String>,
    reviewer: Uuid,
) -> Result<Event> {
    if let Verdict::Correct(person) = verdict {
        crate::people::get(conn, person)
            .await
            .map_err(|_| Error::validation("personId", "personId must name a registered person"))?;
    }
    let sealer = sealer.clone();
    conn.transaction::<_, Error, _>(async move |conn| {
        let event: Event = attendance_events::table
            .find(id)
            .select(Event::as_select())
            .for_update()
            .first(conn)
            .await
            .optional()?
            .ok_or_else(|| Error::not_found("no such attendance event"))?;
        let wrong_person = match verdict {
            Verdict::Approve => None,
            Verdict::Reject => Some(event.person_id),
            Verdict::Correct(p) if p != event.person_id => Some(event.person_id),
            Verdict::Correct(_) => None,
        };
        if let Some(wrong) = wrong_person
            && let Some(sealed) = sealed_face(conn, &event).await?
        {
            // Checked to open, so a negative is never stored unreadable.
            negatives::open_descriptor(&sealer, &sealed)?;
            let source = negatives::Source {
                capture: event.capture_id,
                detection: event.detection_id,
            };
            negatives::add(conn, wrong, &sealed, source, Some(reviewer)).await?;
        }
        let (status, person, predicted) = match verdict {
            Verdict::Approve => (
                EventStatus::Approved,
                event.person_id,
                event.predicted_person_id,
            ),
            Verdict::Reject => (
                EventStatus::Rejected,
                event.person_id,
                event.predicted_person_id,
            ),
            Verdict::Correct(p) => (
                EventStatus::Approved,
                p,
                event.predicted_person_id.or(Some(event.person_id)),
            ),
        };
        let now = Utc::now();
        let updated: Event = diesel::update(attendance_events::table.find(id))
            .set((
                attendance_events::status.eq(status),
                attendance_events::person_id.eq(person),
                attendance_events::predicted_person_id.eq(predicted),
                attendance_events::reviewed_by.eq(reviewer),
                attendance_events::reviewed_at.eq(now),
                attendance_events::review_notes.eq(notes),
                attendance_events::updated_at.eq(now),
            ))
            .returning(Event::as_returning())
            .get_result(conn)
            .await?;
        logs::refresh(conn, event.person_id, event.occurred_at).await?;
        if person != event.person_id {
            logs::refresh(conn, person, event.occurred_at).await?;
        }
        Ok(updated)
    })
    .await
}

/// A recognised sighting, from a device capture or a camera detection.
pub struct Sighting<'a> {
    pub person: Uuid,
    pub source: EventSource,
    pub occurred_at: DateTime<Utc>,
    pub confidence: Option<f32>,
    pub status: EventStatus,
    pub review_reason: Option<String>,
    pub capture_id: Option<Uuid>,
    pub device_id: Option<Uuid>,
    pub classroom_id: Option<&'a str>,
    pub camera_id: Option<&'a str>,
    pub detection_id: Option<Uuid>,
    /// The end of a sighting that lasted (a camera track).
    pub last_seen_at: Option<DateTime<Utc>>,
}

/// Records a sighting (once per capture or detection: a repeat is ignored) and, when approved,
/// rebuilds its day's log. Call inside the transaction that stores what was recognised.
pub async fn add_sighting(conn: &mut AsyncPgConnection, s: Sighting<'_>) -> Result<()> {
    let inserted = diesel::insert_into(attendance_events::table)
        .values((
            attendance_events::id.eq(Uuid::now_v7()),
            attendance_events::person_id.eq(s.person),
            attendance_events::source.eq(s.source),
            attendance_events::capture_id.eq(s.capture_id),
            attendance_events::detection_id.eq(s.detection_id),
            attendance_events::last_seen_at.eq(s.last_seen_at),
            attendance_events::occurred_at.eq(s.occurred_at),
            attendance_events::confidence.eq(s.confidence),
            attendance_events::device_id.eq(s.device_id),
            attendance_events::classroom_id.eq(s.classroom_id),
            attendance_events::camera_id.eq(s.camera_id),
            attendance_events::status.eq(s.status),
            attendance_events::auto_approved.eq(s.status == EventStatus::Approved),
            attendance_events::review_reason.eq(s.review_reason),
        ))
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    if inserted > 0 && s.status == EventStatus::Approved {
        logs::refresh(conn, s.person, s.occurred_at).await?;
    }
    Ok(())
}

pub struct Manual {
    pub person: Uuid,
    pub occurred_at: DateTime<Utc>,
    pub camera_id: Option<String>,
    pub classroom_id: Option<String>,
    pub note: Option<String>,
    /// Approved at once when entered by a reviewer; pending otherwise.
    pub status: EventStatus,
    pub created_by: Uuid,
}

/// A sighting entered by hand.
pub async fn add_manual(conn: &mut AsyncPgConnection, m: Manual) -> Result<Event> {
    if let Some(note) = &m.note
        && note.chars().count() > 2000
    {
        return Err(Error::validation(
            "note",
            "note must be at most 2000 characters",
        ));
    }
    if m.occurred_at > Utc::now() + chrono::Duration::minutes(5) {
        return Err(Error::validation(
            "timestamp",
            "timestamp must not be in the future",
        ));
    }
    conn.transaction::<_, Error, _>(async move |conn| {
        let event: Event = diesel::insert_into(attendance_events::table)
            .values((
                attendance_events::id.eq(Uuid::now_v7()),
                attendance_events::person_id.eq(m.person),
                attendance_events::source.eq(EventSource::Manual),
                attendance_events::occurred_at.eq(m.occurred_at),
                attendance_events::camera_id.eq(&m.camera_id),
                attendance_events::classroom_id.eq(&m.classroom_id),
                attendance_events::status.eq(m.status),
                attendance_events::review_reason
                    .eq((m.status == EventStatus::Pending).then_some("entered by hand")),
                attendance_events::reviewed_by
                    .eq((m.status == EventStatus::Approved).then_some(m.created_by)),
                attendance_events::reviewed_at
                    .eq((m.status == EventStatus::Approved).then(Utc::now)),
                attendance_events::note.eq(&m.note),
                attendance_events::created_by.eq(m.created_by),
            ))
            .returning(Event::as_returning())
            .get_result(conn)
            .await?;
        logs::refresh(conn, m.person, m.occurred_at).await?;
        Ok(event)
    })
    .await
}

/// What `DELETE /attendance/{id}` removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deleted {
    Event,
    Log,
}

/// Deletes an event (rebuilding its day's log) or, given a log id, the log and its day's
/// events.
pub async fn delete(conn: &mut AsyncPgConnection, id: Uuid) -> Result<Deleted> {
    conn.transaction::<_, Error, _>(async move |conn| {
        let event: Option<Event> = diesel::delete(attendance_events::table.find(id))
            .returning(Event::as_returning())
            .get_result(conn)
            .await
            .optional()?;
        if let Some(event) = event {
            logs::refresh(conn, event.person_id, event.occurred_at).await?;
            return Ok(Deleted::Event);
        }
        let log = logs::get(conn, id)
            .await?
            .ok_or_else(|| Error::not_found("no such attendance event or log"))?;
        logs::delete(conn, &log).await?;
        Ok(Deleted::Log)
    })
    .await
}
