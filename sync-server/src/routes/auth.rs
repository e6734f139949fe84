//! What every `/v1` request passes: the protocol version check and, for device routes, the
//! bearer device token.

use axum::extract::{FromRequestParts, Request};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::Response;
use flightdeck_types::sync::{
    CLIENT_TIME_HEADER, PROTOCOL_HEADER, PROTOCOL_VERSION, SCHEMA_HEADER,
};

use crate::app::AppState;
use crate::db::workspaces::{self, Device};
use crate::error::ApiError;

/// Refuses a request whose protocol header names another version. A request without the
/// header is let through, so that curl and health probes stay simple.
pub async fn check_protocol(request: Request, next: Next) -> Result<Response, ApiError> {
    if let Some(value) = request.headers().get(PROTOCOL_HEADER) {
        let client = String::from_utf8_lossy(value.as_bytes()).into_owned();
        if client.trim() != PROTOCOL_VERSION.to_string() {
            return Err(ApiError::ProtocolMismatch {
                client,
                server: PROTOCOL_VERSION,
            });
        }
    }
    Ok(next.run(request).await)
}

/// The device behind the request's `Authorization: Bearer` token; refused when unknown (401)
/// or revoked (403).
pub struct AuthedDevice(pub Device);

impl FromRequestParts<AppState> for AuthedDevice {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = bearer_token(parts).ok_or_else(|| {
            ApiError::Unauthorized("missing `Authorization: Bearer <device token>`".into())
        })?;
        let device = authenticate(state, token).await?;
        record_schema(state, &device, parts).await?;
        record_clock(state, &device, parts).await?;
        Ok(AuthedDevice(device))
    }
}

/// Like [`AuthedDevice`], but the token may also come as `?token=` in the query, for WebSocket
/// clients (browsers) that cannot set headers. The header wins when both are present.
pub struct SocketDevice(pub Device);

impl FromRequestParts<AppState> for SocketDevice {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let from_query = parts.uri.query().and_then(|query| {
            query
                .split('&')
                .filter_map(|pair| pair.split_once('='))
                .find(|(key, _)| *key == "token")
                .map(|(_, value)| value.to_owned())
        });
        let token = bearer_token(parts)
            .map(str::to_owned)
            .or(from_query)
            .ok_or_else(|| {
                ApiError::Unauthorized(
                    "missing `Authorization: Bearer <device token>` or `?token=`".into(),
                )
            })?;
        authenticate(state, &token).await.map(SocketDevice)
    }
}

fn bearer_token(parts: &Parts) -> Option<&str> {
    parts
        .headers
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::trim)
}

/// A request header holding a number, if present and readable.
fn header_number<T: std::str::FromStr>(parts: &Parts, name: &str) -> Option<T> {
    parts
        .headers
        .get(name)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().parse().ok())
}

/// The client's local schema version (header [`SCHEMA_HEADER`]), recorded when it changed. A
/// missing or unreadable header is an older client: served, nothing recorded.
async fn record_schema(state: &AppState, device: &Device, parts: &Parts) -> Result<(), ApiError> {
    let Some(sent) = header_number::<i32>(parts, SCHEMA_HEADER) else {
        return Ok(());
    };
    if device.schema_version == Some(sent) {
        return Ok(());
    }
    let client = state.pool.get().await.map_err(crate::db::DbError::from)?;
    workspaces::record_schema_version(&client, device.id, sent).await?;
    Ok(())
}

/// How far the client's clock is ahead of this server's (header [`CLIENT_TIME_HEADER`]),
/// recorded when it moved by more than a second since it was last recorded (so not on every
/// request). A missing or unreadable header records nothing.
async fn record_clock(state: &AppState, device: &Device, parts: &Parts) -> Result<(), ApiError> {
    let Some(sent) = header_number::<i64>(parts, CLIENT_TIME_HEADER) else {
        return Ok(());
    };
    let offset = sent.saturating_sub(crate::app::now_millis());
    if device
        .clock_offset_ms
        .is_some_and(|known| (known - offset).abs() <= 1000)
    {
        return Ok(());
    }
    let client = state.pool.get().await.map_err(crate::db::DbError::from)?;
    workspaces::record_clock_offset(&client, device.id, offset).await?;
    Ok(())
}

/// The unrevoked device a token belongs to.
async fn authenticate(state: &AppState, token: &str) -> Result<Device, ApiError> {
    let client = state.pool.get().await.map_err(crate::db::DbError::from)?;
    let device = workspaces::device_by_token(&client, token)
        .await?
        .ok_or_else(|| ApiError::Unauthorized("unknown device token".into()))?;
    if let Some(revoked_at) = &device.revoked_at {
        return Err(ApiError::DeviceRevoked {
            revoked_at: revoked_at.clone(),
        });
    }
    Ok(device)
}
