//! Shift schedules (seed 004's `shift_schedules`): when the people of some departments are
//! expected, on which weekdays, with a grace period. A day's log is `late` when its first
//! sighting comes after the start plus grace of the person's shift, `present` otherwise, and
//! `missed` — written by the scheduler once the shift is over — when nobody saw them at all.
//! Times are local to `VIGIL_TIMEZONE` (`calendar`); a shift ending before it starts runs
//! overnight and belongs to the day it starts.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::Serialize;
use uuid::Uuid;

use super::{LogStatus, OdooStatus, calendar};
use crate::cameras::FieldError;
use crate::db::schema::{attendance_logs, people, shifts};
use crate::error::{Error, Result};
use crate::people::PersonStatus;

#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = shifts, check_for_backend(diesel::pg::Pg))]
#[serde(rename_all = "camelCase")]
pub struct Shift {
    pub id: String,
    pub name: String,
    pub start_time: NaiveTime,
    pub end_time: NaiveTime,
    /// ISO weekdays, 1 = Monday.
    pub days: Vec<i16>,
    pub grace_minutes: i32,
    /// Empty: everyone.
    pub departments: Vec<String>,
    pub location: Option<String>,
    pub expected_headcount: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i32,
}

impl Shift {
    pub fn runs_on(&self, date: NaiveDate) -> bool {
        self.days
            .contains(&(date.weekday().number_from_monday() as i16))
    }

    pub fn covers(&self, department: Option<&str>) -> bool {
        self.departments.is_empty()
            || department
                .is_some_and(|d| self.departments.iter().any(|x| x.eq_ignore_ascii_case(d)))
    }

    /// A first sighting after this is late.
    pub fn late_after(&self, date: NaiveDate) -> DateTime<Utc> {
        calendar::instant(date, self.start_time) + Duration::minutes(i64::from(self.grace_minutes))
    }

    /// When the shift of `date` is over (the next day for an overnight shift).
    pub fn ends(&self, date: NaiveDate) -> DateTime<Utc> {
        let day = if self.end_time <= self.start_time {
            date + Duration::days(1)
        } else {
            date
        };
        calendar::instant(day, self.end_time)
    }
}

/// The shift a person works on `date`: of the shifts running that day, those naming their
/// department before those for everyone, the earliest-starting first.
pub fn of_person<'a>(
    shifts: &'a [Shift],
    department: Option<&str>,
    date: NaiveDate,
) -> Option<&'a Shift> {
    shifts
        .iter()
        .filter(|s| s.runs_on(date) && s.covers(department))
        .min_by_key(|s| (s.departments.is_empty(), s.start_time))
}

/// A day's status from its first sighting.
pub fn status(shift: Option<&Shift>, date: NaiveDate, time_in: DateTime<Utc>) -> LogStatus {
    match shift {
        Some(s) if time_in > s.late_after(date) => LogStatus::Late,
        _ => LogStatus::Present,
    }
}

/// A shift as clients describe it; `None` keeps the default (create) or the stored value.
#[derive(Debug, Clone, Default)]
pub struct ShiftDraft {
    pub id: Option<String>,
    pub name: Option<String>,
    /// `HH:MM` (or `HH:MM:SS`), local time.
    pub start_time: Option<String>,
    pub end_time: Option<String>,
    pub days: Option<Vec<i16>>,
    pub grace_minutes: Option<i32>,
    pub departments: Option<Vec<String>>,
    pub location: Option<String>,
    pub expected_headcount: Option<i32>,
}

struct Checked {
    name: String,
    start_time: NaiveTime,
    end_time: NaiveTime,
    days: Vec<i16>,
    grace_minutes: i32,
    departments: Vec<String>,
    location: Option<String>,
    expected_headcount: i32,
}

fn parse_time(field: &'static str, text: &str, errors: &mut Vec<FieldError>) -> Option<NaiveTime> {
    let parsed = NaiveTime::parse_from_str(text, "%H:%M")
        .or_else(|_| NaiveTime::parse_from_str(text, "%H:%M:%S"));
    if parsed.is_err() {
        errors.push(FieldError::new(field, "a time of day like 08:30"));
    }
    parsed.ok()
}

