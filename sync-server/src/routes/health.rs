//! `/healthz`: the process is up and serving. `/readyz`: and its database answers.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

use crate::app::AppState;
use crate::error::ApiError;

#[derive(Serialize)]
struct Health {
    status: &'static str,
    version: &'static str,
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

async fn healthz() -> Json<Health> {
    Json(Health {
        status: "ok",
        version: env!("CARGO_PKG_VERSION"),
    })
}

async fn readyz(State(state): State<AppState>) -> Result<Json<Health>, ApiError> {
    let unavailable = |error: &dyn std::fmt::Display| {
        ApiError::Unavailable(format!("database not reachable: {error}"))
    };
    let client = state.pool.get().await.map_err(|e| unavailable(&e))?;
    client
        .query_one("SELECT 1", &[])
        .await
        .map_err(|e| unavailable(&e))?;
    Ok(Json(Health {
        status: "ready",
        version: env!("CARGO_PKG_VERSION"),
    }))
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    use crate::app::{router, AppState};

    /// A pool that never reaches a database: deadpool connects lazily.
    fn unreachable_state() -> AppState {
        let pool = crate::db::pool("host=/nonexistent-flightdeck port=1 user=none").unwrap();
        AppState::new(pool)
    }

    async fn send(state: AppState, request: Request<Body>) -> (StatusCode, serde_json::Value) {
        let response = router(state).oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (status, serde_json::from_slice(&bytes).unwrap())
    }

    async fn get(uri: &str) -> (StatusCode, serde_json::Value) {
        let request = Request::get(uri).body(Body::empty()).unwrap();
        send(unreachable_state(), request).await
    }

    #[tokio::test]
    async fn healthz_answers() {
        let (status, body) = get("/healthz").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["status"], "ok");
    }

    #[tokio::test]
    async fn unknown_routes_get_a_json_404() {
        let (status, body) = get("/v1/nope").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(body["error"]["code"], "not_found");
    }

    #[tokio::test]
    async fn a_wrong_method_gets_a_json_405() {
        let request = Request::delete("/healthz").body(Body::empty()).unwrap();
        let (status, body) = send(unreachable_state(), request).await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(body["error"]["code"], "method_not_allowed");
    }

    #[tokio::test]
    async fn readyz_is_503_without_a_database() {
        let (status, body) = get("/readyz").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(body["error"]["code"], "unavailable");
    }

    #[tokio::test]
    async fn readyz_is_200_with_a_database() {
        let db = crate::testing::fresh_database().await;
        let state = AppState::new(crate::db::connect_and_migrate(&db.url).await.unwrap());
        let request = Request::get("/readyz").body(Body::empty()).unwrap();
        let (status, body) = send(state, request).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["status"], "ready");
    }
}
