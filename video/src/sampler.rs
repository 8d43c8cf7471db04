//! Sampling frames on a global time grid.
//!
//! Grid point `k` sits at `t_k = k / fps` seconds. Each grid point is served by the first
//! decoded frame whose timestamp is ≥ `t_k`. A frame that is the first one at or after several
//! grid points (a video slower than the sampling rate, or a gap) is emitted once, for the
//! lowest of them; that grid index is its [`Frame::sample_index`]. Whether a frame is emitted
//! and for which index therefore depends only on its own timestamp and its predecessor's, so a
//! pass over `[0, 10)` and passes over `[0, 4)` + `[4, 10)` emit exactly the same frames:
//! a range owns the grid points inside it, and a frame belongs to the range that owns its
//! index even if the frame itself lies just past the range's end.
//!
//! To start at `start_secs`, the sampler seeks to a keyframe strictly before it and
//! decodes forward (discarding, without colour conversion) so that the predecessor of the
//! first candidate frame is known. A seek that lands at or after the start (timestamps are
//! rounded to the stream's time base; MPEG-TS seeks are approximate) is retried 1 s, 5 s, 30 s
//! and 120 s earlier, and as a last resort the sampler decodes from the beginning — slower, but
//! the same frames.

use std::time::{Duration, Instant, SystemTime};

use image::RgbImage;
use video_rs::ffmpeg::format::Pixel;
use video_rs::ffmpeg::frame;
use video_rs::ffmpeg::software::scaling;

use crate::error::VideoError;
use crate::input::Input;
use crate::probe::VideoInfo;
use crate::source::{CancelHandle, Source, SourceConfig};

/// Default of [`SampleOptions::max_pixels`]: two 4K UHD pictures' worth, so every real camera
/// and upload (up to 8K at a squeeze) passes while a crafted 60000×60000 stream does not.
pub const DEFAULT_MAX_PIXELS: u64 = 3840 * 2160 * 2;

/// Tolerance, in grid units, for timestamps that should land exactly on a grid point but
/// carry floating-point error (0.4 s at 2.5 fps is 0.999…). Applied identically by every
/// pass, so it cannot make two passes disagree.
const GRID_EPSILON: f64 = 1e-6;

/// Options for [`FrameSampler`] (and the timeouts/decoder settings for [`probe_with`]).
///
/// [`probe_with`]: crate::probe_with
#[derive(Debug, Clone, PartialEq)]
pub struct SampleOptions {
    /// Frames sampled per second of video (the grid spacing is `1 / fps`).
    pub fps: f64,
    /// Files only: first second of the range, inclusive. Must be 0 for live inputs.
    pub start_secs: f64,
    /// End of the range, exclusive. For live inputs: stop after this many seconds.
    pub end_secs: Option<f64>,
    /// A live stream: timestamps are wall-clock seconds since the sampler opened, an end of
    /// stream is an error, and `read_timeout` bounds the time without a decoded frame.
    pub live: bool,
    /// Limit for opening the input, including probing its streams.
    pub open_timeout: Duration,
    /// Files: limit for any single read to make progress (matters for URLs).
    /// Live: limit for the time without a newly decoded frame.
    pub read_timeout: Duration,
    /// Decoder threads; 0 lets ffmpeg choose (one per core, plus one).
    pub decoder_threads: usize,
    /// Tell the decoder to skip frames no other frame references (most B-frames). Decoding
    /// gets cheaper, and the frame emitted for a grid point may be a later one than without
    /// it — the difference is within one or two frame intervals, and timestamps remain the
    /// true timestamps of the emitted frames. All segments of one video must agree on it.
    pub skip_non_reference: bool,
    /// Skip H.264/HEVC deblocking on every frame. Decoding gets cheaper; pictures get faint
    /// block edges that build up until the next keyframe, because later frames are predicted
    /// from unfiltered ones. Timestamps are unaffected.
    pub skip_loop_filter: bool,
    /// Largest picture (width × height) decoded. A stream that declares or delivers a larger
    /// one — also after changing size mid-stream — fails with [`VideoError::TooLarge`]
    /// before a buffer of that size is allocated or converted to RGB.
    pub max_pixels: u64,
}

impl Default for SampleOptions {
    fn default() -> Self {
        Self {
            fps: 2.0,
            start_secs: 0.0,
            end_secs: None,
            live: false,
            open_timeout: Duration::from_secs(15),
            read_timeout: Duration::from_secs(15),
            decoder_threads: 1,
            skip_non_reference: false,
            skip_loop_filter: false,
            max_pixels: DEFAULT_MAX_PIXELS,
        }
    }
}

impl SampleOptions {
    /// Defaults for a live camera stream.
    pub fn live() -> Self {
        Self {
            live: true,
            read_timeout: Duration::from_secs(10),
            ..Self::default()
        }
    }

