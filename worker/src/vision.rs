//! The face models, loaded once per worker process on first use (they take ~100 MB and a
//! second to load) and shared by every vision job.

use std::sync::Arc;

use tokio::sync::OnceCell;
use vigil_models::FacePipeline;

use crate::context::JobError;

/// Identifies the embeddings this pipeline produces; stored with each one so embeddings of
/// another model are never compared with them.
pub const FACE_MODEL_ID: &str = "face-api-1.7.15/resnet34-dlib";

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
                FacePipeline::load(&dir).map(Arc::new)
            })
            .await
            .map_err(|e| JobError::Retryable(format!("model loading task failed: {e}")))?
            .map_err(|e| JobError::Retryable(format!("face models unavailable: {e}")))
        })
        .await
        .cloned()
}

/// Runs CPU-heavy work off the async runtime.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, JobError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| JobError::Retryable(format!("worker thread failed: {e}")))
}
