//! From a recognition to a decision: who it is (or `unknown`), and whether it is approved
//! without a reviewer. Pure, so the rule is tested in place.

use uuid::Uuid;

use super::EventStatus;

/// A face must be at least this much closer to the person than to anyone else enrolled to be
/// approved without review (the search's margin, `searches::DEFAULT_MIN_MARGIN`).
pub const MIN_MARGIN: f32 = crate::searches::DEFAULT_MIN_MARGIN;

#[derive(Debug, Clone, Copy)]
pub struct Thresholds {
    /// At or above: approved without review.
    pub auto_approve: f32,
    /// Below: unknown.
    pub min: f32,
}

impl Thresholds {
    pub fn from_config(config: &crate::Config) -> Self {
        Self {
            auto_approve: config.attendance_auto_approve_confidence,
            min: config.attendance_min_confidence,
        }
    }
}

/// The nearest enrolled person to a face.
#[derive(Debug, Clone, PartialEq)]
pub struct Recognition {
    pub person: Uuid,
    /// Descriptor distance; `None` when an external provider recognised the face (it reports
    /// a confidence only).
    pub distance: Option<f32>,
    /// `similarity(distance)` of the models (0.5 at the strict threshold, 0.40), or the
    /// external provider's own confidence.
    pub confidence: f32,
    /// Distance to the next enrolled person minus `distance`.
    pub margin: Option<f32>,
    /// Distance to the nearest face a reviewer rejected for this person.
    pub nearest_negative: Option<f32>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Nobody enrolled is close enough.
    Unknown,
    /// `person`, approved at once or waiting for a reviewer (with the reason).
    Match {
        person: Uuid,
        status: EventStatus,
        review_reason: Option<String>,
    },
}

pub fn decide(recognition: Option<&Recognition>, t: Thresholds) -> Decision {
    let Some(r) = recognition.filter(|r| r.confidence >= t.min) else {
        return Decision::Unknown;
    };
    let pending = |reason: String| Decision::Match {
        person: r.person,
        status: EventStatus::Pending,
        review_reason: Some(reason),
    };
    if let (Some(negative), Some(distance)) = (r.nearest_negative, r.distance)
        && negative <= distance
    {
        return pending(
            "the face is closer to a capture a reviewer rejected for this person than to their photos"
                .into(),
        );
    }
    if r.confidence < t.auto_approve {
        return pending(format!(
            "confidence {:.2} is below the auto-approve confidence {:.2}",
            r.confidence, t.auto_approve
        ));
    }
    if r.margin.is_some_and(|m| m < MIN_MARGIN) {
        return pending(format!(
            "another enrolled person is almost as close (margin {:.2})",
            r.margin.unwrap_or_default()
        ));
    }
    Decision::Match {
        person: r.person,
        status: EventStatus::Approved,
        review_reason: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Thresholds = Thresholds {
        auto_approve: 0.9,
        min: 0.3,
    };

    fn rec(confidence: f32) -> Recognition {
        Recognition {
            person: Uuid::nil(),
            distance: Some(0.2),
            confidence,
            margin: Some(0.3),
            nearest_negative: None,
        }
    }

    fn status(d: &Decision) -> Option<EventStatus> {
        match d {
            Decision::Unknown => None,
            Decision::Match { status, .. } => Some(*status),
        }
    }

    #[test]
    fn confidence_bands() {
        assert_eq!(decide(None, T), Decision::Unknown);
        assert_eq!(decide(Some(&rec(0.29)), T), Decision::Unknown);
        assert_eq!(
            status(&decide(Some(&rec(0.3)), T)),
            Some(EventStatus::Pending)
        );
        assert_eq!(
            status(&decide(Some(&rec(0.89)), T)),
            Some(EventStatus::Pending)
        );
        assert_eq!(
            status(&decide(Some(&rec(0.9)), T)),
            Some(EventStatus::Approved)
        );
    }

    #[test]
    fn a_rejected_lookalike_or_a_close_runner_up_needs_review() {
        let mut r = rec(0.99);
        r.nearest_negative = Some(0.05);
        assert_eq!(status(&decide(Some(&r), T)), Some(EventStatus::Pending));
        // A negative farther than the person's own photos does not hold it back.
        r.nearest_negative = Some(0.5);
        assert_eq!(status(&decide(Some(&r), T)), Some(EventStatus::Approved));
        r.margin = Some(0.01);
        assert_eq!(status(&decide(Some(&r), T)), Some(EventStatus::Pending));
    }
}
