//! The job kinds Vigil knows: which queue each runs on, how often it may be attempted, and
//! whether it can pause. Queues let ops scale and pause kinds of work separately.

#[derive(Debug)]
pub struct KindSpec {
    pub name: &'static str,
    pub queue: &'static str,
    pub max_attempts: i32,
    /// Checkpoints its progress, so pause/resume continues instead of starting over.
    pub pausable: bool,
    /// A parent that runs once more when its children are done (to summarise them) instead of
    /// finishing with their aggregate status.
    pub rerun_after_children: bool,
}

pub const EMAIL: KindSpec = KindSpec {
    name: "email",
    queue: "email",
    max_attempts: 5,
    pausable: false,
    rerun_after_children: false,
};

pub const EXPORT: KindSpec = KindSpec {
    name: "export",
    queue: "exports",
    max_attempts: 3,
    pausable: false,
    rerun_after_children: false,
};

/// A diagnostic job that sleeps in steps and can be told to fail or panic: ops use it to check
/// the pipeline end to end (and tests use it for slow, failing and cancellable work).
pub const CANARY: KindSpec = KindSpec {
    name: "canary",
    queue: "default",
    max_attempts: 3,
    pausable: true,
    rerun_after_children: false,
};

/// Retention: deletes old jobs, expired exports (with their objects), old audit rows.
pub const CLEANUP: KindSpec = KindSpec {
    name: "cleanup",
    queue: "maintenance",
    max_attempts: 3,
    pausable: false,
    rerun_after_children: false,
};

/// Records the health of every dependency and raises or resolves alerts.
pub const HEALTH: KindSpec = KindSpec {
    name: "health",
    queue: "maintenance",
    max_attempts: 1,
    pausable: false,
    rerun_after_children: false,
};

/// Turns one photo into a face embedding (or rejects it with a reason).
pub const FACE_ENROLL: KindSpec = KindSpec {
    name: "face.enroll",
    queue: "vision",
    max_attempts: 3,
    pausable: false,
    rerun_after_children: false,
};

/// Reads an uploaded video's duration, frame rate, size and codec.
pub const VIDEO_PROBE: KindSpec = KindSpec {
    name: "video.probe",
    queue: "vision",
    max_attempts: 3,
    pausable: false,
    rerun_after_children: false,
};

/// A missing-person search: the parent of one child per video segment or live stream; runs
/// again to summarise once they are done.
pub const SEARCH: KindSpec = KindSpec {
    name: "search",
    queue: "search",
    max_attempts: 5,
    pausable: true,
    rerun_after_children: true,
};

/// One time range of one recorded video of a search; checkpoints per frame batch.
pub const SEARCH_SEGMENT: KindSpec = KindSpec {
    name: "search.segment",
    queue: "search",
    max_attempts: 3,
    pausable: true,
    rerun_after_children: false,
};

/// One live stream of a search, watched until the search stops it.
pub const SEARCH_LIVE: KindSpec = KindSpec {
    name: "search.live",
    queue: "live",
    max_attempts: 5,
    pausable: true,
    rerun_after_children: false,
};

/// Opens a camera's stream, decodes a frame and measures latency, bit rate and frame rate.
/// A camera that cannot be reached is a finished test with `success: false`, not a retry.
pub const CAMERA_TEST: KindSpec = KindSpec {
    name: "camera.test",
    queue: "cameras",
    max_attempts: 1,
    pausable: false,
    rerun_after_children: false,
};

/// One decoded frame of a camera as a JPEG in storage.
pub const CAMERA_SNAPSHOT: KindSpec = KindSpec {
    name: "camera.snapshot",
    queue: "cameras",
    max_attempts: 2,
    pausable: false,
    rerun_after_children: false,
};

/// A camera's watcher: holds its stream and feeds the analysers until the camera is disabled.
/// Lost streams are reconnected inside the job; attempts only count crashes.
pub const CAMERA_WATCH: KindSpec = KindSpec {
    name: "camera.watch",
    queue: "live",
    max_attempts: 1000,
    pausable: false,
    rerun_after_children: false,
};

/// Recognises one photo from a capture device (attendance). Its own queue, so captures are not
/// stuck behind enrollment or searches and ops can scale them apart.
pub const ATTENDANCE_RECOGNIZE: KindSpec = KindSpec {
    name: "attendance.recognize",
    queue: "attendance",
    max_attempts: 3,
    pausable: false,
    rerun_after_children: false,
};

/// One camera frame sent for face detection on demand (`POST /detections/send-frame`).
pub const DETECTIONS_FRAME: KindSpec = KindSpec {
    name: "detections.frame",
    queue: "cameras",
    max_attempts: 3,
    pausable: false,
    rerun_after_children: false,
};

/// The detection provider's test: the models answer on a probe image, and how fast.
pub const DETECTIONS_TEST: KindSpec = KindSpec {
    name: "detections.test",
    queue: "cameras",
    max_attempts: 1,
    pausable: false,
    rerun_after_children: false,
};

pub const ALL: &[&KindSpec] = &[
    &EMAIL,
    &EXPORT,
    &CANARY,
    &CLEANUP,
    &HEALTH,
    &FACE_ENROLL,
    &VIDEO_PROBE,
    &SEARCH,
    &SEARCH_SEGMENT,
    &SEARCH_LIVE,
    &CAMERA_TEST,
    &CAMERA_SNAPSHOT,
    &CAMERA_WATCH,
    &ATTENDANCE_RECOGNIZE,
    &DETECTIONS_FRAME,
    &DETECTIONS_TEST,
];

pub fn by_name(name: &str) -> Option<&'static KindSpec> {
    ALL.iter().copied().find(|k| k.name == name)
}

/// Every queue, in a stable order.
pub fn queues() -> Vec<&'static str> {
    let mut queues: Vec<&'static str> = ALL.iter().map(|k| k.queue).collect();
    queues.sort_unstable();
    queues.dedup();
    queues
}

/// Kinds whose parents run again after their children (see `rerun_after_children`).
pub fn rerun_after_children() -> Vec<&'static str> {
    ALL.iter()
        .filter(|k| k.rerun_after_children)
        .map(|k| k.name)
        .collect()
}
