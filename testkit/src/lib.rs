//! The integration-test kit: a Vigil app per test ([`TestApp`]) against the real services
//! (see scripts/test.sh), a caller that speaks the API ([`Caller`]), and helpers by domain
//! (jobs, missing persons, videos, search, media, mail) so a feature's tests state only what
//! they check. docs/architecture.md ("Tests") shows how a new feature's tests use it.

pub use reqwest;

mod app;
pub mod attendance;
pub mod cameras;
pub mod client;
pub mod jobs;
pub mod mail;
pub mod media;
pub mod missing_persons;
mod process;
pub mod provider;
pub mod scenes;
pub mod search;
mod services;
pub mod videos;

pub use app::{TestApp, User};
pub use client::{Caller, Request, Response, assert_error_envelope};
pub use mail::{received_mail, wait_for_mail};
pub use process::{WorkerProcess, config_env};
pub use services::{Services, test_config, use_s3};
