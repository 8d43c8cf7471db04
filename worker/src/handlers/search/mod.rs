//! Missing-person search jobs: the parent (`search`) fans out one child per recorded-video
//! segment (`search.segment`) and per live stream (`search.live`), and summarises them at the
//! end. Children run the frame pipeline (`crate::frames`) and store what it finds through
//! `FrameStore`; appearances are rebuilt from the stored detections.

pub mod live;
pub mod notify;
pub mod parent;
pub mod segment;

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use uuid::Uuid;
use vigil_core::searches::face_tracks::{self, NewFaceTrack};
use vigil_core::searches::results::{self, FoundAppearance, NewDetection};
use vigil_core::searches::sightings;
use vigil_core::searches::{self, Search, SearchSettings, SearchVideo, tracks};
use vigil_core::storage::ObjectKey;
use vigil_core::videos::{self, Video};
use vigil_core::{faces, missing_persons};

use crate::context::{JobContext, JobError, OrSkip};
use crate::frames::matcher::Matcher;
use crate::frames::scan::FrameResult;
use crate::frames::tracker::{FaceTrack, FaceTracker};
use crate::vision::FACE_MODEL_ID;

/// When a child rebuilds appearances, it also reads this much of its neighbours' detections,
/// so a person seen across a segment boundary becomes one appearance with all its votes.
const NEIGHBOUR_WINDOW_MS: i64 = 10_000;

/// What building and announcing a video's appearances needs (every search child loads it).
pub struct ChildSetup {
    pub search: Search,
    pub settings: SearchSettings,
    pub video: Video,
    /// Missing-person id → name (for emails).
    pub names: HashMap<Uuid, String>,
}

/// Loads the search, video and gallery (as a matcher for the inference thread). A search or
/// video deleted meanwhile skips the job.
pub async fn setup(
    job: &JobContext,
    search: Uuid,
    video: Uuid,
) -> Result<(ChildSetup, Matcher), JobError> {
    let mut conn = job.db().await?;
    let search = searches::get(&mut conn, search)
        .await
        .or_skip("search deleted")?;
    let video = videos::get(&mut conn, video)
        .await
        .or_skip("video deleted")?;
    drop(conn);
    let settings = search.settings();
    let (matcher, names) = build_matcher(job, search.id, &settings).await?;
    Ok((
        ChildSetup {
            search,
            settings,
            video,
            names,
        },
        matcher,
    ))
}

/// A matcher over everyone enrolled, attributing faces to the search's persons; and their
/// names by missing-person id.
pub async fn build_matcher(
    job: &JobContext,
    search: Uuid,
    settings: &SearchSettings,
) -> Result<(Matcher, HashMap<Uuid, String>), JobError> {
    let mut conn = job.db().await?;
    let persons = searched_persons(&mut conn, search).await?;
    let enrolled = faces::gallery(&mut conn, FACE_MODEL_ID).await?;
    let searched = persons.iter().map(|p| (p.profile_id, p.id)).collect();
    let names = names_of(&persons);
    let matcher = Matcher::new(
        &enrolled,
        searched,
        settings.track_threshold,
        settings.min_face_px,
        settings.sighting_distance,
    )?;
    Ok((matcher, names))
}

async fn searched_persons(
    conn: &mut diesel_async::AsyncPgConnection,
    search: Uuid,
) -> Result<Vec<missing_persons::MissingPerson>, JobError> {
    let ids = searches::person_ids(conn, search).await?;
    Ok(missing_persons::get_many(conn, &ids).await?)
}

fn names_of(persons: &[missing_persons::MissingPerson]) -> HashMap<Uuid, String> {
    persons.iter().map(|p| (p.id, p.name.clone())).collect()
}

/// Stores a child's frames: thumbnails first, then the detection rows (idempotent). A frame
/// that took over the last analysis points at that frame's thumbnails instead of storing
/// the same picture again. Every judged face also goes to the face tracker, whose finished
/// tracks are stored as evidence for possible sightings.
pub struct FrameStore {
    search: Uuid,
    video: Uuid,
    /// Thumbnail key of each person's face in the last analysed frame.
    thumbnails: HashMap<Uuid, String>,
    /// The searched persons, in the matcher's order (the tracker's per-person slots).
    persons: Vec<Uuid>,
    tracker: FaceTracker,
    sighting_bounds: sightings::Bounds,
}

impl FrameStore {
    pub fn new(setup: &ChildSetup, persons: Vec<Uuid>) -> Self {
        let max_gap_ms = (setup.settings.max_gap_secs * 1000.0).round() as i64;
        Self {
            search: setup.search.id,
            video: setup.video.id,
            thumbnails: HashMap::new(),
            tracker: FaceTracker::new(persons.len(), max_gap_ms),
            persons,
            sighting_bounds: setup.settings.sighting_bounds(),
        }
    }

    /// Stores the tracks still open (the end of a segment, a stop, a dropped stream).
    pub async fn finish(mut self, job: &JobContext) -> Result<(), JobError> {
        let open = self.tracker.finish();
        self.store_tracks(job, open).await
    }

