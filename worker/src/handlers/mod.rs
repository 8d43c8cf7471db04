//! One handler per job kind.

mod canary;
mod email;
pub mod enroll;
mod export;
mod maintenance;
pub mod probe;

use std::collections::HashMap;
use std::sync::Arc;

use vigil_core::jobs::kinds;

use crate::context::Handler;
use crate::search;

/// Every kind this worker can run.
pub fn registry() -> HashMap<&'static str, Arc<dyn Handler>> {
    let mut handlers: HashMap<&'static str, Arc<dyn Handler>> = HashMap::new();
    handlers.insert(kinds::EMAIL.name, Arc::new(email::SendEmail));
    handlers.insert(kinds::EXPORT.name, Arc::new(export::Export));
    handlers.insert(kinds::CANARY.name, Arc::new(canary::Canary));
    handlers.insert(kinds::CLEANUP.name, Arc::new(maintenance::Cleanup));
    handlers.insert(kinds::HEALTH.name, Arc::new(maintenance::HealthCheck));
    handlers.insert(kinds::FACE_ENROLL.name, Arc::new(enroll::Enroll));
    handlers.insert(kinds::VIDEO_PROBE.name, Arc::new(probe::Probe));
    handlers.insert(kinds::SEARCH.name, Arc::new(search::parent::Search));
    handlers.insert(
        kinds::SEARCH_SEGMENT.name,
        Arc::new(search::segment::SearchSegment),
    );
    handlers.insert(kinds::SEARCH_LIVE.name, Arc::new(search::live::SearchLive));
    handlers
}
