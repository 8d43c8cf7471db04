//! The frame pipeline every face analyser shares: decode and sample frames on one thread, run
//! the face models and match the faces on another (`scan`), skip frames that show the last
//! analysed picture (moved or not), carry strangers' descriptors along (`face_memory`), and
//! match faces against the enrolled gallery (`matcher`). Searches use it today; people counting
//! and attendance reuse it.

pub mod face_memory;
pub mod matcher;
pub mod scan;
pub mod tracker;
