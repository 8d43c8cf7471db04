//! Vigil's apalis backend: tasks come from a queue's Redis stream (see
//! `vigil_core::jobs::stream`). It never ends on a Redis error — it logs, waits and reads
//! again — so a Redis outage pauses work instead of killing the worker. It also reclaims
//! entries that a dead worker was holding.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use apalis_core::backend::custom::{BackendBuilder, CustomBackend};
use apalis_core::task::Task;
use futures::stream::BoxStream;
use futures::{FutureExt, StreamExt, future::BoxFuture, sink};
use vigil_core::AppContext;
use vigil_core::error::Error;
use vigil_core::jobs::{queues, stream, stream::Delivery};

/// How long one XREADGROUP blocks; also bounds how quickly a paused queue stops fetching.
const BLOCK_MS: usize = 1000;
const RECLAIM_EVERY: Duration = Duration::from_secs(5);
const PAUSE_CHECK_EVERY: Duration = Duration::from_secs(1);

#[derive(Clone)]
pub struct Source {
    pub ctx: AppContext,
    pub queue: String,
    pub consumer: String,
}

struct FetchState {
    source: Source,
    reader: Option<redis::aio::MultiplexedConnection>,
    pending: VecDeque<Delivery>,
    last_reclaim: Instant,
    last_pause_check: Instant,
    paused: bool,
    /// The last poll failed (an outage is being retried).
    failing: bool,
}

impl FetchState {
    async fn next(&mut self) -> Delivery {
        loop {
            if let Some(d) = self.pending.pop_front() {
                return d;
            }
            match self.poll_once().await {
                Ok(()) if self.failing => {
                    self.failing = false;
                    tracing::info!(queue = %self.source.queue, "fetching jobs again");
                }
                Ok(()) => {}
                Err(e) => {
                    // Once per outage, not once per poll: the retries that follow say nothing new.
                    if !self.failing {
                        self.failing = true;
                        tracing::warn!(queue = %self.source.queue, error = %e, "fetching jobs failed; retrying every second");
                    } else {
                        tracing::debug!(queue = %self.source.queue, error = %e, "fetching jobs still failing");
                    }
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }

    async fn poll_once(&mut self) -> Result<(), Error> {
        let s = &self.source;
        if self.last_pause_check.elapsed() >= PAUSE_CHECK_EVERY {
            self.last_pause_check = Instant::now();
            let mut conn = s.ctx.db.get().await?;
            self.paused = queues::paused(&mut conn).await?.contains(&s.queue);
        }
        if self.paused {
            tokio::time::sleep(Duration::from_millis(500)).await;
            return Ok(());
        }
        if self.last_reclaim.elapsed() >= RECLAIM_EVERY {
            self.last_reclaim = Instant::now();
            // Idle longer than a lease: the holder is dead or its job runs long. The row's lease
            // decides at claim time which it is.
            let min_idle = s.ctx.config.job_lease().as_millis() as usize + 2_000;
            let reclaimed =
                stream::reclaim(&s.ctx.redis, &s.queue, &s.consumer, min_idle, 10).await?;
            if !reclaimed.is_empty() {
                tracing::info!(queue = %s.queue, count = reclaimed.len(), "reclaimed idle stream entries");
            }
            self.pending.extend(reclaimed);
            if !self.pending.is_empty() {
                return Ok(());
            }
        }
        let reader = match &mut self.reader {
            Some(reader) => reader,
            None => self
                .reader
                .insert(stream::reader_connection(&s.ctx.redis, BLOCK_MS).await?),
        };
        match stream::read(reader, &s.ctx.redis, &s.queue, &s.consumer, BLOCK_MS).await {
            Ok(Some(d)) => self.pending.push_back(d),
            Ok(None) => {}
            Err(e) => {
                // Reconnect on the next round.
                self.reader = None;
                return Err(e);
            }
        }
        Ok(())
    }
}

type Fetch = BoxStream<'static, Result<Option<Task<Delivery>>, Error>>;
type Sink = std::pin::Pin<Box<dyn futures::Sink<Task<Delivery>, Error = Error> + Send>>;

/// An apalis backend reading `queue` as `consumer`.
pub fn redis_stream_backend(source: Source) -> CustomBackend<Delivery, Source, Fetch, Sink, ()> {
    BackendBuilder::new()
        .database(source)
        .fetcher(|source: &mut Source, _: &(), _| {
            let state = FetchState {
                source: source.clone(),
                reader: None,
                pending: VecDeque::new(),
                last_reclaim: Instant::now() - RECLAIM_EVERY,
                last_pause_check: Instant::now() - PAUSE_CHECK_EVERY,
                paused: false,
                failing: false,
            };
            futures::stream::unfold(state, |mut state| async move {
                let delivery = state.next().await;
                Some((Ok(Some(Task::new(delivery))), state))
            })
            .boxed()
        })
        .sink(|source: &mut Source, _: &()| {
            let source = source.clone();
            let sink = sink::unfold(
                source,
                |source: Source,
                 task: Task<Delivery>|
                 -> BoxFuture<'static, Result<Source, Error>> {
                    async move {
                        stream::publish(&source.ctx.redis, &source.queue, task.args.job_id).await?;
                        Ok(source)
                    }
                    .boxed()
                },
            );
            Box::pin(sink) as Sink
        })
        .build()
        .expect("backend builder has every part")
}
