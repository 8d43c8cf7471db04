//! Synthetic test media made with the `ffmpeg` command-line tool: clips built from still
//! images and plain colours, live streams served over loopback HTTP(S) and RTSP, and damaged
//! copies.
//!
//! Meant for tests and benchmarks (here and in the worker); nothing in production calls it.
//! The tool is looked up as `ffmpeg` on `PATH`, or at the path in `VIGIL_FFMPEG`.

use std::fs;
use std::io::{Read, Seek, SeekFrom, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::error::VideoError;

pub(crate) fn ffmpeg_command() -> Command {
    let program = std::env::var_os("VIGIL_FFMPEG").unwrap_or_else(|| "ffmpeg".into());
    let mut cmd = Command::new(program);
    cmd.args(["-hide_banner", "-nostdin", "-loglevel", "error"]);
    cmd
}

pub(crate) fn spawn_error(e: std::io::Error) -> VideoError {
    if e.kind() == std::io::ErrorKind::NotFound {
        VideoError::Tool(
            "the ffmpeg command was not found: install ffmpeg (Debian: apt-get install ffmpeg) \
             or set VIGIL_FFMPEG to its path"
                .into(),
        )
    } else {
        VideoError::Tool(format!("cannot run ffmpeg: {e}"))
    }
}

fn run(mut cmd: Command) -> Result<(), VideoError> {
    let output = cmd.stdin(Stdio::null()).output().map_err(spawn_error)?;
    if output.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let tail: Vec<&str> = stderr.lines().rev().take(8).collect();
    let tail: Vec<&str> = tail.into_iter().rev().collect();
    Err(VideoError::Tool(format!(
        "ffmpeg failed ({}): {}",
        output.status,
        tail.join(" | ")
    )))
}

/// Movement applied to the whole clip, so that encoders produce real motion vectors and
/// benchmarks do not measure the trivially cheap all-static case.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Motion {
    /// Every part is static (still images stay still).
    None,
    /// A slow pan over the picture: a 90 % crop whose position drifts on a sine path
    /// (about 30 px/s at 1280×720), scaled back to the clip size.
    Pan,
}

#[derive(Debug, Clone)]
enum Part {
    Still { image: PathBuf, secs: f64 },
    Colour { colour: String, secs: f64 },
}

/// Builds an H.264 MP4 from still images (letterboxed into the frame) and solid colours.
///
/// ```no_run
/// # use vigil_video::synth::{ClipBuilder, Motion};
/// ClipBuilder::new(1280, 720, 25.0)
///     .colour("gray", 4.0)
///     .still("face.png", 5.0)
///     .colour("gray", 1.0)
///     .motion(Motion::Pan)
///     .write_h264("clip.mp4")?;
/// # Ok::<(), vigil_video::VideoError>(())
/// ```
#[derive(Debug, Clone)]
pub struct ClipBuilder {
    width: u32,
    height: u32,
    fps: f64,
    parts: Vec<Part>,
    motion: Motion,
    noise: u8,
    keyint: Option<u32>,
    faststart: bool,
    crf: u8,
    audio: bool,
}

impl ClipBuilder {
    pub fn new(width: u32, height: u32, fps: f64) -> Self {
        Self {
            width,
            height,
            fps,
            parts: Vec::new(),
            motion: Motion::None,
            noise: 0,
            keyint: None,
            faststart: false,
            crf: 23,
            audio: false,
        }
    }

    /// Shows `image` for `secs`, scaled to fit and padded with black.
    pub fn still(mut self, image: impl AsRef<Path>, secs: f64) -> Self {
        self.parts.push(Part::Still {
            image: image.as_ref().to_path_buf(),
            secs,
        });
        self
    }

    /// Shows a solid colour (any ffmpeg colour name or `0xRRGGBB`) for `secs`.
    pub fn colour(mut self, colour: &str, secs: f64) -> Self {
        self.parts.push(Part::Colour {
            colour: colour.to_string(),
            secs,
        });
        self
    }