    /// Returns the number of detections stored.
    pub async fn store(
        &mut self,
        job: &JobContext,
        frame_ms: i64,
        observed_at: Option<DateTime<Utc>>,
        frame: FrameResult,
    ) -> Result<usize, JobError> {
        if frame.analysed {
            self.thumbnails.clear();
        }
        let ended = self.tracker.observe(frame_ms, frame.faces);
        self.store_tracks(job, ended).await?;
        if frame.candidates.is_empty() {
            return Ok(0);
        }
        let mut rows = Vec::with_capacity(frame.candidates.len());
        for (c, thumb) in frame.candidates {
            let key = match thumb {
                Some(jpeg) => {
                    let key = ObjectKey::SearchFrame {
                        search: self.search,
                        video: self.video,
                        person: c.person,
                        frame_ms,
                    }
                    .to_string();
                    job.app.storage.put_bytes(&key, jpeg, "image/jpeg").await?;
                    self.thumbnails.insert(c.person, key.clone());
                    Some(key)
                }
                None => self.thumbnails.get(&c.person).cloned(),
            };
            rows.push(NewDetection {
                id: Uuid::now_v7(),
                search_id: self.search,
                video_id: self.video,
                missing_person_id: c.person,
                frame_ms,
                observed_at,
                bbox: crate::vision::box_px(c.face.bbox),
                detector_score: c.face.score,
                distance: c.distance,
                score: vigil_models::gallery::similarity(c.distance),
                runner_up_margin: c.margin,
                frame_key: key,
            });
        }
        let n = rows.len();
        let mut conn = job.db().await?;
        results::insert_detections(&mut conn, &rows).await?;
        Ok(n)
    }

    /// Stores finished face tracks, one row per searched person the track was judged against; the
    /// closest face's thumbnail only where it is close enough to be shown as a possible sighting.
    async fn store_tracks(&self, job: &JobContext, tracks: Vec<FaceTrack>) -> Result<(), JobError> {
        let (search, video) = (self.search, self.video);
        let mut rows = Vec::new();
        for track in tracks {
            for (p, &person) in self.persons.iter().enumerate() {
                let (Some(distance), Some(best)) = (track.distance(p), track.best[p].first())
                else {
                    continue;
                };
                let thumbnail_key = match &track.thumbnails[p] {
                    Some(jpeg) if distance <= self.sighting_bounds.for_face(track.max_px) => {
                        let key = ObjectKey::TrackFace {
                            search,
                            video,
                            person,
                            start_ms: track.start_ms,
                            track: track.no,
                        }
                        .to_string();
                        job.app
                            .storage
                            .put_bytes(&key, jpeg.clone(), "image/jpeg")
                            .await?;
                        Some(key)
                    }
                    _ => None,
                };
                rows.push(NewFaceTrack {
                    id: Uuid::now_v7(),
                    search_id: search,
                    video_id: video,
                    missing_person_id: person,
                    start_ms: track.start_ms,
                    track_no: track.no as i32,
                    end_ms: track.end_ms,
                    frames: track.frames as i32,
                    max_px: track.max_px,
                    distance,
                    best_distance: best.distance,
                    best_ms: best.at_ms,
                    best_px: best.face_px,
                    thumbnail_key,
                });
            }
        }
        if !rows.is_empty() {
            let mut conn = job.db().await?;
            face_tracks::record(&mut conn, &rows).await?;
        }
        Ok(())
    }
}

/// Rebuilds the appearances of a search's recorded videos from all of their detections, once
/// every segment is done. Segments build theirs as they finish, reading the neighbours'
/// detections already stored, so a person crossing a segment boundary could start late or
/// lack votes depending on which segment finished first. Merged into what the segments
/// recorded (`results::record_appearance` only joins and widens), this pass gives every
/// boundary all its votes whatever the order. Needs neither the models nor the gallery.
pub async fn settle_appearances(
    job: &JobContext,
    search: &Search,
    lines: &[SearchVideo],
) -> Result<(), JobError> {
    let mut conn = job.db().await?;
    let ids: Vec<Uuid> = lines.iter().map(|l| l.video_id).collect();
    let videos = videos::get_many(&mut conn, &ids).await?;
    let names = names_of(&searched_persons(&mut conn, search.id).await?);
    drop(conn);
    let settings = search.settings();
    for video in videos.into_iter().filter(|v| !v.is_live()) {
        let setup = ChildSetup {
            search: search.clone(),
            settings: settings.clone(),
            video,
            names: names.clone(),
        };
        record_appearances(job, &setup, 0, i64::MAX / 4).await?;
    }
    Ok(())
}

/// Builds tracks from the stored detections of `[from_ms, to_ms]` (plus neighbours), records
/// those that pass the vote as appearances and emails about new ones. Idempotent.
pub async fn record_appearances(
    job: &JobContext,
    setup: &ChildSetup,
    from_ms: i64,
    to_ms: i64,
) -> Result<usize, JobError> {
    let (search, video) = (setup.search.id, setup.video.id);
    let detections = {
        let mut conn = job.db().await?;
        results::detections_between(
            &mut conn,
            search,
            video,
            from_ms - NEIGHBOUR_WINDOW_MS,
            to_ms + NEIGHBOUR_WINDOW_MS,
        )
        .await?
    };
    let hits: Vec<tracks::FrameHit> = detections
        .iter()
        .map(|d| tracks::FrameHit {
            person: d.missing_person_id,
            frame_ms: d.frame_ms,
            distance: d.distance,
            margin: d.runner_up_margin,
        })
        .collect();
    let found = tracks::build(&hits, &setup.settings);
    let max_gap_ms = (setup.settings.max_gap_secs * 1000.0).round() as i64;
    let mut recorded = 0;
    for track in found {
        let best = detections[track.best].clone();
        let started_at = detections
            .iter()
            .find(|d| d.missing_person_id == track.person && d.frame_ms == track.start_ms)
            .and_then(|d| d.observed_at);
        let appearance = FoundAppearance {
            person: track.person,
            start_ms: track.start_ms,
            end_ms: track.end_ms,
            started_at,
            best,
        };
        let (stored, unnotified) = {
            let mut conn = job.db().await?;
            results::record_appearance(&mut conn, search, video, appearance, max_gap_ms).await?
        };
        recorded += 1;
        if unnotified {
            notify::appearance(job, setup, &stored).await?;
        }
    }
    Ok(recorded)
}