impl ShiftDraft {
    fn check(self, current: Option<&Shift>) -> std::result::Result<Checked, Vec<FieldError>> {
        let mut errors = Vec::new();
        let name = self
            .name
            .map(|n| n.trim().to_string())
            .or(current.map(|c| c.name.clone()))
            .unwrap_or_default();
        if name.is_empty() || name.chars().count() > 200 {
            errors.push(FieldError::new("name", "1 to 200 characters"));
        }
        let time = |field, text: Option<String>, stored: Option<NaiveTime>, errors: &mut Vec<_>| {
            match text {
                Some(t) => parse_time(field, &t, errors),
                None if stored.is_some() => stored,
                None => {
                    errors.push(FieldError::new(field, "required, like 08:30"));
                    None
                }
            }
        };
        let start_time = time(
            "startTime",
            self.start_time,
            current.map(|c| c.start_time),
            &mut errors,
        );
        let end_time = time(
            "endTime",
            self.end_time,
            current.map(|c| c.end_time),
            &mut errors,
        );
        if start_time.is_some() && start_time == end_time {
            errors.push(FieldError::new("endTime", "must differ from startTime"));
        }
        let mut days = self
            .days
            .or(current.map(|c| c.days.clone()))
            .unwrap_or_else(|| vec![1, 2, 3, 4, 5]);
        days.sort_unstable();
        days.dedup();
        if days.is_empty() || days.iter().any(|d| !(1..=7).contains(d)) {
            errors.push(FieldError::new(
                "days",
                "ISO weekdays 1 (Monday) to 7 (Sunday), at least one",
            ));
        }
        let grace_minutes = self
            .grace_minutes
            .or(current.map(|c| c.grace_minutes))
            .unwrap_or(10);
        if !(0..=240).contains(&grace_minutes) {
            errors.push(FieldError::new("graceMinutes", "0 to 240"));
        }
        let departments: Vec<String> = self
            .departments
            .or(current.map(|c| c.departments.clone()))
            .unwrap_or_default()
            .into_iter()
            .map(|d| d.trim().to_string())
            .collect();
        if departments.len() > 50
            || departments
                .iter()
                .any(|d| d.is_empty() || d.chars().count() > 100)
        {
            errors.push(FieldError::new(
                "departments",
                "at most 50 names of 1 to 100 characters",
            ));
        }
        let location = self.location.or(current.and_then(|c| c.location.clone()));
        if location.as_ref().is_some_and(|l| l.chars().count() > 200) {
            errors.push(FieldError::new("location", "at most 200 characters"));
        }
        let expected_headcount = self
            .expected_headcount
            .or(current.map(|c| c.expected_headcount))
            .unwrap_or(0);
        if !(0..=1_000_000).contains(&expected_headcount) {
            errors.push(FieldError::new("expectedHeadcount", "0 or more"));
        }
        match (start_time, end_time) {
            (Some(start_time), Some(end_time)) if errors.is_empty() => Ok(Checked {
                name,
                start_time,
                end_time,
                days,
                grace_minutes,
                departments,
                location,
                expected_headcount,
            }),
            _ => Err(errors),
        }
    }
}

fn invalid(errors: Vec<FieldError>) -> Error {
    match errors.into_iter().next() {
        Some(e) => Error::validation(e.field, format!("{}: {}", e.field, e.issue)),
        None => Error::validation("shift", "invalid shift"),
    }
}

pub async fn list(conn: &mut AsyncPgConnection) -> Result<Vec<Shift>> {
    Ok(shifts::table
        .order((shifts::start_time.asc(), shifts::id.asc()))
        .select(Shift::as_select())
        .load(conn)
        .await?)
}

pub async fn get(conn: &mut AsyncPgConnection, id: &str) -> Result<Shift> {
    shifts::table
        .find(id)
        .select(Shift::as_select())
        .first(conn)
        .await
        .optional()?
        .ok_or_else(|| Error::not_found(format!("no shift {id}")))
}

