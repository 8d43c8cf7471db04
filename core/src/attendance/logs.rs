//! One attendance log per person and local day (`calendar`), rebuilt from the day's approved
//! events whenever one of them changes: time in is the first approved sighting, time out the
//! last; `late` after the person's shift started (plus grace), `missed` (no times) when the
//! shift ended without a sighting (`shifts::mark_missed`). A log that changes goes back to
//! `odooStatus: pending` for the Odoo sync.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::Serialize;
use uuid::Uuid;

use super::{EventStatus, LogStatus, OdooStatus, Presence, calendar, shifts};
use crate::db::paginate::{PageRequest, Paged, Paginate};
use crate::db::schema::{attendance_events, attendance_logs, people};
use crate::error::{Error, Result};
use crate::people::{Person, PersonStatus};

#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = attendance_logs, check_for_backend(diesel::pg::Pg))]
#[serde(rename_all = "camelCase")]
pub struct Log {
    pub id: Uuid,
    pub person_id: Uuid,
    pub date: NaiveDate,
    /// `None` for a `missed` day.
    pub time_in: Option<DateTime<Utc>>,
    pub time_out: Option<DateTime<Utc>>,
    pub status: LogStatus,
    pub accuracy: Option<f32>,
    pub events: i32,
    pub device_id: Option<Uuid>,
    pub classroom_id: Option<String>,
    pub camera_id: Option<String>,
    pub odoo_status: OdooStatus,
    pub odoo_sync_time: Option<DateTime<Utc>>,
    pub odoo_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The shift the day was judged against.
    pub shift_id: Option<String>,
}

/// The local day of `at` as a half-open range.
pub fn day_of(at: DateTime<Utc>) -> (NaiveDate, DateTime<Utc>, DateTime<Utc>) {
    calendar::day_of(at)
}

