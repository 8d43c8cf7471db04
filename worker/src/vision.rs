//! The face models, loaded once per worker process on first use (they take ~100 MB and a
//! second to load) and shared by every vision job.

use std::sync::Arc;

use tokio::sync::OnceCell;
use vigil_models::FacePipeline;

use crate::context::JobError;

/// Identifies the embeddings this pipeline produces; stored with each one so embeddings of
/// another model are never compared with them.
pub const FACE_MODEL_ID: &str = "face-api-1.7.15/resnet34-dlib";

/// A model's box as stored with detections and appearances.
pub fn box_px(b: vigil_models::BBox) -> vigil_core::geometry::BoxPx {
    vigil_core::geometry::BoxPx {
        x: b.x,
        y: b.y,
        width: b.width,
        height: b.height,
    }
}

static FACES: OnceCell<Arc<FacePipeline>> = OnceCell::const_new();

/// The face pipeline. Fetches the pinned weights into the model cache when it is empty.
pub async fn faces() -> Result<Arc<FacePipeline>, JobError> {
    FACES
        .get_or_try_init(|| async {
            tokio::task::spawn_blocking(|| {
                let dir = vigil_models::default_cache_dir();
                if vigil_models::fetch::ensure_fetched(&dir).is_err() {
                    tracing::info!(dir = %dir.display(), "model cache empty: fetching the pinned weights");
                    vigil_models::fetch_models(&dir)?;
                }
                // Landscape frames without the padding below them: the same faces for 56 %
                // of the detector's work at 16:9 (docs/models.md "Face detector input").
                let config = vigil_models::SsdConfig {
                    crop_padding: true,
                    ..vigil_models::SsdConfig::default()
                };
                FacePipeline::load(&dir).map(|p| Arc::new(p.with_config(config)))
            })
            .await
            .map_err(|e| JobError::Retryable(format!("model loading task failed: {e}")))?
            .map_err(|e| JobError::Retryable(format!("face models unavailable: {e}")))
        })
        .await
        .cloned()
}

/// Threads each model pass of a job on `queue` may use: the cores shared out among the jobs
/// this worker runs at once on that queue. When a worker already runs as many jobs as it has
/// cores, splitting each convolution across threads only adds hand-offs and spinning between
/// jobs that compete for the same cores: on the busy-footage search bench, two segments on 2
/// cores ran at 9.9× real time with 2 threads per pass and 11.3× with one
/// (docs/benchmarks.md).
pub fn model_threads(config: &vigil_core::config::Config, queue: &str) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    (cores / config.concurrency_for(queue)).max(1)
}

/// Runs CPU-heavy work off the async runtime.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, JobError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| JobError::Retryable(format!("worker thread failed: {e}")))
}

static PERSONS: OnceCell<Arc<vigil_models::PersonDetector>> = OnceCell::const_new();

/// The CenterNet person detector, shared by every camera watcher of the process. It reports
/// every person above a low floor; each camera applies its own threshold.
pub async fn persons() -> Result<Arc<vigil_models::PersonDetector>, JobError> {
    PERSONS
        .get_or_try_init(|| async {
            tokio::task::spawn_blocking(|| {
                let dir = vigil_models::default_cache_dir();
                if vigil_models::fetch::ensure_fetched(&dir).is_err() {
                    tracing::info!(dir = %dir.display(), "model cache empty: fetching the pinned weights");
                    vigil_models::fetch_models(&dir)?;
                }
                let config = vigil_models::CenterNetConfig {
                    min_confidence: PERSON_FLOOR,
                    max_detected: 100,
                    // The frame's own shape (512×288 at 16:9): the same people as the
                    // reference's 512×512 stretch for 56 % of the work (docs/models.md).
                    input: vigil_models::CenterNetInput::KeepAspect(
                        vigil_models::centernet::INPUT_SIZE,
                    ),
                    ..vigil_models::CenterNetConfig::default()
                };
                vigil_models::PersonDetector::load(&dir).map(|d| Arc::new(d.with_config(config)))
            })
            .await
            .map_err(|e| JobError::Retryable(format!("model loading task failed: {e}")))?
            .map_err(|e| JobError::Retryable(format!("person detector unavailable: {e}")))
        })
        .await
        .cloned()
}

/// Lowest detector score reported to cameras (their `minConfidence` is at least this).
pub const PERSON_FLOOR: f32 = 0.1;
