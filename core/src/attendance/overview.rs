//! One day at a glance (`GET /attendance/overview`): who was expected, came, came late or
//! missed their shift, who is on site now, what waits for review, per shift and per camera
//! status. Composed from the logs, events, shifts and detections; no state of its own.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::Serialize;
use uuid::Uuid;

use super::{EventStatus, LogStatus, calendar, logs, shifts};
use crate::db::schema::{attendance_events, attendance_logs, face_detections, people};
use crate::detections::DetectionStatus;
use crate::error::Result;
use crate::people::PersonStatus;

#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Counts {
    pub present: i64,
    pub late: i64,
    pub missed: i64,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ShiftDay {
    pub shift: shifts::Shift,
    /// People the shift covers that day.
    pub expected: i64,
    pub counts: Counts,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Overview {
    pub date: NaiveDate,
    /// People not archived.
    pub people: i64,
    /// People with a shift that day.
    pub expected: i64,
    pub counts: Counts,
    /// People whose last approved sighting is within the absence window now.
    pub on_site: i64,
    pub pending_reviews: i64,
    /// Camera face detections that day, by status.
    pub detections: Vec<(DetectionStatus, i64)>,
    pub shifts: Vec<ShiftDay>,
}

pub async fn of_day(
    conn: &mut AsyncPgConnection,
    date: NaiveDate,
    now: DateTime<Utc>,
    absence: std::time::Duration,
) -> Result<Overview> {
    let persons: Vec<(Uuid, Option<String>)> = people::table
        .filter(people::status.ne(PersonStatus::Archived))
        .select((people::id, people::department))
        .load(conn)
        .await?;
    let day_logs: Vec<(Uuid, LogStatus, Option<String>)> = attendance_logs::table
        .filter(attendance_logs::date.eq(date))
        .select((
            attendance_logs::person_id,
            attendance_logs::status,
            attendance_logs::shift_id,
        ))
        .load(conn)
        .await?;
    let count = |rows: &mut dyn Iterator<Item = LogStatus>| {
        rows.fold(Counts::default(), |mut c, s| {
            match s {
                LogStatus::Present => c.present += 1,
                LogStatus::Late => c.late += 1,
                LogStatus::Missed => c.missed += 1,
            }
            c
        })
    };
    let all_shifts = shifts::list(conn).await?;
    let shift_days = all_shifts
        .iter()
        .filter(|s| s.runs_on(date))
        .map(|s| ShiftDay {
            expected: persons
                .iter()
                .filter(|(_, d)| {
                    shifts::of_person(&all_shifts, d.as_deref(), date).is_some_and(|x| x.id == s.id)
                })
                .count() as i64,
            counts: count(
                &mut day_logs
                    .iter()
                    .filter(|l| l.2.as_deref() == Some(s.id.as_str()))
                    .map(|l| l.1),
            ),
            shift: s.clone(),
        })
        .collect::<Vec<_>>();
    let on_site = logs::records(conn, absence, i64::MAX, now)
        .await?
        .iter()
        .filter(|r| r.presence == super::Presence::OnSite)
        .count() as i64;
    let pending_reviews: i64 = attendance_events::table
        .filter(attendance_events::status.eq(EventStatus::Pending))
        .count()
        .get_result(conn)
        .await?;
    let (start, end) = (
        calendar::day_start(date),
        calendar::day_start(date + chrono::Duration::days(1)),
    );
    let detections: Vec<(DetectionStatus, i64)> = face_detections::table
        .filter(face_detections::first_seen.ge(start))
        .filter(face_detections::first_seen.lt(end))
        .group_by(face_detections::status)
        .select((face_detections::status, diesel::dsl::count_star()))
        .load(conn)
        .await?;
    Ok(Overview {
        date,
        people: persons.len() as i64,
        expected: shift_days.iter().map(|s| s.expected).sum(),
        counts: count(&mut day_logs.iter().map(|l| l.1)),
        on_site,
        pending_reviews,
        detections,
        shifts: shift_days,
    })
}
