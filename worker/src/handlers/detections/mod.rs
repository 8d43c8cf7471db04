//! Detection jobs: one camera frame sent for face detection on demand (`frame`) and the
//! provider's test (`test`). Continuous recognition runs inside the camera watcher
//! (`handlers::cameras::faces`).

pub(crate) mod external;
pub mod frame;
pub(crate) mod record;
pub mod test;