    pub fn motion(mut self, motion: Motion) -> Self {
        self.motion = motion;
        self
    }

    /// Adds temporal noise of this strength (0 = none, 5–10 looks like a camera sensor; it
    /// raises the bit rate and the decoding cost considerably).
    pub fn noise(mut self, strength: u8) -> Self {
        self.noise = strength;
        self
    }

    /// Keyframe interval in frames (libx264's default is 250).
    pub fn keyint(mut self, frames: u32) -> Self {
        self.keyint = Some(frames);
        self
    }

    /// Put the MP4 index at the front (as streaming-friendly uploads do). Without it the
    /// index is at the end, so a truncated copy cannot be opened at all.
    pub fn faststart(mut self, on: bool) -> Self {
        self.faststart = on;
        self
    }

    /// libx264 constant rate factor (lower is better quality and more bits; default 23).
    pub fn crf(mut self, crf: u8) -> Self {
        self.crf = crf;
        self
    }

    /// Adds a sine-tone AAC audio track, as real recordings have.
    pub fn audio(mut self, on: bool) -> Self {
        self.audio = on;
        self
    }

    pub fn duration_secs(&self) -> f64 {
        self.parts
            .iter()
            .map(|p| match p {
                Part::Still { secs, .. } | Part::Colour { secs, .. } => *secs,
            })
            .sum()
    }

    /// Encodes the clip with libx264 (yuv420p) into an MP4 at `out`.
    pub fn write_h264(&self, out: impl AsRef<Path>) -> Result<(), VideoError> {
        if self.parts.is_empty() {
            return Err(VideoError::InvalidOptions(
                "a clip needs at least one part".into(),
            ));
        }
        let (w, h, fps) = (self.width, self.height, self.fps);
        if w == 0 || h == 0 || w % 2 == 1 || h % 2 == 1 || !fps.is_finite() || fps <= 0.0 {
            return Err(VideoError::InvalidOptions(
                "clip size must be even and non-zero, fps positive".into(),
            ));
        }
        for part in &self.parts {
            if let Part::Still { image, .. } = part
                && !image.is_file()
            {
                return Err(VideoError::InvalidOptions(format!(
                    "still image {} does not exist",
                    image.display()
                )));
            }
        }

        let mut cmd = ffmpeg_command();
        cmd.arg("-y");
        let mut graph = String::new();
        for (i, part) in self.parts.iter().enumerate() {
            match part {
                Part::Still { image, secs } => {
                    cmd.args(["-loop", "1", "-framerate", &fps.to_string()]);
                    cmd.args(["-t", &secs.to_string(), "-i"]).arg(image);
                    graph.push_str(&format!(
                        "[{i}:v]scale={w}:{h}:force_original_aspect_ratio=decrease,\
                         pad={w}:{h}:(ow-iw)/2:(oh-ih)/2:color=black,"
                    ));
                }
                Part::Colour { colour, secs } => {
                    cmd.args(["-f", "lavfi", "-t", &secs.to_string(), "-i"]);
                    cmd.arg(format!("color=c={colour}:s={w}x{h}:r={fps}"));
                    graph.push_str(&format!("[{i}:v]"));
                }
            }
            graph.push_str(&format!("setsar=1,fps={fps},format=yuv420p[v{i}];"));
        }
        for i in 0..self.parts.len() {
            graph.push_str(&format!("[v{i}]"));
        }
        graph.push_str(&format!("concat=n={}:v=1:a=0", self.parts.len()));
        if self.motion == Motion::Pan {
            graph.push_str(&format!(
                ",crop=w=iw*0.9:h=ih*0.9:x='(iw-ow)/2*(1+sin(t*0.5))':\
                 y='(ih-oh)/2*(1+cos(t*0.4))',scale={w}:{h},setsar=1"
            ));
        }
        if self.noise > 0 {
            graph.push_str(&format!(",noise=alls={}:allf=t", self.noise));
        }
        graph.push_str(",format=yuv420p[out]");
        if self.audio {
            cmd.args(["-f", "lavfi", "-t", &self.duration_secs().to_string(), "-i"]);
            cmd.arg("sine=frequency=440:sample_rate=44100");
        }
        cmd.args(["-filter_complex", &graph, "-map", "[out]"]);
        if self.audio {
            cmd.args(["-map", &format!("{}:a", self.parts.len()), "-c:a", "aac"]);
        }
        cmd.args([
            "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p",
        ]);
        cmd.args(["-crf", &self.crf.to_string(), "-r", &fps.to_string()]);
        if let Some(keyint) = self.keyint {
            cmd.args(["-g", &keyint.to_string()]);
        }
        if self.faststart {
            cmd.args(["-movflags", "+faststart"]);
        }
        cmd.args(["-f", "mp4"]).arg(out.as_ref());
        run(cmd)
    }
}

