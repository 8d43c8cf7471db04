//! `/shifts`: shift schedules (seed 004's `GET /shifts` and their CRUD). A day's attendance is
//! `late` after the person's shift start plus grace and `missed` when the shift ended without
//! a sighting; the rule lives in `vigil_core::attendance::shifts`.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use poem::Request;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};
use vigil_core::attendance::calendar;
use vigil_core::attendance::shifts::{self, Shift, ShiftDraft};
use vigil_core::auth::Permission;

use super::{Tag, conn};
use crate::auth::BearerAuth;
use crate::envelope::{self, Created, NoContent, Ok};
use crate::error::ApiResult;
use crate::middleware::note;
use crate::state::ApiState;

/// A shift, with today's compliance.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct ShiftDto {
    pub id: String,
    pub name: String,
    /// Local `HH:MM` (`VIGIL_TIMEZONE`).
    pub start_time: String,
    /// Local `HH:MM`; before `startTime`: the shift runs overnight.
    pub end_time: String,
    /// ISO weekdays, 1 = Monday.
    pub days: Vec<i16>,
    /// Minutes after the start before a first sighting is `late`.
    pub grace_minutes: i32,
    /// The departments whose people work it; empty: everyone.
    pub departments: Vec<String>,
    pub location: Option<String>,
    pub expected_headcount: i32,
    /// People of the shift seen today (present or late).
    pub present_today: i64,
    /// `presentToday` against `expectedHeadcount`, in percent (null without a headcount, or
    /// when the shift does not run today).
    pub compliance: Option<f64>,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// `POST /shifts` and `PUT /shifts/{id}` (omitted fields: defaults, or unchanged).
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct ShiftBody {
    /// `SHIFT-01`… when omitted (create only).
    #[oai(validator(max_length = 50))]
    pub id: Option<String>,
    #[oai(validator(max_length = 200))]
    pub name: Option<String>,
    /// `HH:MM`, local time; required on create.
    #[oai(validator(max_length = 8))]
    pub start_time: Option<String>,
    #[oai(validator(max_length = 8))]
    pub end_time: Option<String>,
    /// Default Monday to Friday.
    #[oai(validator(max_items = 7))]
    pub days: Option<Vec<i16>>,
    /// Default 10.
    pub grace_minutes: Option<i32>,
    #[oai(validator(max_items = 50))]
    pub departments: Option<Vec<String>>,
    #[oai(validator(max_length = 200))]
    pub location: Option<String>,
    pub expected_headcount: Option<i32>,
    /// `PUT` only: the version read; a shift changed since gets 409.
    pub version: Option<i32>,
}

impl ShiftBody {
    fn draft(self) -> (ShiftDraft, Option<i32>) {
        (
            ShiftDraft {
                id: self.id,
                name: self.name,
                start_time: self.start_time,
                end_time: self.end_time,
                days: self.days,
                grace_minutes: self.grace_minutes,
                departments: self.departments,
                location: self.location,
                expected_headcount: self.expected_headcount,
            },
            self.version,
        )
    }
}

pub struct ShiftsApi {
    pub state: Arc<ApiState>,
}

impl ShiftsApi {
    async fn dto(&self, s: Shift) -> ApiResult<ShiftDto> {
        let today = calendar::local(Utc::now()).date();
        let mut conn = conn(&self.state).await?;
        let present_today = shifts::attended(&mut conn, &s, today).await?;
        let compliance = (s.expected_headcount > 0 && s.runs_on(today)).then(|| {
            (present_today as f64 / f64::from(s.expected_headcount) * 1000.0).round() / 10.0
        });
        Ok(ShiftDto {
            start_time: s.start_time.format("%H:%M").to_string(),
            end_time: s.end_time.format("%H:%M").to_string(),
            id: s.id,
            name: s.name,
            days: s.days,
            grace_minutes: s.grace_minutes,
            departments: s.departments,
            location: s.location,
            expected_headcount: s.expected_headcount,
            present_today,
            compliance,
            version: s.version,
            created_at: s.created_at,
            updated_at: s.updated_at,
        })
    }
}

#[OpenApi(prefix_path = "/api/v1/shifts", tag = "Tag::Attendance")]
impl ShiftsApi {
    /// Every shift, earliest start first, with today's compliance.
    #[oai(path = "/", method = "get")]
    async fn list(&self, auth: BearerAuth) -> ApiResult<Ok<Vec<ShiftDto>>> {
        auth.0.require(Permission::AttendanceRead)?;
        let mut conn = conn(&self.state).await?;
        let all = shifts::list(&mut conn).await?;
        drop(conn);
        let mut out = Vec::with_capacity(all.len());
        for s in all {
            out.push(self.dto(s).await?);
        }
        Ok(envelope::ok(out))
    }

    #[oai(path = "/", method = "post", operation_id = "shifts.create")]
    async fn create(
        &self,
        req: &Request,
        auth: BearerAuth,
        body: Json<ShiftBody>,
    ) -> ApiResult<Created<ShiftDto>> {
        auth.0.require(Permission::ShiftsWrite)?;
        let (draft, _) = body.0.draft();
        let mut conn = conn(&self.state).await?;
        let shift = shifts::create(&mut conn, draft).await?;
        drop(conn);
        note(req, |n| n.resource_id = Some(shift.id.clone()));
        Ok(envelope::created(self.dto(shift).await?))
    }

    #[oai(path = "/:id", method = "get")]
    async fn get(&self, auth: BearerAuth, id: Path<String>) -> ApiResult<Ok<ShiftDto>> {
        auth.0.require(Permission::AttendanceRead)?;
        let mut conn = conn(&self.state).await?;
        let shift = shifts::get(&mut conn, &id.0).await?;
        drop(conn);
        Ok(envelope::ok(self.dto(shift).await?))
    }

    /// Change a shift. Logs already written keep the status they were given; new sightings
    /// are judged against the new times.
    #[oai(path = "/:id", method = "put", operation_id = "shifts.update")]
    async fn update(
        &self,
        req: &Request,
        auth: BearerAuth,
        id: Path<String>,
        body: Json<ShiftBody>,
    ) -> ApiResult<Ok<ShiftDto>> {
        auth.0.require(Permission::ShiftsWrite)?;
        let (draft, version) = body.0.draft();
        let mut conn = conn(&self.state).await?;
        let shift = shifts::update(&mut conn, &id.0, draft, version).await?;
        drop(conn);
        note(req, |n| n.resource_id = Some(shift.id.clone()));
        Ok(envelope::ok(self.dto(shift).await?))
    }

    #[oai(path = "/:id", method = "delete", operation_id = "shifts.delete")]
    async fn delete(
        &self,
        req: &Request,
        auth: BearerAuth,
        id: Path<String>,
    ) -> ApiResult<NoContent> {
        auth.0.require(Permission::ShiftsWrite)?;
        let mut conn = conn(&self.state).await?;
        shifts::delete(&mut conn, &id.0).await?;
        note(req, |n| n.resource_id = Some(id.0.clone()));
        Ok(NoContent::NoContent)
    }
}
