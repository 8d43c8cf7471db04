//! PostgreSQL through diesel-async with a deadpool pool. The database is created when missing
//! and the embedded migrations are applied at start-up under an advisory lock, so several
//! processes starting at once (api, worker, scheduler pods) migrate exactly once.

pub mod paginate;
pub mod schema;
pub mod text_enum;

pub use paginate::{PageRequest, Paged, Paginate};

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use diesel::connection::{Instrumentation, InstrumentationEvent};
use diesel::sql_types::{BigInt, Bool, Text};
use diesel::{ConnectionError, QueryableByName, sql_query};
use diesel_async::pooled_connection::deadpool::{Object, Pool};
use diesel_async::pooled_connection::{AsyncDieselConnectionManager, ManagerConfig};
use diesel_async::{AsyncConnection, AsyncMigrationHarness, AsyncPgConnection, RunQueryDsl};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use url::Url;

use crate::error::{Error, Result};

pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../migrations");

/// An `ILIKE` pattern matching values that contain `text` literally (its `%`, `_` and `\` are
/// escaped); `None` for blank text, which filters nothing.
pub fn contains_pattern(text: &str) -> Option<String> {
    let text = text.trim();
    (!text.is_empty()).then(|| {
        format!(
            "%{}%",
            text.replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        )
    })
}

/// Arbitrary constant naming the advisory lock that serialises migrations.
const MIGRATION_LOCK_KEY: i64 = 0x5649_4749_4c00_0001;

pub type DbPool = Pool<AsyncPgConnection>;
pub type DbConn = Object<AsyncPgConnection>;

/// Queries run by a pool's connections since it was created: the `vigil_db_queries_total`
/// metric, and what tests read to check that a page costs a constant number of queries.
#[derive(Debug, Clone, Default)]
pub struct QueryCount(Arc<AtomicU64>);

impl QueryCount {
    pub fn get(&self) -> u64 {
        AtomicU64::load(&self.0, Ordering::Relaxed)
    }
}

struct CountQueries(QueryCount);

impl Instrumentation for CountQueries {
    fn on_connection_event(&mut self, event: InstrumentationEvent<'_>) {
        if let InstrumentationEvent::StartQuery { .. } = event {
            self.0.0.fetch_add(1, Ordering::Relaxed);
            metrics::counter!("vigil_db_queries_total").increment(1);
        }
    }
}

/// Creates the database if needed, applies migrations and returns a pool whose connections
/// count their queries and stop any statement running longer than `statement_timeout` (a
/// runaway query must not hold a connection, and a lock, for ever).
pub async fn connect(
    database_url: &str,
    pool_size: usize,
    statement_timeout: Duration,
) -> Result<(DbPool, QueryCount)> {
    ensure_database(database_url).await?;
    migrate(database_url).await?;
    let count = QueryCount::default();
    let mut config = ManagerConfig::default();
    let setup_count = count.clone();
    let timeout_ms = statement_timeout.as_millis().max(1);
    config.custom_setup = Box::new(move |url| {
        let count = setup_count.clone();
        Box::pin(async move {
            let mut conn = AsyncPgConnection::establish(url).await?;
            diesel::sql_query(format!("SET statement_timeout = {timeout_ms}"))
                .execute(&mut conn)
                .await
                .map_err(ConnectionError::CouldntSetupConfiguration)?;
            conn.set_instrumentation(CountQueries(count));
            Ok(conn)
        })
    });
    let manager =
        AsyncDieselConnectionManager::<AsyncPgConnection>::new_with_config(database_url, config);
    let pool = Pool::builder(manager)
        .max_size(pool_size.max(1))
        .wait_timeout(Some(std::time::Duration::from_secs(10)))
        .create_timeout(Some(std::time::Duration::from_secs(5)))
        .runtime(deadpool::Runtime::Tokio1)
        .build()
        .map_err(|e| Error::Config(format!("database pool: {e}")))?;
    Ok((pool, count))
}

