//! Worker presence: each worker process refreshes `{prefix}:workers:{id}` with a short TTL, so
//! the keys present are the live workers.

use crate::redis::Redis;

#[derive(Debug, Clone)]
pub struct LiveWorker {
    pub id: String,
    pub queues: Vec<String>,
}

pub async fn live(redis: &Redis) -> crate::Result<Vec<LiveWorker>> {
    let keys = redis.scan_keys(&redis.key("workers:*")).await?;
    let mut conn = redis.conn();
    let unavailable = |e: redis::RedisError| crate::Error::unavailable("redis", e);
    let mut out = Vec::new();
    for key in keys {
        let value: Option<String> = redis::cmd("GET")
            .arg(&key)
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        if let Some(info) = value.and_then(|v| serde_json::from_str::<serde_json::Value>(&v).ok()) {
            out.push(LiveWorker {
                id: info["id"].as_str().unwrap_or_default().to_string(),
                queues: info["queues"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|q| q.as_str().map(String::from))
                            .collect()
                    })
                    .unwrap_or_default(),
            });
        }
    }
    Ok(out)
}
