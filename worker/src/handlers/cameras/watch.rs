//! `camera.watch`: the one connection to a camera. Decodes once, feeds every analyser (people
//! counting, and face recognition where the camera has it on), writes a count row per window
//! and a detection per face track, keeps the camera's status (`online` while
//! frames arrive, `offline` — with an alert — after `VIGIL_CAMERA_OFFLINE_SECS` without), and
//! reconnects with backoff when the stream drops. It runs until the camera is disabled, put in
//! maintenance, deleted or given another watcher, then succeeds; the scheduler starts a new
//! one when the camera is enabled again.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;
use vigil_core::cameras::counts::{self, Window};
use vigil_core::cameras::{self, Camera, CameraStatus, WatchJob, frames, health};
use vigil_core::detections::{DetectionSource, provider, store};
use vigil_core::people;
use vigil_models::PersonDetector;
use vigil_video::SampleOptions;

use super::analyser::{Analyser, Analysers, Finding, PeopleCounter};
use super::faces::{FaceRecognizer, FaceReport, GallerySlot, Judged};
use super::session::{Event, Session};
use crate::context::{JobContext, JobError, Outcome};
use crate::frames::matcher::Matcher;
use crate::handlers::attendance::recognize::MIN_FACE_PX;
use crate::handlers::detections::record::{self, Seen};
use crate::media;
use crate::registry::Handler;
use crate::vision::{self, FACE_MODEL_ID, box_px};

/// How long to wait for an event before doing the periodic work anyway.
const TICK: Duration = Duration::from_millis(500);
/// How often the camera row is read again (settings, disable) and `lastSeen` written.
const REFRESH_EVERY: Duration = Duration::from_secs(2);
/// Reconnection delays double from the first to the last.
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(10);
/// Time without a decoded frame after which a connected stream counts as lost.
const READ_TIMEOUT: Duration = Duration::from_secs(8);
const OPEN_TIMEOUT: Duration = Duration::from_secs(10);
/// How often the face analyser's gallery is compared with the registry.
const GALLERY_REFRESH: Duration = Duration::from_secs(30);
/// How often a person's attendance (time out, presence) follows a track still in view: every
/// 30 s, and well within the absence after which presence turns `off-site`.
fn attendance_sync(absence_secs: u64) -> Duration {
    Duration::from_secs((absence_secs / 3).clamp(1, 30))
}
/// How often a face-recognising watcher reports the provider's heartbeat and latency.
const HEARTBEAT_EVERY: Duration = Duration::from_secs(60);

#[derive(Default)]
pub struct Watch;

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct WatchResult {
    camera_id: String,
    stopped: &'static str,
    frames_analysed: u64,
    windows_written: u64,
    detections_written: u64,
    watched_secs: f64,
}

/// What makes a connection: when any of it changes, the watcher reconnects.
#[derive(PartialEq)]
struct Settings {
    url: String,
    sample_fps: f64,
    min_confidence: f32,
    roi: Option<serde_json::Value>,
    face_recognition: bool,
    face_sample_fps: f64,
}

impl Settings {
    fn of(job: &JobContext, c: &Camera) -> Result<Self, JobError> {
        Ok(Self {
            url: c.connect_url(job.app.secrets.sealer())?,
            sample_fps: c.sample_fps,
            min_confidence: c.min_confidence,
            roi: c.roi.clone(),
            face_recognition: c.face_recognition,
            face_sample_fps: c.face_sample_fps,
        })
    }

    /// The stream is sampled for the most demanding analyser; the others skip frames.
    fn stream_fps(&self) -> f64 {
        if self.face_recognition {
            self.sample_fps.max(self.face_sample_fps)
        } else {
            self.sample_fps
        }
    }
}

/// The face analyser's side of the watcher, for one connection.
struct Faces {
    slot: GallerySlot,
    fingerprint: (i64, i64),
    gallery_checked: Instant,
    /// Track number → its stored detection, and when its attendance event last followed it.
    detections: HashMap<u32, (Uuid, Instant)>,
    /// Track ids are `TRACK-{connection start, unix ms}-{track number}`.
    track_prefix: String,
    /// Running average of the analyser's time per frame.
    latency_ms: Option<f64>,
    heartbeat: Instant,
}