pub async fn create(conn: &mut AsyncPgConnection, draft: ShiftDraft) -> Result<Shift> {
    let id = match &draft.id {
        Some(id) if crate::cameras::valid_id(id) => id.clone(),
        Some(_) => {
            return Err(Error::validation(
                "id",
                "id: 1 to 50 letters, digits, '-' or '_', starting with a letter or digit",
            ));
        }
        None => {
            #[derive(QueryableByName)]
            struct Highest {
                #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Integer>)]
                n: Option<i32>,
            }
            let h: Highest = diesel::sql_query(
                "SELECT max(substring(id FROM 7)::int) AS n FROM shifts WHERE id ~ '^SHIFT-[0-9]{1,6}$'",
            )
            .get_result(conn)
            .await?;
            format!("SHIFT-{:02}", h.n.unwrap_or(0) + 1)
        }
    };
    let c = draft.check(None).map_err(invalid)?;
    diesel::insert_into(shifts::table)
        .values((
            shifts::id.eq(&id),
            shifts::name.eq(&c.name),
            shifts::start_time.eq(c.start_time),
            shifts::end_time.eq(c.end_time),
            shifts::days.eq(&c.days),
            shifts::grace_minutes.eq(c.grace_minutes),
            shifts::departments.eq(&c.departments),
            shifts::location.eq(&c.location),
            shifts::expected_headcount.eq(c.expected_headcount),
        ))
        .returning(Shift::as_returning())
        .get_result(conn)
        .await
        .map_err(|e| match e {
            diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                _,
            ) => Error::conflict(format!("shift {id} exists")),
            other => other.into(),
        })
}

/// Updates a shift; `version` is the one the client read (a stale one is a conflict).
pub async fn update(
    conn: &mut AsyncPgConnection,
    id: &str,
    draft: ShiftDraft,
    version: Option<i32>,
) -> Result<Shift> {
    let current = get(conn, id).await?;
    let expected = version.unwrap_or(current.version);
    let c = draft.check(Some(&current)).map_err(invalid)?;
    diesel::update(shifts::table.find(id).filter(shifts::version.eq(expected)))
        .set((
            shifts::name.eq(&c.name),
            shifts::start_time.eq(c.start_time),
            shifts::end_time.eq(c.end_time),
            shifts::days.eq(&c.days),
            shifts::grace_minutes.eq(c.grace_minutes),
            shifts::departments.eq(&c.departments),
            shifts::location.eq(&c.location),
            shifts::expected_headcount.eq(c.expected_headcount),
            shifts::updated_at.eq(Utc::now()),
            shifts::version.eq(shifts::version + 1),
        ))
        .returning(Shift::as_returning())
        .get_result(conn)
        .await
        .optional()?
        .ok_or_else(|| {
            Error::conflict(format!(
                "shift {id} was changed meanwhile (version {}, not {expected}): read it again and retry",
                current.version
            ))
        })
}

pub async fn delete(conn: &mut AsyncPgConnection, id: &str) -> Result<()> {
    let n = diesel::delete(shifts::table.find(id)).execute(conn).await?;
    if n == 0 {
        return Err(Error::not_found(format!("no shift {id}")));
    }
    Ok(())
}

/// How many of the people a shift covers came on `date` (present or late), against its
/// expected headcount.
pub async fn attended(conn: &mut AsyncPgConnection, shift: &Shift, date: NaiveDate) -> Result<i64> {
    Ok(attendance_logs::table
        .filter(attendance_logs::shift_id.eq(&shift.id))
        .filter(attendance_logs::date.eq(date))
        .filter(attendance_logs::status.ne(LogStatus::Missed))
        .count()
        .get_result(conn)
        .await?)
}

