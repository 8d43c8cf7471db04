//! Cameras: the registry (CRUD, validation, optimistic concurrency, import/export), connection
//! tests and snapshots, watchers that count people, health, and takeover after a crash.

mod connection;
mod counting;
mod health;
mod registry;
mod takeover;
