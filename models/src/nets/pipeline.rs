//! The face pipeline (detect → landmarks → dlib crop → descriptor) with face-api's semantics,
//! batched across faces and images, plus the serialisable result types.

use std::path::Path;
use std::sync::Arc;

use image::RgbImage;
use serde::{Deserialize, Serialize};

use super::blazeface::{BlazeFace, BlazeFaceConfig};
use super::landmarks::LandmarkNet;
use super::recognition::{DESCRIPTOR_LEN, RecognitionNet, dlib_align_rect};
use super::ssd::{FaceBox, SsdConfig, SsdMobilenetV1};
use crate::cache::fetch::{self, paths};
use crate::error::{Error, Result};
use crate::kernels::cpu;
use crate::kernels::image_ops::{Rect, clip_floor_box};

/// A box in image pixels: top-left corner and size.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BBox {
    pub x: f32,
    pub y: f32,
    pub width: f32,
    pub height: f32,
}

impl BBox {
    /// The part of this box inside a `width` × `height` image.
    pub fn clamped(&self, width: u32, height: u32) -> BBox {
        let (w, h) = (width as f32, height as f32);
        let x = self.x.clamp(0.0, w);
        let y = self.y.clamp(0.0, h);
        BBox {
            x,
            y,
            width: ((self.x + self.width).min(w) - x).max(0.0),
            height: ((self.y + self.height).min(h) - y).max(0.0),
        }
    }

    /// Intersection over union with `other` (0 when either is empty).
    pub fn iou(&self, other: &BBox) -> f32 {
        let w = (self.x + self.width).min(other.x + other.width) - self.x.max(other.x);
        let h = (self.y + self.height).min(other.y + other.height) - self.y.max(other.y);
        if w <= 0.0 || h <= 0.0 {
            return 0.0;
        }
        let inter = w * h;
        let union = self.width * self.height + other.width * other.height - inter;
        if union > 0.0 { inter / union } else { 0.0 }
    }
}

impl From<FaceBox> for BBox {
    fn from(d: FaceBox) -> Self {
        BBox {
            x: d.x,
            y: d.y,
            width: d.width,
            height: d.height,
        }
    }
}

/// One face: detector score, box, 68 absolute landmarks and the 128-d descriptor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Face {
    pub score: f32,
    #[serde(rename = "box")]
    pub bbox: BBox,
    #[serde(with = "serde_fixed::points")]
    pub landmarks: [[f32; 2]; 68],
    #[serde(with = "serde_fixed::floats")]
    pub descriptor: [f32; DESCRIPTOR_LEN],
}

/// What `vigil faces` prints per image.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FacesReport {
    pub image: String,
    pub width: u32,
    pub height: u32,
    pub faces: Vec<Face>,
}

/// Thread pool wrapper: `threads = None` uses rayon's global pool (all cores, or
/// `RAYON_NUM_THREADS`); `Some(n)` runs every forward pass, candle's GEMMs included, on a
/// private pool of `n` threads.
#[derive(Debug, Clone, Default)]
pub struct Threads(Option<Arc<rayon::ThreadPool>>);

impl Threads {
    /// A runner with `n` threads (`0` = default global pool).
    pub fn new(n: usize) -> Result<Self> {
        if n == 0 {
            return Ok(Threads(None));
        }
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build()
            .map_err(|e| Error::Input(format!("thread pool: {e}")))?;
        Ok(Threads(Some(Arc::new(pool))))
    }

    /// Runs `f` on this runner's pool, in the caller's [`cpu::precision`].
    pub fn run<T: Send>(&self, f: impl FnOnce() -> T + Send) -> T {
        match &self.0 {
            Some(p) => {
                let precision = cpu::precision();
                p.install(|| cpu::with_precision(precision, f))
            }
            None => f(),
        }
    }
}

/// Detector + landmark net + recognition net, loaded from the model cache.
#[derive(Debug)]
pub struct FacePipeline {
    pub ssd: SsdMobilenetV1,
    /// The second detector of [`FacePipeline::detect_boxes_all_sizes`].
    pub blazeface: BlazeFace,
    pub landmarks: LandmarkNet,
    pub recognition: RecognitionNet,
    threads: Threads,
}

/// BlazeFace's score below which its extra faces are not taken: at 0.2 (human's default) it
/// also boxes half faces at the frame's edge and face-like texture (docs/benchmarks.md).
const SECOND_DETECTOR_MIN_SCORE: f32 = 0.3;

/// `first` plus the boxes of `second` (BlazeFace) whose centre lies in none of `first`'s
/// boxes, mapped to the SSD's box shape and kept inside the image.
fn add_missed(first: Vec<FaceBox>, second: Vec<FaceBox>, width: u32, height: u32) -> Vec<FaceBox> {
    let mut out = first;
    let known = out.len();
    for b in second {
        let b = BlazeFace::ssd_like(&b);
        let (cx, cy) = (b.x + b.width / 2.0, b.y + b.height / 2.0);
        let seen = out[..known]
            .iter()
            .any(|a| cx >= a.x && cx <= a.x + a.width && cy >= a.y && cy <= a.y + a.height);
        if seen {
            continue;
        }
        let inside = BBox {
            x: b.x,
            y: b.y,
            width: b.width,
            height: b.height,
        }
        .clamped(width, height);
        if inside.width >= 1.0 && inside.height >= 1.0 {
            out.push(FaceBox {
                score: b.score,
                x: inside.x,
                y: inside.y,
                width: inside.width,
                height: inside.height,
            });
        }
    }
    out
}

