//! The frame pipeline of a search child: one thread decodes and samples frames, another runs
//! the face models on them and matches the faces, and the async job loop stores what comes
//! out. Decoding the next frames overlaps inference on the current one. A frame that shows the
//! last analysed picture, unchanged or moved as a whole (a fixed camera on a still scene, a
//! slow pan), takes over its results without running the models (`vigil_video::Sketch`); on
//! other frames, faces that were plainly strangers a moment ago keep their descriptors
//! (`face_memory`). Frames go through the detector one at a time: batching frames is not
//! faster on CPU (docs/benchmarks.md).

use std::sync::Arc;
use std::sync::mpsc as std_mpsc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use vigil_models::pipeline::Threads;
use vigil_models::{BBox, FacePipeline, Precision, with_precision};
use vigil_video::{
    CancelHandle, CropBox, FrameSampler, Input, SampleOptions, SamplerStats, Sketch, VideoError,
};

use super::face_memory::{Described, FaceMemory, shifted};
use super::matcher::{Candidate, Matcher};
use super::tracker::Observation;

/// The detectors run in bf16 on video frames where the CPU has AMX tiles or AVX-512 BF16:
/// half (AMX) or three quarters (dot products) of the SSD's time per frame, boxes within a
/// third of a pixel of f32 ones (docs/models.md, "Precision").
/// Landmarks stay f32 and descriptors bf16 whatever is asked here (the nets pin them), and
/// enrollment photos are detected in f32.
const DETECTOR_PRECISION: Precision = Precision::Bf16;

/// Frames decoded ahead of inference. Small: frames are 2.7 MB each at 720p.
const DECODE_AHEAD: usize = 4;
/// Thumbnails: the face with this much context around it, at most this many pixels wide.
const THUMB_MARGIN: f32 = 0.6;
const THUMB_MAX_SIDE: u32 = 320;
const THUMB_QUALITY: u8 = 85;

/// A candidate face and the JPEG thumbnail of it in its frame.
pub type Hit = (Candidate, Option<Vec<u8>>);

pub struct FrameResult {
    pub timestamp_secs: f64,
    pub sample_index: u64,
    /// False when the frame showed the last analysed frame's picture, unchanged or moved as a
    /// whole, and its results were taken over (without thumbnails: those of the analysed
    /// frame stand for it).
    pub analysed: bool,
    pub candidates: Vec<Hit>,
    /// Every judged face with its distance to each searched person (for the face tracker);
    /// faces within the sighting distance carry a thumbnail on analysed frames.
    pub faces: Vec<Observation>,
}

/// Where a scan's time went, summed over its frames (each stage on its own thread's clock):
/// logged at the end of a segment and read by the search benchmarks.
#[derive(Debug, Default, Clone, Copy)]
pub struct StageTimes {
    /// Decoding and sampling frames (the decode thread, overlapping the rest).
    pub decode: Duration,
    /// The face detectors.
    pub detect: Duration,
    /// Landmarks and descriptors of faces not carried over.
    pub describe: Duration,
    /// Matching against the gallery and remembering faces.
    pub matching: Duration,
    /// JPEG thumbnails of candidates and close faces.
    pub thumbnails: Duration,
}

pub enum Event {
    Frame(FrameResult),
    /// The input ended normally (files) with these decoder statistics.
    End(SamplerStats, StageTimes),
    Error(VideoError),
    /// Inference failed (not the input's fault).
    ModelError(String),
}

enum Decoded {
    Frame(vigil_video::Frame),
    /// With the time spent decoding.
    End(SamplerStats, Duration),
    Error(VideoError),
}

/// A running scan; dropping it stops both threads.
pub struct Scan {
    pub events: mpsc::Receiver<Event>,
    cancel: Option<CancelHandle>,
    /// Wall-clock time the input was opened (live timestamps count from it).
    pub opened_at: Option<std::time::SystemTime>,
}

impl Drop for Scan {
    fn drop(&mut self) {
        if let Some(cancel) = &self.cancel {
            cancel.cancel();
        }
    }
}

