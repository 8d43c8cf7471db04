//! The organisation's calendar: attendance days and shift times are local to
//! `VIGIL_TIMEZONE` (an IANA name, default UTC), so a school in UTC+8 gets its 07:30 arrivals
//! on the right day and daylight saving moves shifts with the clocks. One timezone per
//! deployment, set once at start (`AppContext::new`).

use std::sync::OnceLock;

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

static TZ: OnceLock<Tz> = OnceLock::new();

/// Parses a `VIGIL_TIMEZONE` value.
pub fn parse(name: &str) -> Result<Tz, String> {
    name.parse::<Tz>()
        .map_err(|_| format!("{name:?} is not an IANA timezone (e.g. Europe/Berlin, UTC)"))
}

/// Sets the deployment's timezone; the first setting wins.
pub fn init(tz: Tz) {
    let _ = TZ.set(tz);
}

pub fn tz() -> Tz {
    TZ.get().copied().unwrap_or(Tz::UTC)
}

/// Local wall-clock time of an instant.
pub fn local(at: DateTime<Utc>) -> NaiveDateTime {
    at.with_timezone(&tz()).naive_local()
}

/// The instant of a local date and time. A time a clock change repeats is its first
/// occurrence; one it skips is taken an hour later (what the clock shows then).
pub fn instant(date: NaiveDate, time: NaiveTime) -> DateTime<Utc> {
    instant_in(tz(), date, time)
}

fn instant_in(tz: Tz, date: NaiveDate, time: NaiveTime) -> DateTime<Utc> {
    let naive = date.and_time(time);
    tz.from_local_datetime(&naive)
        .earliest()
        .or_else(|| {
            tz.from_local_datetime(&(naive + Duration::hours(1)))
                .earliest()
        })
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|| naive.and_utc())
}

/// The local day of `at` as a half-open range of instants.
pub fn day_of(at: DateTime<Utc>) -> (NaiveDate, DateTime<Utc>, DateTime<Utc>) {
    let date = local(at).date();
    (
        date,
        instant(date, NaiveTime::MIN),
        day_start(date + Duration::days(1)),
    )
}

/// The first instant of a local day.
pub fn day_start(date: NaiveDate) -> DateTime<Utc> {
    instant(date, NaiveTime::MIN)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_times_become_instants_across_clock_changes() {
        let berlin = parse("Europe/Berlin").unwrap();
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        let t = |s: &str| NaiveTime::parse_from_str(s, "%H:%M").unwrap();
        // Winter UTC+1, summer UTC+2.
        assert_eq!(
            instant_in(berlin, d("2026-01-05"), t("08:00")).to_rfc3339(),
            "2026-01-05T07:00:00+00:00"
        );
        assert_eq!(
            instant_in(berlin, d("2026-07-06"), t("08:00")).to_rfc3339(),
            "2026-07-06T06:00:00+00:00"
        );
        // 02:30 does not exist on 29 March 2026 in Berlin: the clock shows 03:30 then.
        assert_eq!(
            instant_in(berlin, d("2026-03-29"), t("02:30")).to_rfc3339(),
            "2026-03-29T01:30:00+00:00"
        );
        assert!(parse("Mars/Olympus").is_err());
    }
}
