//! Object keys: every key Vigil writes is built here, from a typed description of the object,
//! so the layout (DESIGN §5) is in one place, and lifecycle rules and retention name the same
//! prefixes as the code that writes them.

use std::fmt;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::error::{Error, Result};
use crate::exports::ExportFormat;

/// The kinds of object, each under its own prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// Enrollment photos.
    Faces,
    /// Uploaded footage.
    Videos,
    /// Thumbnails of search hits.
    Frames,
    /// Camera snapshots.
    Snapshots,
    /// Recorded camera segments.
    Recordings,
    /// Export files (expire after `VIGIL_EXPORT_TTL_DAYS`).
    Exports,
    /// Objects the canary job writes to prove storage works.
    Canary,
    /// Photos sent by capture devices for attendance.
    Captures,
    /// Faces cameras saw (live detections).
    Detections,
}

impl KeyKind {
    pub const fn prefix(self) -> &'static str {
        match self {
            KeyKind::Faces => "faces/",
            KeyKind::Videos => "videos/",
            KeyKind::Frames => "frames/",
            KeyKind::Snapshots => "snapshots/",
            KeyKind::Recordings => "recordings/",
            KeyKind::Exports => "exports/",
            KeyKind::Canary => "canary/",
            KeyKind::Captures => "captures/",
            KeyKind::Detections => "detections/",
        }
    }
}

/// One object, described by what it is.
#[derive(Debug, Clone)]
pub enum ObjectKey {
    /// `faces/{profile}/{photo}.{jpg|png}`
    FacePhoto {
        profile: Uuid,
        photo: Uuid,
        extension: &'static str,
    },
    /// `videos/{id}.video`: never the uploader's extension, which FFmpeg would take as a hint
    /// of the format (an uploaded `.m3u8` would be opened as a playlist).
    Video { id: Uuid },
    /// `frames/{search}/{video}/{person}/{frame_ms}.jpg`
    SearchFrame {
        search: Uuid,
        video: Uuid,
        person: Uuid,
        frame_ms: i64,
    },
    /// `frames/{search}/{video}/{person}/t{start_ms}-{track}.jpg`: the closest face of a face
    /// track (possible sightings).
    TrackFace {
        search: Uuid,
        video: Uuid,
        person: Uuid,
        start_ms: i64,
        track: u32,
    },
    /// `snapshots/{camera}/{unix ms}.jpg`
    Snapshot { camera: String, at: DateTime<Utc> },
    /// `recordings/{camera}/{yyyy-mm-dd}/{segment}.mp4`
    Recording {
        camera: String,
        at: DateTime<Utc>,
        segment: u32,
    },
    /// `exports/{job}.{csv|pdf}`: a retried export replaces its own file.
    Export { job: Uuid, format: ExportFormat },
    /// `canary/{job}.txt`
    Canary { job: Uuid },
    /// `captures/{yyyy-mm-dd}/{capture}.{jpg|png}`: by day, so retention deletes whole days.
    Capture {
        capture: Uuid,
        at: DateTime<Utc>,
        extension: &'static str,
    },
    /// `detections/{camera}/{yyyy-mm-dd}/{detection}.jpg`: the face a camera saw.
    DetectionFace {
        camera: String,
        at: DateTime<Utc>,
        detection: Uuid,
    },
}