/// Why a connection ended.
enum End {
    Reconnect(String),
    Stop(&'static str),
}

/// The watcher's running state across connections.
struct Watcher<'a> {
    job: &'a JobContext,
    camera_id: String,
    detector: Arc<PersonDetector>,
    window: Option<Window>,
    window_secs: u32,
    offline_after: Duration,
    /// The last decoded frame, or the start of the watch.
    last_frame: Instant,
    frames: u64,
    windows: u64,
    detections: u64,
    faces: Option<Faces>,
    started: Instant,
    /// Lag of the latest analysed frame.
    lag: Duration,
    /// Time of the latest analysed frame of the current connection.
    last_analysed: Option<DateTime<Utc>>,
}

#[async_trait::async_trait]
impl Handler for Watch {
    type Payload = WatchJob;

    async fn run(&self, job: &JobContext, p: WatchJob) -> Result<Outcome, JobError> {
        let detector = vision::persons().await?;
        let config = &job.app.config;
        let mut w = Watcher {
            job,
            camera_id: p.camera_id.clone(),
            detector,
            window: None,
            window_secs: config.camera_count_window_secs.max(1),
            offline_after: Duration::from_secs(config.camera_offline_secs.max(1)),
            last_frame: Instant::now(),
            frames: 0,
            windows: 0,
            detections: 0,
            faces: None,
            started: Instant::now(),
            lag: Duration::ZERO,
            last_analysed: None,
        };
        let outcome = w.watch().await;
        // Whatever ended the watch, the window so far is stored (partial), never lost
        // silently: a successor starting inside the same window keeps this row.
        if let Some(window) = w.window.as_mut() {
            window.interrupt();
        }
        w.flush_window().await;
        metrics::gauge!("vigil_camera_watched", "camera" => w.camera_id.clone()).set(0.0);
        let stopped = outcome?;
        Ok(Outcome::done(&WatchResult {
            camera_id: w.camera_id,
            stopped,
            frames_analysed: w.frames,
            windows_written: w.windows,
            detections_written: w.detections,
            watched_secs: w.started.elapsed().as_secs_f64(),
        }))
    }
}

