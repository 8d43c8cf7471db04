//! Face recognition on a camera's frames (live detections and attendance). Faces are followed
//! from frame to frame (`frames::tracker`) and each track is judged once over its best faces
//! — a person walking through a door is seen several times, and one frame is a poor witness
//! (docs/search.md) — then kept current until it leaves the picture. What the track is
//! (authorized, visitor, unknown) is decided by the watcher with `detections::classify`; this
//! analyser only measures.
//!
//! Enrollments change while a camera is watched: the watcher puts a new gallery in the
//! [`GallerySlot`] and the analyser takes it at its next frame, ending the open tracks first
//! (their per-person distances belong to the old gallery).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use uuid::Uuid;
use vigil_core::attendance::decision::Recognition;
use vigil_core::faces::DESCRIPTOR_LEN;
use vigil_models::gallery::similarity;
use vigil_models::{BBox, FacePipeline};
use vigil_video::Frame;

use super::analyser::{Analyser, Every, Finding};
use crate::frames::matcher::Matcher;
use crate::frames::scan::thumbnail;
use crate::frames::tracker::{FaceTrack, FaceTracker, Observation};

/// A track is judged once it has this many faces (or when it ends with fewer).
pub const DECIDE_FRAMES: u32 = 3;
/// A new face this much larger than the kept thumbnail's replaces it.
const BETTER_THUMBNAIL: f32 = 1.15;

/// A new gallery for the analyser: `Some(None)` when nobody is enrolled any more.
pub type GallerySlot = Arc<Mutex<Option<Option<Matcher>>>>;

/// One face track's news in one frame.
#[derive(Debug, Clone, PartialEq)]
pub struct FaceReport {
    /// The track's number in this connection.
    pub track: u32,
    /// Stream times (ms) of the track's first and latest face, and of this frame.
    pub first_ms: i64,
    pub last_ms: i64,
    pub frame_ms: i64,
    pub frames: u32,
    /// The latest face.
    pub bbox: BBox,
    /// The track's largest face (shorter side, pixels).
    pub face_px: f32,
    /// Set when the track is judged (once): the nearest enrolled person over its best faces.
    pub judged: Option<Judged>,
    /// The track left the picture.
    pub ended: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Judged {
    pub recognition: Option<Recognition>,
    /// JPEG of the track's largest face.
    pub thumbnail: Option<Vec<u8>>,
    /// The largest face's descriptor.
    pub descriptor: Option<[f32; DESCRIPTOR_LEN]>,
}

pub struct FaceRecognizer {
    pipeline: Arc<FacePipeline>,
    matcher: Option<Matcher>,
    slot: GallerySlot,
    tracker: FaceTracker,
    max_gap_ms: i64,
    every: Every,
    tracks: Tracks,
}

/// What the analyser keeps per open track beside the tracker.
#[derive(Default)]
struct Tracks {
    judged: HashSet<u32>,
    /// The latest face (the tracker forgets it when the track ends) and the largest so far.
    latest: HashMap<u32, BBox>,
    largest: HashMap<u32, LargestFace>,
}

/// A track's largest face so far: its size (shorter side), thumbnail and descriptor.
struct LargestFace {
    px: f32,
    thumbnail: Option<Vec<u8>>,
    descriptor: [f32; DESCRIPTOR_LEN],
}

impl FaceRecognizer {
    pub fn new(
        pipeline: Arc<FacePipeline>,
        matcher: Option<Matcher>,
        slot: GallerySlot,
        fps: f64,
    ) -> Self {
        // Three missed looks end a track, and never less than 1.5 s.
        let max_gap_ms = ((3000.0 / fps.max(0.01)) as i64).max(1500);
        let persons = matcher.as_ref().map_or(0, |m| m.persons().len());
        Self {
            pipeline,
            matcher,
            slot,
            tracker: FaceTracker::new(persons, max_gap_ms),
            max_gap_ms,
            every: Every::new(fps),
            tracks: Tracks::default(),
        }
    }

