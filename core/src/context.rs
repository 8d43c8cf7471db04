//! The process-wide context every binary builds once at start-up.

use std::sync::Arc;

use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use crate::auth::Secrets;
use crate::auth::secrets::generate_secret;
use crate::config::Config;
use crate::db::{self, DbPool, QueryCount, schema::instance_settings};
use crate::email::Mailer;
use crate::error::Result;
use crate::redis::Redis;
use crate::storage::{self, Storage};
use crate::users;

#[derive(Clone)]
pub struct AppContext {
    pub config: Arc<Config>,
    pub db: DbPool,
    /// Queries run by `db`'s connections.
    pub db_queries: QueryCount,
    pub redis: Redis,
    pub storage: Arc<dyn Storage>,
    pub mailer: Mailer,
    pub secrets: Secrets,
}

impl std::fmt::Debug for AppContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppContext")
            .field("storage", &self.storage.backend())
            .field("redis", &self.redis)
            .finish_non_exhaustive()
    }
}

impl AppContext {
    /// Connects to PostgreSQL (creating and migrating the database), prepares Redis, storage and
    /// email, and bootstraps the first admin from the configuration. Redis, S3 and SMTP being
    /// down does not fail start-up; PostgreSQL, the source of truth, does.
    pub async fn init(config: Config) -> Result<Self> {
        let (db, db_queries) = db::connect(
            &config.database_url,
            config.database_pool_size,
            config.database_statement_timeout(),
        )
        .await?;
        let secret = match &config.secret_key {
            Some(secret) => secret.clone(),
            None => stored_secret(&db).await?,
        };
        let secrets = Secrets::from_secret(&secret);
        {
            let mut conn = db.get().await?;
            let sealed = crate::videos::seal_clear_stream_urls(&mut conn, secrets.sealer()).await?;
            if sealed > 0 {
                tracing::info!(sealed, "sealed stream URLs stored in clear");
            }
        }
        if let Ok(tz) = crate::attendance::calendar::parse(&config.timezone) {
            crate::attendance::calendar::init(tz);
        }
        let redis = Redis::new(&config.redis_url, &config.redis_prefix)?;
        let storage = storage::from_config(&config, &secrets).await?;
        let mailer = Mailer::new(config.smtp_url.as_deref(), &config.mail_from)?;
        if let (Some(email), Some(password)) = (&config.admin_email, &config.admin_password) {
            let mut conn = db.get().await?;
            if let Some(admin) =
                users::bootstrap_admin(&mut conn, email, password, config.admin_name.as_deref())
                    .await?
            {
                tracing::info!(email = %admin.email, "created the first admin from VIGIL_ADMIN_EMAIL");
            }
        }
        Ok(Self {
            config: Arc::new(config),
            db,
            db_queries,
            redis,
            storage,
            mailer,
            secrets,
        })
    }
}

/// The deployment's generated secret: created once, shared by every process through the
/// database.
async fn stored_secret(db: &DbPool) -> Result<String> {
    let mut conn = db.get().await?;
    diesel::insert_into(instance_settings::table)
        .values((
            instance_settings::key.eq("secret_key"),
            instance_settings::value.eq(generate_secret()),
        ))
        .on_conflict_do_nothing()
        .execute(&mut conn)
        .await?;
    Ok(instance_settings::table
        .find("secret_key")
        .select(instance_settings::value)
        .first(&mut conn)
        .await?)
}
