//! The job kinds Vigil knows: which queue each runs on, how often it may be attempted, and
//! whether it can pause. Queues let ops scale and pause kinds of work separately.

#[derive(Debug)]
pub struct KindSpec {
    pub name: &'static str,
    pub queue: &'static str,
    pub max_attempts: i32,
    /// Checkpoints its progress, so pause/resume continues instead of starting over.
    pub pausable: bool,
}

pub const EMAIL: KindSpec = KindSpec {
    name: "email",
    queue: "email",
    max_attempts: 5,
    pausable: false,
};

pub const EXPORT: KindSpec = KindSpec {
    name: "export",
    queue: "exports",
    max_attempts: 3,
    pausable: false,
};

/// A diagnostic job that sleeps in steps and can be told to fail or panic: ops use it to check
/// the pipeline end to end (and tests use it for slow, failing and cancellable work).
pub const CANARY: KindSpec = KindSpec {
    name: "canary",
    queue: "default",
    max_attempts: 3,
    pausable: true,
};

/// Retention: deletes old jobs, expired exports (with their objects), old audit rows.
pub const CLEANUP: KindSpec = KindSpec {
    name: "cleanup",
    queue: "maintenance",
    max_attempts: 3,
    pausable: false,
};

/// Records the health of every dependency and raises or resolves alerts.
pub const HEALTH: KindSpec = KindSpec {
    name: "health",
    queue: "maintenance",
    max_attempts: 1,
    pausable: false,
};

pub const ALL: &[&KindSpec] = &[&EMAIL, &EXPORT, &CANARY, &CLEANUP, &HEALTH];

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
