//! Missing-person search end to end, one file per scenario: enrollment, uploads, searches as
//! fan-out jobs, results, control and notifications — real models, real ffmpeg-made videos
//! (`vigil_testkit::media`), real services.

mod appearances;
mod bad_footage;
mod control;
mod enrollment;
mod input;
mod live;
mod sightings;
mod worker_loss;
