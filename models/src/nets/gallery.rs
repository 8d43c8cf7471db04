//! Matching face descriptors against an enrolled gallery held as one matrix: squared
//! distances for a whole batch of queries come from a single matmul,
//! `|q|² + |g|² − 2·q·gᵀ`, with per-identity thresholds.

use candle_core::{Device, Tensor};
use serde::{Deserialize, Serialize};

use super::recognition::DESCRIPTOR_LEN;
use crate::error::{Error, Result};

/// dlib's usual same-person threshold on Euclidean descriptor distance.
pub const DLIB_THRESHOLD: f32 = 0.6;
/// A stricter threshold suited to group photos: on the face-api samples different people come
/// as close as 0.44 while two crops of one face stay under 0.25.
pub const STRICT_THRESHOLD: f32 = 0.4;
/// Distance at which [`similarity`] is 0.5 (the strict threshold).
pub const SIMILARITY_MIDPOINT: f32 = STRICT_THRESHOLD;
/// Steepness of [`similarity`] (distance units per logit).
pub const SIMILARITY_SCALE: f32 = 0.04;

/// Euclidean distance between two descriptors.
pub fn distance(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y) * (x - y))
        .sum::<f32>()
        .sqrt()
}

/// A calibrated similarity in (0, 1): a logistic of the distance, 0.5 at the strict threshold.
/// On the face-api samples two crops of one face (distance < 0.25) score > 0.97, the closest
/// pair of different people (0.44) scores 0.27, and dlib's 0.6 scores < 0.01.
pub fn similarity(distance: f32) -> f32 {
    1.0 / (1.0 + ((distance - SIMILARITY_MIDPOINT) / SIMILARITY_SCALE).exp())
}

/// One gallery hit for a query.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Match {
    /// Identity label given at enrolment.
    pub id: String,
    /// Row of the gallery matrix.
    pub index: usize,
    pub distance: f32,
    pub similarity: f32,
    /// `distance <= threshold` of this identity.
    pub is_match: bool,
}

/// Enrolled descriptors, one row each; several rows may share an identity.
#[derive(Debug, Clone)]
pub struct Gallery {
    ids: Vec<String>,
    thresholds: Vec<f32>,
    rows: Vec<f32>,
    default_threshold: f32,
    /// `[N, 128]` matrix, rebuilt after enrolment.
    matrix: Option<Tensor>,
    norms: Vec<f32>,
}

impl Default for Gallery {
    fn default() -> Self {
        Self::new(DLIB_THRESHOLD)
    }
}

impl Gallery {
    /// An empty gallery whose identities default to `default_threshold`.
    pub fn new(default_threshold: f32) -> Self {
        Gallery {
            ids: Vec::new(),
            thresholds: Vec::new(),
            rows: Vec::new(),
            default_threshold,
            matrix: None,
            norms: Vec::new(),
        }
    }

    /// Number of enrolled descriptors.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// True when nothing is enrolled.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Adds a descriptor for `id`; `threshold` overrides the default for this row. Rejects
    /// non-finite descriptors, which would poison every distance.
    pub fn enroll(
        &mut self,
        id: impl Into<String>,
        descriptor: &[f32; DESCRIPTOR_LEN],
        threshold: Option<f32>,
    ) -> Result<usize> {
        if descriptor.iter().any(|v| !v.is_finite()) {
            return Err(Error::Input("descriptor has non-finite values".into()));
        }
        self.ids.push(id.into());
        self.thresholds
            .push(threshold.unwrap_or(self.default_threshold));
        self.rows.extend_from_slice(descriptor);
        self.norms.push(descriptor.iter().map(|v| v * v).sum());
        self.matrix = None;
        Ok(self.ids.len() - 1)
    }

    /// Sets the threshold of every row enrolled under `id`.
    pub fn set_threshold(&mut self, id: &str, threshold: f32) {
        for (i, t) in self.ids.iter().zip(self.thresholds.iter_mut()) {
            if i == id {
                *t = threshold;
            }
        }
    }

    fn matrix(&mut self) -> Result<Tensor> {
        if let Some(m) = &self.matrix {
            return Ok(m.clone());
        }
        let m = Tensor::from_slice(&self.rows, (self.ids.len(), DESCRIPTOR_LEN), &Device::Cpu)?;
        self.matrix = Some(m.clone());
        Ok(m)
    }

