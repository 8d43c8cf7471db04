//! Where the real test services are (PostgreSQL, Redis, S3, SMTP) and a configuration that
//! gives one test its own database, Redis prefix and storage, so tests run in parallel.

use std::net::SocketAddr;

use vigil_core::Config;
use vigil_core::config::StorageBackend;

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_string())
}

/// Where the test services are.
pub struct Services;

impl Services {
    pub fn database_url(db: &str) -> String {
        let base = env_or(
            "VIGIL_TEST_DATABASE_URL",
            "postgres://postgres@127.0.0.1:5432/postgres",
        );
        let mut url = url::Url::parse(&base).expect("VIGIL_TEST_DATABASE_URL is a URL");
        url.set_path(&format!("/{db}"));
        url.to_string()
    }
    pub fn redis_url() -> String {
        env_or("VIGIL_TEST_REDIS_URL", "redis://127.0.0.1:6379")
    }
    pub fn s3_endpoint() -> String {
        env_or("VIGIL_TEST_S3_ENDPOINT", "http://127.0.0.1:9811")
    }
    pub fn s3_access_key() -> String {
        env_or("VIGIL_TEST_S3_ACCESS_KEY", "vigil-test")
    }
    pub fn s3_secret_key() -> String {
        env_or("VIGIL_TEST_S3_SECRET_KEY", "vigil-test-secret")
    }
    pub fn smtp_url() -> String {
        env_or("VIGIL_TEST_SMTP_URL", "smtp://127.0.0.1:2526")
    }
    /// The Maildir the test SMTP server delivers into.
    pub fn maildir() -> std::path::PathBuf {
        env_or("VIGIL_TEST_MAILDIR", "/tmp/vigil-test/maildir").into()
    }
}

/// A configuration isolated for one test.
pub fn test_config(storage_dir: &std::path::Path) -> Config {
    let id = uuid::Uuid::new_v4().simple().to_string();
    Config {
        database_url: Services::database_url(&format!("vigil_test_{id}")),
        database_pool_size: 4,
        redis_url: Services::redis_url(),
        redis_prefix: format!("vigil-test-{id}"),
        http_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        storage_backend: StorageBackend::Local,
        storage_dir: storage_dir.to_path_buf(),
        smtp_url: Some(Services::smtp_url()),
        secret_key: Some(vigil_core::auth::secrets::generate_secret()),
        rate_limit_per_second: 1000,
        rate_limit_burst: 1000,
        job_retry_base_ms: 200,
        job_retry_max_ms: 1000,
        reconcile_interval_secs: 1,
        // A test's callers log in once, at its start; on a loaded 2-core machine a test that
        // waits for models can outlast the production 15 minutes (expiry has its own tests).
        access_token_ttl_secs: 2 * 60 * 60,
        // Test streams are served by ffmpeg on loopback; the deployment's own service ports
        // there stay denied.
        stream_allow_cidrs: format!("{},127.0.0.1/32", vigil_core::egress::DEFAULT_ALLOW_CIDRS),
        ..Config::default()
    }
}

/// S3 settings pointing at the test S3 server, with a bucket of the test's own.
pub fn use_s3(config: &mut Config) {
    config.storage_backend = StorageBackend::S3;
    config.s3_endpoint = Some(Services::s3_endpoint());
    config.s3_access_key_id = Some(Services::s3_access_key());
    config.s3_secret_access_key = Some(Services::s3_secret_key());
    config.s3_bucket = format!(
        "vigil-test-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    );
    config.s3_path_style = true;
}
