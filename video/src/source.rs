//! Opening an input and turning its packets into decoded (not yet colour-converted) frames.
//!
//! This is written against the ffmpeg-next that video-rs re-exports instead of
//! `video_rs::Decoder`, because video-rs 0.12 lacks what the worker needs here: its decoder
//! converts every decoded frame to RGB (we convert only the few sampled ones), it exposes no
//! decoder threading or frame skipping, it cannot install an interrupt callback (so a stalled
//! network stream blocks a thread forever), and `Reader::read` turns every I/O error into
//! "stream exhausted", which hides timeouts and dropped connections.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use video_rs::ffmpeg::{
    self, Dictionary, Error as AvError, Packet, Rational, codec, format, frame, media,
};

use crate::error::{VideoError, redact};
use crate::probe::VideoInfo;

/// After this many consecutive unreadable packets a file is treated as ending there: a
/// demuxer that cannot resynchronise would otherwise spin through garbage forever.
const MAX_CONSECUTIVE_BAD_READS: u32 = 1_000;

/// Stops a [`FrameSampler`](crate::FrameSampler) or [`probe`](crate::probe) from another
/// thread, including while it is blocked on network I/O.
///
/// Cancelling makes the blocked call return [`VideoError::Cancelled`] within about 100 ms
/// (ffmpeg polls its interrupt callback at least that often while waiting on a socket).
#[derive(Debug, Clone, Default)]
pub struct CancelHandle(Arc<AtomicBool>);

