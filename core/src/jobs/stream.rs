//! Redis Streams as the job transport. One stream per queue (`{prefix}:stream:{queue}`), one
//! consumer group (`workers`), one consumer per worker process. Entries carry only a job id.
//! An entry is deleted once handled, so a stream holds at most the dispatch window: Redis memory
//! stays bounded however large the backlog in PostgreSQL grows.

use std::collections::HashMap;

use redis::streams::{
    StreamAutoClaimOptions, StreamAutoClaimReply, StreamReadOptions, StreamReadReply,
};
use redis::{AsyncCommands, RedisResult};
use uuid::Uuid;

use crate::error::{Error, Result};
use crate::redis::Redis;

pub const GROUP: &str = "workers";

/// A job id delivered to a worker.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub queue: String,
    pub message_id: String,
    pub job_id: Uuid,
}

pub fn stream_key(redis: &Redis, queue: &str) -> String {
    redis.key(&format!("stream:{queue}"))
}

fn unavailable(e: redis::RedisError) -> Error {
    Error::unavailable("redis", e)
}

/// Creates the consumer group (and the stream) unless it exists. Called before reading and
/// after Redis lost its data.
pub async fn ensure_group(redis: &Redis, queue: &str) -> Result<()> {
    let mut conn = redis.conn();
    let created: RedisResult<()> = conn
        .xgroup_create_mkstream(stream_key(redis, queue), GROUP, "0")
        .await;
    match created {
        Ok(()) => Ok(()),
        Err(e) if e.code() == Some("BUSYGROUP") => Ok(()),
        Err(e) => Err(unavailable(e)),
    }
}

/// Puts a job id on its queue's stream; returns the entry id.
pub async fn publish(redis: &Redis, queue: &str, job_id: Uuid) -> Result<String> {
    let mut conn = redis.conn();
    conn.xadd(
        stream_key(redis, queue),
        "*",
        &[("job", job_id.to_string())],
    )
    .await
    .map_err(unavailable)
}

/// Entries on the stream (waiting or being handled).
pub async fn depth(redis: &Redis, queue: &str) -> Result<u64> {
    let mut conn = redis.conn();
    conn.xlen(stream_key(redis, queue))
        .await
        .map_err(unavailable)
}

/// Whether an entry is still on the stream (it is gone after Redis lost its data).
pub async fn exists(redis: &Redis, queue: &str, message_id: &str) -> Result<bool> {
    let mut conn = redis.conn();
    let found: Vec<redis::Value> = redis::cmd("XRANGE")
        .arg(stream_key(redis, queue))
        .arg(message_id)
        .arg(message_id)
        .arg("COUNT")
        .arg(1)
        .query_async(&mut conn)
        .await
        .map_err(unavailable)?;
    Ok(!found.is_empty())
}

fn delivery(queue: &str, id: &str, fields: &HashMap<String, redis::Value>) -> Option<Delivery> {
    let job = fields.get("job")?;
    let text: String = redis::from_redis_value(job.clone()).ok()?;
    Some(Delivery {
        queue: queue.to_string(),
        message_id: id.to_string(),
        job_id: text.parse().ok()?,
    })
}

/// A connection of its own for blocking reads: a blocking XREADGROUP on the shared multiplexed
/// connection would hold up every other command of the process. Its response timeout allows
/// for reads blocking up to `block_ms`: with the client's default (500 ms), every read of an
/// idle queue "timed out" and was reported as a Redis outage.
pub async fn reader_connection(
    redis: &Redis,
    block_ms: usize,
) -> Result<redis::aio::MultiplexedConnection> {
    let config = redis::AsyncConnectionConfig::new()
        .set_connection_timeout(Some(std::time::Duration::from_secs(2)))
        .set_response_timeout(Some(
            std::time::Duration::from_millis(block_ms as u64) + std::time::Duration::from_secs(5),
        ));
    redis
        .client()
        .get_multiplexed_async_connection_with_config(&config)
        .await
        .map_err(unavailable)
}

