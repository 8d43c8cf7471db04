//! Footage with known truth: pictures (faces cut from photos) walking over a fixed background,
//! drawn frame by frame and encoded by FFmpeg with sensor noise at a CCTV bitrate. Where every
//! walker is at every moment is known, so what a search reports can be scored by face size,
//! blur and light. Meant for benchmarks and tests, like `synth`; nothing in production calls it.

use std::io::Write;
use std::path::Path;
use std::process::Stdio;

use image::{Rgb, RgbImage};

use crate::error::VideoError;
use crate::synth::ffmpeg_command;

/// One picture crossing the scene in a straight line.
#[derive(Debug, Clone)]
pub struct Walker {
    /// The head as cut from a photo, face included.
    pub picture: RgbImage,
    /// The face's width inside `picture` (pixels), so the walker can be sized by its face.
    pub face_in_picture: f32,
    /// The face's width on screen (pixels).
    pub face_px: f32,
    /// Centre of the picture on screen when it appears and when it leaves.
    pub from: (f32, f32),
    pub to: (f32, f32),
    pub start_secs: f64,
    pub end_secs: f64,
    /// Horizontal motion blur (pixels smeared), as a fast walker leaves in a long exposure.
    pub blur_px: u32,
    /// 1.0 as photographed; 0.4 a dim corner.
    pub brightness: f32,
}

impl Walker {
    /// Centre of the picture (and of its face) on screen at `t`, while the walker is there.
    pub fn position(&self, t: f64) -> Option<(f32, f32)> {
        if t < self.start_secs || t >= self.end_secs {
            return None;
        }
        let k = ((t - self.start_secs) / (self.end_secs - self.start_secs)) as f32;
        Some((
            self.from.0 + (self.to.0 - self.from.0) * k,
            self.from.1 + (self.to.1 - self.from.1) * k,
        ))
    }

    /// The picture as it is drawn (sized, blurred, darkened) and its blending weights: an
    /// ellipse with a soft edge, so no hard rectangle gives the detector an easy border.
    fn sprite(&self) -> (RgbImage, Vec<f32>) {
        let scale = self.face_px / self.face_in_picture;
        let w = ((self.picture.width() as f32 * scale).round() as u32).max(2);
        let h = ((self.picture.height() as f32 * scale).round() as u32).max(2);
        let mut img =
            image::imageops::resize(&self.picture, w, h, image::imageops::FilterType::Triangle);
        if self.blur_px > 1 {
            img = smear(&img, self.blur_px);
        }
        if self.brightness != 1.0 {
            for p in img.pixels_mut() {
                p.0 =
                    p.0.map(|c| (c as f32 * self.brightness).clamp(0.0, 255.0) as u8);
            }
        }
        let (cx, cy) = (w as f32 / 2.0, h as f32 / 2.0);
        let mut alpha = Vec::with_capacity((w * h) as usize);
        for y in 0..h {
            for x in 0..w {
                let dx = (x as f32 + 0.5 - cx) / cx;
                let dy = (y as f32 + 0.5 - cy) / cy;
                let r = (dx * dx + dy * dy).sqrt();
                alpha.push(((1.0 - r) / 0.15).clamp(0.0, 1.0));
            }
        }
        (img, alpha)
    }
}

/// Averages each pixel with the `len - 1` to its right (a horizontal motion blur).
fn smear(img: &RgbImage, len: u32) -> RgbImage {
    let (w, h) = img.dimensions();
    RgbImage::from_fn(w, h, |x, y| {
        let mut sum = [0u32; 3];
        let n = len.min(w - x);
        for i in 0..n {
            for (s, c) in sum.iter_mut().zip(img.get_pixel(x + i, y).0) {
                *s += c as u32;
            }
        }
        Rgb(sum.map(|s| (s / n) as u8))
    })
}

