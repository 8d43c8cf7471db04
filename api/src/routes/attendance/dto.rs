//! Response shapes of captures and attendance (seed 004 §4, seed 001), and the read models
//! that batch their related rows: a page of N items costs a constant number of queries.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use poem_openapi::Object;
use uuid::Uuid;
use vigil_core::attendance::calendar;
use vigil_core::attendance::captures::{self, Capture, CaptureStatus};
use vigil_core::attendance::events::{self, Event};
use vigil_core::attendance::logs::{Log, Record};
use vigil_core::attendance::{EventSource, EventStatus, LogStatus, OdooStatus, Presence};
use vigil_core::people::{self, Person};

use crate::error::ApiResult;
use crate::routes::face_photos::PhotoDto;
use crate::state::ApiState;

async fn url_of(state: &ApiState, key: Option<&str>) -> Option<String> {
    let key = key?;
    state
        .ctx
        .storage
        .download_url(key, state.ctx.config.download_url_ttl())
        .await
        .ok()
}

/// A capture and its decision (seed 001's capture response, with Vigil's fields).
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct CaptureDto {
    pub id: Uuid,
    /// The device's own id for the capture.
    pub capture_id: String,
    pub device_id: Option<Uuid>,
    pub classroom_id: Option<String>,
    /// When the device took the photo.
    pub timestamp: DateTime<Utc>,
    /// `processing`, `authorized` (an enrolled person: see `reviewStatus`), `unknown`,
    /// `no_face` or `failed`.
    pub status: CaptureStatus,
    /// Why there is no face or the photo failed.
    pub reason: Option<String>,
    /// The person recognised (only when `authorized`).
    pub predicted_person_id: Option<Uuid>,
    pub predicted_name: Option<String>,
    /// Their employee id or student number.
    pub predicted_number: Option<String>,
    /// 0–1: a logistic of the face distance, 0.5 at the strict match threshold.
    pub confidence: Option<f32>,
    /// The attendance event made from the capture.
    pub attendance_id: Option<Uuid>,
    /// `approved` (automatically or by a reviewer), `pending` review, or `rejected`.
    pub review_status: Option<EventStatus>,
    pub review_reason: Option<String>,
    pub auto_approved: bool,
    /// The recognition job.
    pub job_id: Option<Uuid>,
    pub image_url: Option<String>,
    pub received_at: DateTime<Utc>,
    pub decided_at: Option<DateTime<Utc>>,
    /// This request repeated a `captureId` the device had sent before.
    pub duplicate: bool,
}

/// Captures with their events and people (three queries for any number).
pub async fn capture_dtos(state: &ApiState, list: Vec<Capture>) -> ApiResult<Vec<CaptureDto>> {
    let ids: Vec<Uuid> = list.iter().map(|c| c.id).collect();
    let mut conn = crate::routes::conn(state).await?;
    let events = captures::events_of(&mut conn, &ids).await?;
    let mut person_ids: Vec<Uuid> = events.iter().map(|e| e.person_id).collect();
    person_ids.extend(list.iter().filter_map(|c| c.predicted_person_id));
    let persons: HashMap<Uuid, Person> = people::get_many(&mut conn, &person_ids)
        .await?
        .into_iter()
        .map(|p| (p.id, p))
        .collect();
    drop(conn);
    let mut out = Vec::with_capacity(list.len());
    for c in list {
        let event = events.iter().find(|e| e.capture_id == Some(c.id));
        let person_id = event.map(|e| e.person_id).or(c.predicted_person_id);
        let person = person_id
            .filter(|_| c.status == CaptureStatus::Authorized)
            .and_then(|p| persons.get(&p));
        out.push(CaptureDto {
            id: c.id,
            capture_id: c.capture_id,
            device_id: c.device_id,
            classroom_id: c.classroom_id,
            timestamp: c.captured_at,
            status: c.status,
            reason: c.reason,
            predicted_person_id: person.map(|p| p.id),
            predicted_name: person.map(|p| p.name.clone()),
            predicted_number: person.map(|p| p.number().to_string()),
            confidence: c.confidence,
            attendance_id: event.map(|e| e.id),
            review_status: event.map(|e| e.status),
            review_reason: event.and_then(|e| e.review_reason.clone()),
            auto_approved: event.is_some_and(|e| e.auto_approved),
            job_id: c.job_id,
            image_url: url_of(state, c.object_key.as_deref()).await,
            received_at: c.created_at,
            decided_at: c.decided_at,
            duplicate: false,
        });
    }
    Ok(out)
}