/// Opens `input` and starts decoding and inference threads. Opening errors are returned at
/// once (on a blocking thread, since opening a stream can take seconds). With `small_faces`,
/// analysed frames also go through the second face detector, for the small, dim and blurred
/// faces the first misses (`FacePipeline::detect_boxes_all_sizes`). The models run on a pool
/// of `model_threads` threads of the scan's own ([`crate::vision::model_threads`]).
pub async fn start(
    input: Input,
    options: SampleOptions,
    pipeline: Arc<FacePipeline>,
    mut matcher: Matcher,
    small_faces: bool,
    model_threads: usize,
) -> Result<Scan, VideoError> {
    let threads = Threads::new(model_threads.max(1))
        .map_err(|e| VideoError::Io(std::io::Error::other(e.to_string())))?;
    let sampler = tokio::task::spawn_blocking(move || FrameSampler::open(input, options))
        .await
        .map_err(|e| VideoError::Decode(format!("decoder thread failed: {e}")))??;
    let cancel = sampler.cancel_handle();
    let opened_at = Some(sampler.opened_at());
    let (frames_tx, frames_rx) = std_mpsc::sync_channel::<Decoded>(DECODE_AHEAD);
    let (events_tx, events_rx) = mpsc::channel::<Event>(DECODE_AHEAD);

    std::thread::Builder::new()
        .name("vigil-decode".into())
        .spawn(move || decode(sampler, frames_tx))
        .map_err(VideoError::Io)?;
    std::thread::Builder::new()
        .name("vigil-infer".into())
        .spawn(move || {
            threads.run(|| infer(frames_rx, events_tx, &pipeline, &mut matcher, small_faces))
        })
        .map_err(VideoError::Io)?;
    Ok(Scan {
        events: events_rx,
        cancel: Some(cancel),
        opened_at,
    })
}

fn decode(mut sampler: FrameSampler, tx: std_mpsc::SyncSender<Decoded>) {
    let mut spent = Duration::ZERO;
    loop {
        let started = Instant::now();
        let Some(item) = sampler.next() else { break };
        spent += started.elapsed();
        let msg = match item {
            Ok(frame) => Decoded::Frame(frame),
            Err(e) => Decoded::Error(e),
        };
        let stop = matches!(msg, Decoded::Error(_));
        if tx.send(msg).is_err() || stop {
            return;
        }
    }
    let _ = tx.send(Decoded::End(sampler.stats(), spent));
}

/// A frame may be taken as the last analysed one moved by at most this fraction of its width
/// (40 px at 720p): the strip of new picture a pan uncovers stays narrower than the smallest
/// faces the detector finds at that size (it sees a 720p frame at 0.4×).
const MAX_SHIFT_OF_WIDTH: f32 = 1.0 / 32.0;

/// The last analysed frame: its sketch and what was found on it.
struct Reference {
    sketch: Sketch,
    hits: Vec<Hit>,
    faces: Vec<Observation>,
}

