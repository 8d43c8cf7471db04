//! Configuration from environment variables, optionally layered over a TOML file named by
//! `VIGIL_CONFIG`. Every field has a default that makes a single machine work with nothing set.
//! README.md lists every variable; keep the two in step.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StorageBackend {
    Local,
    S3,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Config {
    /// PostgreSQL URL; the database is created when missing.
    pub database_url: String,
    pub database_pool_size: usize,
    /// Longest a single SQL statement may run before PostgreSQL cancels it.
    pub database_statement_timeout_ms: u64,
    pub redis_url: String,
    /// Prefix of every Redis key Vigil writes, so several deployments (or tests) share one Redis.
    pub redis_prefix: String,
    pub http_addr: SocketAddr,
    /// Base URL clients use to reach the API; signed download links are built on it.
    pub public_url: Option<String>,
    /// Name of this process in logs and worker identities (the pod name in Kubernetes).
    pub instance_name: Option<String>,

    pub storage_backend: StorageBackend,
    pub storage_dir: PathBuf,
    pub s3_endpoint: Option<String>,
    /// Endpoint put into presigned URLs when clients reach S3 by another address than Vigil does.
    pub s3_public_endpoint: Option<String>,
    pub s3_bucket: String,
    pub s3_region: String,
    pub s3_access_key_id: Option<String>,
    pub s3_secret_access_key: Option<String>,
    pub s3_path_style: bool,
    pub download_url_ttl_secs: u64,

    /// `smtp://user:pass@host:port`, `smtps://…` (implicit TLS) or `smtp://…?tls=required`.
    pub smtp_url: Option<String>,
    pub mail_from: String,

    /// Secret for tokens and signed URLs. When unset, one is generated at first start and kept in
    /// the database, so every process of the deployment shares it.
    pub secret_key: Option<String>,
    pub access_token_ttl_secs: u64,
    /// A refresh token unused this long expires (each refresh issues a new one).
    pub refresh_token_ttl_secs: u64,
    /// A session ends this long after its login, however often it is refreshed.
    pub session_max_secs: u64,
    /// Failed logins of one account before it is locked (then 1 s, doubling per failure).
    pub login_max_failures_per_account: i32,
    /// Failed logins from one address before it is locked.
    pub login_max_failures_per_address: i32,
    /// The longest lock after failed logins.
    pub login_max_lock_secs: u64,

    /// Comma-separated allowed origins; empty disables CORS, `*` allows any origin.
    pub cors_origins: String,
    pub max_body_bytes: usize,
    pub max_upload_bytes: u64,
    /// Uploads one API process reads at once; more get 429.
    pub max_concurrent_uploads: usize,
    /// Largest photo (width × height) a worker decodes; larger ones are rejected with a reason
    /// before any pixel memory is taken.
    pub max_image_pixels: u64,
    /// Largest video frame (width × height) a worker decodes.
    pub max_video_pixels: u64,
    /// Longest upload that can be searched; longer ones fail their probe with a reason.
    pub max_video_duration_secs: u64,
    /// Most search segments one video is split into (longer videos get longer segments).
    pub max_segments_per_video: u32,
    pub rate_limit_per_second: u32,
    pub rate_limit_burst: u32,
    /// Take the client address from `X-Forwarded-For` (only behind a trusted proxy); the same
    /// as `trusted_proxy_count = 1`.
    pub trust_proxy_headers: bool,
    /// How many proxies in front of the API append to `X-Forwarded-For`: the client address is
    /// the entry that many places from the right (the ones to its left are client-supplied).
    pub trusted_proxy_count: usize,

    /// The first admin, created at start-up when no admin exists.
    pub admin_email: Option<String>,
    pub admin_password: Option<String>,
    pub admin_name: Option<String>,

    pub log_format: LogFormat,
    /// Where worker and scheduler processes serve `/metrics` (the API serves its own on
    /// `http_addr`); unset = not served.
    pub metrics_addr: Option<SocketAddr>,

    /// Jobs each worker process runs at once, per queue.
    pub worker_concurrency: usize,
    /// Comma-separated queues this worker serves; empty = all.
    pub worker_queues: String,
    /// Per-queue overrides of `worker_concurrency`, e.g. `search=2,vision=1`. Model passes
    /// already use every core, but a search segment also decodes on one thread and waits on
    /// storage: two at once kept both cores of the 2-core reference machine busy (1.2–1.5×
    /// the throughput of one, docs/benchmarks.md); more only add memory.
    pub worker_queue_concurrency: String,
    /// A running job's lease; a worker that stops renewing it (killed) loses the job after this.
    pub job_lease_secs: u64,
    /// First retry delay; doubles per attempt (with ±25% jitter) up to `job_retry_max_ms`.
    pub job_retry_base_ms: u64,
    pub job_retry_max_ms: u64,
    /// Most job messages on one queue's Redis stream at once; the rest wait in PostgreSQL.
    pub dispatch_window: usize,
    /// How often workers and the scheduler reconcile PostgreSQL with Redis.
    pub reconcile_interval_secs: u64,
    /// Export files (and their download links) are deleted after this many days.
    pub export_ttl_days: u32,
    /// Finished jobs are deleted after this many days.
    pub job_retention_days: u32,
    pub audit_retention_days: u32,
    /// Capture photos (and their sealed descriptors) are erased after this many days; the
    /// capture's decision and its attendance stay.
    pub capture_retention_days: u32,
    /// Camera face detections (with their thumbnails) and the provider's call log are deleted
    /// after this many days; attendance they supported stays.
    pub detection_retention_days: u32,
    /// Camera snapshots are deleted after this many days, except each camera's latest (its
    /// thumbnail).
    pub snapshot_retention_days: u32,
    /// Cron expressions (with seconds) of the scheduler's periodic tasks.
    pub schedule_reconcile: String,
    pub schedule_cleanup: String,
    pub schedule_health: String,

    /// Networks stream URLs may reach (comma-separated CIDRs); see `egress`. Loopback only
    /// when a range inside 127.0.0.0/8 or ::1 is listed.
    pub stream_allow_cidrs: String,
    /// Stream URL schemes workers may open (`rtsp,rtsps,http,https,rtmp,rtmps`).
    pub stream_schemes: String,
    /// PEM bundle FFmpeg verifies HTTPS/RTMPS stream certificates against, instead of the
    /// system store.
    pub stream_ca_file: Option<PathBuf>,
    /// Allow local capture devices (`/dev/videoN`) as stream URLs.
    pub stream_allow_devices: bool,

    /// When set, `/metrics` (API, worker and scheduler) answers only `Authorization: Bearer
    /// <token>`, and `/health/ready` shows its component details only with it.
    pub metrics_token: Option<String>,
    /// Most extra addresses a search's `notify` list may hold.
    pub notify_max_recipients: usize,
    /// Comma-separated domains `notify` addresses must belong to (subdomains included); empty
    /// = any domain.
    pub notify_allowed_domains: String,
    /// Progress streams (server-sent events) one user may hold open at once.
    pub sse_max_streams_per_user: usize,
    /// A watched camera without frames for this long is marked offline (and alerted).
    pub camera_offline_secs: u64,
    /// Length of a people-count window; windows align to multiples of it (60: on the minute).
    pub camera_count_window_secs: u32,
    /// At most one offline email per camera per this many seconds.
    pub camera_alert_cooldown_secs: u64,
    /// At most one unknown-face alert per camera per this many seconds.
    pub unknown_face_alert_cooldown_secs: u64,
    /// The organisation's timezone (IANA name): attendance days and shift times are local to it.
    pub timezone: String,
    /// Cron of the scheduler's attendance task (`missed` logs of shifts that are over).
    pub schedule_attendance: String,
    /// Cron of the reviewers' digest email (sent when sightings arrived for review).
    pub schedule_review_digest: String,
    /// Cron (with seconds) of the scheduler's camera reconcile: watchers for enabled cameras.
    pub schedule_cameras: String,
    /// A capture device not seen (capture or heartbeat) for this long is shown offline.
    pub device_offline_secs: u64,
    /// Largest photo a capture device may send (bytes); larger ones get 413.
    pub max_capture_bytes: u64,
    /// Longest `?wait=` a capture may ask for before the API answers 202.
    pub capture_max_wait_ms: u64,
    /// Recognitions at or above this confidence are approved without review (unless the face
    /// resembles a capture a reviewer rejected for that person).
    pub attendance_auto_approve_confidence: f32,
    /// Recognitions below this confidence are `unknown`; between it and the auto-approve
    /// confidence they wait for a reviewer.
    pub attendance_min_confidence: f32,
    /// A person not sighted for this long is shown off-site in the presence records.
    pub attendance_absence_secs: u64,
}

