//! Descriptors carried from one analysed frame to the next. Landmarks and a descriptor cost
//! about 10 ms per face against ~65 ms for the detector pass of a whole frame, so on moving
//! content with several faces they are most of the model time. A face that is plainly someone
//! else — far from every searched person — and sits where a face was half a second ago is the
//! same stranger: its descriptor is taken over instead of computed again, for a bounded time.
//!
//! Faces that could be a searched person are always described afresh, so each frame's vote in
//! an appearance stays an independent measurement (docs/search.md).

use vigil_models::{BBox, Face, FaceBox};
use vigil_video::Shift;

/// Overlap with the remembered face required to take its descriptor over. At 2 sampled frames
/// per second a walking person's face box moves well under half its width between samples.
const MIN_IOU: f32 = 0.5;
/// Descriptors are recomputed at least this often, so a stranger turning towards the camera
/// (or a different person stepping into the same place) is looked at again within this time.
const REFRESH_SECS: f64 = 2.0;
/// Only faces at least this much farther than the match threshold from every searched person
/// are carried over. Frame-to-frame descriptor noise of one face is well under this
/// (docs/search.md "Calibration").
const CLEAR_GAP: f32 = 0.1;

/// A face of the last analysed frame.
struct Remembered {
    face: Face,
    /// Timestamp (seconds) of the frame its descriptor was computed on.
    described_at: f64,
    /// Distance to the nearest searched person (`None`: not judged, e.g. too small).
    nearest: Option<f32>,
}

/// A face of the current frame and the frame its descriptor comes from.
pub struct Described {
    pub face: Face,
    pub described_at: f64,
}

#[derive(Default)]
pub struct FaceMemory {
    faces: Vec<Remembered>,
    /// Where the remembered picture has moved since (frames taken over as a moved copy of
    /// it; see `scan`).
    offset: Shift,
}

impl FaceMemory {
    /// Splits a frame's detections into faces whose descriptor is taken over from the last
    /// analysed frame and boxes that need landmarks and a descriptor.
    pub fn take_over(
        &self,
        boxes: Vec<FaceBox>,
        now: f64,
        threshold: f32,
    ) -> (Vec<Described>, Vec<FaceBox>) {
        let mut used = vec![false; self.faces.len()];
        let mut kept = Vec::new();
        let mut fresh = Vec::new();
        for b in boxes {
            let bbox = BBox::from(b);
            let best = self
                .faces
                .iter()
                .enumerate()
                .filter(|(i, r)| {
                    !used[*i]
                        && r.nearest.is_some_and(|d| d > threshold + CLEAR_GAP)
                        && now - r.described_at < REFRESH_SECS
                })
                .map(|(i, r)| (i, shifted_box(r.face.bbox, self.offset).iou(&bbox)))
                .filter(|(_, iou)| *iou >= MIN_IOU)
                .max_by(|a, b| a.1.total_cmp(&b.1));
            match best {
                Some((i, _)) => {
                    used[i] = true;
                    let r = &self.faces[i];
                    kept.push(Described {
                        face: moved(&shifted(&r.face, self.offset), bbox, b.score),
                        described_at: r.described_at,
                    });
                }
                None => fresh.push(b),
            }
        }
        (kept, fresh)
    }

    /// Remembers the analysed frame's faces with their nearest searched-person distance.
    pub fn remember(&mut self, faces: &[Described], nearest: &[Option<f32>]) {
        self.offset = Shift::default();
        self.faces = faces
            .iter()
            .zip(nearest)
            .map(|(d, &nearest)| Remembered {
                face: d.face.clone(),
                described_at: d.described_at,
                nearest,
            })
            .collect();
    }

    /// The remembered picture is now at `shift` from where it was analysed.
    pub fn follow(&mut self, shift: Shift) {
        self.offset = shift;
    }
}

/// `face` moved with its picture.
pub fn shifted(face: &Face, shift: Shift) -> Face {
    let mut face = face.clone();
    face.bbox = shifted_box(face.bbox, shift);
    for p in &mut face.landmarks {
        p[0] += shift.dx;
        p[1] += shift.dy;
    }
    face
}

fn shifted_box(b: BBox, shift: Shift) -> BBox {
    BBox {
        x: b.x + shift.dx,
        y: b.y + shift.dy,
        ..b
    }
}