    fn validate(&self) -> Result<(), VideoError> {
        let invalid = |m: &str| Err(VideoError::InvalidOptions(m.to_string()));
        if !(self.fps.is_finite() && self.fps > 0.0 && self.fps <= 1_000.0) {
            return invalid("fps must be greater than 0 and at most 1000");
        }
        if !(self.start_secs.is_finite() && self.start_secs >= 0.0) {
            return invalid("start must be a non-negative number of seconds");
        }
        if self.live && self.start_secs > 0.0 {
            return invalid("a live stream cannot start at an offset");
        }
        if let Some(end) = self.end_secs
            && !(end.is_finite() && end > self.start_secs)
        {
            return invalid("end must be after start");
        }
        if self.open_timeout.is_zero() || self.read_timeout.is_zero() {
            return invalid("timeouts must be greater than zero");
        }
        if self.max_pixels == 0 {
            return invalid("max_pixels must be greater than zero");
        }
        Ok(())
    }

    pub(crate) fn source_config(&self) -> SourceConfig {
        SourceConfig {
            open_timeout: self.open_timeout,
            read_timeout: self.read_timeout,
            live: self.live,
            decoder_threads: self.decoder_threads,
            skip_non_reference: self.skip_non_reference,
            skip_loop_filter: self.skip_loop_filter,
            max_pixels: self.max_pixels,
        }
    }
}

/// One sampled frame.
///
/// The picture is an [`RgbImage`] because that is what the face and person models take;
/// handing it over needs no copy.
#[derive(Clone)]
pub struct Frame {
    /// Files: presentation time in seconds from the start of the video.
    /// Live: seconds since the sampler opened (see [`FrameSampler::opened_at`]).
    pub timestamp_secs: f64,
    /// Index of the grid point this frame was sampled for; the same frame gets the same index
    /// in every pass over the video, so it makes a stable key for results.
    pub sample_index: u64,
    pub image: RgbImage,
}

// Hand-written because the derived one would print every pixel.
impl std::fmt::Debug for Frame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Frame")
            .field("timestamp_secs", &self.timestamp_secs)
            .field("sample_index", &self.sample_index)
            .field("width", &self.image.width())
            .field("height", &self.image.height())
            .finish_non_exhaustive()
    }
}

impl Frame {
    pub fn width(&self) -> u32 {
        self.image.width()
    }

    pub fn height(&self) -> u32 {
        self.image.height()
    }

    pub fn into_image(self) -> RgbImage {
        self.image
    }
}

/// Counters about a sampling pass, for progress reports and diagnostics.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SamplerStats {
    /// Frames that came out of the decoder, including those decoded only to reach `start`.
    pub decoded_frames: u64,
    pub emitted_frames: u64,
    /// Packets the demuxer or decoder rejected as damaged.
    pub corrupt_packets: u64,
    /// Bytes the source delivered (every stream), for measuring a stream's bit rate.
    pub bytes_read: u64,
    /// Frames dropped because their timestamp did not increase.
    pub out_of_order_frames: u64,
    pub last_timestamp_secs: Option<f64>,
    /// Files: the data ended more than a second before the duration the container states —
    /// typically a truncated upload. Only meaningful once the iterator has finished.
    pub ended_early: bool,
}

/// Decodes a file or stream and yields [`Frame`]s sampled at [`SampleOptions::fps`].
///
/// Blocking: run it on a blocking thread (`tokio::task::spawn_blocking`). Iteration stops
/// after the first error.
pub struct FrameSampler {
    source: Source,
    input: Input,
    options: SampleOptions,
    first_index: i64,
    end_index: Option<i64>,
    previous_secs: Option<f64>,
    /// Whether the decoder started at the very beginning of the stream, where a frame without
    /// a predecessor legitimately covers grid point 0. After a seek it does not.
    at_stream_start: bool,
    frame: frame::Video,
    converter: Option<RgbConverter>,
    opened: Instant,
    opened_wall: SystemTime,
    cancel: CancelHandle,
    stats: SamplerStats,
    done: bool,
}

impl FrameSampler {
    /// Opens `input` — an [`Input`] (`Input::upload`, `Input::stream`, ...); a plain string
    /// or path is read as an upload (see `Input`'s `From` conversions).
    pub fn open(
        input: impl Into<Input>,
        options: SampleOptions,
    ) -> Result<FrameSampler, VideoError> {
        let input = input.into();
        options.validate()?;
        let cancel = CancelHandle::default();
        let source = Source::open(&input, options.source_config(), cancel.clone())?;
        let grid_index = |secs: f64| (secs * options.fps - GRID_EPSILON).ceil() as i64;
        let mut sampler = FrameSampler {
            source,
            input,
            first_index: grid_index(options.start_secs),
            end_index: options.end_secs.map(grid_index),
            previous_secs: None,
            at_stream_start: true,
            frame: frame::Video::empty(),
            converter: None,
            opened: Instant::now(),
            opened_wall: SystemTime::now(),
            cancel,
            stats: SamplerStats::default(),
            done: false,
            options,
        };
        if !sampler.options.live && sampler.options.start_secs > 0.0 {
            sampler.position_before_start()?;
        }
        Ok(sampler)
    }

