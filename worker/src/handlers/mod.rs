//! One handler per job kind.

mod canary;
mod email;
mod export;
mod maintenance;

use std::collections::HashMap;
use std::sync::Arc;

use vigil_core::jobs::kinds;

use crate::context::Handler;

/// Every kind this worker can run.
pub fn registry() -> HashMap<&'static str, Arc<dyn Handler>> {
    let mut handlers: HashMap<&'static str, Arc<dyn Handler>> = HashMap::new();
    handlers.insert(kinds::EMAIL.name, Arc::new(email::SendEmail));
    handlers.insert(kinds::EXPORT.name, Arc::new(export::Export));
    handlers.insert(kinds::CANARY.name, Arc::new(canary::Canary));
    handlers.insert(kinds::CLEANUP.name, Arc::new(maintenance::Cleanup));
    handlers.insert(kinds::HEALTH.name, Arc::new(maintenance::HealthCheck));
    handlers
}
