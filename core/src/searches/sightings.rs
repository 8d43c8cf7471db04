//! Possible sightings: faces too small or too poor to confirm, but nearer the searched person
//! than the footage's other faces. At ~60 px one frame's descriptor cannot separate a person
//! from a stranger (docs/search.md), so a face is judged over its whole track (the mean of its
//! best faces) and against the other tracks of the same video (cohort normalisation): footage
//! where every face looks a bit alike to the person raises the bar, footage where one track
//! stands out lowers it. What passes is never an appearance: it is a ranked list for a
//! reviewer to confirm or dismiss.
//!
//! The list is for faces the model cannot judge, so its latitude shrinks as faces grow: from
//! [`CONFIRMABLE_PX`] up the person's own faces land near the threshold even when dim or
//! blurred (0.14–0.18 clear, 0.53 under a 3 px blur at 100 px), while a stranger's clear face
//! that merely resembles them more than the crowd does lands at 0.6 and beyond.

use uuid::Uuid;

/// Fewer other tracks than this and the cohort says too little: an absolute bound decides.
pub const MIN_COHORT: usize = 4;
/// How far below the other tracks a track must lie, in robust standard deviations.
pub const MIN_STANDOUT: f32 = 2.0;
/// Without a cohort, the absolute bound is this much tighter than the sighting bound.
const NO_COHORT_TIGHTENING: f32 = 0.1;
/// Face size (shorter box side, pixels) from which the recognition model is reliable (vendors'
/// ~30 px between the eyes); tracks that reached it get half the latitude beyond the threshold.
pub const CONFIRMABLE_PX: f32 = 80.0;

/// How far from the person a track may lie and still be shown.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bounds {
    /// The search's appearance threshold (closer tracks would have been appearances).
    pub threshold: f32,
    /// The farthest a small or poor face may lie.
    pub max_distance: f32,
}

impl Bounds {
    /// The bound for a track whose largest face was `face_px`.
    pub fn for_face(&self, face_px: f32) -> f32 {
        if face_px >= CONFIRMABLE_PX {
            self.threshold + (self.max_distance - self.threshold) / 2.0
        } else {
            self.max_distance
        }
    }
}

/// One track of a video, judged against one searched person.
#[derive(Debug, Clone, PartialEq)]
pub struct TrackEvidence {
    pub id: Uuid,
    /// Mean distance of the track's best faces to the person.
    pub distance: f32,
    /// The track's largest face (shorter box side, pixels).
    pub face_px: f32,
    /// Whether the track lies inside one of the person's appearances in this video (then it is
    /// already reported, as confirmed).
    pub in_appearance: bool,
}

/// A track that is a possible sighting, with its rank among the video's sightings of the
/// person (1 = most likely) and how far it stands out (negative: closer than the others).
#[derive(Debug, Clone, PartialEq)]
pub struct Sighting {
    pub id: Uuid,
    pub rank: u32,
    pub standout: f32,
}

/// Median and scaled median absolute deviation (a standard deviation robust to the one track
/// that is the person).
fn robust_spread(values: &mut [f32]) -> (f32, f32) {
    let median = median_of(values);
    let mut deviations: Vec<f32> = values.iter().map(|v| (v - median).abs()).collect();
    let mad = median_of(&mut deviations);
    (median, (1.4826 * mad).max(0.02))
}