    /// Stream information read when opening (duration, frame rate, size, codec, ...).
    pub fn info(&self) -> &VideoInfo {
        self.source.info()
    }

    /// When the sampler finished opening; live timestamps count from here.
    pub fn opened_at(&self) -> SystemTime {
        self.opened_wall
    }

    /// A handle that stops this sampler from another thread, also mid-read.
    pub fn cancel_handle(&self) -> CancelHandle {
        self.cancel.clone()
    }

    pub fn stats(&self) -> SamplerStats {
        SamplerStats {
            corrupt_packets: self.source.corrupt_packets,
            bytes_read: self.source.bytes_read,
            ..self.stats.clone()
        }
    }

    fn position_before_start(&mut self) -> Result<(), VideoError> {
        let start = self.options.start_secs;
        // Containers can under-state their duration a little; only skip clearly empty ranges.
        if self
            .source
            .info()
            .duration_secs
            .is_some_and(|d| start >= d + 1.0)
        {
            self.done = true;
            return Ok(());
        }
        // The seek must land strictly before `start`. Timestamps are rounded to the stream's
        // time base on the way, and some demuxers (MPEG-TS) seek only approximately, so try
        // progressively earlier targets before falling back to decoding from the beginning.
        for back in [0.001, 1.0, 5.0, 30.0, 120.0] {
            let target = start - back;
            if target <= 0.0 {
                break;
            }
            match self.source.seek_before(target) {
                Ok(()) => {}
                Err(VideoError::Cancelled) => return Err(VideoError::Cancelled),
                Err(e) => {
                    tracing::debug!(error = %e, "cannot seek; decoding from the beginning");
                    break;
                }
            }
            // FFmpeg 5.1's MPEG-TS seek can land at the end of the file for targets after the
            // last keyframe; that is a failed seek, not proof that nothing follows.
            if !self.source.next_frame(&mut self.frame)? {
                tracing::debug!(start, target, "seek landed at the end; seeking earlier");
                continue;
            }
            self.stats.decoded_frames += 1;
            if let Some(t) = self.source.timestamp_secs(&self.frame)
                && t < start
            {
                self.previous_secs = Some(t);
                self.at_stream_start = false;
                return Ok(());
            }
            tracing::debug!(
                start,
                target,
                "seek landed at or after start; seeking earlier"
            );
        }
        if let Err(e) = self.source.rewind() {
            tracing::debug!(error = %e, "rewind failed; reopening");
            self.source = Source::open(
                &self.input,
                self.options.source_config(),
                self.cancel.clone(),
            )?;
        }
        self.previous_secs = None;
        self.at_stream_start = true;
        Ok(())
    }

    fn frame_secs(&self) -> Option<f64> {
        if self.options.live {
            return Some(self.opened.elapsed().as_secs_f64());
        }
        self.source.timestamp_secs(&self.frame).or_else(|| {
            // A frame without any timestamp: assume it follows its predecessor at the nominal
            // rate, so one missing value does not drop the frame.
            let step = 1.0 / self.source.info().fps?;
            Some(self.previous_secs? + step)
        })
    }

    fn advance(&mut self) -> Result<Option<Frame>, VideoError> {
        let fps = self.options.fps;
        loop {
            if !self.source.next_frame(&mut self.frame)? {
                self.finish();
                return Ok(None);
            }
            self.stats.decoded_frames += 1;
            let Some(t) = self.frame_secs() else {
                continue;
            };
            let previous = self.previous_secs;
            if previous.is_some_and(|p| t <= p) {
                self.stats.out_of_order_frames += 1;
                continue;
            }
            self.previous_secs = Some(t);
            self.stats.last_timestamp_secs = Some(t);

            // The grid points this frame is the first frame at or after: (previous, t].
            let first_covered = match previous {
                Some(p) => (p * fps + GRID_EPSILON).floor() as i64 + 1,
                None if self.at_stream_start => 0,
                None => continue,
            }
            .max(0);
            let last_covered = (t * fps + GRID_EPSILON).floor() as i64;
            if self.end_index.is_some_and(|end| first_covered >= end) {
                return Ok(None);
            }
            if first_covered > last_covered || first_covered < self.first_index {
                continue;
            }
            let image = self.rgb()?;
            self.stats.emitted_frames += 1;
            return Ok(Some(Frame {
                timestamp_secs: t,
                sample_index: first_covered as u64,
                image,
            }));
        }
    }

