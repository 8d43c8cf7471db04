//! `/attendance` (seed 004 §4, seed 001's review): pending sightings and their review, manual
//! entries, logs per person and day, presence records and statistics; and `/capture` for
//! devices.

pub mod capture;
pub mod dto;

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use poem::Request;
use poem_openapi::param::{Header, Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};
use uuid::Uuid;
use vigil_core::attendance::calendar;
use vigil_core::attendance::events::{self, Deleted, Manual, Verdict};
use vigil_core::attendance::logs::{self, Statistics};
use vigil_core::attendance::overview::{self, Overview};
use vigil_core::attendance::{EventStatus, LogStatus, OdooStatus, ReviewAction};
use vigil_core::auth::Permission;
use vigil_core::db::Paged;
use vigil_core::detections::DetectionStatus;
use vigil_core::exports::{ExportFormat, ExportRequest, ExportSource};
use vigil_core::jobs::NewJob;
use vigil_core::people;

use super::Tag;
use super::face_photos::PhotoBatch;
use super::jobs::{Accepted, submit};
use crate::auth::BearerAuth;
use crate::envelope::{self, Created, NoContent, Ok};
use crate::error::{ApiError, ApiResult};
use crate::middleware::note;
use crate::params::{Choice, Paging};
use crate::state::ApiState;
use dto::{EventDto, LogDto, RecordDto, event_dtos, record_dtos};

/// Most presence records in one answer.
const MAX_RECORDS: i64 = 500;

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct ReviewBody {
    /// `approve`, `reject`, or `correct` (with `personId`: it is that person).
    pub action: Choice<ReviewAction>,
    pub person_id: Option<Uuid>,
    #[oai(validator(max_length = 2000))]
    pub notes: Option<String>,
    /// Add the face seen to the photos of the person the sighting is (now) attributed to,
    /// through the same enrollment checks as an uploaded photo. Needs `faces:write` too.
    pub add_to_gallery: Option<bool>,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct ManualBody {
    /// The person's employee id or student number.
    #[oai(validator(min_length = 1, max_length = 50))]
    pub employee_id: String,
    pub camera_id: Option<String>,
    pub classroom_id: Option<String>,
    pub timestamp: DateTime<Utc>,
    /// Only `present` is accepted: a day's status comes from its sightings.
    pub status: Option<Choice<LogStatus>>,
    #[oai(validator(max_length = 2000))]
    pub note: Option<String>,
}

fn parse_date(field: &'static str, v: Option<String>) -> ApiResult<Option<NaiveDate>> {
    v.filter(|s| !s.trim().is_empty())
        .map(|s| {
            NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
                .map_err(|_| ApiError::validation(field, "must be a date like 2025-11-05"))
        })
        .transpose()
}

/// `POST /attendance/export`: the logs' filters (as `GET /attendance/logs` takes them).
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct AttendanceExportBody {
    /// `csv` or `pdf`.
    pub format: Choice<ExportFormat>,
    #[oai(validator(max_length = 200))]
    pub search: Option<String>,
    pub person_id: Option<Uuid>,
    #[oai(validator(max_length = 50))]
    pub camera_id: Option<String>,
    #[oai(validator(max_length = 200))]
    pub classroom_id: Option<String>,
    pub device_id: Option<Uuid>,
    /// `YYYY-MM-DD`, local days.
    pub date_from: Option<String>,
    pub date_to: Option<String>,
    pub odoo_status: Option<Choice<OdooStatus>>,
    pub status: Option<Choice<LogStatus>>,
}

/// A shift's day in the overview.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct ShiftDayDto {
    pub id: String,
    pub name: String,
    pub start_time: String,
    pub end_time: String,
    /// People the shift covers that day.
    pub expected: i64,
    pub present: i64,
    pub late: i64,
    pub missed: i64,
    /// Present and late against the shift's expected headcount (else its people), percent.
    pub compliance: Option<f64>,
}

/// `GET /attendance/overview`.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct OverviewDto {
    pub date: NaiveDate,
    pub timezone: String,
    /// People not archived.
    pub people: i64,
    /// People with a shift that day.
    pub expected: i64,
    pub present: i64,
    pub late: i64,
    pub missed: i64,
    /// Present and late against the expected, percent (null when nobody is expected).
    pub attendance_rate: Option<f64>,
    /// On site now (last approved sighting within `VIGIL_ATTENDANCE_ABSENCE_SECS`).
    pub on_site: i64,
    pub pending_reviews: i64,
    /// Camera face detections that day, by status.
    pub detections_authorized: i64,
    pub detections_visitor: i64,
    pub detections_unknown: i64,
    pub shifts: Vec<ShiftDayDto>,
}

