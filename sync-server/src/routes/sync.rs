//! `POST /v1/push` and `GET /v1/pull`: a device's changes in, the workspace's changes out.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Query, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use flightdeck_types::sync::{PullResponse, PushRequest, PushResponse};
use serde::Deserialize;

use crate::app::AppState;
use crate::db::{cells, workspaces, DbError};
use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::routes::auth::AuthedDevice;
use crate::wire::change_from_wire;

/// Cells per pull page when the client does not say.
const DEFAULT_PULL_LIMIT: i64 = 1000;
const MAX_PULL_LIMIT: i64 = 10_000;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/push", post(push))
        .route("/v1/pull", get(pull))
}

async fn push(
    State(state): State<AppState>,
    AuthedDevice(device): AuthedDevice,
    request: Result<Json<PushRequest>, JsonRejection>,
) -> Result<Json<PushResponse>, ApiError> {
    let Json(request) = request?;
    let mut changes = Vec::with_capacity(request.changes.len());
    let mut previous_db_version = i64::MIN;
    for (index, wire) in request.changes.iter().enumerate() {
        let change = change_from_wire(wire)
            .map_err(|message| ApiError::BadRequest(format!("change {index}: {message}")))?;
        if change.change.site_id != device.site_id {
            return Err(ApiError::SiteIdMismatch(format!(
                "change {index} carries site_id {}, but this device registered {}; a device \
                 pushes only its own changes",
                wire.site_id,
                hex::encode(&device.site_id)
            )));
        }
        if change.change.db_version < previous_db_version {
            return Err(ApiError::BadRequest(format!(
                "change {index}: changes must be sorted by db_version"
            )));
        }
        previous_db_version = change.change.db_version;
        changes.push(change);
    }
    crate::wire::check_clocks(
        &request.changes,
        crate::app::now_millis(),
        state.max_clock_offset_ms,
    )
    .map_err(ApiError::ClockAhead)?;
    let mut client = state.pool.get().await.map_err(DbError::from)?;
    // The push's own announcement carries its cells: its NOTIFY, which may come back first,
    // is not announced here meanwhile.
    let mut expected = None;
    let applied = cells::apply_push(
        &mut client,
        device.workspace_id,
        device.id,
        &changes,
        |seq| expected = Some(state.announcer.expect_push(device.workspace_id, seq)),
    )
    .await?;
    Metrics::add(&state.metrics.pushes, 1);
    Metrics::add(&state.metrics.cells_in, changes.len());
    // This process's sockets hear at once; the others' through NOTIFY.
    state
        .announcer
        .publish_applied(device.workspace_id, &applied.response, applied.announced);
    drop(expected);
    Ok(Json(applied.response))
}

#[derive(Debug, Deserialize)]
struct PullParams {
    #[serde(default)]
    after: i64,
    limit: Option<i64>,
}

async fn pull(
    State(state): State<AppState>,
    AuthedDevice(device): AuthedDevice,
    params: Result<Query<PullParams>, QueryRejection>,
) -> Result<Json<PullResponse>, ApiError> {
    let Query(params) = params?;
    let limit = params.limit.unwrap_or(DEFAULT_PULL_LIMIT);
    if !(1..=MAX_PULL_LIMIT).contains(&limit) {
        return Err(ApiError::BadRequest(format!(
            "limit must be between 1 and {MAX_PULL_LIMIT}"
        )));
    }
    if params.after < 0 {
        return Err(ApiError::BadRequest("after must not be negative".into()));
    }
    let mut client = state.pool.get().await.map_err(DbError::from)?;
    let response = cells::pull(&mut client, device.workspace_id, params.after, limit).await?;
    if params.after > response.head {
        return Err(ApiError::CursorAhead {
            after: params.after,
            head: response.head,
        });
    }
    workspaces::record_pull(&client, device.id, response.next).await?;
    Metrics::add(&state.metrics.pulls, 1);
    Metrics::add(&state.metrics.cells_out, response.changes.len());
    Ok(Json(response))
}
