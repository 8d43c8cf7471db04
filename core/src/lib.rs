//! Vigil's shared core: everything the API, worker and scheduler processes have in common.
//! Nothing here links ffmpeg or candle, so the API stays small.

pub mod alerts;
pub mod attendance;
pub mod audit;
pub mod auth;
pub mod cameras;
pub mod config;
pub mod context;
pub mod db;
pub mod detections;
pub mod devices;
pub mod egress;
pub mod email;
pub mod error;
pub mod exports;
pub mod faces;
pub mod geometry;
pub mod health;
pub mod jobs;
pub mod maintenance;
pub mod metrics;
pub mod missing_persons;
pub mod outbox;
pub mod people;
pub mod redis;
pub mod searches;
pub mod severity;
pub mod shutdown;
pub mod storage;
pub mod telemetry;
pub mod users;
pub mod videos;

pub use config::Config;
pub use context::AppContext;
pub use error::{Error, Result};