    fn finish(&mut self) {
        if self.options.live {
            return;
        }
        let info = self.source.info();
        let Some(duration) = info.duration_secs else {
            return;
        };
        let expected_end = self.options.end_secs.map_or(duration, |e| e.min(duration));
        let reached = self.stats.last_timestamp_secs.unwrap_or(0.0);
        let frame_secs = info.fps.map_or(0.0, |f| 1.0 / f);
        if reached + frame_secs + 1.0 < expected_end {
            self.stats.ended_early = true;
            tracing::warn!(
                reached,
                duration,
                "video data ends before its stated duration (truncated?)"
            );
        }
    }

    fn rgb(&mut self) -> Result<RgbImage, VideoError> {
        let key = (self.frame.format(), self.frame.width(), self.frame.height());
        if self.converter.as_ref().is_none_or(|c| c.key != key) {
            self.converter = Some(RgbConverter::new(key)?);
        }
        self.converter
            .as_mut()
            .expect("converter was just created")
            .convert(&self.frame)
    }
}

impl Iterator for FrameSampler {
    type Item = Result<Frame, VideoError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.advance() {
            Ok(Some(frame)) => Some(Ok(frame)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

/// Colour conversion of sampled frames. Kept per sampler and rebuilt when the picture format
/// or size changes mid-stream (cameras do that after a settings change).
struct RgbConverter {
    key: (Pixel, u32, u32),
    scaler: scaling::Context,
    out: frame::Video,
}

// SAFETY: the SwsContext is owned by this value alone and only used through `&mut self`;
// libswscale contexts have no thread affinity, they just must not be used concurrently, which
// `&mut` already rules out. Needed so a sampler can move into a blocking task.
unsafe impl Send for RgbConverter {}

impl RgbConverter {
    fn new(key: (Pixel, u32, u32)) -> Result<Self, VideoError> {
        let (format, width, height) = key;
        let scaler = scaling::Context::get(
            format,
            width,
            height,
            Pixel::RGB24,
            width,
            height,
            scaling::Flags::BILINEAR,
        )
        .map_err(|e| VideoError::Decode(format!("cannot convert {format:?} pictures: {e}")))?;
        Ok(Self {
            key,
            scaler,
            out: frame::Video::empty(),
        })
    }

    fn convert(&mut self, input: &frame::Video) -> Result<RgbImage, VideoError> {
        self.scaler
            .run(input, &mut self.out)
            .map_err(|e| VideoError::Decode(format!("colour conversion failed: {e}")))?;
        let (width, height) = (self.out.width(), self.out.height());
        let row = width as usize * 3;
        let stride = self.out.stride(0);
        let data = self.out.data(0);
        let mut rgb = Vec::with_capacity(row * height as usize);
        for y in 0..height as usize {
            rgb.extend_from_slice(&data[y * stride..y * stride + row]);
        }
        Ok(RgbImage::from_raw(width, height, rgb).expect("buffer holds width*height*3 bytes"))
    }
}

/// What [`scan`] found.
#[derive(Debug, Clone, PartialEq)]
pub struct ScanReport {
    pub info: VideoInfo,
    /// Frames decoded within the range.
    pub frames: u64,
    pub corrupt_packets: u64,
    pub last_timestamp_secs: Option<f64>,
}

/// Decodes every frame of a file in `[0, end_secs)` without colour conversion and counts
/// them: a full integrity check (an upload that probes fine can still be damaged further in)
/// and an exact frame count where the container's figure is unreliable. Uses `end_secs`,
/// the timeouts and the decoder settings of `options`; `fps` and `start_secs` are ignored.
pub fn scan(input: impl Into<Input>, options: &SampleOptions) -> Result<ScanReport, VideoError> {
    if options.live {
        return Err(VideoError::InvalidOptions(
            "cannot scan a live stream".into(),
        ));
    }
    options.validate()?;
    let mut source = Source::open(
        &input.into(),
        options.source_config(),
        CancelHandle::default(),
    )?;
    let mut frame = frame::Video::empty();
    let mut frames = 0;
    let mut last = None;
    while source.next_frame(&mut frame)? {
        let t = source.timestamp_secs(&frame);
        if let (Some(t), Some(end)) = (t, options.end_secs)
            && t >= end
        {
            break;
        }
        frames += 1;
        last = t.or(last);
    }
    Ok(ScanReport {
        info: source.info().clone(),
        frames,
        corrupt_packets: source.corrupt_packets,
        last_timestamp_secs: last,
    })
}

// The worker moves samplers into `tokio::task::spawn_blocking`; keep that possible.
const _: fn() = || {
    fn send<T: Send>() {}
    send::<FrameSampler>();
};