    /// All query-to-gallery distances, `[queries][gallery rows]`, from one matmul.
    pub fn distances(&mut self, queries: &[[f32; DESCRIPTOR_LEN]]) -> Result<Vec<Vec<f32>>> {
        if queries.is_empty() || self.is_empty() {
            return Ok(vec![Vec::new(); queries.len()]);
        }
        let g = self.matrix()?;
        let flat: Vec<f32> = queries.iter().flatten().copied().collect();
        let q = Tensor::from_vec(flat, (queries.len(), DESCRIPTOR_LEN), &Device::Cpu)?;
        let dots = q.matmul(&g.t()?)?.to_vec2::<f32>()?;
        Ok(dots
            .into_iter()
            .zip(queries)
            .map(|(row, qv)| {
                let qn: f32 = qv.iter().map(|v| v * v).sum();
                row.iter()
                    .zip(&self.norms)
                    .map(|(d, gn)| (qn + gn - 2.0 * d).max(0.0).sqrt())
                    .collect()
            })
            .collect())
    }

    /// The `k` nearest gallery rows for each query, nearest first.
    pub fn best_k(
        &mut self,
        queries: &[[f32; DESCRIPTOR_LEN]],
        k: usize,
    ) -> Result<Vec<Vec<Match>>> {
        let dists = self.distances(queries)?;
        Ok(dists
            .into_iter()
            .map(|row| {
                let mut idx: Vec<usize> = (0..row.len()).collect();
                idx.sort_by(|&a, &b| row[a].total_cmp(&row[b]));
                idx.truncate(k);
                idx.into_iter()
                    .map(|i| Match {
                        id: self.ids[i].clone(),
                        index: i,
                        distance: row[i],
                        similarity: similarity(row[i]),
                        is_match: row[i] <= self.thresholds[i],
                    })
                    .collect()
            })
            .collect())
    }

    /// The best match under its identity's threshold for each query, if any.
    pub fn identify(&mut self, queries: &[[f32; DESCRIPTOR_LEN]]) -> Result<Vec<Option<Match>>> {
        Ok(self
            .best_k(queries, usize::MAX)?
            .into_iter()
            .map(|ms| ms.into_iter().find(|m| m.is_match))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn desc(seed: u32) -> [f32; DESCRIPTOR_LEN] {
        let mut d = [0f32; DESCRIPTOR_LEN];
        for (i, v) in d.iter_mut().enumerate() {
            *v = (((i as u32).wrapping_mul(2654435761) ^ seed.wrapping_mul(40503)) % 1000) as f32
                / 4000.0;
        }
        d
    }

    #[test]
    fn matmul_distances_equal_direct_ones() -> Result<()> {
        let mut g = Gallery::new(0.5);
        for s in 0..5 {
            g.enroll(format!("p{s}"), &desc(s), None)?;
        }
        let qs = [desc(1), desc(7)];
        let d = g.distances(&qs)?;
        for (qi, q) in qs.iter().enumerate() {
            for s in 0..5 {
                assert!((d[qi][s as usize] - distance(q, &desc(s))).abs() < 1e-3);
            }
        }
        let best = g.best_k(&qs, 2)?;
        assert_eq!(best[0][0].id, "p1");
        assert!(best[0][0].is_match && best[0][0].distance < 1e-3);
        assert_eq!(best[0].len(), 2);
        Ok(())
    }

    #[test]
    fn per_identity_threshold_applies() -> Result<()> {
        let mut g = Gallery::new(-1.0);
        g.enroll("a", &desc(1), Some(100.0))?;
        g.enroll("b", &desc(2), None)?;
        let m = g.identify(&[desc(2)])?;
        // "b" is nearest but its threshold rejects everything; "a" accepts anything.
        assert_eq!(m[0].as_ref().map(|m| m.id.as_str()), Some("a"));
        assert!(g.enroll("nan", &[f32::NAN; DESCRIPTOR_LEN], None).is_err());
        assert!(Gallery::default().best_k(&[desc(1)], 3)?[0].is_empty());
        Ok(())
    }

    #[test]
    fn similarity_is_monotone() {
        assert!(similarity(0.2) > 0.95);
        assert!((similarity(SIMILARITY_MIDPOINT) - 0.5).abs() < 1e-6);
        assert!(similarity(0.6) < 0.1);
    }
}
