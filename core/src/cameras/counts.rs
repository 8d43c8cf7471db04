//! People counts per camera and time window (seed 000's `CameraCount`). A watcher folds every
//! analysed frame into the current [`Window`]; the window's row is written when the clock
//! passes its end (or the watcher stops). A window the watcher did not see whole — it started
//! or reconnected inside it, frames stopped for a while, it stopped — is `partial`; a window
//! it did not see at all has no row. Nothing is ever filled in.

use chrono::{DateTime, Duration, TimeZone, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::Serialize;
use uuid::Uuid;

use crate::db::paginate::{PageRequest, Paged, Paginate};
use crate::db::schema::camera_counts;
use crate::error::{Error, Result};

#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = camera_counts, check_for_backend(diesel::pg::Pg))]
pub struct CameraCount {
    pub id: Uuid,
    pub camera_id: String,
    pub window_start: DateTime<Utc>,
    pub window_end: DateTime<Utc>,
    pub people_count: i32,
    pub average_count: f64,
    pub frames_processed: i32,
    pub avg_inference_ms: f64,
    pub partial: bool,
    pub created_at: DateTime<Utc>,
}

/// The window of length `secs` containing `t`, aligned to multiples of `secs` since the Unix
/// epoch (so 60 s windows start on the minute, on every worker).
pub fn window_start(t: DateTime<Utc>, secs: u32) -> DateTime<Utc> {
    let secs = i64::from(secs.max(1));
    let start = t.timestamp().div_euclid(secs) * secs;
    Utc.timestamp_opt(start, 0).single().unwrap_or(t)
}

/// One window being counted.
#[derive(Debug, Clone)]
pub struct Window {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// Longest gap between frames (and from the window's edges to the first and last frame)
    /// for the window to count as seen whole.
    max_gap: Duration,
    frames: u32,
    max: u32,
    sum: u64,
    inference_ms: f64,
    first: Option<DateTime<Utc>>,
    last: Option<DateTime<Utc>>,
    gapped: bool,
    /// Whether watching continued into this window from the one before it; a window a watch
    /// started (or resumed) in was not seen from its start.
    continued: bool,
}

/// A finished window, ready to store.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowTotals {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub people_count: u32,
    pub average_count: f64,
    pub frames: u32,
    pub avg_inference_ms: f64,
    pub partial: bool,
}

impl Window {
    /// The window containing `t`. `max_gap` should cover a few sample intervals.
    pub fn containing(t: DateTime<Utc>, secs: u32, max_gap: std::time::Duration) -> Self {
        let start = window_start(t, secs);
        Self {
            start,
            end: start + Duration::seconds(i64::from(secs.max(1))),
            max_gap: Duration::from_std(max_gap).unwrap_or(Duration::seconds(5)),
            frames: 0,
            max: 0,
            sum: 0,
            inference_ms: 0.0,
            first: None,
            last: None,
            gapped: false,
            continued: false,
        }
    }

    /// Marks the window as continuing a watch whose previous frame was at `previous` (the
    /// last frame of the window before), when that frame is close enough to this window's
    /// start.
    pub fn continuing(mut self, previous: Option<DateTime<Utc>>) -> Self {
        self.continued = previous.is_some_and(|p| p < self.start && self.start - p <= self.max_gap);
        self
    }

    pub fn contains(&self, t: DateTime<Utc>) -> bool {
        t >= self.start && t < self.end
    }

    /// Adds one analysed frame taken at `at` (inside the window).
    pub fn add(&mut self, at: DateTime<Utc>, count: u32, inference_ms: f64) {
        if let Some(last) = self.last
            && at - last > self.max_gap
        {
            self.gapped = true;
        }
        self.first.get_or_insert(at);
        self.last = Some(at);
        self.frames += 1;
        self.max = self.max.max(count);
        self.sum += u64::from(count);
        self.inference_ms += inference_ms;
    }

    /// Marks a break in watching (the stream dropped): the window cannot be whole.
    pub fn interrupt(&mut self) {
        self.gapped = true;
    }

    pub fn frames(&self) -> u32 {
        self.frames
    }

