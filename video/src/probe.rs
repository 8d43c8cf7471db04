//! Reading what a video is (size, rate, codec, duration) by opening it and decoding one frame.

use std::time::Instant;

use serde::{Deserialize, Serialize};
use video_rs::ffmpeg::frame;

use crate::error::VideoError;
use crate::input::Input;
use crate::sampler::SampleOptions;
use crate::source::{CancelHandle, Source};

/// What [`probe`] learns about a video. Figures the container does not state are `None`
/// (live streams have no duration or frame count, many files have no overall bit rate).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VideoInfo {
    pub duration_secs: Option<f64>,
    /// Average frame rate of the video stream.
    pub fps: Option<f64>,
    pub width: u32,
    pub height: u32,
    /// ffmpeg's decoder name, e.g. `h264`, `hevc`, `mpeg4`.
    pub codec: String,
    /// ffmpeg's demuxer name, e.g. `mov,mp4,m4a,3gp,3g2,mj2`, `mpegts`, `matroska,webm`.
    pub container: String,
    /// Overall bit rate in bits per second.
    pub bit_rate: Option<u64>,
    /// Frame count as stated by the container; it can over-report for truncated files.
    pub frame_count: Option<u64>,
}

/// Opens `input` (an [`Input`]; a plain string or path is read as an upload) and decodes its
/// first video frame.
///
/// Decoding a frame is part of the check because a readable header proves little: a file cut
/// off after its header, or one with an unsupported codec profile, opens fine and then yields
/// nothing. Uses the timeouts of [`SampleOptions::default`].
pub fn probe(input: impl Into<Input>) -> Result<VideoInfo, VideoError> {
    probe_with(input, &SampleOptions::default())
}

/// [`probe`] with explicit timeouts and mode; only `open_timeout`, `read_timeout`, `live`,
/// `max_pixels` and the decoder settings of `options` are used.
pub fn probe_with(
    input: impl Into<Input>,
    options: &SampleOptions,
) -> Result<VideoInfo, VideoError> {
    let mut source = Source::open(
        &input.into(),
        options.source_config(),
        CancelHandle::default(),
    )?;
    let started = Instant::now();
    let mut frame = frame::Video::empty();
    if !source.next_frame(&mut frame)? {
        let damaged = source.corrupt_packets;
        return Err(VideoError::Decode(if damaged > 0 {
            format!("no frame could be decoded ({damaged} damaged packets)")
        } else {
            "the file contains no video frames".into()
        }));
    }
    let mut info = source.info().clone();
    // The decoded picture is authoritative; stream headers can disagree with it.
    info.width = frame.width();
    info.height = frame.height();
    tracing::debug!(
        elapsed_ms = started.elapsed().as_millis() as u64,
        codec = %info.codec,
        "probed first frame"
    );
    Ok(info)
}
