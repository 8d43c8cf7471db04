//! From per-frame hits to appearances: a person's hits in consecutive sampled frames form a
//! track; a track becomes an appearance when enough of its frames vote for the person. One
//! close-looking frame of a stranger is not enough, a person turning away for a moment does not
//! split an appearance.

use uuid::Uuid;

use super::SearchSettings;

/// The best face of one person in one sampled frame.
#[derive(Debug, Clone, PartialEq)]
pub struct FrameHit {
    pub person: Uuid,
    pub frame_ms: i64,
    pub distance: f32,
    /// How much closer the face is to `person` than to anyone else enrolled.
    pub margin: Option<f32>,
}

impl FrameHit {
    pub fn votes(&self, s: &SearchSettings) -> bool {
        self.distance <= s.threshold && self.margin.is_none_or(|m| m >= s.min_margin)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Track {
    pub person: Uuid,
    pub start_ms: i64,
    pub end_ms: i64,
    pub frames: u32,
    pub votes: u32,
    /// Index (into the hits given) of the closest voting frame.
    pub best: usize,
}

/// Groups hits into tracks per person (a gap longer than `max_gap_secs` starts a new one) and
/// keeps those with at least `min_votes` voting frames.
pub fn build(hits: &[FrameHit], s: &SearchSettings) -> Vec<Track> {
    let mut order: Vec<usize> = (0..hits.len()).collect();
    order.sort_by_key(|&i| (hits[i].person, hits[i].frame_ms));
    let max_gap_ms = (s.max_gap_secs * 1000.0).round() as i64;
    let mut out = Vec::new();
    let mut current: Option<Track> = None;
    for i in order {
        let hit = &hits[i];
        let votes = hit.votes(s);
        let continues = current
            .as_ref()
            .is_some_and(|t| t.person == hit.person && hit.frame_ms - t.end_ms <= max_gap_ms);
        if !continues {
            out.extend(current.take());
        }
        let track = current.get_or_insert(Track {
            person: hit.person,
            start_ms: hit.frame_ms,
            end_ms: hit.frame_ms,
            frames: 0,
            votes: 0,
            best: i,
        });
        track.end_ms = hit.frame_ms;
        track.frames += 1;
        if votes {
            let best = &hits[track.best];
            if track.votes == 0 || hit.distance < best.distance {
                track.best = i;
            }
            track.votes += 1;
        }
    }
    out.extend(current);
    out.retain(|t| t.votes >= s.min_votes);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hit(person: Uuid, secs: f64, distance: f32) -> FrameHit {
        FrameHit {
            person,
            frame_ms: (secs * 1000.0) as i64,
            distance,
            margin: Some(0.2),
        }
    }

    #[test]
    fn consecutive_votes_make_one_appearance() {
        let p = Uuid::now_v7();
        let s = SearchSettings::default();
        let hits: Vec<_> = (8..18).map(|i| hit(p, i as f64 * 0.5, 0.3)).collect();
        let tracks = build(&hits, &s);
        assert_eq!(tracks.len(), 1);
        assert_eq!((tracks[0].start_ms, tracks[0].end_ms), (4000, 8500));
        assert_eq!(tracks[0].frames, 10);
    }

    #[test]
    fn a_single_close_frame_is_not_an_appearance() {
        let p = Uuid::now_v7();
        let s = SearchSettings::default();
        let hits = vec![hit(p, 3.0, 0.35), hit(p, 20.0, 0.3), hit(p, 20.5, 0.48)];
        assert!(build(&hits, &s).is_empty());
    }

    #[test]
    fn short_gaps_join_and_long_gaps_split() {
        let p = Uuid::now_v7();
        let s = SearchSettings::default();
        let hits = vec![
            hit(p, 1.0, 0.3),
            hit(p, 1.5, 0.3),
            // 1 s gap: same appearance; the weak frame extends it without voting.
            hit(p, 2.5, 0.48),
            hit(p, 3.0, 0.3),
            // 7 s gap: a second appearance.
            hit(p, 10.0, 0.25),
            hit(p, 10.5, 0.33),
        ];
        let tracks = build(&hits, &s);
        assert_eq!(tracks.len(), 2);
        assert_eq!((tracks[0].start_ms, tracks[0].end_ms), (1000, 3000));
        assert_eq!((tracks[0].frames, tracks[0].votes), (4, 3));
        assert_eq!(tracks[1].best, 4);
    }

    #[test]
    fn a_face_closer_to_someone_else_does_not_vote() {
        let p = Uuid::now_v7();
        let s = SearchSettings::default();
        let mut hits = vec![hit(p, 1.0, 0.3), hit(p, 1.5, 0.3)];
        for h in &mut hits {
            h.margin = Some(0.01);
        }
        assert!(build(&hits, &s).is_empty());
    }

    #[test]
    fn people_are_tracked_separately() {
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        let s = SearchSettings::default();
        let hits = vec![
            hit(a, 1.0, 0.3),
            hit(b, 1.0, 0.3),
            hit(a, 1.5, 0.3),
            hit(b, 1.5, 0.3),
        ];
        let tracks = build(&hits, &s);
        assert_eq!(tracks.len(), 2);
        assert_ne!(tracks[0].person, tracks[1].person);
    }
}