/// Waits up to `block_ms` for one new entry for `consumer`, on a dedicated connection.
pub async fn read(
    conn: &mut redis::aio::MultiplexedConnection,
    redis: &Redis,
    queue: &str,
    consumer: &str,
    block_ms: usize,
) -> Result<Option<Delivery>> {
    let options = StreamReadOptions::default()
        .group(GROUP, consumer)
        .count(1)
        .block(block_ms);
    let reply: Option<StreamReadReply> = match conn
        .xread_options(&[stream_key(redis, queue)], &[">"], &options)
        .await
    {
        Ok(reply) => reply,
        Err(e) if e.code() == Some("NOGROUP") => {
            ensure_group(redis, queue).await?;
            return Ok(None);
        }
        Err(e) => return Err(unavailable(e)),
    };
    let Some(reply) = reply else { return Ok(None) };
    for key in reply.keys {
        for entry in key.ids {
            match delivery(queue, &entry.id, &entry.map) {
                Some(d) => return Ok(Some(d)),
                None => {
                    // Not ours to interpret: drop it so it does not block the group.
                    tracing::warn!(queue, id = %entry.id, "dropping malformed stream entry");
                    let _ = ack(redis, queue, &entry.id).await;
                }
            }
        }
    }
    Ok(None)
}

/// Takes over entries another consumer has held for longer than `min_idle_ms` (its process
/// died, or its job runs long — the row's lease decides which, see `store::claim`).
pub async fn reclaim(
    redis: &Redis,
    queue: &str,
    consumer: &str,
    min_idle_ms: usize,
    count: usize,
) -> Result<Vec<Delivery>> {
    let mut conn = redis.conn();
    let options = StreamAutoClaimOptions::default().count(count);
    let reply: RedisResult<StreamAutoClaimReply> = conn
        .xautoclaim_options(
            stream_key(redis, queue),
            GROUP,
            consumer,
            min_idle_ms,
            "0-0",
            options,
        )
        .await;
    let reply = match reply {
        Ok(reply) => reply,
        Err(e) if e.code() == Some("NOGROUP") => {
            ensure_group(redis, queue).await?;
            return Ok(Vec::new());
        }
        Err(e) => return Err(unavailable(e)),
    };
    let mut out = Vec::new();
    for entry in reply.claimed {
        match delivery(queue, &entry.id, &entry.map) {
            Some(d) => out.push(d),
            None => {
                let _ = ack(redis, queue, &entry.id).await;
            }
        }
    }
    Ok(out)
}

/// Acknowledges and deletes an entry.
pub async fn ack(redis: &Redis, queue: &str, message_id: &str) -> Result<()> {
    let key = stream_key(redis, queue);
    let mut conn = redis.conn();
    redis::pipe()
        .xack(&key, GROUP, &[message_id])
        .xdel(&key, &[message_id])
        .query_async::<()>(&mut conn)
        .await
        .map_err(unavailable)
}

/// Removes consumers of exited worker processes (no pending entries, idle longer than
/// `idle_ms`), so the group's consumer list does not grow with every restart.
pub async fn prune_consumers(redis: &Redis, queue: &str, idle_ms: u64) -> Result<usize> {
    let key = stream_key(redis, queue);
    let mut conn = redis.conn();
    let info: redis::streams::StreamInfoConsumersReply =
        match conn.xinfo_consumers(&key, GROUP).await {
            Ok(info) => info,
            Err(e) if e.code() == Some("NOGROUP") || e.to_string().contains("no such key") => {
                return Ok(0);
            }
            Err(e) => return Err(unavailable(e)),
        };
    let mut removed = 0;
    for consumer in info.consumers {
        if consumer.pending == 0 && consumer.idle as u64 > idle_ms {
            let _: RedisResult<i64> = conn.xgroup_delconsumer(&key, GROUP, &consumer.name).await;
            removed += 1;
        }
    }
    Ok(removed)
}
