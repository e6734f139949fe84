//! The router: one sub-router per route group, a body limit, JSON errors for unknown routes.

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::Router;
use deadpool_postgres::Pool;

use crate::announce::Announcer;
use crate::error::ApiError;
use crate::metrics::Metrics;

/// Requests larger than this are refused with 413 before a handler sees them (the limit the
/// client cuts its pushes to).
pub const MAX_BODY_BYTES: usize = flightdeck_types::sync::MAX_REQUEST_BYTES;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub pool: Pool,
    /// The heads that this process's WebSockets follow (fed by the LISTEN connection).
    pub announcer: Announcer,
    pub metrics: Arc<Metrics>,
    /// The server epoch (db/epoch.rs), read once per process: a restore of the database
    /// goes with a restart of the server.
    pub epoch: Arc<tokio::sync::OnceCell<String>>,
    /// How far ahead of this server's clock a pushed cell's version may be (milliseconds;
    /// `serve --max-clock-offset`).
    pub max_clock_offset_ms: i64,
}

impl AppState {
    pub fn new(pool: Pool) -> Self {
        AppState {
            pool,
            announcer: Announcer::default(),
            metrics: Arc::default(),
            epoch: Arc::default(),
            max_clock_offset_ms: flightdeck_types::sync::DEFAULT_MAX_CLOCK_OFFSET_MS,
        }
    }
}

pub fn router(state: AppState) -> Router {
    let v1 = Router::new()
        .merge(crate::routes::join::router())
        .merge(crate::routes::sync::router())
        .merge(crate::routes::devices::router())
        .merge(crate::routes::ws::router())
        .merge(crate::openapi::router())
        .route_layer(axum::middleware::from_fn(
            crate::routes::auth::check_protocol,
        ));
    Router::new()
        .merge(crate::routes::health::router())
        .merge(crate::metrics::router())
        .merge(v1)
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::metrics::track,
        ))
        .fallback(|| async { ApiError::NotFound("no such route".into()) })
        .method_not_allowed_fallback(|| async {
            ApiError::MethodNotAllowed("this route does not take that method".into())
        })
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            stamp_epoch,
        ))
        .with_state(state)
}

/// Adds the server epoch (when the database can be asked for it) and the server's clock to
/// every response.
async fn stamp_epoch(
    axum::extract::State(state): axum::extract::State<AppState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let epoch = state
        .epoch
        .get_or_try_init(|| async {
            let client = state.pool.get().await.map_err(crate::db::DbError::from)?;
            crate::db::epoch::current(&**client).await
        })
        .await
        .ok()
        .cloned();
    let mut response = next.run(request).await;
    if let Some(value) = epoch.and_then(|e| axum::http::HeaderValue::from_str(&e).ok()) {
        response
            .headers_mut()
            .insert(flightdeck_types::sync::EPOCH_HEADER, value);
    }
    let now = now_millis();
    response.headers_mut().insert(
        flightdeck_types::sync::SERVER_TIME_HEADER,
        axum::http::HeaderValue::from(now),
    );
    response
}

/// This server's wall clock, in Unix milliseconds.
pub fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