impl CancelHandle {
    pub fn cancel(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// The deadline that ffmpeg's interrupt callback checks. A wall-clock deadline rather than a
/// protocol option (`rw_timeout`, `timeout`, `stimeout`) because it works the same for every
/// protocol and also bounds opening, stream probing and seeking.
#[derive(Clone)]
struct Watchdog {
    base: Instant,
    deadline_nanos: Arc<AtomicU64>,
    cancel: CancelHandle,
}

impl Watchdog {
    fn new(cancel: CancelHandle) -> Self {
        Self {
            base: Instant::now(),
            deadline_nanos: Arc::new(AtomicU64::new(u64::MAX)),
            cancel,
        }
    }

    fn arm(&self, after: Duration) {
        let at = self.base.elapsed().saturating_add(after).as_nanos();
        self.deadline_nanos
            .store(u64::try_from(at).unwrap_or(u64::MAX), Ordering::Relaxed);
    }

    fn expired(&self) -> bool {
        let now = u64::try_from(self.base.elapsed().as_nanos()).unwrap_or(u64::MAX);
        now > self.deadline_nanos.load(Ordering::Relaxed)
    }

    fn tripped(&self) -> bool {
        self.cancel.is_cancelled() || self.expired()
    }
}

#[derive(Debug, Clone)]
pub(crate) struct SourceConfig {
    pub open_timeout: Duration,
    pub read_timeout: Duration,
    pub live: bool,
    pub decoder_threads: usize,
    pub skip_non_reference: bool,
    pub skip_loop_filter: bool,
}

pub(crate) struct Source {
    // The decoder is declared (and so dropped) before the input that feeds it.
    decoder: ffmpeg::decoder::Video,
    input: format::context::Input,
    stream_index: usize,
    /// Seconds per timestamp unit of the video stream.
    time_base: f64,
    /// Timestamp of the stream's first frame; timestamps are reported relative to it so that
    /// every container starts at 0 (MPEG-TS, for one, starts at an arbitrary clock value).
    start_pts: i64,
    info: VideoInfo,
    /// The location with credentials removed, for messages.
    shown: String,
    config: SourceConfig,
    watchdog: Watchdog,
    draining: bool,
    pub corrupt_packets: u64,
}

impl Source {
    pub fn open(
        location: &str,
        config: SourceConfig,
        cancel: CancelHandle,
    ) -> Result<Source, VideoError> {
        crate::init();
        let shown = redact(location);
        // FFmpeg reports an empty file as "invalid data"; say what it is.
        if !location.contains("://")
            && std::fs::metadata(location.strip_prefix("file:").unwrap_or(location))
                .is_ok_and(|m| m.is_file() && m.len() == 0)
        {
            return Err(VideoError::NotVideo("the file is empty".into()));
        }
        let watchdog = Watchdog::new(cancel);

        let mut options = Dictionary::new();
        let lower = location.to_ascii_lowercase();
        if lower.starts_with("rtsp://") || lower.starts_with("rtsps://") {
            // UDP transport loses packets behind NAT and firewalls, which shows up as smeared
            // frames rather than as an error; interleaved TCP is what cameras support best.
            options.set("rtsp_transport", "tcp");
        }

        watchdog.arm(config.open_timeout);
        let interrupt = watchdog.clone();
        let input = format::input_with_interrupt_and_dictionary(
            &ffmpeg_url(location),
            move || interrupt.tripped(),
            options,
        )
        .map_err(|e| open_error(e, &watchdog, &shown, config.open_timeout))?;

        let stream = pick_video_stream(&input)
            .ok_or_else(|| VideoError::NotVideo("no video stream found".into()))?;
        let stream_index = stream.index();
        let time_base = rational(stream.time_base())
            .ok_or_else(|| VideoError::Decode("the video stream has no time base".into()))?;
        let start_pts = match stream.start_time() {
            ffmpeg::ffi::AV_NOPTS_VALUE => 0,
            t => t,
        };
        let parameters = stream.parameters();
        let codec_id = parameters.id();

        let context = codec::Context::from_parameters(parameters)
            .map_err(|e| VideoError::Decode(format!("unusable codec parameters: {e}")))?;
        // Frames carry packet timestamps through the decoder; without the packet time base
        // `best_effort_timestamp` cannot fill gaps where a packet had none.
        let mut decoder = context.decoder();
        decoder.set_packet_time_base(stream.time_base());
        let codec = ffmpeg::decoder::find(codec_id).ok_or_else(|| {
            VideoError::Decode(format!("unsupported video codec {}", codec_id.name()))
        })?;
        let mut decoder_options = Dictionary::new();
        // The "threads" option keeps ffmpeg's default thread type (frame + slice), so codecs
        // that only support slice threads still get them; `set_threading` would force one.
        let threads = match config.decoder_threads {
            0 => "auto".to_string(),
            n => n.to_string(),
        };
        decoder_options.set("threads", &threads);
        if config.skip_non_reference {
            decoder.skip_frame(ffmpeg::Discard::NonReference);
        }
        if config.skip_loop_filter {
            decoder.skip_loop_filter(ffmpeg::Discard::All);
        }
        let decoder = decoder
            .open_as_with(codec, decoder_options)
            .and_then(|opened| opened.video())
            .map_err(|e| {
                VideoError::Decode(format!("cannot start the {} decoder: {e}", codec_id.name()))
            })?;
        if decoder.width() == 0 || decoder.height() == 0 {
            return Err(VideoError::Decode(
                "the video stream has no picture size".into(),
            ));
        }

        let info = stream_info(&input, stream_index, &decoder, time_base);
        Ok(Source {
            decoder,
            input,
            stream_index,
            time_base,
            start_pts,
            info,
            shown,
            config,
            watchdog,
            draining: false,
            corrupt_packets: 0,
        })
    }

    pub fn info(&self) -> &VideoInfo {
        &self.info
    }

    /// Seconds since the start of the stream, from the frame's best-effort timestamp.
    pub fn timestamp_secs(&self, frame: &frame::Video) -> Option<f64> {
        frame
            .timestamp()
            .or_else(|| frame.pts())
            .map(|pts| (pts - self.start_pts) as f64 * self.time_base)
    }

    /// Decodes the next frame into `frame`; `Ok(false)` once a file has no more frames.
    ///
    /// Damaged packets are counted and skipped (the decoder conceals and recovers at the next
    /// keyframe). For live inputs an end of stream is an error, and so is going
    /// `read_timeout` without a decoded frame even while packets keep arriving.
    pub fn next_frame(&mut self, frame: &mut frame::Video) -> Result<bool, VideoError> {
        let read_timeout = self.config.read_timeout;
        // Re-armed on every call so time the caller spends between calls never counts.
        self.watchdog.arm(read_timeout);
        let mut bad_reads = 0u32;
        loop {
            // Local files never block in I/O, so the interrupt callback alone would not notice.
            if self.watchdog.cancel.is_cancelled() {
                return Err(VideoError::Cancelled);
            }
            match self.decoder.receive_frame(frame) {
                Ok(()) => return Ok(true),
                Err(AvError::Eof) => return Ok(false),
                Err(AvError::Other { errno }) if errno == ffmpeg::util::error::EAGAIN => {
                    if self.draining {
                        return Ok(false);
                    }
                }
                // With frame threading, errors in a packet surface here instead of in
                // send_packet.
                Err(e) => {
                    self.corrupt_packets += 1;
                    tracing::debug!(error = %e, "skipping undecodable video data");
                    continue;
                }
            }

            if self.config.live {
                if self.watchdog.tripped() {
                    return Err(self.interrupted("waiting for a decodable video frame"));
                }
            } else {
                self.watchdog.arm(read_timeout);
            }

            let mut packet = Packet::empty();
            match packet.read(&mut self.input) {
                Ok(()) => {
                    bad_reads = 0;
                    if packet.stream() != self.stream_index {
                        continue;
                    }
                    if let Err(e) = self.decoder.send_packet(&packet) {
                        self.corrupt_packets += 1;
                        tracing::debug!(error = %e, "skipping undecodable video packet");
                    }
                }
                Err(AvError::Eof) => {
                    if self.config.live {
                        return Err(VideoError::StreamEnded(
                            "the source closed the connection".into(),
                        ));
                    }
                    self.start_draining();
                }
                Err(AvError::Exit) => return Err(self.interrupted("reading the input")),
                Err(AvError::InvalidData) => {
                    self.corrupt_packets += 1;
                    bad_reads += 1;
                    if bad_reads >= MAX_CONSECUTIVE_BAD_READS {
                        if self.config.live {
                            return Err(VideoError::Decode(
                                "the stream sends only unreadable data".into(),
                            ));
                        }
                        tracing::warn!("giving up on unreadable data; treating it as the end");
                        self.start_draining();
                    }
                }
                // Protocols with their own I/O timeout (e.g. RTSP's `timeout` option) report it so.
                Err(AvError::Other { errno }) if errno == ffmpeg::util::error::ETIMEDOUT => {
                    return Err(VideoError::Timeout {
                        what: "reading the input".into(),
                        after: read_timeout,
                    });
                }
                Err(e) if self.config.live => {
                    return Err(VideoError::StreamEnded(format!("read error: {e}")));
                }
                Err(e) => {
                    return Err(VideoError::Open {
                        location: self.shown.clone(),
                        reason: format!("read error: {e}"),
                    });
                }
            }
        }
    }

    /// Moves the read position to the last keyframe at or before about `secs` (stream time;
    /// the demuxer rounds to its time base and may be approximate) and resets the decoder.
    pub fn seek_before(&mut self, secs: f64) -> Result<(), VideoError> {
        let start_secs = self.start_pts as f64 * self.time_base;
        let target = ((start_secs + secs) * 1e6).floor() as i64;
        self.seek_to(target, ..target)
    }

    /// Moves the read position back to the beginning of the stream.
    pub fn rewind(&mut self) -> Result<(), VideoError> {
        self.seek_to(i64::MIN, ..)
    }

    fn seek_to<R: ffmpeg::util::range::Range<i64>>(
        &mut self,
        target: i64,
        range: R,
    ) -> Result<(), VideoError> {
        self.watchdog.arm(self.config.read_timeout);
        match self.input.seek(target, range) {
            Ok(()) => {
                self.decoder.flush();
                self.draining = false;
                Ok(())
            }
            Err(AvError::Exit) => Err(self.interrupted("seeking")),
            Err(e) => Err(VideoError::Decode(format!("cannot seek: {e}"))),
        }
    }

    fn start_draining(&mut self) {
        if !self.draining {
            self.draining = true;
            if let Err(e) = self.decoder.send_eof() {
                tracing::debug!(error = %e, "decoder refused end of stream");
            }
        }
    }

    fn interrupted(&self, what: &str) -> VideoError {
        if self.watchdog.cancel.is_cancelled() {
            VideoError::Cancelled
        } else {
            VideoError::Timeout {
                what: what.into(),
                after: self.config.read_timeout,
            }
        }
    }
}

/// ffmpeg reads anything before the first ':' as a protocol name, so a local path such as
/// `clips/12:30.mp4` would fail as "protocol not found"; `file:` makes it unambiguous.
fn ffmpeg_url(location: &str) -> String {
    if location.contains("://") || !location.contains(':') || location.starts_with("file:") {
        location.to_string()
    } else {
        format!("file:{location}")
    }
}

fn open_error(e: AvError, watchdog: &Watchdog, shown: &str, open_timeout: Duration) -> VideoError {
    use ffmpeg::util::error::{EACCES, ECONNREFUSED, ENOENT};
    let open = |reason: &str| VideoError::Open {
        location: shown.to_string(),
        reason: reason.to_string(),
    };
    match e {
        AvError::Exit if watchdog.cancel.is_cancelled() => VideoError::Cancelled,
        AvError::Exit => VideoError::Timeout {
            what: format!("opening {shown}"),
            after: open_timeout,
        },
        AvError::InvalidData => VideoError::NotVideo(
            "unrecognised or damaged file format (not a video, or cut off before its index)".into(),
        ),
        AvError::Eof => VideoError::NotVideo("the input is empty".into()),
        AvError::StreamNotFound => VideoError::NotVideo("no video stream found".into()),
        AvError::DemuxerNotFound => VideoError::NotVideo("unsupported container format".into()),
        AvError::ProtocolNotFound => open("unsupported protocol"),
        AvError::Other { errno } if errno == ENOENT => open("no such file"),
        AvError::Other { errno } if errno == EACCES => open("permission denied"),
        AvError::Other { errno } if errno == ECONNREFUSED => open("connection refused"),
        other => open(&other.to_string()),
    }
}

/// The main video stream, never a cover picture (MP3s and M4As carry album art as a
/// one-frame "video" stream, which must not make an audio file pass as a video).
fn pick_video_stream(input: &format::context::Input) -> Option<format::stream::Stream<'_>> {
    let is_picture = |s: &format::stream::Stream| {
        s.disposition()
            .contains(format::stream::Disposition::ATTACHED_PIC)
    };
    if let Some(best) = input.streams().best(media::Type::Video)
        && !is_picture(&best)
    {
        return Some(best);
    }
    input
        .streams()
        .find(|s| s.parameters().medium() == media::Type::Video && !is_picture(s))
}

fn rational(r: Rational) -> Option<f64> {
    (r.numerator() > 0 && r.denominator() > 0)
        .then(|| f64::from(r.numerator()) / f64::from(r.denominator()))
}

fn stream_info(
    input: &format::context::Input,
    stream_index: usize,
    decoder: &ffmpeg::decoder::Video,
    time_base: f64,
) -> VideoInfo {
    let stream = input
        .stream(stream_index)
        .expect("stream index comes from this input");
    let duration_secs = match stream.duration() {
        d if d > 0 => Some(d as f64 * time_base),
        _ => match input.duration() {
            d if d > 0 => Some(d as f64 / f64::from(ffmpeg::ffi::AV_TIME_BASE)),
            _ => None,
        },
    };
    VideoInfo {
        duration_secs,
        fps: rational(stream.avg_frame_rate()).or_else(|| rational(stream.rate())),
        width: decoder.width(),
        height: decoder.height(),
        codec: decoder
            .codec()
            .map(|c| c.name().to_string())
            .unwrap_or_else(|| decoder.id().name().to_string()),
        container: input.format().name().to_string(),
        bit_rate: u64::try_from(input.bit_rate()).ok().filter(|&b| b > 0),
        frame_count: u64::try_from(stream.frames()).ok().filter(|&n| n > 0),
    }
}
