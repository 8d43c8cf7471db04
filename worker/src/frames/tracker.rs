//! Following each face from one sampled frame to the next, so a person is judged over their
//! whole passage through the picture rather than frame by frame. At ~60 px one descriptor
//! cannot tell a person from a stranger (docs/search.md); a track's few best faces, compared
//! with the other tracks of the same footage, can say more.
//!
//! Association is greedy on a normalised centre distance with a size check: at 2 sampled
//! frames per second a walking person's face moves about its own width between samples, so
//! box overlap alone would lose them. A track unseen for longer than the gap closes.

use vigil_models::BBox;

/// A track may continue with a face whose centre lies within this many face widths of the
/// track's predicted centre...
const MAX_CENTRE_STEP: f32 = 1.5;
/// ...and whose size is within this factor of the track's last face.
const MAX_SIZE_RATIO: f32 = 1.8;
/// How many of a track's closest faces form its distance (the best few, not the single best:
/// one lucky frame of a stranger should not carry a track).
pub const BEST_FACES: usize = 3;

/// One face of a sampled frame, as judged against the searched persons.
#[derive(Debug, Clone)]
pub struct Observation {
    pub bbox: BBox,
    /// Distance to each searched person, in the matcher's person order (`None`: not judged).
    pub distances: Vec<Option<f32>>,
    /// A thumbnail of the face, for faces close enough to be worth showing a reviewer.
    pub thumbnail: Option<Vec<u8>>,
}

/// A face's distance to one searched person at one moment, with the face's size.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub at_ms: i64,
    pub distance: f32,
    pub face_px: f32,
}

/// A finished track: when, how large, and for each searched person its best faces.
#[derive(Debug, Clone)]
pub struct FaceTrack {
    /// The track's number among those this tracker opened: with `start_ms`, a key that is the
    /// same when the same footage is tracked again.
    pub no: u32,
    pub start_ms: i64,
    pub end_ms: i64,
    pub frames: u32,
    /// The largest face size seen (shorter box side, pixels).
    pub max_px: f32,
    /// Per searched person (matcher order): the best faces, closest first.
    pub best: Vec<Vec<Sample>>,
    /// Per searched person: the thumbnail of the closest face that had one.
    pub thumbnails: Vec<Option<Vec<u8>>>,
}

impl FaceTrack {
    /// The track's distance to person `p`: the mean of its best faces.
    pub fn distance(&self, p: usize) -> Option<f32> {
        let best = self.best.get(p)?;
        (!best.is_empty()).then(|| best.iter().map(|s| s.distance).sum::<f32>() / best.len() as f32)
    }
}

struct Open {
    track: FaceTrack,
    last: BBox,
    /// Centre movement per millisecond, from the last two faces.
    velocity: (f32, f32),
    last_ms: i64,
}

impl Open {
    fn predicted_centre(&self, at_ms: i64) -> (f32, f32) {
        let dt = (at_ms - self.last_ms) as f32;
        let (cx, cy) = centre(&self.last);
        (cx + self.velocity.0 * dt, cy + self.velocity.1 * dt)
    }
}

fn centre(b: &BBox) -> (f32, f32) {
    (b.x + b.width / 2.0, b.y + b.height / 2.0)
}

fn side(b: &BBox) -> f32 {
    b.width.min(b.height).max(1.0)
}

pub struct FaceTracker {
    persons: usize,
    max_gap_ms: i64,
    open: Vec<Open>,
    opened: u32,
}

impl FaceTracker {
    /// Tracks for `persons` searched persons; a track closes after `max_gap_ms` unseen.
    pub fn new(persons: usize, max_gap_ms: i64) -> Self {
        Self {
            persons,
            max_gap_ms,
            open: Vec::new(),
            opened: 0,
        }
    }

    /// Adds one sampled frame's faces; returns the tracks that ended before it.
    pub fn observe(&mut self, at_ms: i64, faces: Vec<Observation>) -> Vec<FaceTrack> {
        let (stale, open): (Vec<Open>, Vec<Open>) = std::mem::take(&mut self.open)
            .into_iter()
            .partition(|o| at_ms - o.last_ms > self.max_gap_ms);
        self.open = open;
        // Closest pairs first, each track and face used once.
        let mut pairs: Vec<(f32, usize, usize)> = Vec::new();
        for (t, o) in self.open.iter().enumerate() {
            let (px, py) = o.predicted_centre(at_ms);
            let width = side(&o.last);
            for (f, face) in faces.iter().enumerate() {
                let ratio = side(&face.bbox) / width;
                if !(1.0 / MAX_SIZE_RATIO..=MAX_SIZE_RATIO).contains(&ratio) {
                    continue;
                }
                let (cx, cy) = centre(&face.bbox);
                let step = ((cx - px).powi(2) + (cy - py).powi(2)).sqrt() / width;
                if step <= MAX_CENTRE_STEP {
                    pairs.push((step, t, f));
                }
            }
        }
        pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut track_used = vec![false; self.open.len()];
        let mut face_of: Vec<Option<usize>> = vec![None; faces.len()];
        for (_, t, f) in pairs {
            if !track_used[t] && face_of[f].is_none() {
                track_used[t] = true;
                face_of[f] = Some(t);
            }
        }
        for (face, track) in faces.into_iter().zip(face_of) {
            match track {
                Some(t) => self.extend(t, at_ms, face),
                None => self.start(at_ms, face),
            }
        }
        stale.into_iter().map(|o| o.track).collect()
    }

