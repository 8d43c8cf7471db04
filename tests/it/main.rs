//! End-to-end tests against real PostgreSQL, Redis, S3 (s3s-fs) and SMTP (aiosmtpd) servers.
//! Start them with `scripts/test.sh` (which then runs this suite). Tests talk to the API
//! through `vigil_testkit`'s caller and domain helpers (docs/architecture.md, "Tests").

mod api_conventions;
mod attendance;
mod audit;
mod auth;
mod cameras;
mod durability;
mod email;
mod health;
mod jobs;
mod metrics;
mod query_counts;
mod scheduler;
mod search;
mod security;
mod storage;
mod users;