fn infer(
    rx: std_mpsc::Receiver<Decoded>,
    tx: mpsc::Sender<Event>,
    pipeline: &FacePipeline,
    matcher: &mut Matcher,
    small_faces: bool,
) {
    let mut reference: Option<Reference> = None;
    let mut memory = FaceMemory::default();
    let mut times = StageTimes::default();
    let sighting_distance = matcher.sighting_distance();
    loop {
        let frame = match rx.recv() {
            Ok(Decoded::Frame(frame)) => frame,
            Ok(Decoded::End(stats, decode)) => {
                times.decode = decode;
                let _ = tx.blocking_send(Event::End(stats, times));
                return;
            }
            Ok(Decoded::Error(e)) => {
                let _ = tx.blocking_send(Event::Error(e));
                return;
            }
            Err(_) => return,
        };
        let sketch = Sketch::of(&frame.image);
        let max_shift = frame.image.width() as f32 * MAX_SHIFT_OF_WIDTH;
        let moved = reference.as_ref().and_then(|r| {
            let shift = sketch.shift_from(&r.sketch, max_shift)?;
            // The same picture, maybe moved: its thumbnails are already stored, under the
            // analysed frame.
            let hits: Vec<Hit> = r
                .hits
                .iter()
                .map(|(c, _)| {
                    let mut face = shifted(&c.face, shift);
                    // A pan can carry part of the box out of the picture.
                    face.bbox = face.bbox.clamped(frame.image.width(), frame.image.height());
                    (Candidate { face, ..c.clone() }, None)
                })
                .collect();
            let faces: Vec<Observation> = r
                .faces
                .iter()
                .map(|o| Observation {
                    bbox: shifted_bbox(o.bbox, shift)
                        .clamped(frame.image.width(), frame.image.height()),
                    distances: o.distances.clone(),
                    thumbnail: None,
                })
                .collect();
            Some((shift, hits, faces))
        });
        let analysed = moved.is_none();
        let (candidates, faces) = match moved {
            Some((shift, hits, faces)) => {
                memory.follow(shift);
                (hits, faces)
            }
            None => {
                let (candidates, judged) = match analyse(
                    pipeline,
                    matcher,
                    &mut memory,
                    &frame,
                    small_faces,
                    &mut times,
                ) {
                    Ok(c) => c,
                    Err(e) => {
                        let _ = tx.blocking_send(Event::ModelError(e));
                        return;
                    }
                };
                let thumbs_started = Instant::now();
                let candidates: Vec<_> = candidates
                    .into_iter()
                    .map(|c| {
                        let thumb = thumbnail(&frame.image, c.face.bbox);
                        (c, thumb)
                    })
                    .collect();
                // Thumbnails only of faces a reviewer might be shown: close enough to the
                // person to become a possible sighting.
                let faces: Vec<Observation> = judged
                    .into_iter()
                    .map(|(bbox, distances)| {
                        let close = distances.iter().flatten().any(|d| *d <= sighting_distance);
                        Observation {
                            thumbnail: close.then(|| thumbnail(&frame.image, bbox)).flatten(),
                            bbox,
                            distances,
                        }
                    })
                    .collect();
                times.thumbnails += thumbs_started.elapsed();
                reference = Some(Reference {
                    sketch,
                    hits: candidates.clone(),
                    faces: faces
                        .iter()
                        .map(|o| Observation {
                            thumbnail: None,
                            ..o.clone()
                        })
                        .collect(),
                });
                (candidates, faces)
            }
        };
        let result = FrameResult {
            timestamp_secs: frame.timestamp_secs,
            sample_index: frame.sample_index,
            analysed,
            candidates,
            faces,
        };
        if tx.blocking_send(Event::Frame(result)).is_err() {
            return;
        }
    }
}

/// A face's box and its distance to each searched person.
type Judged = (BBox, Vec<Option<f32>>);

/// Faces of one frame matched against the gallery: the detector (both detectors for small
/// faces) on the whole frame, landmarks and descriptors only for faces not carried over from
/// the last analysed frame.
fn analyse(
    pipeline: &FacePipeline,
    matcher: &mut Matcher,
    memory: &mut FaceMemory,
    frame: &vigil_video::Frame,
    small_faces: bool,
    times: &mut StageTimes,
) -> Result<(Vec<Candidate>, Vec<Judged>), String> {
    let model_error = |e: vigil_models::Error| format!("face detection failed: {e}");
    let now = frame.timestamp_secs;
    let started = Instant::now();
    let boxes = with_precision(DETECTOR_PRECISION, || {
        if small_faces {
            pipeline.detect_boxes_all_sizes(&frame.image)
        } else {
            pipeline.detect_boxes(&frame.image)
        }
    })
    .map_err(model_error)?;
    let detected = Instant::now();
    times.detect += detected - started;
    let (mut faces, fresh) = memory.take_over(boxes, now, matcher.threshold());
    if !fresh.is_empty() {
        let described = pipeline
            .describe_boxes(&[&frame.image], &[fresh])
            .map_err(model_error)?;
        faces.extend(described.into_iter().flatten().map(|face| Described {
            face,
            described_at: now,
        }));
    }
    let matching = Instant::now();
    times.describe += matching - detected;
    let plain: Vec<_> = faces.iter().map(|d| d.face.clone()).collect();
    let matched = matcher.frame(&plain).map_err(|e| e.to_string())?;
    memory.remember(&faces, &matched.nearest());
    let judged = plain
        .iter()
        .zip(matched.distances)
        .map(|(face, distances)| (face.bbox, distances))
        .collect();
    times.matching += matching.elapsed();
    Ok((matched.candidates, judged))
}

fn shifted_bbox(b: BBox, shift: vigil_video::Shift) -> BBox {
    BBox {
        x: b.x + shift.dx,
        y: b.y + shift.dy,
        ..b
    }
}

pub(crate) fn thumbnail(image: &image::RgbImage, b: BBox) -> Option<Vec<u8>> {
    let crop = CropBox {
        x: b.x,
        y: b.y,
        width: b.width,
        height: b.height,
    };
    vigil_video::crop_jpeg(image, crop, THUMB_MARGIN, THUMB_MAX_SIDE, THUMB_QUALITY)
        .ok()
        .flatten()
}