    /// The tracks still open, each with its latest face and when that was.
    pub fn open(&self) -> impl Iterator<Item = (&FaceTrack, BBox, i64)> {
        self.open.iter().map(|o| (&o.track, o.last, o.last_ms))
    }

    /// Ends every open track (the end of the footage or segment).
    pub fn finish(&mut self) -> Vec<FaceTrack> {
        self.open.drain(..).map(|o| o.track).collect()
    }

    fn start(&mut self, at_ms: i64, face: Observation) {
        self.opened += 1;
        let mut track = FaceTrack {
            no: self.opened,
            start_ms: at_ms,
            end_ms: at_ms,
            frames: 0,
            max_px: 0.0,
            best: vec![Vec::new(); self.persons],
            thumbnails: vec![None; self.persons],
        };
        record(&mut track, at_ms, &face);
        self.open.push(Open {
            track,
            last: face.bbox,
            velocity: (0.0, 0.0),
            last_ms: at_ms,
        });
    }

    fn extend(&mut self, t: usize, at_ms: i64, face: Observation) {
        let o = &mut self.open[t];
        let dt = (at_ms - o.last_ms).max(1) as f32;
        let (ax, ay) = centre(&o.last);
        let (bx, by) = centre(&face.bbox);
        o.velocity = ((bx - ax) / dt, (by - ay) / dt);
        o.last = face.bbox;
        o.last_ms = at_ms;
        record(&mut o.track, at_ms, &face);
    }
}

fn record(track: &mut FaceTrack, at_ms: i64, face: &Observation) {
    let px = side(&face.bbox);
    track.end_ms = at_ms;
    track.frames += 1;
    track.max_px = track.max_px.max(px);
    for (p, distance) in face.distances.iter().enumerate() {
        let Some(distance) = *distance else {
            continue;
        };
        let best = &mut track.best[p];
        let closest = best.first().is_none_or(|b| distance < b.distance);
        best.push(Sample {
            at_ms,
            distance,
            face_px: px,
        });
        best.sort_by(|a, b| a.distance.total_cmp(&b.distance));
        best.truncate(BEST_FACES);
        if closest && face.thumbnail.is_some() {
            track.thumbnails[p] = face.thumbnail.clone();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn face(x: f32, y: f32, size: f32, d: f32) -> Observation {
        Observation {
            bbox: BBox {
                x,
                y,
                width: size,
                height: size,
            },
            distances: vec![Some(d)],
            thumbnail: None,
        }
    }

    #[test]
    fn a_walking_face_stays_one_track_and_keeps_its_best_faces() {
        let mut tracker = FaceTracker::new(1, 1500);
        // 60 px face walking right ~50 px per sample: boxes barely overlap.
        for (i, d) in [0.70, 0.62, 0.55, 0.58, 0.66].iter().enumerate() {
            let ended = tracker.observe(
                i as i64 * 500,
                vec![face(100.0 + 50.0 * i as f32, 200.0, 60.0, *d)],
            );
            assert!(ended.is_empty());
        }
        let tracks = tracker.finish();
        assert_eq!(tracks.len(), 1);
        let t = &tracks[0];
        assert_eq!((t.start_ms, t.end_ms, t.frames), (0, 2000, 5));
        let best: Vec<f32> = t.best[0].iter().map(|s| s.distance).collect();
        assert_eq!(best, vec![0.55, 0.58, 0.62]);
        assert!((t.distance(0).unwrap() - 0.5833).abs() < 1e-3);
    }

    #[test]
    fn two_people_passing_in_opposite_directions_keep_their_tracks() {
        let mut tracker = FaceTracker::new(1, 1500);
        for i in 0..6 {
            let step = 60.0 * i as f32;
            tracker.observe(
                i * 500,
                vec![
                    face(100.0 + step, 200.0, 60.0, 0.5),
                    face(700.0 - step, 210.0, 60.0, 0.9),
                ],
            );
        }
        let tracks = tracker.finish();
        assert_eq!(tracks.len(), 2);
        let mut distances: Vec<f32> = tracks.iter().map(|t| t.distance(0).unwrap()).collect();
        distances.sort_by(f32::total_cmp);
        assert!((distances[0] - 0.5).abs() < 1e-5 && (distances[1] - 0.9).abs() < 1e-5);
    }

    #[test]
    fn a_gap_or_a_jump_in_size_starts_a_new_track() {
        let mut tracker = FaceTracker::new(1, 1000);
        tracker.observe(0, vec![face(100.0, 100.0, 60.0, 0.6)]);
        let ended = tracker.observe(3000, vec![face(100.0, 100.0, 60.0, 0.6)]);
        assert_eq!(ended.len(), 1, "unseen for longer than the gap");
        tracker.observe(3500, vec![face(100.0, 100.0, 200.0, 0.6)]);
        assert_eq!(
            tracker.finish().len(),
            2,
            "a face three times larger is someone else"
        );
    }

    #[test]
    fn faces_not_judged_count_as_seen_but_not_as_evidence() {
        let mut tracker = FaceTracker::new(1, 1500);
        let mut unjudged = face(100.0, 100.0, 30.0, 0.0);
        unjudged.distances = vec![None];
        tracker.observe(0, vec![unjudged]);
        let t = &tracker.finish()[0];
        assert_eq!(t.frames, 1);
        assert_eq!(t.distance(0), None);
    }
}
