//! `vigil-api`: the REST API alone (scale it separately from workers).

use vigil_core::{AppContext, Config, telemetry};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::from_env()?;
    telemetry::init(config.log_format);
    let ctx = AppContext::init(config).await?;
    vigil_api::serve(ctx, vigil_core::shutdown::signal()).await
}