/// Rebuilds `person`'s log of the day of `at` from the approved events of that day (deleting
/// it when none is left). Call inside the transaction that changed the events.
pub async fn refresh(conn: &mut AsyncPgConnection, person: Uuid, at: DateTime<Utc>) -> Result<()> {
    let (date, start, end) = day_of(at);
    type Row = (
        DateTime<Utc>,
        Option<f32>,
        Option<Uuid>,
        Option<String>,
        Option<String>,
        Option<DateTime<Utc>>,
    );
    let approved: Vec<Row> = attendance_events::table
        .filter(attendance_events::person_id.eq(person))
        .filter(attendance_events::status.eq(EventStatus::Approved))
        .filter(attendance_events::occurred_at.ge(start))
        .filter(attendance_events::occurred_at.lt(end))
        .order(attendance_events::occurred_at.asc())
        .select((
            attendance_events::occurred_at,
            attendance_events::confidence,
            attendance_events::device_id,
            attendance_events::classroom_id,
            attendance_events::camera_id,
            attendance_events::last_seen_at,
        ))
        .load(conn)
        .await?;
    let Some(first) = approved.as_slice().first().cloned() else {
        // Nothing approved is left: no log (a shift that is over gets its `missed` log back
        // at the scheduler's next pass).
        diesel::delete(
            attendance_logs::table
                .filter(attendance_logs::person_id.eq(person))
                .filter(attendance_logs::date.eq(date)),
        )
        .execute(conn)
        .await?;
        return Ok(());
    };
    let department: Option<String> = people::table
        .find(person)
        .select(people::department)
        .first(conn)
        .await
        .optional()?
        .flatten();
    let all_shifts = shifts::list(conn).await?;
    let shift = shifts::of_person(&all_shifts, department.as_deref(), date);
    let status = shifts::status(shift, date, first.0);
    let shift_id = shift.map(|s| s.id.clone());
    let time_out = approved
        .iter()
        .map(|r| r.5.unwrap_or(r.0).max(r.0))
        .max()
        .unwrap_or(first.0);
    let accuracy = approved
        .iter()
        .filter_map(|r| r.1)
        .fold(None, |best: Option<f32>, c| {
            Some(best.map_or(c, |b| b.max(c)))
        });
    let events = approved.len() as i32;
    let now = Utc::now();
    diesel::insert_into(attendance_logs::table)
        .values((
            attendance_logs::id.eq(Uuid::now_v7()),
            attendance_logs::person_id.eq(person),
            attendance_logs::date.eq(date),
            attendance_logs::time_in.eq(Some(first.0)),
            attendance_logs::time_out.eq(Some(time_out)),
            attendance_logs::accuracy.eq(accuracy),
            attendance_logs::events.eq(events),
            attendance_logs::device_id.eq(first.2),
            attendance_logs::classroom_id.eq(&first.3),
            attendance_logs::camera_id.eq(&first.4),
            attendance_logs::status.eq(status),
            attendance_logs::shift_id.eq(&shift_id),
        ))
        .on_conflict((attendance_logs::person_id, attendance_logs::date))
        .do_update()
        .set((
            attendance_logs::time_in.eq(Some(first.0)),
            attendance_logs::time_out.eq(Some(time_out)),
            attendance_logs::accuracy.eq(accuracy),
            attendance_logs::events.eq(events),
            attendance_logs::device_id.eq(first.2),
            attendance_logs::classroom_id.eq(&first.3),
            attendance_logs::camera_id.eq(&first.4),
            attendance_logs::status.eq(status),
            attendance_logs::shift_id.eq(&shift_id),
            attendance_logs::odoo_status.eq(OdooStatus::Pending),
            attendance_logs::updated_at.eq(now),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn get(conn: &mut AsyncPgConnection, id: Uuid) -> Result<Option<Log>> {
    Ok(attendance_logs::table
        .find(id)
        .select(Log::as_select())
        .first(conn)
        .await
        .optional()?)
}

/// The face picture behind each log's time in (the first approved sighting's capture or
/// detection thumbnail), by log id; logs without one (missed days, manual entries, pictures
/// removed by retention) are absent.
pub async fn first_faces(
    conn: &mut AsyncPgConnection,
    logs: &[Log],
) -> Result<std::collections::HashMap<Uuid, String>> {
    let persons: Vec<Uuid> = logs.iter().map(|l| l.person_id).collect();
    let times: Vec<DateTime<Utc>> = logs.iter().filter_map(|l| l.time_in).collect();
    let events = attendance_events::table
        .filter(attendance_events::person_id.eq_any(&persons))
        .filter(attendance_events::occurred_at.eq_any(&times))
        .filter(attendance_events::status.eq(EventStatus::Approved))
        .select(super::events::Event::as_select())
        .load(conn)
        .await?;
    let faces = super::events::face_images(conn, &events).await?;
    Ok(logs
        .iter()
        .filter_map(|l| {
            let event = events.iter().find(|e| {
                e.person_id == l.person_id
                    && Some(e.occurred_at) == l.time_in
                    && faces.contains_key(&e.id)
            })?;
            Some((l.id, faces[&event.id].clone()))
        })
        .collect())
}

/// Deletes a log and the events of its day, so it does not come back on the next refresh.
pub async fn delete(conn: &mut AsyncPgConnection, log: &Log) -> Result<()> {
    let (start, end) = (
        calendar::day_start(log.date),
        calendar::day_start(log.date + chrono::Duration::days(1)),
    );
    diesel::delete(
        attendance_events::table
            .filter(attendance_events::person_id.eq(log.person_id))
            .filter(attendance_events::occurred_at.ge(start))
            .filter(attendance_events::occurred_at.lt(end)),
    )
    .execute(conn)
    .await?;
    diesel::delete(attendance_logs::table.find(log.id))
        .execute(conn)
        .await?;
    Ok(())
}

/// Which logs: for lists and exports (an export job carries it as its payload).
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Filter {
    /// Case-insensitive substring of the person's name or number.
    pub search: Option<String>,
    pub person_id: Option<Uuid>,
    pub camera_id: Option<String>,
    pub classroom_id: Option<String>,
    pub device_id: Option<Uuid>,
    pub date_from: Option<NaiveDate>,
    pub date_to: Option<NaiveDate>,
    pub odoo_status: Option<OdooStatus>,
    pub status: Option<LogStatus>,
}

/// Logs, newest day first (their people: `people::get_many`).
pub async fn list(
    conn: &mut AsyncPgConnection,
    filter: &Filter,
    page: PageRequest,
) -> Result<Paged<Log>> {
    let mut q = attendance_logs::table
        .inner_join(people::table)
        .into_boxed();
    if let Some(pattern) = filter
        .search
        .as_deref()
        .and_then(crate::db::contains_pattern)
    {
        q = q.filter(
            people::name
                .ilike(pattern.clone())
                .or(people::employee_id.ilike(pattern.clone()))
                .or(people::student_number.ilike(pattern)),
        );
    }
    if let Some(p) = filter.person_id {
        q = q.filter(attendance_logs::person_id.eq(p));
    }
    if let Some(c) = filter.camera_id.clone() {
        q = q.filter(attendance_logs::camera_id.eq(c));
    }
    if let Some(c) = filter.classroom_id.clone() {
        q = q.filter(attendance_logs::classroom_id.eq(c));
    }
    if let Some(d) = filter.device_id {
        q = q.filter(attendance_logs::device_id.eq(d));
    }
    if let Some(d) = filter.date_from {
        q = q.filter(attendance_logs::date.ge(d));
    }
    if let Some(d) = filter.date_to {
        q = q.filter(attendance_logs::date.le(d));
    }
    if let Some(s) = filter.odoo_status {
        q = q.filter(attendance_logs::odoo_status.eq(s));
    }
    if let Some(s) = filter.status {
        q = q.filter(attendance_logs::status.eq(s));
    }
    q.order((
        attendance_logs::date.desc(),
        attendance_logs::time_in.desc(),
        attendance_logs::id.desc(),
    ))
    .select(Log::as_select())
    .paginate(page)
    .load_page(conn)
    .await
}

/// A person's current presence, from their last approved sighting.
#[derive(Debug, Clone)]
pub struct Record {
    pub person: Person,
    pub presence: Presence,
    pub last_seen: DateTime<Utc>,
    pub confidence: Option<f32>,
    pub device_id: Option<Uuid>,
    pub classroom_id: Option<String>,
    pub camera_id: Option<String>,
    pub capture_id: Option<Uuid>,
}

/// The latest sighting of each person sighted (most recent first, at most `limit`): on-site
/// when it is within `absence`, off-site after.
/// When an event's sighting ended: its last sighting for a camera track, else its moment.
fn last_seen() -> diesel::expression::SqlLiteral<diesel::sql_types::Timestamptz> {
    diesel::dsl::sql("coalesce(attendance_events.last_seen_at, attendance_events.occurred_at)")
}

pub async fn records(
    conn: &mut AsyncPgConnection,
    absence: std::time::Duration,
    limit: i64,
    now: DateTime<Utc>,
) -> Result<Vec<Record>> {
    type Row = (
        Uuid,
        DateTime<Utc>,
        Option<f32>,
        Option<Uuid>,
        Option<String>,
        Option<String>,
        Option<Uuid>,
    );
    let mut latest: Vec<Row> = attendance_events::table
        .filter(attendance_events::status.eq(EventStatus::Approved))
        .distinct_on(attendance_events::person_id)
        .order((attendance_events::person_id, last_seen().desc()))
        .select((
            attendance_events::person_id,
            last_seen(),
            attendance_events::confidence,
            attendance_events::device_id,
            attendance_events::classroom_id,
            attendance_events::camera_id,
            attendance_events::capture_id,
        ))
        .load(conn)
        .await?;
    latest.sort_by_key(|r| std::cmp::Reverse(r.1));
    latest.truncate(limit.max(0) as usize);
    let ids: Vec<Uuid> = latest.iter().map(|r| r.0).collect();
    let mut persons = crate::people::get_many(conn, &ids).await?;
    let window = chrono::Duration::from_std(absence).map_err(|e| Error::Internal(e.into()))?;
    Ok(latest
        .into_iter()
        .filter_map(|r| {
            let i = persons.iter().position(|p| p.id == r.0)?;
            let person = persons.swap_remove(i);
            Some(Record {
                person,
                presence: if now - r.1 <= window {
                    Presence::OnSite
                } else {
                    Presence::OffSite
                },
                last_seen: r.1,
                confidence: r.2,
                device_id: r.3,
                classroom_id: r.4,
                camera_id: r.5,
                capture_id: r.6,
            })
        })
        .collect())
}

/// Attendance figures of one day.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DayFigures {
    pub date: NaiveDate,
    /// People with a log that day.
    pub present: i64,
    pub late: i64,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Statistics {
    pub date_from: NaiveDate,
    pub date_to: NaiveDate,
    /// People who can be recognised (not archived).
    pub total_people: i64,
    /// Logs in the range with a sighting (present or late).
    pub logs: i64,
    /// Shift days that passed without a sighting.
    pub missed: i64,
    /// Distinct people with at least one log in the range.
    pub people_present: i64,
    /// Mean of each day's present count over the active people, in percent.
    pub attendance_rate: f64,
    pub average_accuracy: Option<f64>,
    pub pending_reviews: i64,
    pub approved_events: i64,
    pub rejected_events: i64,
    pub auto_approved_events: i64,
    pub odoo_pending: i64,
    pub days: Vec<DayFigures>,
}

/// Figures over `[from, to]` (local days).
pub async fn statistics(
    conn: &mut AsyncPgConnection,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Statistics> {
    if to < from {
        return Err(Error::validation(
            "dateTo",
            "dateTo must not be before dateFrom",
        ));
    }
    if (to - from).num_days() > 366 {
        return Err(Error::validation("dateTo", "at most 366 days at once"));
    }
    let total_people: i64 = people::table
        .filter(people::status.ne(PersonStatus::Archived))
        .count()
        .get_result(conn)
        .await?;
    let rows: Vec<(Uuid, NaiveDate, LogStatus, Option<f32>, OdooStatus)> = attendance_logs::table
        .filter(attendance_logs::date.ge(from))
        .filter(attendance_logs::date.le(to))
        .select((
            attendance_logs::person_id,
            attendance_logs::date,
            attendance_logs::status,
            attendance_logs::accuracy,
            attendance_logs::odoo_status,
        ))
        .load(conn)
        .await?;
    let start = calendar::day_start(from);
    let end = calendar::day_start(to + chrono::Duration::days(1));
    // Missed days count as days with no one present, not as attendance.
    let missed = rows.iter().filter(|r| r.2 == LogStatus::Missed).count() as i64;
    let rows: Vec<_> = rows
        .into_iter()
        .filter(|r| r.2 != LogStatus::Missed)
        .collect();
    let events: Vec<(EventStatus, bool, i64)> = attendance_events::table
        .filter(attendance_events::occurred_at.ge(start))
        .filter(attendance_events::occurred_at.lt(end))
        .group_by((attendance_events::status, attendance_events::auto_approved))
        .select((
            attendance_events::status,
            attendance_events::auto_approved,
            diesel::dsl::count_star(),
        ))
        .load(conn)
        .await?;
    let count = |s: EventStatus| -> i64 { events.iter().filter(|e| e.0 == s).map(|e| e.2).sum() };
    let mut days: Vec<DayFigures> = from
        .iter_days()
        .take_while(|d| *d <= to)
        .map(|date| DayFigures {
            date,
            present: 0,
            late: 0,
        })
        .collect();
    for (_, date, status, _, _) in &rows {
        if let Some(d) = days.iter_mut().find(|d| d.date == *date) {
            d.present += 1;
            if *status == LogStatus::Late {
                d.late += 1;
            }
        }
    }
    let mut people_present: Vec<Uuid> = rows.iter().map(|r| r.0).collect();
    people_present.sort_unstable();
    people_present.dedup();
    let accuracies: Vec<f64> = rows.iter().filter_map(|r| r.3).map(f64::from).collect();
    let attendance_rate = if total_people == 0 || days.is_empty() {
        0.0
    } else {
        let mean_present = days.iter().map(|d| d.present as f64).sum::<f64>() / days.len() as f64;
        (mean_present / total_people as f64 * 1000.0).round() / 10.0
    };
    Ok(Statistics {
        date_from: from,
        date_to: to,
        total_people,
        logs: rows.len() as i64,
        missed,
        people_present: people_present.len() as i64,
        attendance_rate,
        average_accuracy: (!accuracies.is_empty())
            .then(|| accuracies.iter().sum::<f64>() / accuracies.len() as f64),
        pending_reviews: count(EventStatus::Pending),
        approved_events: count(EventStatus::Approved),
        rejected_events: count(EventStatus::Rejected),
        auto_approved_events: events
            .iter()
            .filter(|e| e.0 == EventStatus::Approved && e.1)
            .map(|e| e.2)
            .sum(),
        odoo_pending: rows.iter().filter(|r| r.4 == OdooStatus::Pending).count() as i64,
        days,
    })
}