/// Who an attendance item is about.
#[derive(Debug, Object, Clone)]
#[oai(rename_all = "camelCase")]
pub struct AttendancePerson {
    pub id: Uuid,
    pub name: String,
    /// Employee id or student number.
    pub number: String,
    /// `employee` or `student`.
    pub kind: String,
    pub department: Option<String>,
}

impl From<&Person> for AttendancePerson {
    fn from(p: &Person) -> Self {
        Self {
            id: p.id,
            name: p.name.clone(),
            number: p.number().to_string(),
            kind: p.kind.to_string(),
            department: p.department.clone(),
        }
    }
}

/// One sighting of a person, with its evidence and review.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct EventDto {
    pub id: Uuid,
    pub person: Option<AttendancePerson>,
    /// `capture`, `manual` or `camera`.
    pub source: EventSource,
    pub timestamp: DateTime<Utc>,
    pub confidence: Option<f32>,
    pub status: EventStatus,
    pub auto_approved: bool,
    /// Why it waits for a reviewer.
    pub review_reason: Option<String>,
    pub reviewed_by: Option<Uuid>,
    pub reviewed_at: Option<DateTime<Utc>>,
    pub review_notes: Option<String>,
    /// Who the recognizer said it was, when a reviewer corrected the person.
    pub predicted_person_id: Option<Uuid>,
    pub device_id: Option<Uuid>,
    pub classroom_id: Option<String>,
    pub camera_id: Option<String>,
    /// The capture behind it (photo link, confidence, face box).
    pub capture_id: Option<Uuid>,
    /// The face seen: the device's capture, or the camera detection's thumbnail.
    pub image_url: Option<String>,
    pub face: Option<serde_json::Value>,
    /// The camera detection behind it.
    pub detection_id: Option<Uuid>,
    pub note: Option<String>,
    pub created_at: DateTime<Utc>,
    /// In the answer to a review with `addToGallery`: the face added to the person's photos,
    /// enrolled (or rejected with a reason) by the same checks as an uploaded photo.
    pub gallery_photo: Option<PhotoDto>,
}

/// Events with their people and captures (three queries for any number).
pub async fn event_dtos(state: &ApiState, list: Vec<Event>) -> ApiResult<Vec<EventDto>> {
    let person_ids: Vec<Uuid> = list.iter().map(|e| e.person_id).collect();
    let capture_ids: Vec<Uuid> = list.iter().filter_map(|e| e.capture_id).collect();
    let mut conn = crate::routes::conn(state).await?;
    let persons: HashMap<Uuid, Person> = people::get_many(&mut conn, &person_ids)
        .await?
        .into_iter()
        .map(|p| (p.id, p))
        .collect();
    let caps: HashMap<Uuid, Capture> = captures::get_many(&mut conn, &capture_ids)
        .await?
        .into_iter()
        .map(|c| (c.id, c))
        .collect();
    let images = events::face_images(&mut conn, &list).await?;
    drop(conn);
    let mut out = Vec::with_capacity(list.len());
    for e in list {
        let capture = e.capture_id.and_then(|c| caps.get(&c));
        let image_url = url_of(state, images.get(&e.id).map(String::as_str)).await;
        out.push(EventDto {
            id: e.id,
            person: persons.get(&e.person_id).map(Into::into),
            source: e.source,
            timestamp: e.occurred_at,
            confidence: e.confidence,
            status: e.status,
            auto_approved: e.auto_approved,
            review_reason: e.review_reason,
            reviewed_by: e.reviewed_by,
            reviewed_at: e.reviewed_at,
            review_notes: e.review_notes,
            predicted_person_id: e.predicted_person_id,
            device_id: e.device_id,
            classroom_id: e.classroom_id,
            camera_id: e.camera_id,
            capture_id: e.capture_id,
            image_url,
            face: capture.and_then(|c| c.face.clone()),
            detection_id: e.detection_id,
            note: e.note,
            created_at: e.created_at,
            gallery_photo: None,
        });
    }
    Ok(out)
}