fn percent(part: i64, whole: i64) -> Option<f64> {
    (whole > 0).then(|| (part as f64 / whole as f64 * 1000.0).round() / 10.0)
}

impl From<Overview> for OverviewDto {
    fn from(o: Overview) -> Self {
        let detections =
            |s: DetectionStatus| o.detections.iter().find(|d| d.0 == s).map_or(0, |d| d.1);
        Self {
            date: o.date,
            timezone: calendar::tz().to_string(),
            people: o.people,
            expected: o.expected,
            present: o.counts.present,
            late: o.counts.late,
            missed: o.counts.missed,
            attendance_rate: percent(o.counts.present + o.counts.late, o.expected),
            on_site: o.on_site,
            pending_reviews: o.pending_reviews,
            detections_authorized: detections(DetectionStatus::Authorized),
            detections_visitor: detections(DetectionStatus::Visitor),
            detections_unknown: detections(DetectionStatus::Unknown),
            shifts: o
                .shifts
                .into_iter()
                .map(|d| {
                    let headcount = if d.shift.expected_headcount > 0 {
                        i64::from(d.shift.expected_headcount)
                    } else {
                        d.expected
                    };
                    ShiftDayDto {
                        start_time: d.shift.start_time.format("%H:%M").to_string(),
                        end_time: d.shift.end_time.format("%H:%M").to_string(),
                        id: d.shift.id,
                        name: d.shift.name,
                        expected: d.expected,
                        present: d.counts.present,
                        late: d.counts.late,
                        missed: d.counts.missed,
                        compliance: percent(d.counts.present + d.counts.late, headcount),
                    }
                })
                .collect(),
        }
    }
}

pub struct AttendanceApi {
    pub state: Arc<ApiState>,
}

#[OpenApi(prefix_path = "/api/v1/attendance", tag = "Tag::Attendance")]
impl AttendanceApi {
    /// Sightings waiting for a reviewer (recognitions below the auto-approve confidence, faces
    /// resembling a rejected capture, manual entries by non-reviewers), newest first, with
    /// their evidence.
    #[oai(path = "/pending", method = "get")]
    async fn pending(&self, auth: BearerAuth, paging: Paging) -> ApiResult<Ok<Vec<EventDto>>> {
        auth.0.require(Permission::AttendanceRead)?;
        let filter = events::Filter {
            status: Some(EventStatus::Pending),
            ..Default::default()
        };
        let mut conn = super::conn(&self.state).await?;
        let page = events::list(&mut conn, &filter, paging.0).await?;
        drop(conn);
        let items = event_dtos(&self.state, page.items).await?;
        Ok(envelope::page(Paged {
            items,
            total: page.total,
            page: page.page,
        }))
    }

    /// Every sighting, filtered by review status, person, device or classroom.
    #[oai(path = "/events", method = "get")]
    async fn events(
        &self,
        auth: BearerAuth,
        status: Query<Option<Choice<EventStatus>>>,
        #[oai(name = "personId")] person_id: Query<Option<Uuid>>,
        #[oai(name = "deviceId")] device_id: Query<Option<Uuid>>,
        #[oai(name = "classroomId")] classroom_id: Query<Option<String>>,
        paging: Paging,
    ) -> ApiResult<Ok<Vec<EventDto>>> {
        auth.0.require(Permission::AttendanceRead)?;
        let filter = events::Filter {
            status: status.0.map(|s| s.get("status")).transpose()?,
            person_id: person_id.0,
            device_id: device_id.0,
            classroom_id: classroom_id.0,
        };
        let mut conn = super::conn(&self.state).await?;
        let page = events::list(&mut conn, &filter, paging.0).await?;
        drop(conn);
        let items = event_dtos(&self.state, page.items).await?;
        Ok(envelope::page(Paged {
            items,
            total: page.total,
            page: page.page,
        }))
    }

