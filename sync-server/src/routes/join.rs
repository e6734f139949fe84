//! `POST /v1/join`: a join token buys a device its own token.

use axum::extract::rejection::JsonRejection;
use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use flightdeck_types::sync::{JoinRequest, JoinResponse};

use crate::app::AppState;
use crate::db::{workspaces, DbError};
use crate::error::ApiError;
use crate::wire::decode_site_id;

/// Device names are for people; this is plenty.
const MAX_DEVICE_NAME_CHARS: usize = 200;

pub fn router() -> Router<AppState> {
    Router::new().route("/v1/join", post(join))
}

async fn join(
    State(state): State<AppState>,
    request: Result<Json<JoinRequest>, JsonRejection>,
) -> Result<Json<JoinResponse>, ApiError> {
    let Json(request) = request?;
    let site_id = decode_site_id(&request.site_id).map_err(ApiError::BadRequest)?;
    let name = request.device_name.trim();
    if name.is_empty() || name.chars().count() > MAX_DEVICE_NAME_CHARS || name.contains('\0') {
        return Err(ApiError::BadRequest(format!(
            "device_name must be 1 to {MAX_DEVICE_NAME_CHARS} characters without NUL"
        )));
    }
    let mut client = state.pool.get().await.map_err(DbError::from)?;
    let joined = workspaces::join(&mut client, &request.join_token, name, &site_id)
        .await?
        .map_err(ApiError::JoinTokenRefused)?;
    tracing::info!(workspace = %joined.workspace_id, device = %joined.device_id, "device joined");
    Ok(Json(JoinResponse {
        workspace_id: joined.workspace_id.to_string(),
        workspace_name: joined.workspace_name,
        device_id: joined.device_id.to_string(),
        device_token: joined.device_token,
        peers: joined
            .peers
            .into_iter()
            .map(crate::routes::devices::device_info)
            .collect(),
    }))
}