/// Writes an audio-only M4A (AAC sine tone) — a file that is media but not a video.
pub fn write_audio_only(out: impl AsRef<Path>, secs: f64) -> Result<(), VideoError> {
    let mut cmd = ffmpeg_command();
    cmd.args(["-y", "-f", "lavfi", "-t", &secs.to_string(), "-i"]);
    cmd.arg("sine=frequency=440:sample_rate=44100");
    cmd.args(["-c:a", "aac", "-f", "mp4"]).arg(out.as_ref());
    run(cmd)
}

/// Copies `src` to `dst` with `len` bytes of pseudo-random garbage written at `at` (a fraction
/// of the file size, e.g. 0.5 for the middle). The garbage is the same on every call.
pub fn corrupt_copy(
    src: impl AsRef<Path>,
    dst: impl AsRef<Path>,
    at: f64,
    len: usize,
) -> Result<(), VideoError> {
    fs::copy(src.as_ref(), dst.as_ref())?;
    let mut file = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(dst.as_ref())?;
    let size = file.metadata()?.len();
    let offset = ((size as f64 * at.clamp(0.0, 1.0)) as u64).min(size);
    let len = len.min((size - offset) as usize);
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let garbage: Vec<u8> = (0..len)
        .map(|_| {
            // xorshift64: deterministic, no dependency, good enough to break bitstreams.
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect();
    file.seek(SeekFrom::Start(offset))?;
    file.write_all(&garbage)?;
    Ok(())
}

/// Copies the first `keep` fraction (0–1) of `src` to `dst`, like an interrupted upload.
pub fn truncated_copy(
    src: impl AsRef<Path>,
    dst: impl AsRef<Path>,
    keep: f64,
) -> Result<(), VideoError> {
    let mut data = Vec::new();
    fs::File::open(src.as_ref())?.read_to_end(&mut data)?;
    let keep = (data.len() as f64 * keep.clamp(0.0, 1.0)) as usize;
    fs::write(dst.as_ref(), &data[..keep])?;
    Ok(())
}

/// An `ffmpeg` process serving a clip as an endless live MPEG-TS stream over HTTP on
/// loopback. Killed when dropped.
///
/// The server accepts a single client and exits when that client disconnects, like a
/// simple camera would drop a session.
pub struct LiveServer {
    child: Child,
    url: String,
}

/// Serves `clip` in a loop at its native rate at `http://127.0.0.1:{port}`; `port` 0 picks a
/// free one. Returns once the server is listening.
pub fn serve_live(clip: impl AsRef<Path>, port: u16) -> Result<LiveServer, VideoError> {
    spawn_live(clip.as_ref(), "http", "", port, &[])
}

/// [`serve_live`] as an RTMP server at `rtmp://127.0.0.1:{port}/live/stream` (FLV, one
/// client).
pub fn serve_rtmp(clip: impl AsRef<Path>, port: u16) -> Result<LiveServer, VideoError> {
    spawn_live(clip.as_ref(), "rtmp", "/live/stream", port, &[])
}

/// [`serve_live`] over HTTPS at `https://127.0.0.1:{port}`, presenting the PEM certificate
/// `cert` (whose key is `key`): for testing that clients verify certificates.
pub fn serve_live_tls(
    clip: impl AsRef<Path>,
    port: u16,
    cert: impl AsRef<Path>,
    key: impl AsRef<Path>,
) -> Result<LiveServer, VideoError> {
    let (cert, key) = (cert.as_ref(), key.as_ref());
    for file in [cert, key] {
        if !file.is_file() {
            return Err(VideoError::InvalidOptions(format!(
                "{} does not exist",
                file.display()
            )));
        }
    }
    let (cert, key) = (cert.to_string_lossy(), key.to_string_lossy());
    spawn_live(
        clip.as_ref(),
        "https",
        "",
        port,
        &["-cert_file", &cert, "-key_file", &key],
    )
}

fn spawn_live(
    clip: &Path,
    scheme: &str,
    path: &str,
    port: u16,
    output_options: &[&str],
) -> Result<LiveServer, VideoError> {
    if !clip.is_file() {
        return Err(VideoError::InvalidOptions(format!(
            "clip {} does not exist",
            clip.display()
        )));
    }
    let port = match port {
        0 => free_port()?,
        p => p,
    };
    let url = format!("{scheme}://127.0.0.1:{port}{path}");
    let container = if scheme == "rtmp" { "flv" } else { "mpegts" };
    let mut cmd = ffmpeg_command();
    cmd.args(["-re", "-stream_loop", "-1", "-i"]).arg(clip);
    cmd.args(["-map", "0", "-c", "copy", "-f", container, "-listen", "1"]);
    cmd.args(output_options).arg(&url);
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(spawn_error)?;
    wait_until_listening(&mut child, port)?;
    Ok(LiveServer { child, url })
}

fn free_port() -> Result<u16, VideoError> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Waits up to 10 s for `child` to listen on loopback `port`.
fn wait_until_listening(child: &mut Child, port: u16) -> Result<(), VideoError> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = child.try_wait()? {
            let mut stderr = String::new();
            if let Some(mut pipe) = child.stderr.take() {
                let _ = pipe.read_to_string(&mut stderr);
            }
            return Err(VideoError::Tool(format!(
                "live server exited ({status}): {}",
                stderr.trim()
            )));
        }
        match is_listening(port) {
            Some(true) => return Ok(()),
            Some(false) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20))
            }
            Some(false) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(VideoError::Tool(format!(
                    "live server did not listen on port {port} within 10 s"
                )));
            }
            // No /proc to look at: connecting to check would use up the server's single
            // client slot, so give it a generous moment instead.
            None => {
                std::thread::sleep(Duration::from_secs(1));
                return Ok(());
            }
        }
    }
}