/// A fixed camera's view: a background, walkers, noise and a bitrate.
#[derive(Debug, Clone)]
pub struct Scene {
    pub width: u32,
    pub height: u32,
    pub fps: f64,
    pub secs: f64,
    pub background: RgbImage,
    pub walkers: Vec<Walker>,
    /// FFmpeg `noise` strength (temporal sensor noise); 0 for none.
    pub noise: u8,
    /// Video bitrate; CCTV records 720p at roughly 1–2 Mbit/s.
    pub kbps: u32,
}

impl Scene {
    /// A fixed 1280×720 CCTV view over [`corridor`](Self::corridor) at 10 fps, with sensor
    /// noise, recorded at 1.5 Mbit/s: what the recall benchmarks play.
    pub fn cctv_720p(walkers: Vec<Walker>, secs: f64) -> Self {
        Scene {
            width: 1280,
            height: 720,
            fps: 10.0,
            secs,
            background: Scene::corridor(1280, 720),
            walkers,
            noise: 8,
            kbps: 1500,
        }
    }

    /// A corridor-like background: a lit wall above a darker floor with door-sized panels, so
    /// the encoder has texture to spend bits on and the detector edges to look at.
    pub fn corridor(width: u32, height: u32) -> RgbImage {
        RgbImage::from_fn(width, height, |x, y| {
            let floor = y > height * 2 / 3;
            let panel = !floor && (x / (width / 8)) % 3 == 1 && y > height / 5;
            let grain = ((x.wrapping_mul(73) ^ y.wrapping_mul(151)) % 17) as u8;
            let base: [u8; 3] = if floor {
                [70, 66, 60]
            } else if panel {
                [120, 96, 72]
            } else {
                [176, 172, 160]
            };
            Rgb(base.map(|c| c.saturating_add(grain)))
        })
    }

    /// Draws every frame and encodes them as H.264 MP4 at `kbps`.
    pub fn write_h264(&self, out: impl AsRef<Path>) -> Result<(), VideoError> {
        let (w, h) = (self.width, self.height);
        let positive = |v: f64| v.is_finite() && v > 0.0;
        if w == 0
            || h == 0
            || w % 2 == 1
            || h % 2 == 1
            || !positive(self.fps)
            || !positive(self.secs)
        {
            return Err(VideoError::InvalidOptions(
                "scene size must be even and non-zero, fps and length positive".into(),
            ));
        }
        if self.background.dimensions() != (w, h) {
            return Err(VideoError::InvalidOptions(
                "the background must be the scene's size".into(),
            ));
        }
        let sprites: Vec<(RgbImage, Vec<f32>)> = self.walkers.iter().map(Walker::sprite).collect();
        let mut cmd = ffmpeg_command();
        cmd.args(["-y", "-f", "rawvideo", "-pix_fmt", "rgb24"]);
        cmd.args([
            "-s",
            &format!("{w}x{h}"),
            "-r",
            &self.fps.to_string(),
            "-i",
            "-",
        ]);
        let mut filters = String::from("format=yuv420p");
        if self.noise > 0 {
            // A fixed seed (FFmpeg's default is a new one per run): the same scene gives the
            // same clip, so benchmark runs differ only by what changed in Vigil (with the
            // encoder setting below).
            filters = format!("noise=alls={}:allf=t:all_seed=1729,{filters}", self.noise);
        }
        let rate = format!("{}k", self.kbps);
        let buffer = format!("{}k", self.kbps * 2);
        cmd.args(["-vf", &filters, "-c:v", "libx264", "-preset", "veryfast"]);
        // Threaded x264 under a rate cap gave a different clip on every run (measured, with
        // frame and with slice threads); one thread is repeatable.
        cmd.args(["-threads", "1"]);
        cmd.args(["-b:v", &rate, "-maxrate", &rate, "-bufsize", &buffer]);
        cmd.args(["-g", &((self.fps * 2.0).round() as u32).to_string()]);
        cmd.args(["-f", "mp4"]).arg(out.as_ref());
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(crate::synth::spawn_error)?;
        let mut stdin = child.stdin.take().expect("piped stdin");
        let frames = (self.secs * self.fps).round() as u64;
        let mut written = Ok(());
        for n in 0..frames {
            let frame = self.frame(n as f64 / self.fps, &sprites);
            if let Err(e) = stdin.write_all(frame.as_raw()) {
                written = Err(e);
                break;
            }
        }
        drop(stdin);
        let output = child
            .wait_with_output()
            .map_err(|e| VideoError::Tool(format!("ffmpeg: {e}")))?;
        if !output.status.success() || written.is_err() {
            return Err(VideoError::Tool(format!(
                "ffmpeg failed ({}): {}",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            )));
        }
        Ok(())
    }