#[derive(QueryableByName)]
struct Exists {
    #[diesel(sql_type = Bool)]
    exists: bool,
}

/// Connects to the server's `postgres` maintenance database and creates the target database
/// when it does not exist yet.
pub async fn ensure_database(database_url: &str) -> Result<()> {
    let url = Url::parse(database_url).map_err(|e| Error::Config(format!("DATABASE_URL: {e}")))?;
    let name = url.path().trim_start_matches('/').to_string();
    if name.is_empty() {
        return Err(Error::Config("DATABASE_URL names no database".into()));
    }
    if AsyncPgConnection::establish(database_url).await.is_ok() {
        return Ok(());
    }
    let mut admin_url = url.clone();
    admin_url.set_path("/postgres");
    let mut conn = AsyncPgConnection::establish(admin_url.as_str())
        .await
        .map_err(|e| Error::unavailable("postgres", e))?;
    let exists =
        sql_query("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1) AS exists")
            .bind::<Text, _>(&name)
            .get_result::<Exists>(&mut conn)
            .await?
            .exists;
    if !exists {
        let create = sql_query(format!("CREATE DATABASE {}", quote_ident(&name)))
            .execute(&mut conn)
            .await;
        // Another process may have created it between the check and here; that is fine.
        if let Err(err) = create {
            let raced =
                sql_query("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1) AS exists")
                    .bind::<Text, _>(&name)
                    .get_result::<Exists>(&mut conn)
                    .await?
                    .exists;
            if !raced {
                return Err(err.into());
            }
        }
        tracing::info!(database = %name, "created database");
    }
    Ok(())
}

/// Drops a database (tests use one database each).
pub async fn drop_database(database_url: &str) -> Result<()> {
    let url = Url::parse(database_url).map_err(|e| Error::Config(format!("DATABASE_URL: {e}")))?;
    let name = url.path().trim_start_matches('/').to_string();
    let mut admin_url = url.clone();
    admin_url.set_path("/postgres");
    let mut conn = AsyncPgConnection::establish(admin_url.as_str())
        .await
        .map_err(|e| Error::unavailable("postgres", e))?;
    sql_query(format!(
        "DROP DATABASE IF EXISTS {} WITH (FORCE)",
        quote_ident(&name)
    ))
    .execute(&mut conn)
    .await?;
    Ok(())
}

fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

pub async fn migrate(database_url: &str) -> Result<()> {
    let mut conn = AsyncPgConnection::establish(database_url)
        .await
        .map_err(|e| Error::unavailable("postgres", e))?;
    sql_query("SELECT pg_advisory_lock($1)")
        .bind::<BigInt, _>(MIGRATION_LOCK_KEY)
        .execute(&mut conn)
        .await?;
    // The harness drives sync diesel_migrations with block_in_place: it needs the
    // multi-thread runtime, which every Vigil binary and test uses.
    let mut harness = AsyncMigrationHarness::new(conn);
    let applied = harness
        .run_pending_migrations(MIGRATIONS)
        .map(|versions| versions.len())
        .map_err(|e| Error::Internal(anyhow::anyhow!("migrations failed: {e}")));
    let mut conn = harness.into_inner();
    sql_query("SELECT pg_advisory_unlock($1)")
        .bind::<BigInt, _>(MIGRATION_LOCK_KEY)
        .execute(&mut conn)
        .await?;
    let applied = applied?;
    if applied > 0 {
        tracing::info!(applied, "database migrations applied");
    }
    Ok(())
}

/// `SELECT 1` through the pool, for readiness checks.
pub async fn ping(pool: &DbPool) -> Result<()> {
    #[derive(QueryableByName)]
    struct One {
        #[diesel(sql_type = diesel::sql_types::Integer)]
        #[allow(dead_code)]
        one: i32,
    }
    let mut conn = pool.get().await?;
    sql_query("SELECT 1 AS one")
        .get_result::<One>(&mut conn)
        .await?;
    Ok(())
}
