//! What clients send for a camera, checked in one place for `POST`, `PUT` and every row of an
//! import: each problem is reported with the field it is about, and an import reports every
//! row's problems at once.

use std::collections::HashSet;

use serde::Serialize;

use super::roi::{Roi, RoiPoint};
use super::{CREDENTIAL_SEAL, Camera, HIDDEN, STREAM_URL_SEAL, StreamType};
use crate::auth::Sealer;
use crate::egress::EgressPolicy;
use crate::error::Error;

const MAX_NAME: usize = 200;
const MAX_CREDENTIAL: usize = 256;
const MAX_TAGS: usize = 20;
const MAX_TAG: usize = 50;

/// A camera as a client describes it. `None` leaves a setting at its default (create) or as
/// it is (update).
#[derive(Debug, Clone, Default)]
pub struct CameraDraft {
    pub id: Option<String>,
    pub name: String,
    pub location: Option<String>,
    pub stream_type: StreamType,
    pub stream_url: String,
    /// `""` removes it.
    pub username: Option<String>,
    /// `""` removes it; `***` (what reads show) keeps the stored one.
    pub password: Option<String>,
    pub tags: Option<Vec<String>>,
    pub enabled: Option<bool>,
    pub sample_fps: Option<f64>,
    pub min_confidence: Option<f32>,
    /// Recognise enrolled faces on this camera (attendance) beside counting.
    pub face_recognition: Option<bool>,
    /// Frames per second the face analyser looks at.
    pub face_sample_fps: Option<f64>,
    /// `Some(empty)` removes the region.
    pub roi: Option<Vec<RoiPoint>>,
}

// `text_enum!` owns the derive list, so the default is written out.
#[allow(clippy::derivable_impls)]
impl Default for StreamType {
    fn default() -> Self {
        StreamType::Rtsp
    }
}

/// One problem with one field.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldError {
    pub field: &'static str,
    pub issue: String,
}

impl FieldError {
    pub fn new(field: &'static str, issue: impl Into<String>) -> Self {
        Self {
            field,
            issue: issue.into(),
        }
    }
}

impl From<FieldError> for Error {
    fn from(e: FieldError) -> Self {
        Error::validation(e.field, e.issue)
    }
}

/// An import row's problems.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RowErrors {
    /// 0-based position in the file.
    pub index: usize,
    pub id: Option<String>,
    pub errors: Vec<FieldError>,
}

/// A draft that passed every check, with its secrets sealed: what the store writes. For the
/// credentials, `None` keeps what is stored and `Some(None)` removes it.
#[derive(Debug, Clone)]
pub struct CheckedCamera {
    pub id: Option<String>,
    pub name: String,
    pub location: String,
    pub stream_type: StreamType,
    pub stream_url: String,
    pub ip_address: Option<String>,
    pub username: Option<Option<String>>,
    pub password: Option<Option<String>>,
    pub tags: Option<Vec<String>>,
    pub enabled: Option<bool>,
    pub sample_fps: Option<f64>,
    pub min_confidence: Option<f32>,
    pub face_recognition: Option<bool>,
    pub face_sample_fps: Option<f64>,
    pub roi: Option<Option<serde_json::Value>>,
}