/// A face after detection and landmarks, before its descriptor (exposed for benchmarks).
#[derive(Debug, Clone)]
pub struct LandmarkedFace {
    pub detection: FaceBox,
    pub landmarks: [[f32; 2]; 68],
    /// The integer crop the landmark net saw.
    pub landmark_crop: Rect,
    /// The dlib-aligned crop for the recognition net (`None` if it falls outside the image).
    pub descriptor_crop: Option<Rect>,
}

impl FacePipeline {
    /// Loads the three face models from `cache_dir` (see [`crate::fetch_models`]) and tunes the
    /// allocator for inference ([`crate::kernels::alloc::tune_allocator`]); fails with
    /// [`Error::MissingModels`] when the cache is empty.
    pub fn load(cache_dir: &Path) -> Result<Self> {
        fetch::ensure_fetched(cache_dir)?;
        crate::kernels::alloc::tune_allocator();
        Ok(FacePipeline {
            ssd: SsdMobilenetV1::load(&paths::ssd(cache_dir))?,
            blazeface: BlazeFace::load(cache_dir)?.with_config(BlazeFaceConfig {
                min_confidence: SECOND_DETECTOR_MIN_SCORE,
                ..BlazeFaceConfig::default()
            }),
            landmarks: LandmarkNet::load(&paths::landmarks(cache_dir))?,
            recognition: RecognitionNet::load(&paths::recognition(cache_dir))?,
            threads: Threads::default(),
        })
    }

    /// Sets detector thresholds.
    pub fn with_config(mut self, config: SsdConfig) -> Self {
        self.ssd.config = config;
        self
    }

    /// Runs on `n` threads (0 = default).
    pub fn with_threads(mut self, n: usize) -> Result<Self> {
        self.threads = Threads::new(n)?;
        Ok(self)
    }

    /// All faces in one image, by descending detector score. Never panics on odd input: an empty
    /// image gives no faces. A face whose aligned crop falls entirely outside the image (possible
    /// only at the border) is omitted rather than returned without a descriptor.
    pub fn detect_faces(&self, img: &RgbImage) -> Result<Vec<Face>> {
        Ok(self.detect_faces_batch(&[img])?.pop().unwrap_or_default())
    }

    /// All faces in several images: one detector pass for the batch, one landmark pass and one
    /// recognition pass for all faces of all images.
    pub fn detect_faces_batch(&self, images: &[&RgbImage]) -> Result<Vec<Vec<Face>>> {
        self.threads.run(|| {
            let boxes = self.ssd.detect_batch(images)?;
            self.describe_boxes(images, &boxes)
        })
    }

    /// Detector boxes only (for callers that describe a subset of them, e.g. faces not seen
    /// in the previous frame).
    pub fn detect_boxes(&self, img: &RgbImage) -> Result<Vec<FaceBox>> {
        let mut boxes = self.threads.run(|| self.ssd.detect_batch(&[img]))?;
        Ok(boxes.pop().unwrap_or_default())
    }

    /// The SSD's boxes plus the faces BlazeFace finds that the SSD missed — small (from ~40 px
    /// at 720p), dim or motion-blurred ones, measured in docs/benchmarks.md "Face detectors
    /// on busy footage" — drawn as the SSD would box them, since the landmark net was trained
    /// on the SSD's boxes. BlazeFace sees the whole frame at 256 px, a quarter of the SSD's
    /// cost at 720p; faces both find keep the SSD's box, so their descriptors are unchanged.
    pub fn detect_boxes_all_sizes(&self, img: &RgbImage) -> Result<Vec<FaceBox>> {
        self.threads.run(|| {
            let ssd = self.ssd.detect_batch(&[img])?.pop().unwrap_or_default();
            let whole = Rect {
                x: 0,
                y: 0,
                width: img.width(),
                height: img.height(),
            };
            let second = self.blazeface.detect_region(img, whole)?;
            Ok(add_missed(ssd, second, img.width(), img.height()))
        })
    }