/// Whether something listens on loopback `port`, from /proc/net/tcp (Linux); `None` where
/// that is not available.
fn is_listening(port: u16) -> Option<bool> {
    let table = fs::read_to_string("/proc/net/tcp").ok()?;
    let wanted = format!(":{port:04X}");
    Some(table.lines().skip(1).any(|line| {
        let mut fields = line.split_whitespace();
        let local = fields.nth(1).unwrap_or_default();
        let state = fields.nth(1).unwrap_or_default();
        local.ends_with(&wanted) && state == "0A"
    }))
}

impl LiveServer {
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Freezes the server (SIGSTOP): the connection stays open but no data flows — what a
    /// hung camera looks like to a client.
    pub fn pause(&self) -> Result<(), VideoError> {
        self.signal("-STOP")
    }

    /// Undoes [`pause`](Self::pause).
    pub fn resume(&self) -> Result<(), VideoError> {
        self.signal("-CONT")
    }

    /// Kills the server at once; its connection closes.
    pub fn kill(&mut self) -> Result<(), VideoError> {
        self.child.kill()?;
        self.child.wait()?;
        Ok(())
    }

    fn signal(&self, signal: &str) -> Result<(), VideoError> {
        let status = Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()?;
        if status.success() {
            Ok(())
        } else {
            Err(VideoError::Tool(format!("kill {signal} failed: {status}")))
        }
    }
}