/// Whether `id` may name a camera: it appears in storage keys and URLs.
pub fn valid_id(id: &str) -> bool {
    let mut chars = id.chars();
    id.len() <= 50
        && chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

impl CameraDraft {
    /// Checks the draft; `current` is the stored camera when this updates one. Returns every
    /// problem found, not only the first.
    pub fn check(
        &self,
        egress: &EgressPolicy,
        sealer: &Sealer,
        current: Option<&Camera>,
    ) -> Result<CheckedCamera, Vec<FieldError>> {
        let mut errors = Vec::new();
        let id = self.id.as_deref().map(str::trim).filter(|s| !s.is_empty());
        if let Some(id) = id
            && !valid_id(id)
        {
            errors.push(FieldError::new(
                "id",
                "up to 50 letters, digits, '-' or '_', starting with a letter or digit",
            ));
        }
        let name = self.name.trim();
        if name.is_empty() || name.chars().count() > MAX_NAME {
            errors.push(FieldError::new(
                "name",
                format!("1 to {MAX_NAME} characters"),
            ));
        }
        let location = self.location.as_deref().unwrap_or_default().trim();
        if location.chars().count() > MAX_NAME {
            errors.push(FieldError::new(
                "location",
                format!("at most {MAX_NAME} characters"),
            ));
        }
        let (stream_url, ip_address) = match self.check_url(egress, sealer, current) {
            Ok(url) => url,
            Err(e) => {
                errors.push(e);
                (String::new(), None)
            }
        };
        for (field, value) in [("username", &self.username), ("password", &self.password)] {
            if value
                .as_ref()
                .is_some_and(|v| v.chars().count() > MAX_CREDENTIAL)
            {
                errors.push(FieldError::new(
                    field,
                    format!("at most {MAX_CREDENTIAL} characters"),
                ));
            }
        }
        let tags = self.tags.as_ref().map(|tags| {
            let mut seen = HashSet::new();
            tags.iter()
                .map(|t| t.trim().to_string())
                .filter(|t| seen.insert(t.clone()))
                .collect::<Vec<_>>()
        });
        if let Some(tags) = &tags
            && (tags.len() > MAX_TAGS
                || tags
                    .iter()
                    .any(|t| t.is_empty() || t.chars().count() > MAX_TAG))
        {
            errors.push(FieldError::new(
                "tags",
                format!("at most {MAX_TAGS} tags of 1 to {MAX_TAG} characters"),
            ));
        }
        if let Some(fps) = self.sample_fps
            && !(fps.is_finite() && fps > 0.0 && fps <= 10.0)
        {
            errors.push(FieldError::new(
                "sampleFps",
                "greater than 0 and at most 10",
            ));
        }
        if let Some(fps) = self.face_sample_fps
            && !(fps.is_finite() && fps > 0.0 && fps <= 10.0)
        {
            errors.push(FieldError::new(
                "faceSampleFps",
                "greater than 0 and at most 10",
            ));
        }
        if let Some(c) = self.min_confidence
            && !(c.is_finite() && c > 0.0 && c < 1.0)
        {
            errors.push(FieldError::new(
                "minConfidence",
                "between 0 and 1 (exclusive)",
            ));
        }
        let roi = match &self.roi {
            None => None,
            Some(points) if points.is_empty() => Some(None),
            Some(points) => match Roi::problem(points) {
                Some(issue) => {
                    errors.push(FieldError::new("roi", issue));
                    None
                }
                None => Some(serde_json::to_value(Roi(points.clone())).ok()),
            },
        };
        if !errors.is_empty() {
            return Err(errors);
        }
        let seal = |v: &str| sealer.seal_str(v, CREDENTIAL_SEAL);
        let username = self
            .username
            .as_deref()
            .map(|u| (!u.is_empty()).then(|| seal(u)));
        let password = match self.password.as_deref() {
            None | Some(HIDDEN) => None,
            Some("") => Some(None),
            Some(p) => Some(Some(seal(p))),
        };
        Ok(CheckedCamera {
            id: id.map(str::to_string),
            name: name.to_string(),
            location: location.to_string(),
            stream_type: self.stream_type,
            stream_url,
            ip_address,
            username,
            password,
            tags,
            enabled: self.enabled,
            sample_fps: self.sample_fps,
            min_confidence: self.min_confidence,
            face_recognition: self.face_recognition,
            face_sample_fps: self.face_sample_fps,
            roi,
        })
    }

    /// The sealed URL to store and the address it names. A URL sent back as reads show it
    /// (redacted) keeps the stored one, so a client can `PUT` what it `GET`s.
    fn check_url(
        &self,
        egress: &EgressPolicy,
        sealer: &Sealer,
        current: Option<&Camera>,
    ) -> Result<(String, Option<String>), FieldError> {
        let given = self.stream_url.trim();
        if given.is_empty() {
            return Err(FieldError::new("streamUrl", "a stream URL is required"));
        }
        if let Some(current) = current
            && current.stream_type == self.stream_type
            && given == current.shown_url(sealer)
        {
            return Ok((current.stream_url.clone(), current.ip_address.clone()));
        }
        let url = egress
            .precheck(given)
            .map_err(|e| FieldError::new("streamUrl", e.user_message()))?;
        if !self.stream_type.accepts(url.scheme()) {
            return Err(FieldError::new(
                "streamUrl",
                format!(
                    "a {} camera cannot use a {}:// URL",
                    self.stream_type,
                    url.scheme().as_str()
                ),
            ));
        }
        let ip = url::Url::parse(url.as_str()).ok().and_then(|u| {
            u.host_str()
                .map(|h| h.trim_start_matches('[').trim_end_matches(']').to_string())
        });
        Ok((sealer.seal_str(url.as_str(), STREAM_URL_SEAL), ip))
    }
}

/// Checks every row of an import: each draft, ids repeated in the file, and ids that exist
/// already. Either every row passes or the problems of every failing row come back.
pub fn check_import(
    drafts: &[CameraDraft],
    egress: &EgressPolicy,
    sealer: &Sealer,
    existing: &HashSet<String>,
) -> Result<Vec<CheckedCamera>, Vec<RowErrors>> {
    let mut seen = HashSet::new();
    let mut checked = Vec::with_capacity(drafts.len());
    let mut failed = Vec::new();
    for (index, draft) in drafts.iter().enumerate() {
        let id = draft
            .id
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string);
        let mut errors = match draft.check(egress, sealer, None) {
            Ok(c) => {
                checked.push(c);
                Vec::new()
            }
            Err(errors) => errors,
        };
        if let Some(id) = &id {
            if existing.contains(id) {
                errors.push(FieldError::new("id", format!("camera {id} already exists")));
            } else if !seen.insert(id.clone()) {
                errors.push(FieldError::new(
                    "id",
                    format!("{id} appears twice in the file"),
                ));
            }
        }
        if !errors.is_empty() {
            failed.push(RowErrors { index, id, errors });
        }
    }
    if failed.is_empty() {
        Ok(checked)
    } else {
        Err(failed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Config;

    fn tools() -> (EgressPolicy, Sealer) {
        let config = Config::default();
        (EgressPolicy::new(&config).unwrap(), Sealer::new(&[7u8; 32]))
    }

    fn draft(url: &str) -> CameraDraft {
        CameraDraft {
            name: "Gate".into(),
            stream_type: StreamType::Rtsp,
            stream_url: url.into(),
            ..CameraDraft::default()
        }
    }

    #[test]
    fn a_lan_camera_passes_and_its_secrets_are_sealed() {
        let (egress, sealer) = tools();
        let mut d = draft("rtsp://192.168.1.20:554/stream1");
        d.username = Some("admin".into());
        d.password = Some("s3cret".into());
        let c = d.check(&egress, &sealer, None).unwrap();
        assert_eq!(c.ip_address.as_deref(), Some("192.168.1.20"));
        assert!(!c.stream_url.contains("192.168"));
        let sealed = c.password.unwrap().unwrap();
        assert!(!sealed.contains("s3cret"));
        assert_eq!(sealer.open_str(&sealed, CREDENTIAL_SEAL).unwrap(), "s3cret");
    }

    #[test]
    fn every_problem_is_reported_with_its_field() {
        let (egress, sealer) = tools();
        let mut d = draft("http://169.254.169.254/latest");
        d.id = Some("../x".into());
        d.name = " ".into();
        d.sample_fps = Some(0.0);
        let fields: Vec<&str> = d
            .check(&egress, &sealer, None)
            .unwrap_err()
            .iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(fields, ["id", "name", "streamUrl", "sampleFps"]);
    }

    #[test]
    fn the_url_must_fit_the_stream_type() {
        let (egress, sealer) = tools();
        let err = draft("http://192.168.1.20/live.ts")
            .check(&egress, &sealer, None)
            .unwrap_err();
        assert_eq!(err[0].field, "streamUrl");
        assert!(err[0].issue.contains("RTSP"), "{}", err[0].issue);
    }

    #[test]
    fn imports_report_duplicates_and_existing_ids() {
        let (egress, sealer) = tools();
        let mut a = draft("rtsp://192.168.1.20/a");
        a.id = Some("CAM-01".into());
        let mut b = a.clone();
        b.stream_url = "rtsp://192.168.1.21/b".into();
        let mut c = draft("rtsp://192.168.1.22/c");
        c.id = Some("CAM-09".into());
        let existing = HashSet::from(["CAM-09".to_string()]);
        let errors = check_import(&[a, b, c], &egress, &sealer, &existing).unwrap_err();
        let rows: Vec<usize> = errors.iter().map(|r| r.index).collect();
        assert_eq!(rows, [1, 2]);
    }
}
