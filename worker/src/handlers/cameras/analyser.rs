//! What a camera's watcher feeds its frames to. The watcher decodes each sampled frame once
//! and hands it to every analyser the camera has switched on: people counting now; face
//! recognition for attendance, live missing-person searches and the recorder's motion index
//! plug in here next, each as one more `Analyser`, never as another stream connection.
//!
//! Analysers run on a blocking thread (they may run models) and return what they found; the
//! watcher does the I/O (rows, alerts, metrics) on the async side.

use std::sync::Arc;
use std::time::Instant;

use vigil_core::cameras::{Camera, Roi};
use vigil_models::PersonDetector;
use vigil_video::Frame;

use super::faces::FaceReport;

/// What one analyser found in one frame.
#[derive(Debug, Clone, PartialEq)]
pub enum Finding {
    /// Persons counted (inside the region of interest, at or above the camera's threshold).
    People { count: u32, inference_ms: f64 },
    /// Face tracks decided, still seen, or ended in this frame.
    Faces {
        reports: Vec<FaceReport>,
        inference_ms: f64,
    },
}

/// Looks at a camera's sampled frames.
pub trait Analyser: Send + 'static {
    fn name(&self) -> &'static str;

    /// Analyses one frame; `None` when this analyser skips it (it looks at fewer frames per
    /// second than the stream is sampled at). An error is about this frame only; the watcher
    /// logs it and goes on with the next.
    fn analyse(&mut self, frame: &Frame) -> Result<Option<Finding>, String>;
}

/// Lets an analyser look at `fps` frames per second of a stream sampled at a higher rate.
#[derive(Debug, Clone)]
pub struct Every {
    interval: f64,
    next: f64,
}

impl Every {
    pub fn new(fps: f64) -> Self {
        Self {
            interval: 1.0 / fps.max(0.01),
            next: f64::NEG_INFINITY,
        }
    }

    /// Whether the frame at `secs` (stream time) is due. A quarter interval of slack absorbs
    /// the sampler's jitter, so 1 fps out of a 2 fps stream takes every other frame.
    pub fn due(&mut self, secs: f64) -> bool {
        if secs + self.interval / 4.0 < self.next {
            return false;
        }
        self.next = secs + self.interval;
        true
    }
}

/// Counts persons with the shared CenterNet detector.
pub struct PeopleCounter {
    detector: Arc<PersonDetector>,
    min_confidence: f32,
    roi: Option<Roi>,
    every: Every,
}

impl PeopleCounter {
    pub fn new(detector: Arc<PersonDetector>, camera: &Camera) -> Self {
        Self {
            detector,
            min_confidence: camera.min_confidence,
            roi: camera.roi(),
            every: Every::new(camera.sample_fps),
        }
    }
}

impl Analyser for PeopleCounter {
    fn name(&self) -> &'static str {
        "people"
    }

    fn analyse(&mut self, frame: &Frame) -> Result<Option<Finding>, String> {
        if !self.every.due(frame.timestamp_secs) {
            return Ok(None);
        }
        let started = Instant::now();
        let detections = self
            .detector
            .detect(&frame.image)
            .map_err(|e| format!("person detection failed: {e}"))?;
        let (w, h) = (
            f64::from(frame.width().max(1)),
            f64::from(frame.height().max(1)),
        );
        let count = detections
            .iter()
            .filter(|d| d.score >= self.min_confidence)
            .filter(|d| {
                self.roi.as_ref().is_none_or(|roi| {
                    let cx = f64::from(d.bbox.x + d.bbox.width / 2.0) / w;
                    let cy = f64::from(d.bbox.y + d.bbox.height / 2.0) / h;
                    roi.contains(cx, cy)
                })
            })
            .count() as u32;
        Ok(Some(Finding::People {
            count,
            inference_ms: started.elapsed().as_secs_f64() * 1000.0,
        }))
    }
}

/// The analysers of one camera, run in turn on each frame.
pub struct Analysers(pub Vec<Box<dyn Analyser>>);

impl Analysers {
    /// What the analysers found in `frame`; failures are logged and skipped.
    pub fn analyse(&mut self, camera: &str, frame: &Frame) -> Vec<Finding> {
        self.0
            .iter_mut()
            .filter_map(|a| match a.analyse(frame) {
                Ok(f) => f,
                Err(e) => {
                    tracing::warn!(%camera, analyser = a.name(), error = %e, "frame not analysed");
                    None
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::Every;

    #[test]
    fn every_takes_its_share_of_a_faster_stream() {
        let mut every = Every::new(1.0);
        // A 2 fps stream with a little jitter.
        let taken: Vec<bool> = [0.0, 0.52, 0.98, 1.51, 2.02, 2.49, 3.0]
            .iter()
            .map(|&t| every.due(t))
            .collect();
        assert_eq!(taken, [true, false, true, false, true, false, true]);
        let mut all = Every::new(2.0);
        assert!([0.0, 0.5, 1.0, 1.5].iter().all(|&t| all.due(t)));
    }
}
