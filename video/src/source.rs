//! Opening an input and turning its packets into decoded (not yet colour-converted) frames.
//!
//! This is written against the ffmpeg-next that video-rs re-exports instead of
//! `video_rs::Decoder`, because video-rs 0.12 lacks what the worker needs here: its decoder
//! converts every decoded frame to RGB (we convert only the few sampled ones), it exposes no
//! decoder threading or frame skipping, it cannot install an interrupt callback (so a stalled
//! network stream blocks a thread forever), and `Reader::read` turns every I/O error into
//! "stream exhausted", which hides timeouts and dropped connections.
//!
//! Opening is written out here too (instead of `format::input_with_interrupt_and_dictionary`)
//! for three things the security of an open depends on: the options FFmpeg left unconsumed
//! (an option this FFmpeg build does not know would silently not apply), an interrupt
//! callback that sees the format context (to stop an RTSP redirect before it sends a byte),
//! and a pixel limit for the decoders `avformat_find_stream_info` runs.

use std::ffi::{CStr, CString, c_int, c_void};
use std::ptr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use video_rs::ffmpeg::{
    self, Dictionary, Error as AvError, Packet, Rational, codec, ffi, format, frame, media,
};

use crate::error::VideoError;
use crate::input::{FfmpegInput, Input};
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
    pub max_pixels: u64,
}

pub(crate) struct Source {
    // The decoder is declared (and so dropped) before the input that feeds it, and both
    // before the pixel cap the decoder's buffer callback reads.
    decoder: ffmpeg::decoder::Video,
    input: format::context::Input,
    pixel_cap: Box<PixelCap>,
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
    /// Bytes of every packet read (all streams): what the source sent, for bit rates.
    pub bytes_read: u64,
}

impl Source {
    pub fn open(
        source: &Input,
        config: SourceConfig,
        cancel: CancelHandle,
    ) -> Result<Source, VideoError> {
        crate::init();
        let setup = source.ffmpeg()?;
        let shown = source.shown().to_string();
        // FFmpeg reports an empty file as "invalid data"; say what it is.
        if let Some(path) = source.local_path()
            && std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.len() == 0)
        {
            return Err(VideoError::NotVideo("the file is empty".into()));
        }
        let watchdog = Watchdog::new(cancel);

        watchdog.arm(config.open_timeout);
        let input = open_input(&setup, &watchdog, config.max_pixels).map_err(|e| match e {
            OpenError::Refused(reason) => VideoError::Refused(reason),
            OpenError::Redirected => {
                VideoError::Refused("the server redirected to another location".into())
            }
            OpenError::Av(e) => open_error(
                e,
                &watchdog,
                &shown,
                config.open_timeout,
                setup.container_whitelist,
            ),
        })?;

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
        // What the container or the stream headers declare; checked before any decoder
        // allocates a picture of that size.
        // SAFETY: `parameters` borrows the stream's AVCodecParameters, alive with `input`.
        let (declared_w, declared_h) = unsafe {
            let p = parameters.as_ptr();
            ((*p).width, (*p).height)
        };
        check_pixels(declared_w, declared_h, config.max_pixels)?;