    /// Ends every open track (for a new gallery) and reports them.
    fn end_all(&mut self, frame_ms: i64) -> Vec<FaceReport> {
        let ended = self.tracker.finish();
        ended
            .iter()
            .filter_map(|t| self.tracks.report(self.matcher.as_ref(), t, frame_ms, true))
            .collect()
    }
}

/// The nearest enrolled person to a track, over its best faces.
fn recognise(matcher: Option<&Matcher>, track: &FaceTrack) -> Option<Recognition> {
    let persons = matcher?.persons();
    let distances: Vec<Option<f32>> = (0..persons.len()).map(|p| track.distance(p)).collect();
    nearest(persons, &distances)
}

impl Tracks {
    fn report(
        &mut self,
        matcher: Option<&Matcher>,
        track: &FaceTrack,
        frame_ms: i64,
        ended: bool,
    ) -> Option<FaceReport> {
        let judge = !self.judged.contains(&track.no) && (ended || track.frames >= DECIDE_FRAMES);
        // A judged track still in view is kept current; others wait until judged or ended.
        let current = track.end_ms == frame_ms && self.judged.contains(&track.no);
        if !(judge || ended || current) {
            return None;
        }
        let bbox = *self.latest.get(&track.no)?;
        let judged = judge.then(|| {
            self.judged.insert(track.no);
            let largest = self.largest.get(&track.no);
            Judged {
                recognition: recognise(matcher, track),
                thumbnail: largest.and_then(|l| l.thumbnail.clone()),
                descriptor: largest.map(|l| l.descriptor),
            }
        });
        if ended {
            self.judged.remove(&track.no);
            self.latest.remove(&track.no);
            self.largest.remove(&track.no);
        }
        Some(FaceReport {
            track: track.no,
            first_ms: track.start_ms,
            last_ms: track.end_ms,
            frame_ms,
            frames: track.frames,
            bbox,
            face_px: track.max_px,
            judged,
            ended,
        })
    }
}

/// The nearest of `persons` given a distance to each (`None`: not judged), with the margin
/// to the next person.
pub fn nearest(persons: &[Uuid], distances: &[Option<f32>]) -> Option<Recognition> {
    let mut ranked: Vec<(f32, Uuid)> = persons
        .iter()
        .zip(distances)
        .filter_map(|(id, d)| d.map(|d| (d, *id)))
        .collect();
    ranked.sort_by(|a, b| a.0.total_cmp(&b.0));
    let &(distance, person) = ranked.first()?;
    Some(Recognition {
        person,
        distance: Some(distance),
        confidence: similarity(distance),
        margin: ranked.get(1).map(|r| r.0 - distance),
        nearest_negative: None,
    })
}

impl Analyser for FaceRecognizer {
    fn name(&self) -> &'static str {
        "faces"
    }

    fn analyse(&mut self, frame: &Frame) -> Result<Option<Finding>, String> {
        if !self.every.due(frame.timestamp_secs) {
            return Ok(None);
        }
        let started = Instant::now();
        let frame_ms = (frame.timestamp_secs * 1000.0).round() as i64;
        let mut reports = Vec::new();
        let swapped = self.slot.lock().ok().and_then(|mut s| s.take());
        if let Some(matcher) = swapped {
            reports.extend(self.end_all(frame_ms));
            let persons = matcher.as_ref().map_or(0, |m| m.persons().len());
            self.matcher = matcher;
            self.tracker = FaceTracker::new(persons, self.max_gap_ms);
        }
        // A dark scene is brightened for the detector; counting keeps the frame as it is.
        let faces = self
            .pipeline
            .detect_faces(&vigil_models::exposure::lift_dark(&frame.image))
            .map_err(|e| format!("face detection failed: {e}"))?;
        let distances = match self.matcher.as_mut() {
            Some(m) => m.frame(&faces).map_err(|e| e.to_string())?.distances,
            None => vec![Vec::new(); faces.len()],
        };
        let observations = faces
            .iter()
            .zip(distances)
            .map(|(f, distances)| Observation {
                bbox: f.bbox,
                distances,
                thumbnail: None,
            })
            .collect();
        let ended = self.tracker.observe(frame_ms, observations);
        let seen: Vec<(u32, BBox)> = self
            .tracker
            .open()
            .filter(|(_, _, at)| *at == frame_ms)
            .map(|(t, b, _)| (t.no, b))
            .collect();
        for (no, bbox) in seen {
            self.tracks.latest.insert(no, bbox);
            let px = bbox.width.min(bbox.height);
            let better = self
                .tracks
                .largest
                .get(&no)
                .is_none_or(|kept| px > kept.px * BETTER_THUMBNAIL);
            // The tracker keeps the observation's box as it was: it finds its face.
            if better && let Some(face) = faces.iter().find(|f| f.bbox == bbox) {
                let largest = LargestFace {
                    px,
                    thumbnail: thumbnail(&frame.image, bbox),
                    descriptor: face.descriptor,
                };
                self.tracks.largest.insert(no, largest);
            }
        }
        let matcher = self.matcher.as_ref();
        for track in &ended {
            reports.extend(self.tracks.report(matcher, track, frame_ms, true));
        }
        for (track, _, _) in self.tracker.open() {
            reports.extend(self.tracks.report(matcher, track, frame_ms, false));
        }
        Ok(Some(Finding::Faces {
            reports,
            inference_ms: started.elapsed().as_secs_f64() * 1000.0,
        }))
    }
}
