//! Redis access: one lazily-connecting, self-reconnecting connection manager per process, and
//! the key prefix every key goes through, so deployments and tests can share one server.

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use crate::error::{Error, Result};

#[derive(Clone)]
pub struct Redis {
    client: redis::Client,
    manager: ConnectionManager,
    prefix: String,
}

impl std::fmt::Debug for Redis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redis")
            .field("prefix", &self.prefix)
            .finish()
    }
}

impl Redis {
    /// Never fails because Redis is down: the connection is made on first use and remade after
    /// every disconnect, so a Redis outage degrades readiness instead of killing the process.
    pub fn new(url: &str, prefix: &str) -> Result<Self> {
        let client =
            redis::Client::open(url).map_err(|e| Error::Config(format!("REDIS_URL: {e}")))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(Duration::from_secs(5)))
            .set_number_of_retries(2)
            .set_max_delay(Duration::from_secs(2));
        let manager = ConnectionManager::new_lazy_with_config(client.clone(), config)
            .map_err(|e| Error::Config(format!("redis: {e}")))?;
        Ok(Self {
            client,
            manager,
            prefix: prefix.trim_end_matches(':').to_string(),
        })
    }

    /// A handle for commands; cheap to clone.
    pub fn conn(&self) -> ConnectionManager {
        self.manager.clone()
    }

    /// The client, for dedicated connections (pub/sub).
    pub fn client(&self) -> &redis::Client {
        &self.client
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// `{prefix}:{suffix}`.
    pub fn key(&self, suffix: &str) -> String {
        format!("{}:{}", self.prefix, suffix)
    }

    pub async fn ping(&self) -> Result<()> {
        let mut conn = self.conn();
        let reply: String = redis::cmd("PING")
            .query_async(&mut conn)
            .await
            .map_err(|e| Error::unavailable("redis", e))?;
        if reply == "PONG" {
            Ok(())
        } else {
            Err(Error::unavailable(
                "redis",
                format!("unexpected PING reply {reply}"),
            ))
        }
    }

    /// Every key matching `pattern` (a SCAN, so Redis is never blocked by KEYS).
    pub async fn scan_keys(&self, pattern: &str) -> Result<Vec<String>> {
        let mut conn = self.conn();
        let mut keys = Vec::new();
        let mut cursor: u64 = 0;
        loop {
            let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(pattern)
                .arg("COUNT")
                .arg(500)
                .query_async(&mut conn)
                .await
                .map_err(|e| Error::unavailable("redis", e))?;
            keys.extend(batch);
            if next == 0 {
                return Ok(keys);
            }
            cursor = next;
        }
    }

    /// Deletes every key under the prefix (tests; and the ops "Redis data lost" drill).
    pub async fn delete_namespace(&self) -> Result<u64> {
        let keys = self.scan_keys(&format!("{}:*", self.prefix)).await?;
        let mut conn = self.conn();
        let mut deleted = 0;
        for chunk in keys.chunks(500) {
            deleted += redis::cmd("UNLINK")
                .arg(chunk)
                .query_async::<u64>(&mut conn)
                .await
                .map_err(|e| Error::unavailable("redis", e))?;
        }
        Ok(deleted)
    }
}