        let context = codec::Context::from_parameters(parameters)
            .map_err(|e| VideoError::Decode(format!("unusable codec parameters: {e}")))?;
        // Frames carry packet timestamps through the decoder; without the packet time base
        // `best_effort_timestamp` cannot fill gaps where a packet had none.
        let mut decoder = context.decoder();
        decoder.set_packet_time_base(stream.time_base());
        let pixel_cap = Box::new(PixelCap {
            max: config.max_pixels,
            refused: AtomicU64::new(0),
        });
        // SAFETY: the context is not open yet, so nothing reads these fields concurrently;
        // `opaque` points into `pixel_cap`, which the Source keeps until after the decoder is
        // dropped (field order), and a Box's contents never move.
        unsafe {
            let ctx = decoder.as_mut_ptr();
            (*ctx).opaque = ptr::from_ref::<PixelCap>(&pixel_cap)
                .cast_mut()
                .cast::<c_void>();
            (*ctx).get_buffer2 = Some(capped_get_buffer);
        }
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
            pixel_cap,
            stream_index,
            time_base,
            start_pts,
            info,
            shown,
            config,
            watchdog,
            draining: false,
            corrupt_packets: 0,
            bytes_read: 0,
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
            // A picture the buffer callback refused: the size changed mid-stream.
            if let Some((width, height)) = self.pixel_cap.refused() {
                return Err(VideoError::TooLarge {
                    width,
                    height,
                    max_pixels: self.pixel_cap.max,
                });
            }
            match self.decoder.receive_frame(frame) {
                Ok(()) => {
                    // Decoders that bypass the buffer callback are caught here, still before
                    // any colour conversion allocates an RGB copy.
                    check_pixels(
                        frame.width() as i32,
                        frame.height() as i32,
                        self.pixel_cap.max,
                    )?;
                    return Ok(true);
                }
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
                    self.bytes_read += packet.size() as u64;
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

fn open_error(
    e: AvError,
    watchdog: &Watchdog,
    shown: &str,
    open_timeout: Duration,
    container_whitelist: bool,
) -> VideoError {
    use ffmpeg::util::error::{EACCES, ECONNREFUSED, EINVAL, ENOENT};
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
        // FFmpeg's answer to a container outside `format_whitelist` ("Format not on
        // whitelist"); nothing else in an open with Vigil's fixed options says EINVAL.
        AvError::Other { errno } if errno == EINVAL && container_whitelist => {
            VideoError::UnsupportedContainer
        }
        AvError::ProtocolNotFound => open("unsupported protocol"),
        AvError::Other { errno } if errno == ENOENT => open("no such file"),
        AvError::Other { errno } if errno == EACCES => open("permission denied"),
        AvError::Other { errno } if errno == ECONNREFUSED => open("connection refused"),
        other => open(&other.to_string()),
    }
}

/// Why [`open_input`] failed.
enum OpenError {
    Av(AvError),
    Refused(String),
    /// FFmpeg changed the URL mid-open (an RTSP 3xx redirect) and was stopped.
    Redirected,
}

/// `avformat_open_input` + `avformat_find_stream_info` with the input's options and
/// whitelists, refusing the result when FFmpeg left a critical option unconsumed.
fn open_input(
    setup: &FfmpegInput,
    watchdog: &Watchdog,
    max_pixels: u64,
) -> Result<format::context::Input, OpenError> {
    let url = CString::new(setup.url.as_str())
        .map_err(|_| OpenError::Refused("the location contains a NUL byte".into()))?;
    let forced = match setup.forced_format {
        Some(name) => {
            let c_name = CString::new(name).expect("format names have no NUL");
            // SAFETY: a lookup in FFmpeg's static demuxer table.
            let found = unsafe { ffi::av_find_input_format(c_name.as_ptr()) };
            if found.is_null() {
                return Err(OpenError::Refused(format!(
                    "this FFmpeg build has no {name} support"
                )));
            }
            found
        }
        None => ptr::null(),
    };
    let mut options = Dictionary::new();
    for (key, value) in &setup.options {
        options.set(key, value);
    }
    let guard = Arc::new(RedirectGuard {
        ctx: AtomicPtr::new(ptr::null_mut()),
        expected: url.clone(),
        enabled: setup.guard_redirects,
        tripped: AtomicBool::new(false),
    });
    let interrupt = {
        let (watchdog, guard) = (watchdog.clone(), guard.clone());
        ffmpeg::util::interrupt::new(Box::new(move || guard.redirected() || watchdog.tripped()))
    };

    // SAFETY: the FFmpeg calls follow avformat_open_input's contract: the context is
    // allocated here, freed by FFmpeg on failure (and then never touched again: the guard's
    // pointer is cleared), and owned by the returned `Input` on success. The interrupt
    // closure outlives the context because `Input` drops its guard after closing it.
    unsafe {
        let mut ps = ffi::avformat_alloc_context();
        if ps.is_null() {
            return Err(OpenError::Av(AvError::Other {
                errno: ffmpeg::util::error::ENOMEM,
            }));
        }
        (*ps).interrupt_callback = interrupt.interrupt;
        guard.ctx.store(ps, Ordering::Relaxed);
        let mut raw_options = options.disown();
        let opened = ffi::avformat_open_input(&mut ps, url.as_ptr(), forced, &mut raw_options);
        let leftover = Dictionary::own(raw_options);
        if opened < 0 {
            guard.ctx.store(ptr::null_mut(), Ordering::Relaxed);
            return Err(if guard.tripped.load(Ordering::Relaxed) {
                OpenError::Redirected
            } else {
                OpenError::Av(AvError::from(opened))
            });
        }
        let input = format::context::Input::wrap_with_interrupt(ps, interrupt.guard);
        if let Some(missing) = setup.critical.iter().find(|k| leftover.get(k).is_some()) {
            return Err(OpenError::Refused(format!(
                "this FFmpeg build ignores the {missing} option, which this input needs"
            )));
        }
        if guard.redirected() {
            return Err(OpenError::Redirected);
        }
        // The decoders stream probing runs are capped too, with headroom so that the
        // declared size of a moderately oversized stream is still learnt and reported as
        // too large; beyond that it comes out as a stream without a picture size.
        let probe_cap = max_pixels
            .saturating_mul(4)
            .min(i32::MAX as u64)
            .to_string();
        let mut per_stream: Vec<*mut ffi::AVDictionary> = (0..(*ps).nb_streams)
            .map(|_| {
                let mut d = Dictionary::new();
                d.set("max_pixels", &probe_cap);
                d.disown()
            })
            .collect();
        let found = ffi::avformat_find_stream_info(
            ps,
            if per_stream.is_empty() {
                ptr::null_mut()
            } else {
                per_stream.as_mut_ptr()
            },
        );
        for d in per_stream {
            drop(Dictionary::own(d));
        }
        if found < 0 {
            return Err(OpenError::Av(AvError::from(found)));
        }
        Ok(input)
    }
}

/// Stops an open as soon as FFmpeg replaces the URL it was given. FFmpeg's RTSP client
/// follows 3xx redirects (to any host) and has no option against it; FFmpeg checks the
/// interrupt callback before every read and write, so a redirect gets no further than a TCP
/// handshake with the new host.
struct RedirectGuard {
    ctx: AtomicPtr<ffi::AVFormatContext>,
    expected: CString,
    enabled: bool,
    tripped: AtomicBool,
}

impl RedirectGuard {
    fn redirected(&self) -> bool {
        if !self.enabled {
            return false;
        }
        if self.tripped.load(Ordering::Relaxed) {
            return true;
        }
        let ctx = self.ctx.load(Ordering::Relaxed);
        if ctx.is_null() {
            return false;
        }
        // SAFETY: `ctx` is live while set (cleared before FFmpeg frees it, and the callback
        // only runs inside FFmpeg calls on that context, on the thread making them).
        let changed = unsafe {
            let url = (*ctx).url;
            !url.is_null() && CStr::from_ptr(url) != self.expected.as_c_str()
        };
        if changed {
            self.tripped.store(true, Ordering::Relaxed);
        }
        changed
    }
}

/// The pixel limit the decoder's buffer callback enforces, and the size it refused.
struct PixelCap {
    max: u64,
    /// `width << 32 | height` of the first picture refused, 0 while none was.
    refused: AtomicU64,
}

impl PixelCap {
    fn refused(&self) -> Option<(u32, u32)> {
        match self.refused.load(Ordering::Relaxed) {
            0 => None,
            packed => Some(((packed >> 32) as u32, packed as u32)),
        }
    }
}

/// `get_buffer2` that refuses pictures above the cap before FFmpeg allocates them; what
/// FFmpeg's own `max_pixels` does, except that the refused size is recorded so the error can
/// say "too large" instead of "invalid data".
unsafe extern "C" fn capped_get_buffer(
    ctx: *mut ffi::AVCodecContext,
    frame: *mut ffi::AVFrame,
    flags: c_int,
) -> c_int {
    // SAFETY: FFmpeg passes live pointers; `opaque` was set to the Source's PixelCap, which
    // outlives the decoder (and its frame-thread copies, which inherit `opaque`).
    unsafe {
        let cap = &*((*ctx).opaque as *const PixelCap);
        let (w, h) = ((*frame).width, (*frame).height);
        if w > 0 && h > 0 && (w as u64) * (h as u64) > cap.max {
            let packed = ((w as u64) << 32) | h as u64;
            let _ = cap
                .refused
                .compare_exchange(0, packed, Ordering::Relaxed, Ordering::Relaxed);
            return -ffmpeg::util::error::EINVAL;
        }
        ffi::avcodec_default_get_buffer2(ctx, frame, flags)
    }
}

fn check_pixels(width: i32, height: i32, max_pixels: u64) -> Result<(), VideoError> {
    let (w, h) = (
        u64::try_from(width).unwrap_or(0),
        u64::try_from(height).unwrap_or(0),
    );
    if w * h > max_pixels {
        return Err(VideoError::TooLarge {
            width: w as u32,
            height: h as u32,
            max_pixels,
        });
    }
    Ok(())
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
