//! One connection of a camera's watcher: a decode thread samples the stream, an analysis
//! thread runs the camera's analysers on each sampled frame, and the watcher reads what they
//! found. When analysis falls behind, the decode thread drops frames instead of queueing
//! them, so the lag stays bounded by one frame's analysis.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc as std_mpsc;
use std::time::{Duration, SystemTime};

use tokio::sync::mpsc;
use vigil_video::{CancelHandle, Frame, FrameSampler, Input, SampleOptions, VideoError};

use super::analyser::{Analysers, Finding};

const FRAME_JPEG_QUALITY: u8 = 90;

/// What the watcher hears from a session.
#[derive(Debug)]
pub enum Event {
    /// A sampled frame, analysed.
    Analysed {
        /// When the frame was received (wall clock).
        at: SystemTime,
        findings: Vec<Finding>,
        /// From receiving the frame to the end of its analysis.
        lag: Duration,
        /// The frame as JPEG, when [`Session::want_frame`] asked for it.
        jpeg: Option<Vec<u8>>,
    },
    /// The stream failed or ended; the session is over.
    Failed(VideoError),
}

pub struct Session {
    pub events: mpsc::Receiver<Event>,
    /// Frames the analysis could not keep up with.
    pub dropped: Arc<AtomicU64>,
    /// Set it to get the next analysed frame as JPEG with its event.
    pub want_frame: Arc<AtomicBool>,
    cancel: CancelHandle,
}

impl Session {
    /// Opens the stream (blocking, on a blocking thread) and starts the two threads.
    pub async fn open(
        camera: String,
        input: Input,
        options: SampleOptions,
        analysers: Analysers,
    ) -> Result<Session, VideoError> {
        let sampler = tokio::task::spawn_blocking(move || FrameSampler::open(input, options))
            .await
            .map_err(|e| VideoError::Decode(format!("decoder thread failed: {e}")))??;
        let cancel = sampler.cancel_handle();
        let opened = sampler.opened_at();
        let (frames_tx, frames_rx) = std_mpsc::sync_channel::<Result<Frame, VideoError>>(1);
        let (events_tx, events_rx) = mpsc::channel::<Event>(8);
        let dropped = Arc::new(AtomicU64::new(0));
        let drops = dropped.clone();
        let want_frame = Arc::new(AtomicBool::new(false));
        let wanted = want_frame.clone();
        std::thread::Builder::new()
            .name("vigil-cam-decode".into())
            .spawn(move || decode(sampler, frames_tx, &drops))
            .map_err(VideoError::Io)?;
        std::thread::Builder::new()
            .name("vigil-cam-analyse".into())
            .spawn(move || analyse(camera, opened, frames_rx, events_tx, analysers, &wanted))
            .map_err(VideoError::Io)?;
        Ok(Session {
            events: events_rx,
            dropped,
            want_frame,
            cancel,
        })
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        // Also interrupts a read blocked on the network.
        self.cancel.cancel();
    }
}

fn decode(
    mut sampler: FrameSampler,
    tx: std_mpsc::SyncSender<Result<Frame, VideoError>>,
    dropped: &AtomicU64,
) {
    for item in sampler.by_ref() {
        match item {
            Ok(frame) => match tx.try_send(Ok(frame)) {
                Ok(()) => {}
                Err(std_mpsc::TrySendError::Full(_)) => {
                    dropped.fetch_add(1, Ordering::Relaxed);
                }
                Err(std_mpsc::TrySendError::Disconnected(_)) => return,
            },
            Err(e) => {
                let _ = tx.send(Err(e));
                return;
            }
        }
    }
    let _ = tx.send(Err(VideoError::StreamEnded("the stream ended".into())));
}

fn analyse(
    camera: String,
    opened: SystemTime,
    rx: std_mpsc::Receiver<Result<Frame, VideoError>>,
    tx: mpsc::Sender<Event>,
    mut analysers: Analysers,
    want_frame: &AtomicBool,
) {
    while let Ok(item) = rx.recv() {
        let event = match item {
            Ok(frame) => {
                let at = opened + Duration::from_secs_f64(frame.timestamp_secs.max(0.0));
                let findings = analysers.analyse(&camera, &frame);
                let jpeg = want_frame
                    .swap(false, Ordering::Relaxed)
                    .then(|| vigil_video::encode_jpeg(&frame.image, FRAME_JPEG_QUALITY).ok())
                    .flatten();
                let lag = SystemTime::now().duration_since(at).unwrap_or_default();
                Event::Analysed {
                    at,
                    findings,
                    lag,
                    jpeg,
                }
            }
            Err(e) => Event::Failed(e),
        };
        let last = matches!(event, Event::Failed(_));
        if tx.blocking_send(event).is_err() || last {
            return;
        }
    }
}