impl Default for Config {
    fn default() -> Self {
        let data_dir = dirs::data_dir()
            .unwrap_or_else(|| PathBuf::from("."))
            .join("vigil");
        Self {
            database_url: "postgres://postgres@127.0.0.1:5432/vigil".into(),
            database_pool_size: 16,
            database_statement_timeout_ms: 30_000,
            redis_url: "redis://127.0.0.1:6379".into(),
            redis_prefix: "vigil".into(),
            http_addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
            public_url: None,
            instance_name: None,
            storage_backend: StorageBackend::Local,
            storage_dir: data_dir.join("storage"),
            s3_endpoint: None,
            s3_public_endpoint: None,
            s3_bucket: "vigil".into(),
            s3_region: "us-east-1".into(),
            s3_access_key_id: None,
            s3_secret_access_key: None,
            s3_path_style: true,
            download_url_ttl_secs: 3600,
            smtp_url: None,
            mail_from: "Vigil <vigil@localhost>".into(),
            secret_key: None,
            access_token_ttl_secs: 15 * 60,
            refresh_token_ttl_secs: 7 * 24 * 3600,
            session_max_secs: 30 * 24 * 3600,
            login_max_failures_per_account: 5,
            login_max_failures_per_address: 20,
            login_max_lock_secs: 15 * 60,
            cors_origins: String::new(),
            max_body_bytes: 1024 * 1024,
            max_upload_bytes: 10 * 1024 * 1024 * 1024,
            max_concurrent_uploads: 8,
            max_image_pixels: 40_000_000,
            max_video_pixels: 3840 * 2160 * 2,
            max_video_duration_secs: 48 * 3600,
            max_segments_per_video: 1000,
            rate_limit_per_second: 50,
            rate_limit_burst: 200,
            trust_proxy_headers: false,
            trusted_proxy_count: 0,
            admin_email: None,
            admin_password: None,
            admin_name: None,
            log_format: LogFormat::Text,
            metrics_addr: None,
            worker_concurrency: 4,
            worker_queues: String::new(),
            worker_queue_concurrency: "search=2,vision=1".into(),
            job_lease_secs: 15,
            job_retry_base_ms: 2000,
            job_retry_max_ms: 5 * 60 * 1000,
            dispatch_window: 500,
            reconcile_interval_secs: 5,
            export_ttl_days: 7,
            job_retention_days: 30,
            audit_retention_days: 365,
            capture_retention_days: 90,
            detection_retention_days: 90,
            snapshot_retention_days: 30,
            schedule_reconcile: "*/10 * * * * *".into(),
            schedule_cleanup: "0 17 3 * * *".into(),
            schedule_health: "0 * * * * *".into(),
            stream_allow_cidrs: crate::egress::DEFAULT_ALLOW_CIDRS.into(),
            stream_schemes: crate::egress::DEFAULT_SCHEMES.into(),
            stream_ca_file: None,
            stream_allow_devices: false,
            metrics_token: None,
            notify_max_recipients: 5,
            notify_allowed_domains: String::new(),
            sse_max_streams_per_user: 4,
            camera_offline_secs: 30,
            camera_count_window_secs: 60,
            camera_alert_cooldown_secs: 3600,
            unknown_face_alert_cooldown_secs: 600,
            timezone: "UTC".into(),
            schedule_attendance: "0 * * * * *".into(),
            schedule_review_digest: "0 0 * * * *".into(),
            schedule_cameras: "*/5 * * * * *".into(),
            device_offline_secs: 120,
            max_capture_bytes: 10 * 1024 * 1024,
            capture_max_wait_ms: 10_000,
            attendance_auto_approve_confidence: 0.9,
            attendance_min_confidence: 0.3,
            attendance_absence_secs: 30 * 60,
        }
    }
}