fn median_of(values: &mut [f32]) -> f32 {
    values.sort_by(f32::total_cmp);
    let n = values.len();
    if n == 0 {
        return f32::NAN;
    }
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

/// The possible sightings among one video's tracks for one person, best first. `bounds` limit
/// what may be shown at all (farther faces are not the person however the cohort looks).
pub fn rank(tracks: &[TrackEvidence], bounds: Bounds) -> Vec<Sighting> {
    let mut found: Vec<(Uuid, f32, f32)> = Vec::new();
    for (i, t) in tracks.iter().enumerate() {
        let max_distance = bounds.for_face(t.face_px);
        if t.in_appearance || t.distance > max_distance {
            continue;
        }
        let mut others: Vec<f32> = tracks
            .iter()
            .enumerate()
            .filter(|(j, o)| *j != i && !o.in_appearance)
            .map(|(_, o)| o.distance)
            .collect();
        let standout = if others.len() >= MIN_COHORT {
            let (median, spread) = robust_spread(&mut others);
            (t.distance - median) / spread
        } else if t.distance <= max_distance - NO_COHORT_TIGHTENING {
            // Too few others to compare with: only a distance well inside the bound counts,
            // and it is ranked by distance alone.
            -MIN_STANDOUT - (max_distance - t.distance)
        } else {
            continue;
        };
        if standout <= -MIN_STANDOUT {
            found.push((t.id, standout, t.distance));
        }
    }
    found.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.2.total_cmp(&b.2)));
    found
        .into_iter()
        .enumerate()
        .map(|(i, (id, standout, _))| Sighting {
            id,
            rank: i as u32 + 1,
            standout,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOUNDS: Bounds = Bounds {
        threshold: 0.4,
        max_distance: 0.75,
    };

    fn track(distance: f32) -> TrackEvidence {
        TrackEvidence {
            id: Uuid::now_v7(),
            distance,
            face_px: 60.0,
            in_appearance: false,
        }
    }

    #[test]
    fn the_track_that_stands_out_from_the_crowd_is_a_sighting() {
        let mut tracks: Vec<_> = [0.78, 0.81, 0.74, 0.85, 0.80, 0.77, 0.83]
            .into_iter()
            .map(track)
            .collect();
        let person = track(0.61);
        tracks.push(person.clone());
        let found = rank(&tracks, BOUNDS);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].id, person.id);
        assert_eq!(found[0].rank, 1);
        assert!(found[0].standout < -MIN_STANDOUT);
    }

    #[test]
    fn footage_where_everyone_looks_alike_raises_the_bar() {
        // Every face is as close as the candidate: nothing stands out.
        let tracks: Vec<_> = [0.60, 0.62, 0.61, 0.63, 0.60, 0.62]
            .into_iter()
            .map(track)
            .collect();
        assert!(rank(&tracks, BOUNDS).is_empty());
    }

    #[test]
    fn far_faces_and_confirmed_appearances_are_never_sightings() {
        let mut tracks: Vec<_> = [1.0, 1.05, 0.98, 1.1, 1.02]
            .into_iter()
            .map(track)
            .collect();
        tracks.push(track(0.80));
        assert!(rank(&tracks, BOUNDS).is_empty(), "beyond the bound");
        let mut appearance = track(0.35);
        appearance.in_appearance = true;
        tracks.push(appearance);
        assert!(rank(&tracks, BOUNDS).is_empty(), "already an appearance");
    }

    #[test]
    fn with_few_other_faces_only_a_clearly_close_one_counts() {
        assert!(rank(&[track(0.70), track(0.9)], BOUNDS).is_empty());
        let close = track(0.55);
        let found = rank(&[close.clone(), track(0.9)], BOUNDS);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].id, close.id);
    }

    #[test]
    fn sightings_are_ranked_by_how_far_they_stand_out() {
        let mut tracks: Vec<_> = [0.80, 0.82, 0.79, 0.84, 0.81, 0.83, 0.80]
            .into_iter()
            .map(track)
            .collect();
        let (a, b) = (track(0.58), track(0.68));
        tracks.push(b.clone());
        tracks.push(a.clone());
        let found = rank(&tracks, BOUNDS);
        let ids: Vec<Uuid> = found.iter().map(|s| s.id).collect();
        assert_eq!(ids, vec![a.id, b.id]);
        assert_eq!(found[1].rank, 2);
    }

    #[test]
    fn a_large_face_needs_to_be_nearly_a_match() {
        // Clear strangers at a confirmable size, one resembling the person more than the rest.
        let mut tracks: Vec<_> = [0.80, 0.84, 0.79, 0.86, 0.81]
            .into_iter()
            .map(track)
            .collect();
        let mut resembling = track(0.62);
        resembling.face_px = 110.0;
        tracks.push(resembling.clone());
        assert!(rank(&tracks, BOUNDS).is_empty(), "a stranger's clear face");
        // The person's own blurred face at that size lies near the threshold.
        let mut blurred = track(0.53);
        blurred.face_px = 100.0;
        tracks.push(blurred.clone());
        let found = rank(&tracks, BOUNDS);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].id, blurred.id);
        // The same distance on a small face is within the latitude small faces get.
        resembling.face_px = 60.0;
        assert!(BOUNDS.for_face(resembling.face_px) >= resembling.distance);
    }
}
