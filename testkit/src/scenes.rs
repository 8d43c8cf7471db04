//! Busy footage for benchmarks: people crossing a fixed 1280×720 camera's view
//! (`vigil_video::scene::Scene::cctv_720p`), the same for a given seed on every run, so the
//! recall and detector benches score against the same kind of crowd.

use image::RgbImage;
use vigil_video::scene::Walker;

const W: f32 = 1280.0;
const H: f32 = 720.0;
/// Motion blur of a fast walker: ~500 px/s across a 720p view at a 1/60 s exposure.
pub const BLUR_PX: u32 = 8;

/// A deterministic pseudo-random sequence.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> f32 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 40) as f32 / (1u64 << 24) as f32
    }
}

/// People (`heads`: picture and face width in it) crossing for `secs`: three on screen at any
/// time, each 4–8 s, faces 40–200 px at random heights, 30 % motion-blurred, 30 % dimmed.
pub fn crossing_crowd(heads: &[(RgbImage, f32)], secs: f64, seed: u64) -> Vec<Walker> {
    let mut rng = Lcg(seed);
    let mut out = Vec::new();
    for lane in 0..3 {
        let mut t = lane as f64 * 1.5;
        while t < secs {
            let (picture, face) =
                heads[(rng.next() * heads.len() as f32) as usize % heads.len()].clone();
            let size = 40.0 + rng.next() * 160.0;
            let dur = 4.0 + rng.next() as f64 * 4.0;
            let y = H * (0.2 + 0.6 * rng.next());
            let (from, to) = if rng.next() < 0.5 {
                (-size, W + size)
            } else {
                (W + size, -size)
            };
            out.push(Walker {
                picture,
                face_in_picture: face,
                face_px: size,
                from: (from, y),
                to: (to, y + (rng.next() - 0.5) * 60.0),
                start_secs: t,
                end_secs: t + dur,
                blur_px: if rng.next() < 0.3 { BLUR_PX } else { 0 },
                brightness: if rng.next() < 0.3 { 0.45 } else { 1.0 },
            });
            t += dur + rng.next() as f64 * 1.0;
        }
    }
    out
}