/// Writes a `missed` log for every person (not archived) whose shift on today's or yesterday's local
/// date is over (end plus grace) and who has no log that day. Idempotent; the scheduler runs
/// it every minute. A sighting approved later turns the log into `present` or `late`.
pub async fn mark_missed(conn: &mut AsyncPgConnection, now: DateTime<Utc>) -> Result<usize> {
    let all = list(conn).await?;
    if all.is_empty() {
        return Ok(0);
    }
    let today = calendar::local(now).date();
    let persons: Vec<(Uuid, Option<String>)> = people::table
        .filter(people::status.ne(PersonStatus::Archived))
        .select((people::id, people::department))
        .load(conn)
        .await?;
    let mut written = 0;
    for date in [today - Duration::days(1), today] {
        let logged: Vec<Uuid> = attendance_logs::table
            .filter(attendance_logs::date.eq(date))
            .select(attendance_logs::person_id)
            .load(conn)
            .await?;
        for (person, department) in &persons {
            if logged.contains(person) {
                continue;
            }
            let Some(shift) = of_person(&all, department.as_deref(), date) else {
                continue;
            };
            if now < shift.ends(date) + Duration::minutes(i64::from(shift.grace_minutes)) {
                continue;
            }
            written += diesel::insert_into(attendance_logs::table)
                .values((
                    attendance_logs::id.eq(Uuid::now_v7()),
                    attendance_logs::person_id.eq(person),
                    attendance_logs::date.eq(date),
                    attendance_logs::status.eq(LogStatus::Missed),
                    attendance_logs::events.eq(0),
                    attendance_logs::shift_id.eq(&shift.id),
                    attendance_logs::odoo_status.eq(OdooStatus::Pending),
                ))
                .on_conflict_do_nothing()
                .execute(conn)
                .await?;
        }
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shift(start: &str, end: &str, departments: &[&str]) -> Shift {
        let t = |s: &str| NaiveTime::parse_from_str(s, "%H:%M").unwrap();
        Shift {
            id: "SHIFT-01".into(),
            name: "Day".into(),
            start_time: t(start),
            end_time: t(end),
            days: vec![1, 2, 3, 4, 5],
            grace_minutes: 10,
            departments: departments.iter().map(|d| d.to_string()).collect(),
            location: None,
            expected_headcount: 0,
            created_at: Utc::now(),
            updated_at: Utc::now(),
            version: 1,
        }
    }

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn late_after_start_plus_grace_on_working_days() {
        // Monday 2026-11-30 (calendar in UTC in tests).
        let monday = NaiveDate::from_ymd_opt(2026, 11, 30).unwrap();
        let s = shift("08:00", "16:00", &[]);
        assert_eq!(
            status(Some(&s), monday, at("2026-11-30T08:10:00Z")),
            LogStatus::Present
        );
        assert_eq!(
            status(Some(&s), monday, at("2026-11-30T08:10:01Z")),
            LogStatus::Late
        );
        assert_eq!(
            status(None, monday, at("2026-11-30T12:00:00Z")),
            LogStatus::Present
        );
        let saturday = NaiveDate::from_ymd_opt(2026, 12, 5).unwrap();
        assert!(of_person(std::slice::from_ref(&s), None, saturday).is_none());
    }

    #[test]
    fn the_earliest_covering_shift_decides_and_overnight_ends_next_day() {
        let monday = NaiveDate::from_ymd_opt(2026, 11, 30).unwrap();
        let all = vec![
            shift("09:00", "17:00", &[]),
            shift("06:00", "14:00", &["Factory"]),
            shift("22:00", "06:00", &["Security"]),
        ];
        assert_eq!(
            of_person(&all, Some("factory"), monday)
                .unwrap()
                .start_time
                .to_string(),
            "06:00:00"
        );
        assert_eq!(
            of_person(&all, Some("Office"), monday)
                .unwrap()
                .start_time
                .to_string(),
            "09:00:00"
        );
        assert_eq!(
            of_person(&all, None, monday)
                .unwrap()
                .start_time
                .to_string(),
            "09:00:00"
        );
        let night = of_person(&all, Some("Security"), monday).unwrap();
        assert_eq!(night.start_time.to_string(), "22:00:00");
        assert_eq!(night.ends(monday), at("2026-12-01T06:00:00Z"));
    }
}