impl Watcher<'_> {
    /// The camera, or why the watch must stop.
    async fn refresh(&self) -> Result<Result<Camera, &'static str>, JobError> {
        let mut conn = self.job.db().await?;
        let camera = match cameras::get(&mut conn, &self.camera_id).await {
            Ok(c) => c,
            Err(vigil_core::Error::NotFound(_)) => return Ok(Err("camera deleted")),
            Err(e) => return Err(e.into()),
        };
        Ok(if !camera.enabled {
            Err("camera disabled")
        } else if camera.status == CameraStatus::Maintenance {
            Err("camera in maintenance")
        } else if camera.watcher_job_id != Some(self.job.job.id) {
            Err("another watcher took over")
        } else {
            Ok(camera)
        })
    }

    async fn watch(&mut self) -> Result<&'static str, JobError> {
        let mut backoff = FIRST_BACKOFF;
        loop {
            let camera = match self.refresh().await? {
                Ok(c) => c,
                Err(reason) => return Ok(reason),
            };
            let settings = Settings::of(self.job, &camera)?;
            self.job.progress(0.0, "connecting");
            let session = match self.connect(&camera, &settings).await? {
                Ok(s) => s,
                Err(reason) => {
                    tracing::info!(camera = %self.camera_id, %reason, retry_in = ?backoff, "camera not reachable");
                    self.check_offline(&camera).await?;
                    self.job.sleep(backoff).await?;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    continue;
                }
            };
            self.job.progress(0.0, "watching");
            match self.run_session(session, &camera, &settings).await? {
                End::Stop(reason) => return Ok(reason),
                End::Reconnect(reason) => {
                    tracing::warn!(camera = %self.camera_id, %reason, "camera stream lost; reconnecting");
                    if let Some(w) = self.window.as_mut() {
                        w.interrupt();
                    }
                    self.last_analysed = None;
                    backoff = FIRST_BACKOFF;
                    self.job.sleep(backoff).await?;
                }
            }
        }
    }

    /// Opens the stream through the egress gate; `Ok(Err(reason))` when the camera cannot be
    /// reached now (worth retrying), `Err` when the job must stop.
    async fn connect(
        &mut self,
        camera: &Camera,
        settings: &Settings,
    ) -> Result<Result<Session, String>, JobError> {
        let input = match media::stream(self.job, &settings.url).await {
            Ok(input) => input,
            Err(JobError::Retryable(reason) | JobError::Permanent(reason)) => {
                return Ok(Err(reason));
            }
            Err(other) => return Err(other),
        };
        let options = SampleOptions {
            fps: settings.stream_fps(),
            open_timeout: OPEN_TIMEOUT,
            read_timeout: READ_TIMEOUT,
            skip_non_reference: true,
            max_pixels: self.job.app.config.max_video_pixels,
            ..SampleOptions::live()
        };
        let mut analysers: Vec<Box<dyn Analyser>> =
            vec![Box::new(PeopleCounter::new(self.detector.clone(), camera))];
        self.faces = None;
        if settings.face_recognition {
            let pipeline = vision::faces().await?;
            let (matcher, fingerprint) = load_gallery(self.job).await?;
            let slot: GallerySlot = Arc::new(Mutex::new(None));
            analysers.push(Box::new(FaceRecognizer::new(
                pipeline,
                matcher,
                slot.clone(),
                settings.face_sample_fps,
            )));
            self.faces = Some(Faces {
                slot,
                fingerprint,
                gallery_checked: Instant::now(),
                detections: HashMap::new(),
                track_prefix: format!("TRACK-{}", Utc::now().timestamp_millis()),
                latency_ms: None,
                heartbeat: Instant::now(),
            });
        }
        let analysers = Analysers(analysers);
        Ok(Session::open(camera.id.clone(), input, options, analysers)
            .await
            .map_err(|e| media::stream_error(e).to_string()))
    }

    async fn run_session(
        &mut self,
        mut session: Session,
        camera: &Camera,
        settings: &Settings,
    ) -> Result<End, JobError> {
        let mut last_refresh = Instant::now();
        let mut seen_since_refresh: Option<DateTime<Utc>> = None;
        let mut first = true;
        let max_gap = max_gap(settings.sample_fps);
        loop {
            match tokio::time::timeout(TICK, session.events.recv()).await {
                Ok(Some(Event::Analysed {
                    at,
                    findings,
                    lag,
                    jpeg,
                })) => {
                    if let Some(jpeg) = jpeg
                        && let Err(e) = frames::put(&self.job.app.redis, &camera.id, &jpeg).await
                    {
                        tracing::warn!(camera = %camera.id, error = %e, "current frame not handed over");
                    }
                    let at: DateTime<Utc> = at.into();
                    self.last_frame = Instant::now();
                    self.frames += 1;
                    if first {
                        first = false;
                        self.mark_seen(at).await?;
                    } else {
                        seen_since_refresh = Some(at);
                    }
                    self.lag = lag;
                    metrics::gauge!("vigil_camera_lag_seconds", "camera" => self.camera_id.clone())
                        .set(lag.as_secs_f64());
                    for finding in findings {
                        match finding {
                            Finding::People {
                                count,
                                inference_ms,
                            } => {
                                self.count(at, count, inference_ms, max_gap).await;
                            }
                            Finding::Faces {
                                reports,
                                inference_ms,
                            } => {
                                self.on_faces(camera, at, reports, inference_ms).await;
                            }
                        }
                    }
                }
                Ok(Some(Event::Failed(e))) => {
                    return Ok(End::Reconnect(media::stream_error(e).to_string()));
                }
                Ok(None) => return Ok(End::Reconnect("the stream ended".into())),
                Err(_) => {}
            }
            self.job.check()?;
            // Windows close on the clock too, so a row appears even when frames stop.
            if self.window.as_ref().is_some_and(|w| {
                Utc::now() >= w.end + chrono::Duration::from_std(max_gap).unwrap_or_default()
            }) {
                self.flush_window().await;
            }
            if last_refresh.elapsed() >= REFRESH_EVERY {
                last_refresh = Instant::now();
                if let Some(at) = seen_since_refresh.take() {
                    self.mark_seen(at).await?;
                }
                metrics::gauge!("vigil_camera_fps", "camera" => self.camera_id.clone())
                    .set(settings.sample_fps);
                self.job.counters(&serde_json::json!({
                    "framesAnalysed": self.frames,
                    "framesDropped": session.dropped.load(std::sync::atomic::Ordering::Relaxed),
                    "windowsWritten": self.windows,
                    "detectionsWritten": self.detections,
                    "lagMs": self.lag.as_millis() as u64,
                }));
                self.refresh_faces().await;
                // Someone wants the current frame (`detections.frame`): the next analysed
                // one goes to them.
                if frames::wanted(&self.job.app.redis, &camera.id)
                    .await
                    .unwrap_or(false)
                {
                    session
                        .want_frame
                        .store(true, std::sync::atomic::Ordering::Relaxed);
                }
                let now = match self.refresh().await? {
                    Ok(c) => c,
                    Err(reason) => return Ok(End::Stop(reason)),
                };
                if Settings::of(self.job, &now)? != *settings {
                    return Ok(End::Reconnect("the camera's settings changed".into()));
                }
                self.check_offline(camera).await?;
            }
        }
    }

    /// Stores what the face analyser reported: a judged track becomes a detection (and an
    /// attendance event, or an unknown-face alert); a known track's row is kept current. A
    /// database or storage failure loses that row, never the watch.
    async fn on_faces(
        &mut self,
        camera: &Camera,
        at: DateTime<Utc>,
        reports: Vec<FaceReport>,
        inference_ms: f64,
    ) {
        let Some(faces) = self.faces.as_mut() else {
            return;
        };
        faces.latency_ms = Some(match faces.latency_ms {
            Some(avg) => avg * 0.9 + inference_ms * 0.1,
            None => inference_ms,
        });
        for report in reports {
            let ago = |ms: i64| chrono::Duration::milliseconds((report.frame_ms - ms).max(0));
            let (first, last) = (at - ago(report.first_ms), at - ago(report.last_ms));
            let result = match &report.judged {
                Some(judged) => {
                    self.record_track(camera, &report, judged, (first, last))
                        .await
                }
                None => self.touch_track(&report, last).await,
            };
            if let Err(e) = result {
                tracing::warn!(camera = %camera.id, track = report.track, error = %e, "face detection not stored");
            }
            if report.ended
                && let Some(faces) = self.faces.as_mut()
            {
                faces.detections.remove(&report.track);
            }
        }
    }

    async fn record_track(
        &mut self,
        camera: &Camera,
        report: &FaceReport,
        judged: &Judged,
        (first_seen, last_seen): (DateTime<Utc>, DateTime<Utc>),
    ) -> Result<(), JobError> {
        let Some(faces) = self.faces.as_ref() else {
            return Ok(());
        };
        let seen = Seen {
            track_id: format!("{}-{}", faces.track_prefix, report.track),
            source: DetectionSource::Stream,
            recognition: judged.recognition.clone(),
            face_px: report.face_px,
            frames: report.frames,
            bbox: report.bbox,
            first_seen,
            last_seen,
            thumbnail: judged.thumbnail.clone(),
            descriptor: judged.descriptor,
        };
        let detection = record::record(self.job, camera, seen).await?;
        self.detections += 1;
        if let Some(faces) = self.faces.as_mut() {
            faces
                .detections
                .insert(report.track, (detection.id, Instant::now()));
        }
        Ok(())
    }

    async fn touch_track(
        &mut self,
        report: &FaceReport,
        last: DateTime<Utc>,
    ) -> Result<(), JobError> {
        let Some((id, synced)) = self
            .faces
            .as_mut()
            .and_then(|f| f.detections.get_mut(&report.track))
        else {
            return Ok(());
        };
        let attendance = report.ended
            || synced.elapsed() >= attendance_sync(self.job.app.config.attendance_absence_secs);
        if attendance {
            *synced = Instant::now();
        }
        let id = *id;
        let mut conn = self.job.db().await?;
        store::touch(
            &mut conn,
            id,
            last,
            report.frames,
            box_px(report.bbox),
            attendance,
        )
        .await?;
        Ok(())
    }

    /// Hands the face analyser a new gallery when enrollments changed, and reports the
    /// provider's heartbeat. Failures wait for the next round.
    async fn refresh_faces(&mut self) {
        let Some(faces) = self.faces.as_mut() else {
            return;
        };
        let beat = faces
            .latency_ms
            .filter(|_| faces.heartbeat.elapsed() >= HEARTBEAT_EVERY);
        let check_gallery = faces.gallery_checked.elapsed() >= GALLERY_REFRESH;
        if beat.is_some() {
            faces.heartbeat = Instant::now();
        }
        if check_gallery {
            faces.gallery_checked = Instant::now();
        }
        let known = faces.fingerprint;
        if let Some(ms) = beat {
            let stored = async {
                let mut conn = self.job.db().await?;
                Ok::<_, JobError>(provider::heartbeat(&mut conn, Some(ms.round() as u64)).await?)
            };
            if let Err(e) = stored.await {
                tracing::debug!(error = %e, "provider heartbeat not stored");
            }
        }
        if !check_gallery {
            return;
        }
        let reloaded = async {
            let mut conn = self.job.db().await?;
            if people::gallery_fingerprint(&mut conn, FACE_MODEL_ID).await? == known {
                return Ok(None);
            }
            drop(conn);
            Ok::<_, JobError>(Some(load_gallery(self.job).await?))
        };
        match reloaded.await {
            Ok(Some((matcher, fingerprint))) => {
                if let Some(faces) = self.faces.as_mut() {
                    faces.fingerprint = fingerprint;
                    if let Ok(mut slot) = faces.slot.lock() {
                        *slot = Some(matcher);
                    }
                }
                tracing::info!(camera = %self.camera_id, "enrollments changed; face gallery reloaded");
            }
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(camera = %self.camera_id, error = %e, "face gallery not reloaded")
            }
        }
    }

    async fn mark_seen(&self, at: DateTime<Utc>) -> Result<(), JobError> {
        let mut conn = self.job.db().await?;
        if health::seen(&mut conn, &self.camera_id, at).await? {
            tracing::info!(camera = %self.camera_id, "camera online");
        }
        metrics::gauge!("vigil_camera_online", "camera" => self.camera_id.clone()).set(1.0);
        metrics::gauge!("vigil_camera_watched", "camera" => self.camera_id.clone()).set(1.0);
        Ok(())
    }

    /// Marks the camera offline once it has been silent long enough.
    async fn check_offline(&self, camera: &Camera) -> Result<(), JobError> {
        let silent = self.last_frame.elapsed();
        if silent < self.offline_after {
            return Ok(());
        }
        if health::went_offline(&self.job.app, &camera.id, &camera.name, silent.as_secs()).await? {
            tracing::warn!(camera = %camera.id, silent_secs = silent.as_secs(), "camera offline");
            metrics::gauge!("vigil_camera_online", "camera" => self.camera_id.clone()).set(0.0);
        }
        Ok(())
    }

    /// Folds one frame's count into its window, storing the previous window when this frame
    /// starts a new one.
    async fn count(&mut self, at: DateTime<Utc>, count: u32, inference_ms: f64, max_gap: Duration) {
        if self.window.as_ref().is_some_and(|w| !w.contains(at)) {
            self.flush_window().await;
        }
        let (secs, previous) = (self.window_secs, self.last_analysed);
        self.window
            .get_or_insert_with(|| Window::containing(at, secs, max_gap).continuing(previous))
            .add(at, count, inference_ms);
        self.last_analysed = Some(at);
    }

    /// Stores the current window (if it saw any frame) and starts none.
    async fn flush_window(&mut self) {
        let Some(window) = self.window.take() else {
            return;
        };
        let Some(totals) = window.close() else {
            return;
        };
        let stored = async {
            let mut conn = self.job.db().await?;
            Ok::<_, JobError>(counts::record(&mut conn, &self.camera_id, &totals).await?)
        };
        match stored.await {
            Ok(written) => {
                if written {
                    self.windows += 1;
                }
                metrics::gauge!("vigil_camera_people", "camera" => self.camera_id.clone())
                    .set(f64::from(totals.people_count));
                tracing::debug!(camera = %self.camera_id, start = %totals.start, people = totals.people_count, partial = totals.partial, written, "count window closed");
            }
            // A database outage loses this window's row rather than the watch.
            Err(e) => {
                tracing::warn!(camera = %self.camera_id, error = %e, "count window not stored")
            }
        }
    }
}

/// Largest gap between analysed frames for a window to count as seen whole: a few sample
/// intervals, and never under 3 s.
fn max_gap(sample_fps: f64) -> Duration {
    Duration::from_secs_f64((3.0 / sample_fps.max(0.01)).max(3.0))
}

/// Everyone enrolled, as a matcher (`None`: nobody), with the gallery's fingerprint
/// (`people::gallery_fingerprint`) taken first, so a change made meanwhile shows at the next
/// comparison.
async fn load_gallery(job: &JobContext) -> Result<(Option<Matcher>, (i64, i64)), JobError> {
    let mut conn = job.db().await?;
    let fingerprint = people::gallery_fingerprint(&mut conn, FACE_MODEL_ID).await?;
    let gallery = people::gallery(&mut conn, FACE_MODEL_ID).await?;
    drop(conn);
    Ok((Matcher::for_people(&gallery, MIN_FACE_PX)?, fingerprint))
}