impl Drop for LiveServer {
    fn drop(&mut self) {
        // SIGKILL also ends a paused (SIGSTOPped) process.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A minimal RTSP server on loopback that serves a clip's video in a loop over interleaved
/// TCP, like an IP camera: `ffmpeg` packetises the clip as RTP to a local UDP socket, and
/// the server answers OPTIONS/DESCRIBE/SETUP/PLAY and relays the RTP packets to the client.
/// (FFmpeg itself cannot serve RTSP to a client that pulls.)
///
/// It serves one client at a time, refuses UDP transport (461), and records every request
/// line it receives. Stopped when dropped.
pub struct RtspServer {
    ffmpeg: Child,
    url: String,
    requests: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// Serves `clip` (H.264) at `rtsp://127.0.0.1:{port}/live`; `port` 0 picks a free one.
pub fn serve_rtsp(clip: impl AsRef<Path>, port: u16) -> Result<RtspServer, VideoError> {
    let clip = clip.as_ref();
    if !clip.is_file() {
        return Err(VideoError::InvalidOptions(format!(
            "clip {} does not exist",
            clip.display()
        )));
    }
    let rtp = UdpSocket::bind("127.0.0.1:0")?;
    rtp.set_read_timeout(Some(Duration::from_millis(200)))?;
    let rtp_port = rtp.local_addr()?.port();
    let listener = TcpListener::bind(("127.0.0.1", port))?;
    let port = listener.local_addr()?.port();
    listener.set_nonblocking(true)?;

    let sdp_path =
        std::env::temp_dir().join(format!("vigil-rtsp-{}-{port}.sdp", std::process::id()));
    let _ = fs::remove_file(&sdp_path);
    let mut cmd = ffmpeg_command();
    cmd.args(["-re", "-stream_loop", "-1", "-i"]).arg(clip);
    cmd.args(["-an", "-c:v", "copy", "-f", "rtp", "-sdp_file"])
        .arg(&sdp_path)
        .arg(format!("rtp://127.0.0.1:{rtp_port}"));
    let mut ffmpeg = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(spawn_error)?;

    // The SDP file appears once the RTP muxer has written its header.
    let deadline = Instant::now() + Duration::from_secs(10);
    let sdp = loop {
        match fs::read_to_string(&sdp_path) {
            Ok(s) if s.contains("m=video") => break s,
            _ if Instant::now() < deadline && ffmpeg.try_wait()?.is_none() => {
                std::thread::sleep(Duration::from_millis(20))
            }
            _ => {
                let _ = ffmpeg.kill();
                let _ = ffmpeg.wait();
                return Err(VideoError::Tool("the RTP packetiser did not start".into()));
            }
        }
    };
    let _ = fs::remove_file(&sdp_path);
    let sdp: String = sdp
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with("SDP:"))
        .map(|l| format!("{l}\r\n"))
        .collect::<String>()
        + "a=control:trackID=0\r\n";

    let requests = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let thread = {
        let (requests, stop) = (requests.clone(), stop.clone());
        std::thread::Builder::new()
            .name("vigil-rtsp-server".into())
            .spawn(move || rtsp_accept_loop(listener, rtp, sdp, requests, stop))?
    };
    Ok(RtspServer {
        ffmpeg,
        url: format!("rtsp://127.0.0.1:{port}/live"),
        requests,
        stop,
        thread: Some(thread),
    })
}

impl RtspServer {
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn port(&self) -> u16 {
        self.url
            .trim_start_matches("rtsp://127.0.0.1:")
            .trim_end_matches("/live")
            .parse()
            .expect("the URL was built with a port")
    }

    /// Request lines received so far, e.g. `DESCRIBE rtsp://127.0.0.1:8554/live RTSP/1.0`.
    pub fn requests(&self) -> Vec<String> {
        self.requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

impl Drop for RtspServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.ffmpeg.kill();
        let _ = self.ffmpeg.wait();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn rtsp_accept_loop(
    listener: TcpListener,
    rtp: UdpSocket,
    sdp: String,
    requests: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
) {
    while !stop.load(Ordering::Relaxed) {
        match listener.accept() {
            Ok((client, _)) => {
                let _ = rtsp_session(client, &rtp, &sdp, &requests, &stop);
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(_) => return,
        }
    }
}

/// Answers one client's requests until PLAY, then relays RTP until it leaves.
fn rtsp_session(
    mut client: TcpStream,
    rtp: &UdpSocket,
    sdp: &str,
    requests: &Mutex<Vec<String>>,
    stop: &AtomicBool,
) -> std::io::Result<()> {
    client.set_nonblocking(false)?;
    client.set_read_timeout(Some(Duration::from_secs(10)))?;
    // A client that stops reading ends its session rather than blocking shutdown.
    client.set_write_timeout(Some(Duration::from_secs(2)))?;
    let mut buffer = Vec::new();
    loop {
        let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") else {
            let mut chunk = [0u8; 4096];
            let n = client.read(&mut chunk)?;
            if n == 0 {
                return Ok(());
            }
            buffer.extend_from_slice(&chunk[..n]);
            continue;
        };
        let head = String::from_utf8_lossy(&buffer[..end]).into_owned();
        buffer.drain(..end + 4);
        let mut lines = head.lines();
        let request_line = lines.next().unwrap_or_default().to_string();
        requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(request_line.clone());
        let header = |name: &str| {
            head.lines()
                .find_map(|l| {
                    l.split_once(':')
                        .filter(|(k, _)| k.trim().eq_ignore_ascii_case(name))
                        .map(|(_, v)| v.trim().to_string())
                })
                .unwrap_or_default()
        };
        let cseq = header("CSeq");
        let method = request_line.split(' ').next().unwrap_or_default();
        let mut reply = format!("RTSP/1.0 200 OK\r\nCSeq: {cseq}\r\n");
        let mut body = "";
        let mut play = false;
        match method {
            "OPTIONS" => reply.push_str("Public: OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN\r\n"),
            "DESCRIBE" => {
                body = sdp;
                reply.push_str(&format!(
                    "Content-Type: application/sdp\r\nContent-Length: {}\r\n",
                    sdp.len()
                ));
            }
            "SETUP" if header("Transport").contains("RTP/AVP/TCP") => reply.push_str(
                "Transport: RTP/AVP/TCP;unicast;interleaved=0-1\r\nSession: 12345678\r\n",
            ),
            "SETUP" => reply = format!("RTSP/1.0 461 Unsupported Transport\r\nCSeq: {cseq}\r\n"),
            "PLAY" => {
                reply.push_str("Session: 12345678\r\n");
                play = true;
            }
            "TEARDOWN" | "GET_PARAMETER" => {}
            _ => reply = format!("RTSP/1.0 501 Not Implemented\r\nCSeq: {cseq}\r\n"),
        }
        client.write_all(format!("{reply}\r\n{body}").as_bytes())?;
        if play {
            break;
        }
    }
    // Start from fresh packets, not what queued up while nobody watched.
    rtp.set_nonblocking(true)?;
    let mut packet = [0u8; 65536];
    while rtp.recv(&mut packet).is_ok() {}
    rtp.set_nonblocking(false)?;
    while !stop.load(Ordering::Relaxed) {
        let n = match rtp.recv(&mut packet) {
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                continue;
            }
            Err(e) => return Err(e),
        };
        let mut frame = Vec::with_capacity(n + 4);
        frame.extend_from_slice(&[b'$', 0]);
        frame.extend_from_slice(&(n as u16).to_be_bytes());
        frame.extend_from_slice(&packet[..n]);
        client.write_all(&frame)?;
    }
    Ok(())
}
