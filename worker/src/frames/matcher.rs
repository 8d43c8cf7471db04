//! Matching faces of a frame against the enrolled gallery: every enrolled person is in it, so
//! a face is only attributed to a searched person when it is closer to them than to anyone
//! else enrolled (by the configured margin).

use std::collections::HashMap;

use uuid::Uuid;
use vigil_core::faces::Enrolled;
use vigil_models::{Face, Gallery};

use crate::context::JobError;

/// A face of a frame that may be a searched person.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub person: Uuid,
    pub face: Face,
    pub distance: f32,
    /// Distance to the nearest other enrolled identity minus `distance`.
    pub margin: Option<f32>,
}

pub struct Matcher {
    gallery: Gallery,
    /// Gallery row → profile.
    rows: Vec<Uuid>,
    /// Searched profiles → their missing-person ids.
    searched: HashMap<Uuid, Uuid>,
    /// The searched persons in a fixed order: the order of per-person distances.
    persons: Vec<Uuid>,
    track_threshold: f32,
    min_face_px: f32,
    sighting_distance: f32,
}

impl Matcher {
    /// `searched` maps face-profile ids to missing-person ids.
    pub fn new(
        enrolled: &[Enrolled],
        searched: HashMap<Uuid, Uuid>,
        track_threshold: f32,
        min_face_px: f32,
        sighting_distance: f32,
    ) -> Result<Self, JobError> {
        let mut gallery = Gallery::new(track_threshold);
        let mut rows = Vec::with_capacity(enrolled.len());
        for e in enrolled {
            let Ok(vector) = <[f32; 128]>::try_from(e.vector.as_slice()) else {
                continue;
            };
            gallery
                .enroll(e.profile_id.to_string(), &vector, None)
                .map_err(|e| JobError::Permanent(format!("bad enrolled embedding: {e}")))?;
            rows.push(e.profile_id);
        }
        if !rows.iter().any(|p| searched.contains_key(p)) {
            return Err(JobError::Permanent(
                "none of the searched persons has an enrolled photo".into(),
            ));
        }
        let mut persons: Vec<Uuid> = searched.values().copied().collect();
        persons.sort_unstable();
        persons.dedup();
        Ok(Self {
            gallery,
            rows,
            persons,
            searched,
            track_threshold,
            min_face_px,
            sighting_distance,
        })
    }

    /// A matcher over everyone in the people registry (attendance), every person a candidate
    /// at any distance so the nearest is always known; `None` when nobody is enrolled.
    pub fn for_people(
        gallery: &[vigil_core::people::GalleryEntry],
        min_face_px: f32,
    ) -> Result<Option<Self>, JobError> {
        /// Farther than any two descriptors can be.
        const ANY_DISTANCE: f32 = 10.0;
        if gallery.is_empty() {
            return Ok(None);
        }
        let enrolled: Vec<_> = gallery.iter().map(|g| g.enrolled.clone()).collect();
        let persons = gallery
            .iter()
            .map(|g| (g.enrolled.profile_id, g.person_id))
            .collect();
        Self::new(&enrolled, persons, ANY_DISTANCE, min_face_px, ANY_DISTANCE).map(Some)
    }

    /// The distance below which a face counts towards a searched person.
    pub fn threshold(&self) -> f32 {
        self.track_threshold
    }

    /// Faces within this distance of a searched person may become possible sightings.
    pub fn sighting_distance(&self) -> f32 {
        self.sighting_distance
    }

    /// The searched persons, in the order of [`FrameMatch::distances`].
    pub fn persons(&self) -> &[Uuid] {
        &self.persons
    }

    /// The best face per searched person in one frame, if within the track threshold, and
    /// for every face its distance to each searched person (`None` for faces too small to
    /// judge).
    pub fn frame(&mut self, faces: &[Face]) -> Result<FrameMatch, JobError> {
        let judged: Vec<usize> = (0..faces.len())
            .filter(|&i| faces[i].bbox.width.min(faces[i].bbox.height) >= self.min_face_px)
            .collect();
        let queries: Vec<[f32; 128]> = judged.iter().map(|&i| faces[i].descriptor).collect();
        let distances = self
            .gallery
            .distances(&queries)
            .map_err(|e| JobError::Retryable(format!("matching failed: {e}")))?;
        let mut per_face = vec![vec![None; self.persons.len()]; faces.len()];
        let mut best: HashMap<Uuid, Candidate> = HashMap::new();
        for (&i, row) in judged.iter().zip(distances) {
            // Nearest distance per profile.
            let mut per_profile: HashMap<Uuid, f32> = HashMap::new();
            for (d, profile) in row.iter().zip(&self.rows) {
                let e = per_profile.entry(*profile).or_insert(f32::INFINITY);
                *e = e.min(*d);
            }
            for (profile, person) in &self.searched {
                let Some(&distance) = per_profile.get(profile) else {
                    continue;
                };
                if let Some(p) = self.persons.iter().position(|x| x == person) {
                    let slot = &mut per_face[i][p];
                    *slot = Some(slot.map_or(distance, |d: f32| d.min(distance)));
                }
                if distance > self.track_threshold {
                    continue;
                }
                let other = per_profile
                    .iter()
                    .filter(|(p, _)| *p != profile)
                    .map(|(_, d)| *d)
                    .fold(f32::INFINITY, f32::min);
                let margin = other.is_finite().then_some(other - distance);
                if best.get(person).is_none_or(|b| distance < b.distance) {
                    best.insert(
                        *person,
                        Candidate {
                            person: *person,
                            face: faces[i].clone(),
                            distance,
                            margin,
                        },
                    );
                }
            }
        }
        Ok(FrameMatch {
            candidates: best.into_values().collect(),
            distances: per_face,
        })
    }
}

/// What matching found in one frame.
#[derive(Debug, Clone, Default)]
pub struct FrameMatch {
    /// The best face per searched person within the track threshold.
    pub candidates: Vec<Candidate>,
    /// Per face, its distance to each searched person (in [`Matcher::persons`] order).
    pub distances: Vec<Vec<Option<f32>>>,
}

impl FrameMatch {
    /// Per face, its distance to the nearest searched person (`None`: not judged).
    pub fn nearest(&self) -> Vec<Option<f32>> {
        self.distances
            .iter()
            .map(|d| d.iter().flatten().copied().reduce(f32::min))
            .collect()
    }
}