/// Local `HH:MM:SS` of an instant.
fn clock(at: DateTime<Utc>) -> String {
    calendar::local(at).format("%H:%M:%S").to_string()
}

/// One person's attendance on one day (seed 004's log).
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct LogDto {
    pub id: Uuid,
    pub person_id: Uuid,
    /// Employee id or student number.
    pub employee_id: String,
    pub name: String,
    pub department: Option<String>,
    pub date: NaiveDate,
    /// First approved sighting (local `HH:MM:SS`, `VIGIL_TIMEZONE`); null when `missed`.
    pub time_in: Option<String>,
    /// Last approved sighting (local `HH:MM:SS`); null when `missed`.
    pub time_out: Option<String>,
    pub time_in_at: Option<DateTime<Utc>>,
    pub time_out_at: Option<DateTime<Utc>>,
    /// The shift the day was judged against (`late` after its start plus grace).
    pub shift_id: Option<String>,
    pub camera_id: Option<String>,
    pub device_id: Option<Uuid>,
    pub classroom_id: Option<String>,
    /// Best confidence of the day, in percent.
    pub accuracy: Option<f32>,
    /// Approved sightings that day.
    pub events: i32,
    pub status: LogStatus,
    pub odoo_status: OdooStatus,
    pub odoo_sync_time: Option<DateTime<Utc>>,
    pub odoo_error: Option<String>,
}

impl LogDto {
    pub fn new(log: Log, person: &Person) -> Self {
        Self {
            id: log.id,
            person_id: person.id,
            employee_id: person.number().to_string(),
            name: person.name.clone(),
            department: person.department.clone(),
            date: log.date,
            time_in: log.time_in.map(clock),
            time_out: log.time_out.map(clock),
            time_in_at: log.time_in,
            time_out_at: log.time_out,
            shift_id: log.shift_id,
            camera_id: log.camera_id,
            device_id: log.device_id,
            classroom_id: log.classroom_id,
            accuracy: log.accuracy.map(|a| (a * 1000.0).round() / 10.0),
            events: log.events,
            status: log.status,
            odoo_status: log.odoo_status,
            odoo_sync_time: log.odoo_sync_time,
            odoo_error: log.odoo_error,
        }
    }
}

/// Where a person is now (seed 004's presence record).
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct RecordDto {
    pub id: Uuid,
    /// Employee id or student number.
    pub person_id: String,
    pub name: String,
    pub role: Option<String>,
    pub department: Option<String>,
    pub status: Presence,
    /// Confidence of the last sighting, in percent.
    pub accuracy: Option<f32>,
    pub timestamp: DateTime<Utc>,
    pub camera_id: Option<String>,
    pub device_id: Option<Uuid>,
    pub classroom_id: Option<String>,
    pub thumbnail: Option<String>,
}

pub async fn record_dtos(state: &ApiState, records: Vec<Record>) -> ApiResult<Vec<RecordDto>> {
    let capture_ids: Vec<Uuid> = records.iter().filter_map(|r| r.capture_id).collect();
    let mut conn = crate::routes::conn(state).await?;
    let caps: HashMap<Uuid, Capture> = captures::get_many(&mut conn, &capture_ids)
        .await?
        .into_iter()
        .map(|c| (c.id, c))
        .collect();
    drop(conn);
    let mut out = Vec::with_capacity(records.len());
    for r in records {
        let key = r
            .capture_id
            .and_then(|c| caps.get(&c))
            .and_then(|c| c.object_key.as_deref());
        out.push(RecordDto {
            id: r.person.id,
            person_id: r.person.number().to_string(),
            name: r.person.name.clone(),
            role: r.person.role.clone(),
            department: r.person.department.clone(),
            status: r.presence,
            accuracy: r.confidence.map(|a| (a * 1000.0).round() / 10.0),
            timestamp: r.last_seen,
            camera_id: r.camera_id,
            device_id: r.device_id,
            classroom_id: r.classroom_id,
            thumbnail: url_of(state, key).await,
        });
    }
    Ok(out)
}
