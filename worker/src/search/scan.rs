//! The frame pipeline of a search child: one thread decodes and samples frames, another runs
//! the face models on batches of them and matches the faces, and the async job loop stores
//! what comes out. Decoding the next frames overlaps inference on the current ones, so a single
//! job keeps two cores busy.

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

pub struct FrameResult {
    pub timestamp_secs: f64,
    pub sample_index: u64,
    pub candidates: Vec<(Candidate, Option<Vec<u8>>)>,
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
    batch: usize,
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
        .spawn(move || infer(frames_rx, events_tx, &pipeline, &mut matcher, batch.max(1)))
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

fn infer(
    rx: std_mpsc::Receiver<Decoded>,
    tx: mpsc::Sender<Event>,
    pipeline: &FacePipeline,
    matcher: &mut Matcher,
    batch: usize,
) {
    let mut last: Option<Event> = None;
    while last.is_none() {
        let Ok(first) = rx.recv() else { return };
        let mut frames = Vec::with_capacity(batch);
        let take = |msg: Decoded, frames: &mut Vec<vigil_video::Frame>| match msg {
            Decoded::Frame(f) => {
                frames.push(f);
                None
            }
            Decoded::End(stats) => Some(Event::End(stats)),
            Decoded::Error(e) => Some(Event::Error(e)),
        };
        last = take(first, &mut frames);
        // Batch what is already decoded; never wait for more (live latency, file tails).
        while last.is_none() && frames.len() < batch {
            match rx.try_recv() {
                Ok(msg) => last = take(msg, &mut frames),
                Err(_) => break,
            }
        }
        if !frames.is_empty() {
            let images: Vec<&image::RgbImage> = frames.iter().map(|f| &f.image).collect();
            let faces = match pipeline.detect_faces_batch(&images) {
                Ok(faces) => faces,
                Err(e) => {
                    let _ =
                        tx.blocking_send(Event::ModelError(format!("face detection failed: {e}")));
                    return;
                }
            };
            for (frame, faces) in frames.iter().zip(faces) {
                let candidates = match matcher.frame(faces) {
                    Ok(c) => c,
                    Err(e) => {
                        let _ = tx.blocking_send(Event::ModelError(e.to_string()));
                        return;
                    }
                };
                let candidates = candidates
                    .into_iter()
                    .map(|c| {
                        let b = c.face.bbox;
                        let crop = CropBox {
                            x: b.x,
                            y: b.y,
                            width: b.width,
                            height: b.height,
                        };
                        let thumb = vigil_video::crop_jpeg(
                            &frame.image,
                            crop,
                            THUMB_MARGIN,
                            THUMB_MAX_SIDE,
                            THUMB_QUALITY,
                        )
                        .ok()
                        .flatten();
                        (c, thumb)
                    })
                    .collect();
                let result = FrameResult {
                    timestamp_secs: frame.timestamp_secs,
                    sample_index: frame.sample_index,
                    candidates,
                };
                if tx.blocking_send(Event::Frame(result)).is_err() {
                    return;
                }
            }
        }
    }
    if let Some(event) = last {
        let _ = tx.blocking_send(event);
    }
}
