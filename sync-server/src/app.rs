//! The router: one sub-router per route group, a body limit, JSON errors for unknown routes.

use axum::extract::DefaultBodyLimit;
use axum::Router;
use deadpool_postgres::Pool;

use crate::error::ApiError;

/// Requests larger than this are refused with 413 before a handler sees them.
pub const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub pool: Pool,
}

pub fn router(state: AppState) -> Router {
    let v1 = Router::new()
        .merge(crate::routes::join::router())
        .merge(crate::routes::sync::router())
        .route_layer(axum::middleware::from_fn(
            crate::routes::auth::check_protocol,
        ));
    Router::new()
        .merge(crate::routes::health::router())
        .merge(v1)
        .fallback(|| async { ApiError::NotFound("no such route".into()) })
        .method_not_allowed_fallback(|| async {
            ApiError::MethodNotAllowed("this route does not take that method".into())
        })
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}
