//! From a face track to a detection's status. The attendance rule (`attendance::decision`)
//! says whether the nearest enrolled person is the person, and whether without review; this
//! adds what a camera needs on top: a face nobody enrolled resembles is a `visitor` only when
//! it was seen clearly — large enough and in more than one frame — and `unknown` otherwise,
//! since a small or fleeting face proves nothing either way. Pure, so tested in place.

use uuid::Uuid;

use super::DetectionStatus;
use crate::attendance::EventStatus;
use crate::attendance::decision::{self, Decision, Recognition, Thresholds};

/// A stranger's face at least this large (shorter side, source pixels)…
pub const CLEAR_FACE_PX: f32 = 80.0;
/// …seen in at least this many frames is a `visitor`.
pub const CLEAR_FACE_FRAMES: u32 = 2;

/// What is known of one track when it is decided.
#[derive(Debug, Clone)]
pub struct Evidence {
    /// The nearest enrolled person over the track's best faces (`None`: nobody enrolled, or
    /// every face too small to describe).
    pub recognition: Option<Recognition>,
    /// The largest face of the track.
    pub face_px: f32,
    pub frames: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub status: DetectionStatus,
    /// The person the detection names: the recognised one, or the nearest one a reviewer
    /// should look at.
    pub person: Option<Uuid>,
    /// An attendance event to write: the person and whether it waits for review.
    pub attendance: Option<(Uuid, EventStatus)>,
    pub reason: Option<String>,
}

pub fn classify(e: &Evidence, t: Thresholds) -> Verdict {
    match decision::decide(e.recognition.as_ref(), t) {
        Decision::Match {
            person,
            status: EventStatus::Approved,
            ..
        } => Verdict {
            status: DetectionStatus::Authorized,
            person: Some(person),
            attendance: Some((person, EventStatus::Approved)),
            reason: None,
        },
        Decision::Match {
            person,
            status,
            review_reason,
        } => Verdict {
            status: DetectionStatus::Unknown,
            person: Some(person),
            attendance: Some((person, status)),
            reason: review_reason,
        },
        Decision::Unknown => {
            let clear = e.face_px >= CLEAR_FACE_PX && e.frames >= CLEAR_FACE_FRAMES;
            Verdict {
                status: if clear {
                    DetectionStatus::Visitor
                } else {
                    DetectionStatus::Unknown
                },
                person: None,
                attendance: None,
                reason: (!clear).then(|| {
                    format!(
                        "too little seen to tell ({:.0} px, {} frame(s); a visitor needs {CLEAR_FACE_PX:.0} px in {CLEAR_FACE_FRAMES} frames)",
                        e.face_px, e.frames
                    )
                }),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Thresholds = Thresholds {
        auto_approve: 0.9,
        min: 0.3,
    };

    fn evidence(confidence: Option<f32>, face_px: f32, frames: u32) -> Evidence {
        Evidence {
            recognition: confidence.map(|confidence| Recognition {
                person: Uuid::nil(),
                distance: Some(0.2),
                confidence,
                margin: Some(0.3),
                nearest_negative: None,
            }),
            face_px,
            frames,
        }
    }

    #[test]
    fn a_confident_match_is_authorized_and_attends() {
        let v = classify(&evidence(Some(0.95), 120.0, 3), T);
        assert_eq!(v.status, DetectionStatus::Authorized);
        assert_eq!(v.attendance, Some((Uuid::nil(), EventStatus::Approved)));
    }

    #[test]
    fn an_unsure_match_is_unknown_names_the_person_and_waits_for_review() {
        let v = classify(&evidence(Some(0.6), 120.0, 3), T);
        assert_eq!(v.status, DetectionStatus::Unknown);
        assert_eq!(v.person, Some(Uuid::nil()));
        assert_eq!(v.attendance, Some((Uuid::nil(), EventStatus::Pending)));
        assert!(v.reason.unwrap().contains("auto-approve"));
    }

    #[test]
    fn a_stranger_is_a_visitor_only_when_seen_clearly() {
        let clear = classify(&evidence(Some(0.1), 120.0, 3), T);
        assert_eq!(clear.status, DetectionStatus::Visitor);
        assert_eq!((clear.person, clear.attendance), (None, None));
        assert_eq!(
            classify(&evidence(None, 60.0, 5), T).status,
            DetectionStatus::Unknown
        );
        assert_eq!(
            classify(&evidence(None, 150.0, 1), T).status,
            DetectionStatus::Unknown
        );
    }
}