    /// The window's figures; `None` when no frame was analysed in it (nothing to report).
    pub fn close(&self) -> Option<WindowTotals> {
        let (first, last) = (self.first?, self.last?);
        let whole = self.continued
            && !self.gapped
            && first - self.start <= self.max_gap
            && self.end - last <= self.max_gap;
        Some(WindowTotals {
            start: self.start,
            end: self.end,
            people_count: self.max,
            average_count: self.sum as f64 / f64::from(self.frames),
            frames: self.frames,
            avg_inference_ms: self.inference_ms / f64::from(self.frames),
            partial: !whole,
        })
    }
}

/// Stores a finished window. A window already stored (by an earlier holder of the watch) is
/// kept as it is: `false`.
pub async fn record(conn: &mut AsyncPgConnection, camera: &str, w: &WindowTotals) -> Result<bool> {
    let n = diesel::insert_into(camera_counts::table)
        .values((
            camera_counts::id.eq(Uuid::now_v7()),
            camera_counts::camera_id.eq(camera),
            camera_counts::window_start.eq(w.start),
            camera_counts::window_end.eq(w.end),
            camera_counts::people_count.eq(w.people_count as i32),
            camera_counts::average_count.eq(w.average_count),
            camera_counts::frames_processed.eq(w.frames as i32),
            camera_counts::avg_inference_ms.eq(w.avg_inference_ms),
            camera_counts::partial.eq(w.partial),
        ))
        .on_conflict((camera_counts::camera_id, camera_counts::window_start))
        .do_nothing()
        .execute(conn)
        .await?;
    Ok(n == 1)
}

/// The camera's most recent windows, newest first.
pub async fn recent(
    conn: &mut AsyncPgConnection,
    camera: &str,
    limit: i64,
) -> Result<Vec<CameraCount>> {
    Ok(camera_counts::table
        .filter(camera_counts::camera_id.eq(camera))
        .order(camera_counts::window_start.desc())
        .limit(limit)
        .select(CameraCount::as_select())
        .load(conn)
        .await?)
}