impl ObjectKey {
    pub fn kind(&self) -> KeyKind {
        match self {
            ObjectKey::FacePhoto { .. } => KeyKind::Faces,
            ObjectKey::Video { .. } => KeyKind::Videos,
            ObjectKey::SearchFrame { .. } | ObjectKey::TrackFace { .. } => KeyKind::Frames,
            ObjectKey::Snapshot { .. } => KeyKind::Snapshots,
            ObjectKey::Recording { .. } => KeyKind::Recordings,
            ObjectKey::Export { .. } => KeyKind::Exports,
            ObjectKey::Canary { .. } => KeyKind::Canary,
            ObjectKey::Capture { .. } => KeyKind::Captures,
            ObjectKey::DetectionFace { .. } => KeyKind::Detections,
        }
    }
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let prefix = self.kind().prefix();
        match self {
            ObjectKey::FacePhoto {
                profile,
                photo,
                extension,
            } => write!(f, "{prefix}{profile}/{photo}.{extension}"),
            ObjectKey::Video { id } => write!(f, "{prefix}{id}.video"),
            ObjectKey::SearchFrame {
                search,
                video,
                person,
                frame_ms,
            } => write!(f, "{prefix}{search}/{video}/{person}/{frame_ms}.jpg"),
            ObjectKey::TrackFace {
                search,
                video,
                person,
                start_ms,
                track,
            } => write!(
                f,
                "{prefix}{search}/{video}/{person}/t{start_ms}-{track}.jpg"
            ),
            ObjectKey::Snapshot { camera, at } => {
                write!(f, "{prefix}{camera}/{}.jpg", at.timestamp_millis())
            }
            ObjectKey::Recording {
                camera,
                at,
                segment,
            } => write!(
                f,
                "{prefix}{camera}/{}/{segment:06}.mp4",
                at.format("%Y-%m-%d")
            ),
            ObjectKey::Export { job, format } => write!(f, "{prefix}{job}.{format}"),
            ObjectKey::Canary { job } => write!(f, "{prefix}{job}.txt"),
            ObjectKey::Capture {
                capture,
                at,
                extension,
            } => write!(f, "{prefix}{}/{capture}.{extension}", at.format("%Y-%m-%d")),
            ObjectKey::DetectionFace {
                camera,
                at,
                detection,
            } => write!(
                f,
                "{prefix}{camera}/{}/{detection}.jpg",
                at.format("%Y-%m-%d")
            ),
        }
    }
}

/// Object keys are generated by Vigil (`faces/{profile}/{image}.jpg`, …); anything outside a
/// conservative alphabet, or trying to climb out of its prefix, is refused before it reaches a
/// filesystem path or an S3 request.
pub fn validate_key(key: &str) -> Result<()> {
    let ok = !key.is_empty()
        && key.len() <= 1024
        && key.split('/').all(|segment| {
            !segment.is_empty()
                && segment != "."
                && segment != ".."
                && segment
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '=' | '+'))
        });
    if ok {
        Ok(())
    } else {
        Err(Error::validation(
            "key",
            format!("invalid object key {key:?}"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_is_valid_and_under_its_prefix() {
        let id = Uuid::now_v7();
        let keys = [
            ObjectKey::FacePhoto {
                profile: id,
                photo: id,
                extension: "jpg",
            },
            ObjectKey::Video { id },
            ObjectKey::SearchFrame {
                search: id,
                video: id,
                person: id,
                frame_ms: 4500,
            },
            ObjectKey::TrackFace {
                search: id,
                video: id,
                person: id,
                start_ms: 4500,
                track: 3,
            },
            ObjectKey::Snapshot {
                camera: "CAM-01".into(),
                at: Utc::now(),
            },
            ObjectKey::Recording {
                camera: "CAM-01".into(),
                at: Utc::now(),
                segment: 7,
            },
            ObjectKey::Export {
                job: id,
                format: ExportFormat::Pdf,
            },
            ObjectKey::Canary { job: id },
            ObjectKey::Capture {
                capture: id,
                at: Utc::now(),
                extension: "jpg",
            },
            ObjectKey::DetectionFace {
                camera: "CAM-01".into(),
                at: Utc::now(),
                detection: id,
            },
        ];
        for key in keys {
            let text = key.to_string();
            validate_key(&text).unwrap();
            assert!(text.starts_with(key.kind().prefix()), "{text}");
        }
    }

    #[test]
    fn minio_lifecycle_expires_the_export_prefix() {
        let rules = include_str!("../../../minio/lifecycle.json");
        assert!(
            rules.contains(&format!("\"Prefix\": \"{}\"", KeyKind::Exports.prefix())),
            "minio/lifecycle.json must expire {}",
            KeyKind::Exports.prefix()
        );
    }

    #[test]
    fn accepts_generated_keys_and_refuses_escapes() {
        assert!(validate_key("faces/0192/abc.jpg").is_ok());
        assert!(validate_key("recordings/cam-1/2026-11-21/0001.mp4").is_ok());
        for bad in [
            "",
            "/abs",
            "a//b",
            "../etc/passwd",
            "a/../b",
            "a/./b",
            "a\\b",
            "sp ace",
            "ü",
        ] {
            assert!(validate_key(bad).is_err(), "{bad:?} accepted");
        }
    }
}
