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

/// What one analyser found in one frame.
#[derive(Debug, Clone, PartialEq)]
pub enum Finding {
    /// Persons counted (inside the region of interest, at or above the camera's threshold).
    People { count: u32, inference_ms: f64 },
}

/// Looks at a camera's sampled frames.
pub trait Analyser: Send + 'static {
    fn name(&self) -> &'static str;

    /// Analyses one frame. An error is about this frame only; the watcher logs it and goes
    /// on with the next.
    fn analyse(&mut self, frame: &Frame) -> Result<Finding, String>;
}

/// Counts persons with the shared CenterNet detector.
pub struct PeopleCounter {
    detector: Arc<PersonDetector>,
    min_confidence: f32,
    roi: Option<Roi>,
}

impl PeopleCounter {
    pub fn new(detector: Arc<PersonDetector>, camera: &Camera) -> Self {
        Self {
            detector,
            min_confidence: camera.min_confidence,
            roi: camera.roi(),
        }
    }
}

impl Analyser for PeopleCounter {
    fn name(&self) -> &'static str {
        "people"
    }

    fn analyse(&mut self, frame: &Frame) -> Result<Finding, String> {
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
        Ok(Finding::People {
            count,
            inference_ms: started.elapsed().as_secs_f64() * 1000.0,
        })
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
                Ok(f) => Some(f),
                Err(e) => {
                    tracing::warn!(%camera, analyser = a.name(), error = %e, "frame not analysed");
                    None
                }
            })
            .collect()
    }
}
