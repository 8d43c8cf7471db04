//! Vigil's REST API: poem + poem-openapi, everything under `/api/v1` in the response envelope,
//! the OpenAPI document at `/api/v1/openapi.json` and Swagger UI at `/docs`.

pub mod auth;
pub mod envelope;
pub mod error;
pub mod middleware;
pub mod params;
pub mod recent;
pub mod routes;
pub mod spec;
pub mod sse;
pub mod state;
pub mod text;
pub mod upload;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use poem::listener::{Acceptor, TcpAcceptor};
use poem::middleware::Cors;
use poem::{Endpoint, EndpointExt, Response, Route, Server};
use poem_openapi::OpenApiService;
use vigil_core::AppContext;

use routes::attendance::{AttendanceApi, capture::CaptureApi};
use routes::cameras::{CameraCountsApi, CamerasApi};
use routes::detections::{DetectionsApi, HistoryApi};
use routes::devices::DevicesApi;
use routes::people::{FacesApi, StudentsApi};
use routes::{
    audit::AuditApi, auth::AuthApi, dashboard::DashboardApi, files::FilesApi, health::HealthApi,
    jobs::JobsApi, mail::MailApi, missing_persons::MissingPersonsApi, queues::QueuesApi,
    roles::RolesApi, searches::SearchesApi, shifts::ShiftsApi, users::UsersApi, videos::VideosApi,
};
pub use state::ApiState;

type Apis = (
    HealthApi,
    AuthApi,
    UsersApi,
    RolesApi,
    AuditApi,
    FilesApi,
    JobsApi,
    QueuesApi,
    MailApi,
    MissingPersonsApi,
    VideosApi,
    SearchesApi,
    DashboardApi,
    (CamerasApi, CameraCountsApi, DetectionsApi, HistoryApi),
    // Attendance (issue 13), nested: poem-openapi implements tuples of up to 16 APIs.
    (
        FacesApi,
        StudentsApi,
        DevicesApi,
        CaptureApi,
        AttendanceApi,
        ShiftsApi,
    ),
);

fn openapi(state: &Arc<ApiState>) -> OpenApiService<Apis, ()> {
    OpenApiService::new(
        (
            HealthApi { state: state.clone() },
            AuthApi { state: state.clone() },
            UsersApi { state: state.clone() },
            RolesApi { state: state.clone() },
            AuditApi { state: state.clone() },
            FilesApi { state: state.clone() },
            JobsApi { state: state.clone() },
            QueuesApi { state: state.clone() },
            MailApi { state: state.clone() },
            MissingPersonsApi { state: state.clone() },
            VideosApi { state: state.clone() },
            SearchesApi { state: state.clone() },
            DashboardApi { state: state.clone() },
            (
                CamerasApi { state: state.clone() },
                CameraCountsApi::new(state.clone()),
                DetectionsApi { state: state.clone() },
                HistoryApi { state: state.clone() },
            ),
            (
                FacesApi { state: state.clone() },
                StudentsApi { state: state.clone() },
                DevicesApi { state: state.clone() },
                CaptureApi { state: state.clone() },
                AttendanceApi { state: state.clone() },
                ShiftsApi { state: state.clone() },
            ),
        ),
        "Vigil API",
        env!("CARGO_PKG_VERSION"),
    )
    .description("Self-hosted video analytics. Responses use the envelope `{success, data, meta}`; errors `{success: false, error: {code, message, details}, requestId}`.")
}

/// The OpenAPI document as JSON (also served at `/api/v1/openapi.json`).
pub fn openapi_json(state: &Arc<ApiState>) -> String {
    spec::with_nullable_optionals(&openapi(state).spec())
}

/// The whole HTTP application with its middleware.
pub fn app(state: Arc<ApiState>) -> impl Endpoint<Output = Response> {
    let service = openapi(&state);
    let document = spec::with_nullable_optionals(&service.spec());
    let spec = poem::endpoint::make_sync(move |_| {
        poem::Response::builder()
            .content_type("application/json")
            .body(document.clone())
    });
    let docs = service.swagger_ui();
    let routes = Route::new()
        .at("/api/v1/openapi.json", spec)
        .nest("/docs", docs)
        .nest("/", service)
        .around(middleware::audit)
        .around(text::validate)
        .around(middleware::body_limit)
        .around(middleware::rate_limit)
        .around(middleware::render_errors)
        .boxed();
    let origins = state.ctx.config.cors_origins();
    let routes = if origins.is_empty() {
        routes
    } else {
        let mut cors = Cors::new()
            .expose_header(middleware::REQUEST_ID_HEADER)
            .max_age(600);
        if !origins.iter().any(|o| o == "*") {
            cors = cors.allow_origins(origins);
        }
        routes.with(cors).map_to_response().boxed()
    };
    routes.around(middleware::request_context).data(state)
}

/// Serves on `VIGIL_HTTP_ADDR` until `shutdown` resolves, then drains in-flight requests.
pub async fn serve(
    ctx: AppContext,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(ctx.config.http_addr).await?;
    serve_on(listener, ctx, shutdown).await
}

/// Serves on an already-bound listener (tests bind port 0).
pub async fn serve_on(
    listener: tokio::net::TcpListener,
    ctx: AppContext,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let acceptor = TcpAcceptor::from_tokio(listener)?;
    let addr = acceptor.local_addr();
    tracing::info!(addr = ?addr.first(), "API listening");
    let state = ApiState::new(ctx);
    Server::new_with_acceptor(acceptor)
        .run_with_graceful_shutdown(app(state), shutdown, Some(Duration::from_secs(30)))
        .await?;
    Ok(())
}