/// `face` with the box of its new detection; landmarks follow the box.
fn moved(face: &Face, to: BBox, score: f32) -> Face {
    let from = face.bbox;
    let sx = if from.width > 0.0 {
        to.width / from.width
    } else {
        1.0
    };
    let sy = if from.height > 0.0 {
        to.height / from.height
    } else {
        1.0
    };
    let mut landmarks = face.landmarks;
    for p in &mut landmarks {
        p[0] = to.x + (p[0] - from.x) * sx;
        p[1] = to.y + (p[1] - from.y) * sy;
    }
    Face {
        score,
        bbox: to,
        landmarks,
        descriptor: face.descriptor,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn face_box(x: f32, y: f32, size: f32) -> FaceBox {
        FaceBox {
            score: 0.9,
            x,
            y,
            width: size,
            height: size,
        }
    }

    fn described(b: FaceBox, marker: f32, at: f64) -> Described {
        let mut descriptor = [0.0; 128];
        descriptor[0] = marker;
        Described {
            face: Face {
                score: b.score,
                bbox: b.into(),
                landmarks: [[b.x + b.width / 2.0, b.y + b.height / 2.0]; 68],
                descriptor,
            },
            described_at: at,
        }
    }

    #[test]
    fn strangers_nearby_are_taken_over_and_candidates_are_not() {
        let mut memory = FaceMemory::default();
        let stranger = described(face_box(100.0, 100.0, 80.0), 1.0, 0.0);
        let candidate = described(face_box(400.0, 100.0, 80.0), 2.0, 0.0);
        memory.remember(&[stranger, candidate], &[Some(0.8), Some(0.42)]);

        let (kept, fresh) = memory.take_over(
            vec![face_box(110.0, 104.0, 84.0), face_box(405.0, 100.0, 80.0)],
            0.5,
            0.4,
        );
        assert_eq!(kept.len(), 1, "only the clear stranger is carried over");
        assert_eq!(kept[0].face.descriptor[0], 1.0);
        assert_eq!(kept[0].described_at, 0.0);
        assert_eq!(kept[0].face.bbox.x, 110.0);
        // Landmarks follow the box: the centre point stays at the centre.
        assert_eq!(kept[0].face.landmarks[0], [152.0, 146.0]);
        assert_eq!(fresh.len(), 1);
        assert_eq!(fresh[0].x, 405.0);
    }

    #[test]
    fn faces_follow_a_moving_picture() {
        let mut memory = FaceMemory::default();
        memory.remember(
            &[described(face_box(100.0, 100.0, 80.0), 1.0, 0.0)],
            &[Some(0.9)],
        );
        // The picture panned 40 px right since: the face is now at 140, where a detection
        // against the unmoved position would overlap too little to be recognised.
        memory.follow(Shift { dx: 40.0, dy: 0.0 });
        let (kept, fresh) = memory.take_over(vec![face_box(142.0, 100.0, 80.0)], 1.0, 0.4);
        assert_eq!((kept.len(), fresh.len()), (1, 0));
        assert_eq!(kept[0].face.landmarks[0], [182.0, 140.0]);
    }

    #[test]
    fn moved_away_or_stale_faces_are_described_again() {
        let mut memory = FaceMemory::default();
        memory.remember(
            &[described(face_box(100.0, 100.0, 80.0), 1.0, 0.0)],
            &[Some(0.9)],
        );
        // Too far: no overlap.
        let (kept, fresh) = memory.take_over(vec![face_box(300.0, 100.0, 80.0)], 0.5, 0.4);
        assert!(kept.is_empty());
        assert_eq!(fresh.len(), 1);
        // Same place, but the descriptor is older than the refresh interval.
        let (kept, fresh) = memory.take_over(vec![face_box(100.0, 100.0, 80.0)], 2.5, 0.4);
        assert!(kept.is_empty());
        assert_eq!(fresh.len(), 1);
        // One remembered face stands for at most one new detection.
        let (kept, fresh) = memory.take_over(
            vec![face_box(100.0, 100.0, 80.0), face_box(104.0, 100.0, 80.0)],
            0.5,
            0.4,
        );
        assert_eq!((kept.len(), fresh.len()), (1, 1));
        // A face too small to have been judged is never taken over.
        memory.remember(
            &[described(face_box(100.0, 100.0, 30.0), 1.0, 0.0)],
            &[None],
        );
        let (kept, _) = memory.take_over(vec![face_box(100.0, 100.0, 32.0)], 0.5, 0.4);
        assert!(kept.is_empty());
    }
}
