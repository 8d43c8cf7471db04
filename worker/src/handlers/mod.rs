//! One handler per job kind; families of kinds in their own folder. Adding a kind is a
//! payload in core (implementing `JobPayload`), a handler here, and one `register` line below.

pub mod attendance;
pub mod cameras;
mod canary;
pub mod detections;
pub(crate) mod email;
pub mod enroll;
mod export;
mod maintenance;
pub mod probe;
pub mod search;

use crate::registry::Registry;

/// Every kind this worker can run.
pub fn registry() -> Registry {
    let mut r = Registry::default();
    r.register::<email::SendEmail>()
        .register::<export::Export>()
        .register::<canary::Canary>()
        .register::<maintenance::Cleanup>()
        .register::<maintenance::HealthCheck>()
        .register::<enroll::Enroll>()
        .register::<probe::Probe>()
        .register::<search::parent::Search>()
        .register::<search::segment::SearchSegment>()
        .register::<search::live::SearchLive>()
        .register::<cameras::check::TestConnection>()
        .register::<cameras::snapshot::Snapshot>()
        .register::<cameras::watch::Watch>()
        .register::<attendance::recognize::Recognize>()
        .register::<detections::frame::SendFrame>()
        .register::<detections::test::TestProvider>();
    r
}

#[cfg(test)]
mod tests {
    use vigil_core::jobs::kinds;

    #[test]
    fn every_kind_has_a_handler() {
        let registry = super::registry();
        let mut registered: Vec<&str> = registry.kinds().collect();
        registered.sort_unstable();
        let mut all: Vec<&str> = kinds::ALL.iter().map(|k| k.name).collect();
        all.sort_unstable();
        assert_eq!(registered, all);
    }
}
