//! Starts a Vigil API on a random port for one test, with its own PostgreSQL database, its own
//! Redis key prefix and its own storage directory, so tests run in parallel. Services are the
//! real ones the test command starts (see scripts/test.sh); their addresses come from
//! `VIGIL_TEST_*` variables with defaults matching that script.

use std::net::SocketAddr;

use serde_json::{Value, json};
use tokio::sync::oneshot;
use vigil_core::config::StorageBackend;
use vigil_core::{AppContext, Config};

pub use reqwest;

mod process;
pub use process::{WorkerProcess, config_env};

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

pub struct TestApp {
    pub addr: SocketAddr,
    pub ctx: AppContext,
    pub client: reqwest::Client,
    _storage: tempfile::TempDir,
    shutdown: Option<oneshot::Sender<()>>,
    workers: Vec<(oneshot::Sender<()>, tokio::task::JoinHandle<()>)>,
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    /// Starts the API with a test configuration adjusted by `adjust`.
    pub async fn spawn_with(adjust: impl FnOnce(&mut Config)) -> Self {
        let storage = tempfile::tempdir().expect("temp dir");
        let mut config = test_config(storage.path());
        adjust(&mut config);
        let listener = tokio::net::TcpListener::bind(config.http_addr)
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("local addr");
        config.http_addr = addr;
        config.public_url = Some(format!("http://{addr}"));
        let ctx = AppContext::init(config)
            .await
            .expect("app context (are the test services up? run scripts/test.sh)");
        let (tx, rx) = oneshot::channel::<()>();
        let serve_ctx = ctx.clone();
        tokio::spawn(async move {
            let _ = vigil_api::serve_on(listener, serve_ctx, async {
                let _ = rx.await;
            })
            .await;
        });
        Self {
            addr,
            ctx,
            client: reqwest::Client::new(),
            _storage: storage,
            shutdown: Some(tx),
            workers: Vec::new(),
        }
    }

    /// Starts the API and one in-process worker.
    pub async fn spawn_with_worker() -> Self {
        let mut app = Self::spawn().await;
        app.start_worker();
        app
    }

    /// Starts a worker (dispatcher, reconciler and every queue) in this process.
    pub fn start_worker(&mut self) {
        let (tx, rx) = oneshot::channel::<()>();
        let ctx = self.ctx.clone();
        let handle = tokio::spawn(async move {
            let _ = vigil_worker::run(ctx, async {
                let _ = rx.await;
            })
            .await;
        });
        self.workers.push((tx, handle));
    }

    /// Whether an in-process worker or scheduler has ended (it should only on shutdown).
    pub fn worker_finished(&self) -> bool {
        self.workers.iter().any(|(_, handle)| handle.is_finished())
    }

    /// Starts `vigil worker` as a separate OS process sharing this app's configuration.
    pub fn start_worker_process(&self, vigil_bin: &str) -> WorkerProcess {
        let log = std::env::temp_dir().join(format!(
            "vigil-test-worker-{}.log",
            uuid::Uuid::new_v4().simple()
        ));
        WorkerProcess::start(vigil_bin, &self.ctx.config, log)
    }

    /// Starts a scheduler replica in this process (several may run at once).
    pub fn start_scheduler(&mut self) {
        let (tx, rx) = oneshot::channel::<()>();
        let ctx = self.ctx.clone();
        let handle = tokio::spawn(async move {
            let _ = vigil_scheduler::run(ctx, async {
                let _ = rx.await;
            })
            .await;
        });
        self.workers.push((tx, handle));
    }

    /// An access token of a fresh admin.
    pub async fn admin(&self) -> String {
        self.token_for("ROLE-ADMIN").await
    }

    /// GETs `/api/v1/jobs/{id}` until `done` accepts the job's `data` or `timeout` passes.
    pub async fn wait_job(
        &self,
        token: &str,
        id: &str,
        timeout: std::time::Duration,
        done: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let body: Value = self
                .client
                .get(self.url(&format!("/api/v1/jobs/{id}")))
                .bearer_auth(token)
                .send()
                .await
                .expect("job request")
                .json()
                .await
                .expect("job json");
            let job = body["data"].clone();
            if done(&job) {
                return job;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "job {id} did not get there in {timeout:?}; last: {job}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }

    /// Waits until the job is finished (succeeded, failed or cancelled).
    pub async fn wait_finished(
        &self,
        token: &str,
        id: &str,
        timeout: std::time::Duration,
    ) -> Value {
        self.wait_job(token, id, timeout, |j| {
            matches!(
                j["status"].as_str(),
                Some("succeeded" | "failed" | "cancelled")
            )
        })
        .await
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Creates a user directly in the database and returns (email, password).
    pub async fn create_user(&self, role_id: &str) -> (String, String) {
        let email = format!(
            "{}-{}@example.test",
            role_id.to_lowercase(),
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        );
        let password = "correct horse battery staple".to_string();
        let mut conn = self.ctx.db.get().await.expect("db");
        vigil_core::users::create_user(
            &mut conn,
            vigil_core::users::NewUser {
                email: &email,
                name: "Test User",
                password: Some(&password),
                role_id,
            },
        )
        .await
        .expect("create user");
        (email, password)
    }

    /// Logs in and returns the `data` of the login response.
    pub async fn login(&self, email: &str, password: &str) -> Value {
        let resp = self
            .client
            .post(self.url("/api/v1/auth/login"))
            .json(&json!({ "username": email, "password": password }))
            .send()
            .await
            .expect("login request");
        assert_eq!(resp.status(), 200, "login failed");
        resp.json::<Value>().await.expect("json")["data"].clone()
    }

    /// A fresh user of `role_id` and its access token.
    pub async fn token_for(&self, role_id: &str) -> String {
        let (email, password) = self.create_user(role_id).await;
        self.login(&email, &password).await["accessToken"]
            .as_str()
            .expect("token")
            .to_string()
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        for (tx, handle) in self.workers.drain(..) {
            let _ = tx.send(());
            handle.abort();
        }
        // Clean up the test's database and Redis keys on a side thread: Drop cannot await.
        let db = self.ctx.config.database_url.clone();
        let redis = self.ctx.redis.clone();
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            if let Ok(rt) = rt {
                rt.block_on(async {
                    let _ = redis.delete_namespace().await;
                    let _ = vigil_core::db::drop_database(&db).await;
                });
            }
        })
        .join();
    }
}

/// Reads every message the test SMTP server has stored.
pub fn received_mail() -> Vec<String> {
    let mut out = Vec::new();
    for sub in ["new", "cur"] {
        if let Ok(entries) = std::fs::read_dir(Services::maildir().join(sub)) {
            for entry in entries.flatten() {
                if let Ok(text) = std::fs::read_to_string(entry.path()) {
                    out.push(text);
                }
            }
        }
    }
    out
}

/// Waits up to `timeout` for a stored message containing `needle`.
pub async fn wait_for_mail(needle: &str, timeout: std::time::Duration) -> Option<String> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(m) = received_mail().into_iter().find(|m| m.contains(needle)) {
            return Some(m);
        }
        if tokio::time::Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}
