//! A camera's region of interest for counting: a polygon in frame coordinates scaled to 0–1
//! (so it survives a change of resolution). A person counts when the centre of their box is
//! inside.

use serde::{Deserialize, Serialize};

/// One corner, `x` from the left and `y` from the top, each 0–1.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct RoiPoint {
    pub x: f64,
    pub y: f64,
}

/// A simple polygon of 3–64 corners.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Roi(pub Vec<RoiPoint>);

impl Roi {
    pub const MAX_POINTS: usize = 64;

    /// Why these corners are not a usable region, if they are not.
    pub fn problem(points: &[RoiPoint]) -> Option<String> {
        if points.len() < 3 || points.len() > Self::MAX_POINTS {
            return Some(format!(
                "a region needs 3 to {} points, not {}",
                Self::MAX_POINTS,
                points.len()
            ));
        }
        let outside = |v: f64| !(v.is_finite() && (0.0..=1.0).contains(&v));
        if points.iter().any(|p| outside(p.x) || outside(p.y)) {
            return Some("point coordinates are fractions of the frame, from 0 to 1".into());
        }
        if area(points).abs() < 1e-6 {
            return Some("the region has no area".into());
        }
        None
    }

    /// Whether the point (`x`, `y`) in frame fractions is inside (even-odd rule).
    pub fn contains(&self, x: f64, y: f64) -> bool {
        let pts = &self.0;
        let mut inside = false;
        let mut j = pts.len().wrapping_sub(1);
        for i in 0..pts.len() {
            let (a, b) = (pts[i], pts[j]);
            if (a.y > y) != (b.y > y) && x < (b.x - a.x) * (y - a.y) / (b.y - a.y) + a.x {
                inside = !inside;
            }
            j = i;
        }
        inside
    }
}

/// Signed area (shoelace).
fn area(points: &[RoiPoint]) -> f64 {
    let n = points.len();
    (0..n)
        .map(|i| {
            let (a, b) = (points[i], points[(i + 1) % n]);
            a.x * b.y - b.x * a.y
        })
        .sum::<f64>()
        / 2.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pts(list: &[(f64, f64)]) -> Vec<RoiPoint> {
        list.iter().map(|&(x, y)| RoiPoint { x, y }).collect()
    }

    #[test]
    fn left_half_contains_left_points_only() {
        let roi = Roi(pts(&[(0.0, 0.0), (0.5, 0.0), (0.5, 1.0), (0.0, 1.0)]));
        assert!(roi.contains(0.25, 0.5));
        assert!(!roi.contains(0.75, 0.5));
        assert!(!roi.contains(0.25, 1.5));
    }

    #[test]
    fn concave_regions_follow_their_outline() {
        // An L: the top-right quarter is outside.
        let roi = Roi(pts(&[
            (0.0, 0.0),
            (0.5, 0.0),
            (0.5, 0.5),
            (1.0, 0.5),
            (1.0, 1.0),
            (0.0, 1.0),
        ]));
        assert!(roi.contains(0.25, 0.25));
        assert!(!roi.contains(0.75, 0.25));
        assert!(roi.contains(0.75, 0.75));
    }

    #[test]
    fn bad_regions_are_explained() {
        assert!(Roi::problem(&pts(&[(0.0, 0.0), (1.0, 1.0)])).is_some());
        assert!(Roi::problem(&pts(&[(0.0, 0.0), (1.5, 0.0), (0.0, 1.0)])).is_some());
        assert!(Roi::problem(&pts(&[(0.0, 0.0), (0.5, 0.5), (1.0, 1.0)])).is_some());
        assert!(Roi::problem(&pts(&[(0.0, 0.0), (1.0, 0.0), (0.0, 1.0)])).is_none());
    }
}
