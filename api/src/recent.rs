//! A value computed at most once per time-to-live, whoever asks. Health and metrics endpoints
//! are unauthenticated by default, exempt from rate limits and polled by every load balancer
//! and scraper: computing their figures per call (a database ping, a storage write, an SMTP
//! connection, a scan of the jobs table) let anyone make the deployment do that work at will.

use std::future::Future;
use std::time::{Duration, Instant};

use tokio::sync::Mutex;

pub struct Recent<T> {
    ttl: Duration,
    slot: Mutex<Option<(Instant, T)>>,
}

impl<T: Clone> Recent<T> {
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            slot: Mutex::new(None),
        }
    }

    /// The value computed within the last `ttl`, or a fresh one from `compute`. Callers
    /// arriving while it is computed wait for that computation instead of starting their own.
    pub async fn get<F: Future<Output = T>>(&self, compute: impl FnOnce() -> F) -> T {
        let mut slot = self.slot.lock().await;
        if let Some((at, value)) = slot.as_ref()
            && at.elapsed() < self.ttl
        {
            return value.clone();
        }
        let value = compute().await;
        *slot = Some((Instant::now(), value.clone()));
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn computes_once_per_ttl_even_when_asked_at_once() {
        let recent = Arc::new(Recent::new(Duration::from_millis(200)));
        let runs = Arc::new(AtomicUsize::new(0));
        let ask = || {
            let (recent, runs) = (recent.clone(), runs.clone());
            tokio::spawn(async move {
                recent
                    .get(|| async {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        runs.fetch_add(1, Ordering::SeqCst)
                    })
                    .await
            })
        };
        let answers: Vec<usize> = futures::future::join_all((0..10).map(|_| ask()))
            .await
            .into_iter()
            .map(Result::unwrap)
            .collect();
        assert!(answers.iter().all(|a| *a == 0), "{answers:?}");
        tokio::time::sleep(Duration::from_millis(250)).await;
        assert_eq!(ask().await.unwrap(), 1);
    }
}