    /// Landmarks and descriptors for given detections of each image, batched across all of
    /// them. Faces whose crops fall outside the image are omitted.
    pub fn describe_boxes(
        &self,
        images: &[&RgbImage],
        boxes: &[Vec<FaceBox>],
    ) -> Result<Vec<Vec<Face>>> {
        self.threads.run(|| {
            let marked = self.landmarks_for(images, boxes)?;
            let crops: Vec<(&RgbImage, Rect)> = marked
                .iter()
                .flat_map(|(i, faces)| {
                    faces
                        .iter()
                        .filter_map(move |f| f.descriptor_crop.map(|r| (images[*i], r)))
                })
                .collect();
            let mut descriptors = self.recognition.describe_crops(&crops)?.into_iter();
            let mut out = vec![Vec::new(); images.len()];
            for (i, faces) in marked {
                for f in faces {
                    let Some(_) = f.descriptor_crop else { continue };
                    let Some(descriptor) = descriptors.next() else {
                        break;
                    };
                    out[i].push(Face {
                        score: f.detection.score,
                        bbox: f.detection.into(),
                        landmarks: f.landmarks,
                        descriptor,
                    });
                }
            }
            Ok(out)
        })
    }

    /// Landmarks for detections of each image (faces whose crop is empty are dropped).
    pub fn landmarks_for(
        &self,
        images: &[&RgbImage],
        boxes: &[Vec<FaceBox>],
    ) -> Result<Vec<(usize, Vec<LandmarkedFace>)>> {
        let mut crops = Vec::new();
        let mut owners = Vec::new();
        for (i, faces) in boxes.iter().enumerate() {
            let img = images[i];
            for f in faces {
                let r = clip_floor_box(
                    f.x as f64,
                    f.y as f64,
                    f.width as f64,
                    f.height as f64,
                    img.width(),
                    img.height(),
                );
                if let Some(r) = r {
                    crops.push((img, r));
                    owners.push((i, *f));
                }
            }
        }
        let pts = self.threads.run(|| self.landmarks.detect_crops(&crops))?;
        let mut out: Vec<(usize, Vec<LandmarkedFace>)> =
            (0..images.len()).map(|i| (i, Vec::new())).collect();
        for ((p, (i, det)), (img, crop)) in pts.into_iter().zip(owners).zip(crops) {
            let mut abs = p;
            for q in abs.iter_mut() {
                // face-api shifts by the unfloored detection box.
                q[0] += det.x;
                q[1] += det.y;
            }
            let (x, y, w, h) = dlib_align_rect(&abs, crop.width as f64, crop.height as f64);
            let descriptor_crop = clip_floor_box(x, y, w, h, img.width(), img.height());
            out[i].1.push(LandmarkedFace {
                detection: det,
                landmarks: abs,
                landmark_crop: crop,
                descriptor_crop,
            });
        }
        Ok(out)
    }
}

/// serde for fixed arrays longer than serde's built-in 32.
mod serde_fixed {
    pub mod points {
        use serde::{Deserialize, Deserializer, Serializer, de::Error};

        pub fn serialize<S: Serializer>(v: &[[f32; 2]; 68], s: S) -> Result<S::Ok, S::Error> {
            s.collect_seq(v.iter())
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[[f32; 2]; 68], D::Error> {
            let v: Vec<[f32; 2]> = Vec::deserialize(d)?;
            v.try_into()
                .map_err(|v: Vec<_>| D::Error::invalid_length(v.len(), &"68 points"))
        }
    }

    pub mod floats {
        use serde::{Deserialize, Deserializer, Serializer, de::Error};

        pub fn serialize<S: Serializer>(v: &[f32; 128], s: S) -> Result<S::Ok, S::Error> {
            s.collect_seq(v.iter())
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[f32; 128], D::Error> {
            let v: Vec<f32> = Vec::deserialize(d)?;
            v.try_into()
                .map_err(|v: Vec<_>| D::Error::invalid_length(v.len(), &"128 floats"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::BBox;

    fn b(x: f32, y: f32, width: f32, height: f32) -> BBox {
        BBox {
            x,
            y,
            width,
            height,
        }
    }

    #[test]
    fn iou_of_boxes() {
        assert_eq!(b(0.0, 0.0, 10.0, 10.0).iou(&b(0.0, 0.0, 10.0, 10.0)), 1.0);
        // Half overlapping: 50 / (100 + 100 - 50).
        let iou = b(0.0, 0.0, 10.0, 10.0).iou(&b(5.0, 0.0, 10.0, 10.0));
        assert!((iou - 1.0 / 3.0).abs() < 1e-6);
        assert_eq!(b(0.0, 0.0, 10.0, 10.0).iou(&b(20.0, 0.0, 10.0, 10.0)), 0.0);
        assert_eq!(b(0.0, 0.0, 0.0, 0.0).iou(&b(0.0, 0.0, 0.0, 0.0)), 0.0);
    }

    #[test]
    fn clamping_keeps_the_part_inside_the_image() {
        assert_eq!(
            b(-5.0, 10.0, 20.0, 20.0).clamped(100, 100),
            b(0.0, 10.0, 15.0, 20.0)
        );
        assert_eq!(
            b(90.0, 95.0, 20.0, 20.0).clamped(100, 100),
            b(90.0, 95.0, 10.0, 5.0)
        );
        assert_eq!(b(120.0, 0.0, 20.0, 20.0).clamped(100, 100).width, 0.0);
        assert_eq!(
            b(10.0, 10.0, 5.0, 5.0).clamped(100, 100),
            b(10.0, 10.0, 5.0, 5.0)
        );
    }
}
