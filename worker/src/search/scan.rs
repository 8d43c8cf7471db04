//! The frame pipeline of a search child: one thread decodes and samples frames, another runs
//! the face models on them and matches the faces, and the async job loop stores what comes
//! out. Decoding the next frames overlaps inference on the current one. Frames of an unchanged
//! scene reuse the last analysis (one detector pass per frame is one frame per pass: batching
//! frames is not faster on CPU, docs/benchmarks.md).

use std::sync::Arc;
use std::sync::mpsc as std_mpsc;

use tokio::sync::mpsc;
use vigil_models::FacePipeline;
use vigil_video::{CancelHandle, CropBox, FrameSampler, SampleOptions, SamplerStats, VideoError};

use super::matcher::{Candidate, Matcher};

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
    /// False when the scene had not changed since the last analysed frame and its results
    /// were taken over (without thumbnails: those of the analysed frame stand for it).
    pub analysed: bool,
    pub candidates: Vec<Hit>,
}

pub enum Event {
    Frame(FrameResult),
    /// The input ended normally (files) with these decoder statistics.
    End(SamplerStats),
    Error(VideoError),
    /// Inference failed (not the input's fault).
    ModelError(String),
}

enum Decoded {
    Frame(vigil_video::Frame),
    End(SamplerStats),
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

/// Opens `location` and starts decoding and inference threads. Opening errors are returned at
/// once (on a blocking thread, since opening a stream can take seconds).
pub async fn start(
    location: String,
    options: SampleOptions,
    pipeline: Arc<FacePipeline>,
    mut matcher: Matcher,
) -> Result<Scan, VideoError> {
    let sampler = tokio::task::spawn_blocking(move || FrameSampler::open(&location, options))
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
        .spawn(move || infer(frames_rx, events_tx, &pipeline, &mut matcher))
        .map_err(VideoError::Io)?;
    Ok(Scan {
        events: events_rx,
        cancel: Some(cancel),
        opened_at,
    })
}

fn decode(mut sampler: FrameSampler, tx: std_mpsc::SyncSender<Decoded>) {
    for item in sampler.by_ref() {
        let msg = match item {
            Ok(frame) => Decoded::Frame(frame),
            Err(e) => Decoded::Error(e),
        };
        let stop = matches!(msg, Decoded::Error(_));
        if tx.send(msg).is_err() || stop {
            return;
        }
    }
    let _ = tx.send(Decoded::End(sampler.stats()));
}

/// A frame's coarse look: mean luma of a 32×18 grid of blocks, from a sparse pixel sample
/// (cheap enough to compute for every frame).
struct Signature(Vec<f32>);

const GRID_W: u32 = 32;
const GRID_H: u32 = 18;
/// A frame this close to the last analysed one shows the same scene: its faces and matches are
/// taken over instead of running the models again (static cameras, most of the time). Mean
/// and largest block difference in grey levels (0–255); a person entering even one block
/// moves that block far more than compression noise does.
const STILL_MEAN_DIFF: f32 = 1.0;
const STILL_MAX_DIFF: f32 = 6.0;

impl Signature {
    fn of(img: &image::RgbImage) -> Self {
        let (w, h) = img.dimensions();
        let mut sums = vec![0f32; (GRID_W * GRID_H) as usize];
        let mut counts = vec![0u32; sums.len()];
        for y in (0..h).step_by(4) {
            let gy = (y * GRID_H / h.max(1)).min(GRID_H - 1);
            for x in (0..w).step_by(4) {
                let gx = (x * GRID_W / w.max(1)).min(GRID_W - 1);
                let [r, g, b] = img.get_pixel(x, y).0;
                let i = (gy * GRID_W + gx) as usize;
                sums[i] += (f32::from(r) + 2.0 * f32::from(g) + f32::from(b)) / 4.0;
                counts[i] += 1;
            }
        }
        Self(
            sums.iter()
                .zip(&counts)
                .map(|(s, &n)| if n == 0 { 0.0 } else { s / n as f32 })
                .collect(),
        )
    }

    fn same_scene(&self, other: &Signature) -> bool {
        if self.0.len() != other.0.len() {
            return false;
        }
        let diffs = self.0.iter().zip(&other.0).map(|(a, b)| (a - b).abs());
        let (sum, max) = diffs.fold((0f32, 0f32), |(s, m), d| (s + d, m.max(d)));
        sum / self.0.len() as f32 <= STILL_MEAN_DIFF && max <= STILL_MAX_DIFF
    }
}

fn infer(
    rx: std_mpsc::Receiver<Decoded>,
    tx: mpsc::Sender<Event>,
    pipeline: &FacePipeline,
    matcher: &mut Matcher,
) {
    let mut last_analysed: Option<(Signature, Vec<Hit>)> = None;
    loop {
        let frame = match rx.recv() {
            Ok(Decoded::Frame(frame)) => frame,
            Ok(Decoded::End(stats)) => {
                let _ = tx.blocking_send(Event::End(stats));
                return;
            }
            Ok(Decoded::Error(e)) => {
                let _ = tx.blocking_send(Event::Error(e));
                return;
            }
            Err(_) => return,
        };
        let signature = Signature::of(&frame.image);
        let unchanged = last_analysed
            .as_ref()
            .filter(|(previous, _)| previous.same_scene(&signature))
            // The same picture: its thumbnails are already stored, under the analysed frame.
            .map(|(_, candidates)| candidates.iter().map(|(c, _)| (c.clone(), None)).collect());
        let analysed = unchanged.is_none();
        let candidates = match unchanged {
            Some(candidates) => candidates,
            None => {
                let found = pipeline
                    .detect_faces(&frame.image)
                    .map_err(|e| format!("face detection failed: {e}"))
                    .and_then(|faces| matcher.frame(faces).map_err(|e| e.to_string()));
                let candidates = match found {
                    Ok(c) => c,
                    Err(e) => {
                        let _ = tx.blocking_send(Event::ModelError(e));
                        return;
                    }
                };
                let candidates: Vec<_> = candidates
                    .into_iter()
                    .map(|c| {
                        let thumb = thumbnail(&frame.image, &c);
                        (c, thumb)
                    })
                    .collect();
                last_analysed = Some((signature, candidates.clone()));
                candidates
            }
        };
        let result = FrameResult {
            timestamp_secs: frame.timestamp_secs,
            sample_index: frame.sample_index,
            analysed,
            candidates,
        };
        if tx.blocking_send(Event::Frame(result)).is_err() {
            return;
        }
    }
}

fn thumbnail(image: &image::RgbImage, c: &Candidate) -> Option<Vec<u8>> {
    let b = c.face.bbox;
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