    /// Approve, reject or correct a sighting, with notes. A rejected (or corrected) capture's
    /// face is kept as a negative example of the person it was matched to: a later face
    /// closer to it than to that person's photos is never approved automatically.
    #[oai(
        path = "/:id/review",
        method = "post",
        operation_id = "attendance.review"
    )]
    async fn review(
        &self,
        req: &Request,
        auth: BearerAuth,
        id: Path<Uuid>,
        body: Json<ReviewBody>,
    ) -> ApiResult<Ok<EventDto>> {
        auth.0.require(Permission::AttendanceReview)?;
        let b = body.0;
        let action = b.action.get("action")?;
        let verdict = match action {
            ReviewAction::Approve => Verdict::Approve,
            ReviewAction::Reject => Verdict::Reject,
            ReviewAction::Correct => Verdict::Correct(b.person_id.ok_or_else(|| {
                ApiError::validation("personId", "personId is required to correct a sighting")
            })?),
        };
        let notes = b
            .notes
            .map(|n| n.trim().to_string())
            .filter(|n| !n.is_empty());
        note(req, |n| {
            n.context = Some(serde_json::json!({
                "action": action, "personId": b.person_id, "notes": notes,
            }));
        });
        let mut conn = super::conn(&self.state).await?;
        let gallery_face = if b.add_to_gallery == Some(true) {
            auth.0.require(Permission::FacesWrite)?;
            Some(gallery_face(&mut conn, id.0, verdict).await?)
        } else {
            None
        };
        let event = events::review(
            &mut conn,
            self.state.ctx.secrets.sealer(),
            id.0,
            verdict,
            notes,
            auth.0.user.id,
        )
        .await?;
        let person = people::get(&mut conn, event.person_id).await?;
        drop(conn);
        let mut dto = event_dtos(&self.state, vec![event])
            .await?
            .pop()
            .ok_or_else(ApiError::internal)?;
        if let Some(key) = gallery_face {
            let bytes = self.state.ctx.storage.get_bytes(&key).await?;
            let mut batch = PhotoBatch::new(person.profile_id, "addToGallery");
            let name = format!("attendance-{}", id.0);
            batch
                .store_bytes(&self.state, bytes, Some(name), "the sighting's face")
                .await?;
            dto.gallery_photo = batch.enroll(&self.state, Some(auth.0.user.id)).await?.pop();
        }
        Ok(envelope::ok(dto))
    }

    /// Enter a sighting by hand. Approved at once when entered by a reviewer, pending review
    /// otherwise.
    #[oai(path = "/manual", method = "post", operation_id = "attendance.manual")]
    async fn manual(
        &self,
        req: &Request,
        auth: BearerAuth,
        body: Json<ManualBody>,
    ) -> ApiResult<Created<EventDto>> {
        let reviewer = auth.0.permissions.allows(Permission::AttendanceReview);
        if !reviewer {
            auth.0.require(Permission::AttendanceWrite)?;
        }
        let b = body.0;
        if let Some(status) = b.status {
            let status = status.get("status")?;
            if status != LogStatus::Present {
                return Err(ApiError::validation(
                    "status",
                    "only present can be entered: late and missed come from shifts",
                ));
            }
        }
        let mut conn = super::conn(&self.state).await?;
        let person = people::find_by_number(&mut conn, b.employee_id.trim())
            .await
            .map_err(|_| {
                ApiError::validation("employeeId", "employeeId names no registered person")
            })?;
        let trim = |v: Option<String>| v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
        let event = events::add_manual(
            &mut conn,
            Manual {
                person: person.id,
                occurred_at: b.timestamp,
                camera_id: trim(b.camera_id),
                classroom_id: trim(b.classroom_id),
                note: trim(b.note),
                status: if reviewer {
                    EventStatus::Approved
                } else {
                    EventStatus::Pending
                },
                created_by: auth.0.user.id,
            },
        )
        .await?;
        drop(conn);
        note(req, |n| {
            n.resource_id = Some(event.id.to_string());
            n.context = Some(serde_json::json!({ "personId": person.id, "status": event.status }));
        });
        let mut dtos = event_dtos(&self.state, vec![event]).await?;
        Ok(envelope::created(
            dtos.pop().ok_or_else(ApiError::internal)?,
        ))
    }

    /// Delete a sighting (its day's log is rebuilt), or a log with its day's sightings.
    #[oai(path = "/:id", method = "delete", operation_id = "attendance.delete")]
    async fn delete(
        &self,
        req: &Request,
        auth: BearerAuth,
        id: Path<Uuid>,
    ) -> ApiResult<NoContent> {
        auth.0.require(Permission::AttendanceReview)?;
        let mut conn = super::conn(&self.state).await?;
        let deleted = events::delete(&mut conn, id.0).await?;
        note(req, |n| {
            n.context = Some(serde_json::json!({
                "deleted": match deleted { Deleted::Event => "event", Deleted::Log => "log" },
            }));
        });
        Ok(NoContent::NoContent)
    }

    /// Attendance logs (one per person and day), filtered; newest day first.
    #[oai(path = "/logs", method = "get")]
    #[allow(clippy::too_many_arguments)]
    async fn logs(
        &self,
        auth: BearerAuth,
        search: Query<Option<String>>,
        #[oai(name = "cameraId")] camera_id: Query<Option<String>>,
        #[oai(name = "classroomId")] classroom_id: Query<Option<String>>,
        #[oai(name = "deviceId")] device_id: Query<Option<Uuid>>,
        #[oai(name = "personId")] person_id: Query<Option<Uuid>>,
        #[oai(name = "dateFrom")] date_from: Query<Option<String>>,
        #[oai(name = "dateTo")] date_to: Query<Option<String>>,
        #[oai(name = "odooStatus")] odoo_status: Query<Option<Choice<OdooStatus>>>,
        status: Query<Option<Choice<LogStatus>>>,
        paging: Paging,
    ) -> ApiResult<Ok<Vec<LogDto>>> {
        auth.0.require(Permission::AttendanceRead)?;
        let filter = logs::Filter {
            search: search.0,
            person_id: person_id.0,
            camera_id: camera_id.0,
            classroom_id: classroom_id.0,
            device_id: device_id.0,
            date_from: parse_date("dateFrom", date_from.0)?,
            date_to: parse_date("dateTo", date_to.0)?,
            odoo_status: odoo_status.0.map(|s| s.get("odooStatus")).transpose()?,
            status: status.0.map(|s| s.get("status")).transpose()?,
        };
        let mut conn = super::conn(&self.state).await?;
        let page = logs::list(&mut conn, &filter, paging.0).await?;
        let ids: Vec<Uuid> = page.items.iter().map(|l| l.person_id).collect();
        let persons = people::get_many(&mut conn, &ids).await?;
        let items = page
            .items
            .into_iter()
            .filter_map(|log| {
                let person = persons.iter().find(|p| p.id == log.person_id)?;
                Some(LogDto::new(log, person))
            })
            .collect();
        Ok(envelope::page(Paged {
            items,
            total: page.total,
            page: page.page,
        }))
    }

    /// Export attendance logs as CSV or PDF (an `export` job; its result holds the download
    /// link, for callers with `attendance:read`). Times are local to `VIGIL_TIMEZONE`.
    #[oai(path = "/export", method = "post", operation_id = "attendance.export")]
    async fn export(
        &self,
        req: &Request,
        auth: BearerAuth,
        #[oai(name = "Idempotency-Key")] idempotency_key: Header<Option<String>>,
        body: Json<AttendanceExportBody>,
    ) -> ApiResult<Accepted> {
        auth.0.require(Permission::AttendanceRead)?;
        let b = body.0;
        let request = ExportRequest {
            format: b.format.get("format")?,
            source: ExportSource::Attendance(logs::Filter {
                search: b.search,
                person_id: b.person_id,
                camera_id: b.camera_id,
                classroom_id: b.classroom_id,
                device_id: b.device_id,
                date_from: parse_date("dateFrom", b.date_from)?,
                date_to: parse_date("dateTo", b.date_to)?,
                odoo_status: b.odoo_status.map(|s| s.get("odooStatus")).transpose()?,
                status: b.status.map(|s| s.get("status")).transpose()?,
            }),
        };
        submit(
            &self.state,
            req,
            &auth.0,
            NewJob::of(&request),
            idempotency_key.0,
        )
        .await
    }

    /// One day at a glance (default today, local to `VIGIL_TIMEZONE`): expected, present,
    /// late and missed people overall and per shift, who is on site now, pending reviews, and
    /// the cameras' face detections by status.
    #[oai(path = "/overview", method = "get")]
    async fn overview(
        &self,
        auth: BearerAuth,
        date: Query<Option<String>>,
    ) -> ApiResult<Ok<OverviewDto>> {
        auth.0.require(Permission::AttendanceRead)?;
        let now = Utc::now();
        let date = parse_date("date", date.0)?.unwrap_or_else(|| calendar::local(now).date());
        let absence = std::time::Duration::from_secs(self.state.ctx.config.attendance_absence_secs);
        let mut conn = super::conn(&self.state).await?;
        let o = overview::of_day(&mut conn, date, now, absence).await?;
        Ok(envelope::ok(o.into()))
    }

    /// Where people are now: each person's last approved sighting, `on-site` within
    /// `VIGIL_ATTENDANCE_ABSENCE_SECS` of it, `off-site` after. Most recent first.
    #[oai(path = "/records", method = "get")]
    async fn records(
        &self,
        auth: BearerAuth,
        limit: Query<Option<i64>>,
    ) -> ApiResult<Ok<Vec<RecordDto>>> {
        auth.0.require(Permission::AttendanceRead)?;
        let limit = limit.0.unwrap_or(50);
        if !(1..=MAX_RECORDS).contains(&limit) {
            return Err(ApiError::validation(
                "limit",
                format!("limit must be between 1 and {MAX_RECORDS}"),
            ));
        }
        let absence = std::time::Duration::from_secs(self.state.ctx.config.attendance_absence_secs);
        let mut conn = super::conn(&self.state).await?;
        let records = logs::records(&mut conn, absence, limit, Utc::now()).await?;
        drop(conn);
        Ok(envelope::ok(record_dtos(&self.state, records).await?))
    }

    /// Figures over a range of days (default today, UTC): people present per day, attendance
    /// rate, review counts, logs waiting for the Odoo sync.
    #[oai(path = "/statistics", method = "get")]
    async fn statistics(
        &self,
        auth: BearerAuth,
        #[oai(name = "dateFrom")] date_from: Query<Option<String>>,
        #[oai(name = "dateTo")] date_to: Query<Option<String>>,
    ) -> ApiResult<Ok<StatisticsDto>> {
        auth.0.require(Permission::AttendanceRead)?;
        let today = Utc::now().date_naive();
        let to = parse_date("dateTo", date_to.0)?.unwrap_or(today);
        let from = parse_date("dateFrom", date_from.0)?.unwrap_or(to);
        let mut conn = super::conn(&self.state).await?;
        let stats = logs::statistics(&mut conn, from, to).await?;
        Ok(envelope::ok(StatisticsDto::from(stats)))
    }
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct DayDto {
    pub date: NaiveDate,
    pub present: i64,
    pub late: i64,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct StatisticsDto {
    pub date_from: NaiveDate,
    pub date_to: NaiveDate,
    pub total_people: i64,
    /// Days with a sighting (present or late).
    pub logs: i64,
    /// Shift days that passed without a sighting.
    pub missed: i64,
    pub people_present: i64,
    /// Mean share of people present per day, in percent.
    pub attendance_rate: f64,
    /// Mean best confidence of the logs (0–1).
    pub average_accuracy: Option<f64>,
    pub pending_reviews: i64,
    pub approved_events: i64,
    pub rejected_events: i64,
    pub auto_approved_events: i64,
    pub odoo_pending: i64,
    pub days: Vec<DayDto>,
}

impl From<Statistics> for StatisticsDto {
    fn from(s: Statistics) -> Self {
        Self {
            date_from: s.date_from,
            date_to: s.date_to,
            total_people: s.total_people,
            logs: s.logs,
            missed: s.missed,
            people_present: s.people_present,
            attendance_rate: s.attendance_rate,
            average_accuracy: s.average_accuracy,
            pending_reviews: s.pending_reviews,
            approved_events: s.approved_events,
            rejected_events: s.rejected_events,
            auto_approved_events: s.auto_approved_events,
            odoo_pending: s.odoo_pending,
            days: s
                .days
                .into_iter()
                .map(|d| DayDto {
                    date: d.date,
                    present: d.present,
                    late: d.late,
                })
                .collect(),
        }
    }
}

/// The stored face a review may add to a gallery, checked before the review is applied so a
/// refused request changes nothing.
async fn gallery_face(
    conn: &mut diesel_async::AsyncPgConnection,
    id: Uuid,
    verdict: Verdict,
) -> ApiResult<String> {
    if verdict == Verdict::Reject {
        return Err(ApiError::validation(
            "addToGallery",
            "a rejected sighting's face is added to nobody's gallery",
        ));
    }
    let event = events::get(conn, id)
        .await?
        .ok_or_else(|| ApiError::not_found("no such attendance event"))?;
    events::face_images(conn, std::slice::from_ref(&event))
        .await?
        .remove(&event.id)
        .ok_or_else(|| {
            ApiError::validation(
                "addToGallery",
                "this sighting has no face picture to add (a manual entry, or removed by retention)",
            )
        })
}