impl Config {
    /// Reads the configuration: defaults, then the file named by `VIGIL_CONFIG`, then the
    /// unprefixed `DATABASE_URL`/`REDIS_URL`, then every `VIGIL_*` variable.
    pub fn from_env() -> Result<Self> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Ok(path) = std::env::var("VIGIL_CONFIG") {
            figment = figment.merge(Toml::file_exact(path));
        }
        let config: Config = figment
            .merge(Env::raw().only(&["DATABASE_URL", "REDIS_URL"]))
            .merge(Env::prefixed("VIGIL_").ignore(&["CONFIG"]))
            .extract()
            .map_err(|e| Error::Config(e.to_string()))?;
        config.validate()?;
        Ok(config)
    }

    pub fn validate(&self) -> Result<()> {
        if !(0.0..=1.0).contains(&self.attendance_min_confidence)
            || !(self.attendance_min_confidence..=1.0)
                .contains(&self.attendance_auto_approve_confidence)
        {
            return Err(Error::Config(
                "VIGIL_ATTENDANCE_MIN_CONFIDENCE and VIGIL_ATTENDANCE_AUTO_APPROVE_CONFIDENCE must be between 0 and 1, the first not above the second".into(),
            ));
        }
        if self.storage_backend == StorageBackend::S3 && self.s3_bucket.trim().is_empty() {
            return Err(Error::Config(
                "VIGIL_S3_BUCKET must be set for S3 storage".into(),
            ));
        }
        if let Some(key) = &self.secret_key {
            crate::auth::secrets::check_strength(key)
                .map_err(|why| Error::Config(format!("VIGIL_SECRET_KEY {why}")))?;
        }
        if self.admin_email.is_some() != self.admin_password.is_some() {
            return Err(Error::Config(
                "VIGIL_ADMIN_EMAIL and VIGIL_ADMIN_PASSWORD must be set together".into(),
            ));
        }
        for pair in self
            .worker_queue_concurrency
            .split(',')
            .filter(|p| !p.trim().is_empty())
        {
            if pair
                .split_once('=')
                .is_none_or(|(_, n)| n.trim().parse::<usize>().is_err())
            {
                return Err(Error::Config(format!(
                    "VIGIL_WORKER_QUEUE_CONCURRENCY: {pair:?} is not queue=number"
                )));
            }
        }
        crate::egress::EgressSettings::from_config(self).map_err(Error::Config)?;
        crate::attendance::calendar::parse(&self.timezone)
            .map_err(|e| Error::Config(format!("VIGIL_TIMEZONE: {e}")))?;
        if self
            .metrics_token
            .as_ref()
            .is_some_and(|t| t.trim().chars().count() < 16)
        {
            return Err(Error::Config(
                "VIGIL_METRICS_TOKEN must be at least 16 characters".into(),
            ));
        }
        if self.rate_limit_per_second == 0 {
            return Err(Error::Config(
                "VIGIL_RATE_LIMIT_PER_SECOND must be > 0".into(),
            ));
        }
        Ok(())
    }

    /// The base URL for links handed to clients.
    pub fn public_url(&self) -> String {
        match &self.public_url {
            Some(url) => url.trim_end_matches('/').to_string(),
            None => format!("http://{}", self.http_addr),
        }
    }

    pub fn instance_name(&self) -> String {
        self.instance_name.clone().unwrap_or_else(|| {
            std::env::var("HOSTNAME")
                .ok()
                .filter(|h| !h.is_empty())
                .or_else(|| {
                    std::fs::read_to_string("/etc/hostname")
                        .ok()
                        .map(|h| h.trim().to_string())
                })
                .filter(|h| !h.is_empty())
                .unwrap_or_else(|| "vigil".into())
        })
    }

    pub fn cors_origins(&self) -> Vec<String> {
        self.cors_origins
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect()
    }

    pub fn database_statement_timeout(&self) -> Duration {
        Duration::from_millis(self.database_statement_timeout_ms.max(100))
    }

    pub fn job_lease(&self) -> Duration {
        Duration::from_secs(self.job_lease_secs.max(2))
    }

    /// The queues this worker serves.
    pub fn worker_queues(&self) -> Vec<String> {
        let chosen: Vec<String> = self
            .worker_queues
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect();
        if chosen.is_empty() {
            crate::jobs::kinds::queues()
                .into_iter()
                .map(String::from)
                .collect()
        } else {
            chosen
        }
    }

    /// Jobs this worker runs at once on `queue`.
    pub fn concurrency_for(&self, queue: &str) -> usize {
        self.worker_queue_concurrency
            .split(',')
            .filter_map(|pair| pair.split_once('='))
            .find(|(q, _)| q.trim() == queue)
            .and_then(|(_, n)| n.trim().parse().ok())
            .unwrap_or(self.worker_concurrency)
            .max(1)
    }

    pub fn access_token_ttl(&self) -> Duration {
        Duration::from_secs(self.access_token_ttl_secs)
    }

    pub fn refresh_lifetimes(&self) -> crate::auth::refresh::Lifetimes {
        crate::auth::refresh::Lifetimes {
            ttl: Duration::from_secs(self.refresh_token_ttl_secs),
            session: Duration::from_secs(self.session_max_secs.max(60)),
        }
    }

    /// Proxy hops whose `X-Forwarded-For` entries are trusted.
    pub fn proxy_hops(&self) -> usize {
        if self.trusted_proxy_count == 0 && self.trust_proxy_headers {
            1
        } else {
            self.trusted_proxy_count
        }
    }

    /// Lock policies for failed logins: per account, per client address.
    pub fn login_policies(&self) -> (crate::auth::throttle::Policy, crate::auth::throttle::Policy) {
        let policy = |threshold: i32| crate::auth::throttle::Policy {
            threshold: threshold.max(1),
            first_lock: Duration::from_secs(1),
            max_lock: Duration::from_secs(self.login_max_lock_secs.max(1)),
            window: Duration::from_secs(15 * 60),
        };
        (
            policy(self.login_max_failures_per_account),
            policy(self.login_max_failures_per_address),
        )
    }

    pub fn device_offline_after(&self) -> Duration {
        Duration::from_secs(self.device_offline_secs)
    }

    pub fn download_url_ttl(&self) -> Duration {
        Duration::from_secs(self.download_url_ttl_secs)
    }
}

