//! `GET /v1/devices`: the devices of the caller's workspace, with the local schema version
//! each last sent, so that a device holding changes from a newer build can name that device.
//! `POST /v1/leave`: the calling device leaves: its token is revoked (as `device revoke`
//! does), its open sockets closed.

use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use flightdeck_types::sync::{DeviceInfo, DevicesResponse, LeaveResponse};

use crate::app::AppState;
use crate::db::{workspaces, DbError};
use crate::error::ApiError;
use crate::routes::auth::AuthedDevice;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/devices", get(devices))
        .route("/v1/leave", post(leave))
}

async fn leave(
    State(state): State<AppState>,
    AuthedDevice(device): AuthedDevice,
) -> Result<Json<LeaveResponse>, ApiError> {
    let client = state.pool.get().await.map_err(DbError::from)?;
    // The extractor refused a revoked device already; a leave racing another one finds the
    // device revoked here, which is what it asked for.
    workspaces::revoke_device(&**client, device.id).await?;
    Ok(Json(LeaveResponse {
        device_id: device.id.to_string(),
    }))
}

async fn devices(
    State(state): State<AppState>,
    AuthedDevice(device): AuthedDevice,
) -> Result<Json<DevicesResponse>, ApiError> {
    let client = state.pool.get().await.map_err(DbError::from)?;
    let devices = workspaces::list_devices(&**client, device.workspace_id)
        .await?
        .into_iter()
        .map(device_info)
        .collect();
    Ok(Json(DevicesResponse { devices }))
}

/// A device as the API shows it.
pub fn device_info(d: workspaces::DeviceSummary) -> DeviceInfo {
    DeviceInfo {
        device_id: d.id.to_string(),
        name: d.name,
        site_id: d.site_id,
        schema_version: d.schema_version.map(i64::from),
        last_seen_at: d.last_seen_at,
        revoked: d.revoked_at.is_some(),
        clock_offset_ms: d.clock_offset_ms,
    }
}
