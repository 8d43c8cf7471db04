//! A Vigil API on a random port for one test, with its own PostgreSQL database, Redis key
//! prefix and storage directory, plus in-process or separate-process workers and schedulers;
//! everything is torn down when the [`TestApp`] is dropped.

use std::net::SocketAddr;

use serde_json::{Value, json};
use tokio::sync::oneshot;
use vigil_core::{AppContext, Config};

use crate::process::WorkerProcess;
use crate::{Caller, test_config};

/// A signed-in user, for tests about users and sessions themselves.
pub struct User {
    pub id: String,
    pub email: String,
    pub password: String,
    /// The `data` of the login response (tokens, user).
    pub login: Value,
    /// Calls the API with the user's access token.
    pub caller: Caller,
}

pub struct TestApp {
    pub addr: SocketAddr,
    pub ctx: AppContext,
    /// A plain client, for what is not an API call; tests use [`TestApp::as_user`].
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
        self.start_in_process(|ctx, stop| async move {
            let _ = vigil_worker::run(ctx, async {
                let _ = stop.await;
            })
            .await;
        });
    }

    /// Runs a process role as a task, stopped (and aborted) when the app is dropped.
    fn start_in_process<F>(&mut self, run: impl FnOnce(AppContext, oneshot::Receiver<()>) -> F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel::<()>();
        let handle = tokio::spawn(run(self.ctx.clone(), rx));
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
        self.start_in_process(|ctx, stop| async move {
            let _ = vigil_scheduler::run(ctx, async {
                let _ = stop.await;
            })
            .await;
        });
    }

    /// An access token of a fresh admin.
    pub async fn admin(&self) -> String {
        self.token_for("ROLE-ADMIN").await
    }

    /// Calls the API as the holder of `token`.
    pub fn as_user(&self, token: &str) -> Caller {
        Caller::new(self.client.clone(), self.url(""), Some(token.to_string()))
    }

    /// Calls the API without credentials.
    pub fn anonymous(&self) -> Caller {
        Caller::new(self.client.clone(), self.url(""), None)
    }

    /// Calls the API as a fresh user of `role_id`.
    pub async fn as_new_user(&self, role_id: &str) -> Caller {
        self.as_user(&self.token_for(role_id).await)
    }

    /// The absolute URL of a server path (`/health/live`): for routes outside the API root.
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

    /// A fresh user of `role_id`, signed in.
    pub async fn new_user(&self, role_id: &str) -> User {
        let (email, password) = self.create_user(role_id).await;
        let login = self.login(&email, &password).await;
        User {
            id: login["user"]["id"].as_str().expect("user id").to_string(),
            caller: self.as_user(login["accessToken"].as_str().expect("access token")),
            email,
            password,
            login,
        }
    }

    /// Logs in and returns the `data` of the login response.
    pub async fn login(&self, email: &str, password: &str) -> Value {
        self.anonymous()
            .post_json(
                "/auth/login",
                json!({ "username": email, "password": password }),
            )
            .await
            .expect(200)
            .data()
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