#[cfg(test)]
// figment's Jail closures return its large error type; that is its API, not ours.
#[allow(clippy::result_large_err)]
mod tests {
    use super::*;

    #[test]
    fn environment_overrides_defaults() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("DATABASE_URL", "postgres://db.example/other");
            jail.set_env("VIGIL_HTTP_ADDR", "0.0.0.0:9000");
            jail.set_env("VIGIL_STORAGE_BACKEND", "s3");
            jail.set_env("VIGIL_S3_PATH_STYLE", "false");
            let config = Config::from_env().expect("config");
            assert_eq!(config.database_url, "postgres://db.example/other");
            assert_eq!(config.http_addr.port(), 9000);
            assert_eq!(config.storage_backend, StorageBackend::S3);
            assert!(!config.s3_path_style);
            assert_eq!(config.redis_url, "redis://127.0.0.1:6379");
            Ok(())
        });
    }

    #[test]
    fn file_is_layered_under_environment() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "vigil.toml",
                "redis_prefix = \"from-file\"\nhttp_addr = \"127.0.0.1:1\"",
            )?;
            jail.set_env("VIGIL_CONFIG", "vigil.toml");
            jail.set_env("VIGIL_HTTP_ADDR", "127.0.0.1:2");
            let config = Config::from_env().expect("config");
            assert_eq!(config.redis_prefix, "from-file");
            assert_eq!(config.http_addr.port(), 2);
            Ok(())
        });
    }

    #[test]
    fn rejects_half_admin_bootstrap_and_short_secret() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("VIGIL_ADMIN_EMAIL", "a@b.c");
            assert!(Config::from_env().is_err());
            jail.set_env("VIGIL_ADMIN_PASSWORD", "long enough password");
            assert!(Config::from_env().is_ok());
            jail.set_env("VIGIL_SECRET_KEY", "short");
            assert!(Config::from_env().is_err());
            Ok(())
        });
    }
}
