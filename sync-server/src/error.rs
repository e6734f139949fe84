//! The server's one error type: every failure a client can cause is a 4xx with a JSON body
//! `{"error": {"code", "message"}}` (flightdeck_types::sync::ErrorBody).

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use flightdeck_types::sync::{ErrorBody, ErrorDetail};

use crate::db::join_tokens::Refusal;
use crate::db::DbError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    MethodNotAllowed(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("invalid JSON body: {0}")]
    InvalidJson(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("request body too large (the limit is {limit} bytes)")]
    PayloadTooLarge { limit: usize },
    #[error(
        "protocol version mismatch: the client speaks sync protocol {client}, this server \
         (flightdeck-sync-server {}) speaks {server}; {}",
        flightdeck_build_info::VERSION,
        protocol_advice(client, *server)
    )]
    ProtocolMismatch { client: String, server: u32 },
    #[error("{0}")]
    UpgradeRequired(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{}", refusal_message(.0))]
    JoinTokenRefused(Refusal),
    #[error("this device was revoked at {revoked_at}; join the workspace again with a join token")]
    DeviceRevoked { revoked_at: String },
    #[error("{0}")]
    SiteIdMismatch(String),
    #[error(
        "the pull cursor {after} is beyond this workspace's head {head}: the server lost \
         changes it had acknowledged (its database was restored from an older backup, or \
         replaced); pull again from 0 and push every local change again"
    )]
    CursorAhead { after: i64, head: i64 },
    #[error("{0}")]
    ClockAhead(String),
    #[error("{0}")]
    Unavailable(String),
    /// A server-side failure; the details are logged, not sent.
    #[error("internal server error")]
    Internal(String),
}

impl ApiError {
    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::MethodNotAllowed(_) => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            ApiError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            ApiError::InvalidJson(_) => (StatusCode::BAD_REQUEST, "invalid_json"),
            ApiError::UnsupportedMediaType(_) => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            }
            ApiError::PayloadTooLarge { .. } => {
                (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large")
            }
            ApiError::ProtocolMismatch { .. } => (StatusCode::BAD_REQUEST, "protocol_mismatch"),
            ApiError::UpgradeRequired(_) => (StatusCode::UPGRADE_REQUIRED, "upgrade_required"),
            ApiError::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized"),
            ApiError::JoinTokenRefused(refusal) => (
                StatusCode::UNAUTHORIZED,
                match refusal {
                    Refusal::Unknown => "unauthorized",
                    Refusal::Revoked { .. } => "join_token_revoked",
                    Refusal::Expired { .. } => "join_token_expired",
                    Refusal::UsedUp { .. } => "join_token_used_up",
                },
            ),
            ApiError::DeviceRevoked { .. } => (StatusCode::FORBIDDEN, "device_revoked"),
            ApiError::SiteIdMismatch(_) => (StatusCode::FORBIDDEN, "site_id_mismatch"),
            ApiError::CursorAhead { .. } => (StatusCode::CONFLICT, "cursor_ahead"),
            ApiError::ClockAhead(_) => (StatusCode::CONFLICT, "clock_ahead"),
            ApiError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }
}

/// What a person holding a refused join token reads, and what to do about it.
fn refusal_message(refusal: &Refusal) -> String {
    let ask = "ask the sync server's admin for a new one (flightdeck-sync-server workspace \
               token create WORKSPACE)";
    match refusal {
        Refusal::Unknown => {
            format!("unknown join token: check that it was copied whole, or {ask}")
        }
        Refusal::Revoked { at } => format!("this join token was revoked at {at}; {ask}"),
        Refusal::Expired { at } => format!("this join token expired at {at}; {ask}"),
        Refusal::UsedUp { uses } => format!(
            "this join token is used up: it admitted {uses} device{} and each joined; {ask}",
            if *uses == 1 { "" } else { "s" }
        ),
    }
}

impl From<DbError> for ApiError {
    fn from(error: DbError) -> Self {
        match error {
            DbError::Pool(_) => ApiError::Unavailable(error.to_string()),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection.status() {
            StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge {
                limit: crate::app::MAX_BODY_BYTES,
            },
            StatusCode::UNSUPPORTED_MEDIA_TYPE => {
                ApiError::UnsupportedMediaType(rejection.body_text())
            }
            _ => ApiError::InvalidJson(rejection.body_text()),
        }
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        ApiError::BadRequest(rejection.body_text())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        if let ApiError::Internal(detail) = &self {
            tracing::error!(%detail, "request failed");
        }
        let body = ErrorBody {
            error: ErrorDetail {
                code: code.into(),
                message: self.to_string(),
            },
        };
        (status, Json(body)).into_response()
    }
}

/// Which side to update when a client's protocol is not the server's.
fn protocol_advice(client: &str, server: u32) -> &'static str {
    match client.trim().parse::<u32>() {
        Ok(c) if c < server => "update Flightdeck on this device to a version that speaks it",
        Ok(_) => "update the sync server to the version this device's Flightdeck came with",
        Err(_) => "the client's protocol header is not a version number",
    }
}