#[derive(Debug, Clone, Default)]
pub struct CountFilter {
    pub camera_id: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

/// Counts of every camera (or one), newest first.
pub async fn list(
    conn: &mut AsyncPgConnection,
    filter: &CountFilter,
    page: PageRequest,
) -> Result<Paged<CameraCount>> {
    let mut q = camera_counts::table.into_boxed();
    if let Some(camera) = &filter.camera_id {
        q = q.filter(camera_counts::camera_id.eq(camera.clone()));
    }
    if let Some(from) = filter.from {
        q = q.filter(camera_counts::window_start.ge(from));
    }
    if let Some(to) = filter.to {
        q = q.filter(camera_counts::window_start.lt(to));
    }
    q.order((camera_counts::window_start.desc(), camera_counts::id.desc()))
        .select(CameraCount::as_select())
        .paginate(page)
        .load_page(conn)
        .await
}

pub async fn get(conn: &mut AsyncPgConnection, id: Uuid) -> Result<CameraCount> {
    camera_counts::table
        .find(id)
        .select(CameraCount::as_select())
        .first(conn)
        .await
        .optional()?
        .ok_or_else(|| Error::not_found("no such count"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64, ms: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(secs, 0).unwrap() + Duration::milliseconds(ms)
    }

    const GAP: std::time::Duration = std::time::Duration::from_secs(3);

    #[test]
    fn windows_align_to_multiples_of_their_length() {
        assert_eq!(window_start(at(125, 500), 60), at(120, 0));
        assert_eq!(window_start(at(120, 0), 60), at(120, 0));
        assert_eq!(window_start(at(129, 999), 10), at(120, 0));
    }

    #[test]
    fn a_window_seen_whole_has_max_and_average() {
        let mut w = Window::containing(at(60, 0), 60, GAP).continuing(Some(at(59, 400)));
        for s in 0..60 {
            let count = if s < 30 { 5 } else { 2 };
            w.add(at(60 + s, 400), count, 40.0);
        }
        let t = w.close().unwrap();
        assert!(!t.partial);
        assert_eq!(t.people_count, 5);
        assert_eq!(t.frames, 60);
        assert!((t.average_count - 3.5).abs() < 1e-9);
        assert!((t.avg_inference_ms - 40.0).abs() < 1e-9);
    }

    #[test]
    fn late_starts_gaps_interruptions_and_early_ends_are_partial() {
        let whole = |from: i64, to: i64, skip: Option<i64>| {
            let mut w = Window::containing(at(60, 0), 60, GAP).continuing(Some(at(59, 0)));
            for s in from..to {
                if !skip.is_some_and(|k| (k..k + 10).contains(&s)) {
                    w.add(at(60 + s, 0), 1, 1.0);
                }
            }
            w.close().unwrap().partial
        };
        assert!(!whole(0, 60, None));
        assert!(whole(20, 60, None), "started late");
        assert!(whole(0, 40, None), "stopped early");
        assert!(whole(0, 60, Some(20)), "10 s without frames");
        let mut w = Window::containing(at(60, 0), 60, GAP).continuing(Some(at(59, 0)));
        for s in 0..60 {
            w.add(at(60 + s, 0), 1, 1.0);
        }
        w.interrupt();
        assert!(w.close().unwrap().partial);
        assert!(Window::containing(at(60, 0), 60, GAP).close().is_none());
        // A watch that starts in a window did not see its start, however early it started.
        let mut fresh = Window::containing(at(60, 0), 60, GAP);
        let mut resumed = Window::containing(at(60, 0), 60, GAP).continuing(Some(at(50, 0)));
        for s in 0..60 {
            fresh.add(at(60 + s, 100), 1, 1.0);
            resumed.add(at(60 + s, 100), 1, 1.0);
        }
        assert!(fresh.close().unwrap().partial);
        assert!(resumed.close().unwrap().partial, "10 s between the windows");
    }
}

/// One camera's day so far (seed 004's camera summary).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DaySummary {
    pub camera_id: String,
    /// Persons counted today: the sum of each window's count.
    pub detections_today: i64,
    /// The most persons seen at once today.
    pub peak_today: i32,
    /// The latest window's count.
    pub people_now: Option<i32>,
    /// Share of today's windows (since midnight UTC, or since the camera was added) in which
    /// the watcher analysed frames.
    pub uptime_percent: f64,
}

/// Every camera's day so far, in one query.
pub async fn day_summaries(
    conn: &mut AsyncPgConnection,
    window_secs: u32,
    now: DateTime<Utc>,
) -> Result<Vec<DaySummary>> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Text)]
        id: String,
        #[diesel(sql_type = diesel::sql_types::Timestamptz)]
        created_at: DateTime<Utc>,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        detections: i64,
        #[diesel(sql_type = diesel::sql_types::Integer)]
        peak: i32,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        windows: i64,
        #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Integer>)]
        latest: Option<i32>,
    }
    let midnight = window_start(now, 86_400);
    let rows: Vec<Row> = diesel::sql_query(
        "SELECT c.id, c.created_at, \
                COALESCE(SUM(k.people_count), 0)::bigint AS detections, \
                COALESCE(MAX(k.people_count), 0)::int AS peak, \
                COUNT(k.id)::bigint AS windows, \
                (SELECT l.people_count FROM camera_counts l WHERE l.camera_id = c.id \
                  ORDER BY l.window_start DESC LIMIT 1) AS latest \
         FROM cameras c \
         LEFT JOIN camera_counts k ON k.camera_id = c.id AND k.window_start >= $1 \
         GROUP BY c.id, c.created_at ORDER BY c.id",
    )
    .bind::<diesel::sql_types::Timestamptz, _>(midnight)
    .load(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let since = r.created_at.max(midnight);
            let elapsed_windows = ((now - since).num_seconds() as f64
                / f64::from(window_secs.max(1)))
            .ceil()
            .max(1.0);
            let uptime = (r.windows as f64 / elapsed_windows * 100.0).min(100.0);
            DaySummary {
                camera_id: r.id,
                detections_today: r.detections,
                peak_today: r.peak,
                people_now: r.latest,
                uptime_percent: (uptime * 10.0).round() / 10.0,
            }
        })
        .collect())
}