    fn frame(&self, t: f64, sprites: &[(RgbImage, Vec<f32>)]) -> RgbImage {
        let mut frame = self.background.clone();
        for (walker, (sprite, alpha)) in self.walkers.iter().zip(sprites) {
            let Some((cx, cy)) = walker.position(t) else {
                continue;
            };
            let (sw, sh) = sprite.dimensions();
            let x0 = (cx - sw as f32 / 2.0).round() as i64;
            let y0 = (cy - sh as f32 / 2.0).round() as i64;
            for y in 0..sh {
                let fy = y0 + y as i64;
                if fy < 0 || fy >= self.height as i64 {
                    continue;
                }
                for x in 0..sw {
                    let fx = x0 + x as i64;
                    if fx < 0 || fx >= self.width as i64 {
                        continue;
                    }
                    let a = alpha[(y * sw + x) as usize];
                    if a <= 0.0 {
                        continue;
                    }
                    let s = sprite.get_pixel(x, y).0;
                    let d = frame.get_pixel_mut(fx as u32, fy as u32);
                    for (d, s) in d.0.iter_mut().zip(s) {
                        *d = (s as f32 * a + *d as f32 * (1.0 - a)) as u8;
                    }
                }
            }
        }
        frame
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn walker() -> Walker {
        Walker {
            picture: RgbImage::from_pixel(40, 40, Rgb([250, 10, 10])),
            face_in_picture: 20.0,
            face_px: 40.0,
            from: (0.0, 50.0),
            to: (200.0, 50.0),
            start_secs: 1.0,
            end_secs: 3.0,
            blur_px: 0,
            brightness: 1.0,
        }
    }

    #[test]
    fn walkers_are_where_and_when_they_are_said_to_be() {
        let w = walker();
        assert_eq!(w.position(0.5), None);
        assert_eq!(w.position(2.0), Some((100.0, 50.0)));
        assert_eq!(w.position(3.0), None);
        let scene = Scene {
            width: 200,
            height: 100,
            fps: 10.0,
            secs: 4.0,
            background: RgbImage::from_pixel(200, 100, Rgb([0, 0, 0])),
            walkers: vec![w.clone()],
            noise: 0,
            kbps: 500,
        };
        let sprites = vec![w.sprite()];
        // Sized by the face: a 40 px picture with a 20 px face drawn with a 40 px face is 80 px.
        assert_eq!(sprites[0].0.dimensions(), (80, 80));
        let frame = scene.frame(2.0, &sprites);
        assert!(frame.get_pixel(100, 50).0[0] > 200, "drawn at its centre");
        assert_eq!(frame.get_pixel(100, 5).0, [0, 0, 0], "outside its ellipse");
        assert_eq!(scene.frame(0.0, &sprites).get_pixel(100, 50).0, [0, 0, 0]);
    }

    #[test]
    fn blur_and_light_change_the_picture_not_its_size() {
        let mut w = walker();
        w.picture = RgbImage::from_fn(40, 40, |x, _| Rgb([if x < 20 { 0 } else { 200 }; 3]));
        w.blur_px = 8;
        w.brightness = 0.5;
        let (sprite, _) = w.sprite();
        assert_eq!(sprite.dimensions(), (80, 80));
        let edge = sprite.get_pixel(36, 40).0[0];
        assert!(
            edge > 0 && edge < 100,
            "the edge is smeared and dimmed: {edge}"
        );
    }
}
