//! `GET /v1/ws`: a WebSocket that announces the device's workspace head.
//!
//! Authenticated before the upgrade (bearer header, or `?token=`), so a bad token gets the
//! usual JSON 401/403. After the upgrade the server sends `{"head": N}` (an
//! [`Announcement`]) at once, then again for every newer head; heads that arrive faster than
//! the socket drains are skipped in favour of the newest. The server pings every
//! [`PING_INTERVAL`] and closes a socket it has heard nothing from for two intervals.
//! Revoking the device closes its open sockets (code [`REVOKED_CLOSE_CODE`]) at once.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use tokio::sync::broadcast;
use tokio::time::Instant;
use uuid::Uuid;

use crate::announce::{Head, Subscription};
use crate::app::AppState;
use crate::db::{workspaces, DbError};
use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::routes::auth::SocketDevice;

pub const PING_INTERVAL: Duration = Duration::from_secs(20);
/// The close code of a revoked device's socket (4000-4999 are the application's own).
pub const REVOKED_CLOSE_CODE: u16 = 4403;
/// A socket that cannot take a frame for this long is closed.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// Clients send only pings, pongs and a close, each at most 125 bytes of payload: anything
/// larger is refused by the WebSocket layer before it is buffered (its default is 64 MiB a
/// message, which let one socket hold 48 MiB of unfinished continuation frames).
pub const MAX_CLIENT_FRAME_BYTES: usize = 4096;
/// The close code for a client that sent data frames (RFC 6455's policy violation).
pub const POLICY_CLOSE_CODE: u16 = 1008;

pub fn router() -> Router<AppState> {
    Router::new().route("/v1/ws", get(ws))
}

async fn ws(
    State(state): State<AppState>,
    SocketDevice(device): SocketDevice,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    // Whatever is missing from the handshake (Connection, Upgrade, Sec-WebSocket-* headers),
    // the answer is the same: this route speaks only WebSocket.
    let upgrade = upgrade.map_err(|rejection| {
        ApiError::UpgradeRequired(format!(
            "{} (this route needs a WebSocket handshake)",
            rejection.body_text()
        ))
    })?;
    // Subscribe first, then read the head: a push committed in between is announced anyway,
    // and so is a revocation, which the same read also sees (it may have come after the
    // token was checked).
    let revocations = state.announcer.revocations();
    let subscription = state.announcer.subscribe(device.workspace_id, device.id);
    let (head, revoked_at) = {
        let client = state.pool.get().await.map_err(DbError::from)?;
        workspaces::head_for_device(&**client, device.id).await?
    };
    if let Some(revoked_at) = revoked_at {
        return Err(ApiError::DeviceRevoked { revoked_at });
    }
    state.announcer.publish(device.workspace_id, head);
    let metrics = state.metrics.clone();
    let device_id = device.id;
    let upgrade = upgrade
        .max_frame_size(MAX_CLIENT_FRAME_BYTES)
        .max_message_size(MAX_CLIENT_FRAME_BYTES);
    Ok(upgrade.on_upgrade(move |socket| {
        serve_socket(socket, subscription, device_id, revocations, metrics)
    }))
}

async fn serve_socket(
    socket: WebSocket,
    mut subscription: Subscription,
    device_id: Uuid,
    mut revocations: broadcast::Receiver<Uuid>,
    metrics: Arc<Metrics>,
) {
    let _connected = metrics.socket_connected();
    let mut socket = socket;
    let mut ping = tokio::time::interval_at(Instant::now() + PING_INTERVAL, PING_INTERVAL);
    let mut last_heard = Instant::now();
    let head = subscription.receiver().borrow_and_update().clone();
    if send_head(&mut socket, &head, &metrics).await.is_err() {
        return;
    }
    loop {
        tokio::select! {
            changed = subscription.receiver().changed() => {
                if changed.is_err() {
                    break;
                }
                let head = subscription.receiver().borrow_and_update().clone();
                if send_head(&mut socket, &head, &metrics).await.is_err() {
                    break;
                }
            }
            revoked = revocations.recv() => match revoked {
                Ok(id) if id != device_id => {}
                // This device, or revocations missed (lagging): it may be this one.
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {
                    send_close(&mut socket, REVOKED_CLOSE_CODE, "device revoked").await;
                    break;
                }
                Err(broadcast::error::RecvError::Closed) => break,
            },
            message = socket.recv() => match message {
                // The WebSocket layer queued the close reply when it read the close, and
                // writes it on its next read: read until the connection ends, so the client
                // sees its close echoed instead of a reset.
                Some(Ok(Message::Close(_))) => {
                    let drain = async { while let Some(Ok(_)) = socket.recv().await {} };
                    let _ = tokio::time::timeout(SEND_TIMEOUT, drain).await;
                    break;
                }
                // Pings are answered by the WebSocket layer itself.
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => last_heard = Instant::now(),
                // Data frames are not part of the protocol: close, and read nothing more.
                Some(Ok(Message::Text(_) | Message::Binary(_))) => {
                    let reason = "this socket only announces; clients send no data";
                    send_close(&mut socket, POLICY_CLOSE_CODE, reason).await;
                    break;
                }
                // Over the size limits, a bad frame, or the connection gone.
                Some(Err(error)) => {
                    tracing::debug!(%error, "closing a WebSocket after a bad frame");
                    break;
                }
                None => break,
            },
            _ = ping.tick() => {
                if last_heard.elapsed() > 2 * PING_INTERVAL {
                    tracing::debug!("closing a silent WebSocket");
                    break;
                }
                let sent = tokio::time::timeout(
                    SEND_TIMEOUT,
                    socket.send(Message::Ping(Default::default())),
                )
                .await;
                if !matches!(sent, Ok(Ok(()))) {
                    break;
                }
            }
        }
    }
}

/// Closes the socket with `code`, waiting at most [`SEND_TIMEOUT`] for the frame to leave.
async fn send_close(socket: &mut WebSocket, code: u16, reason: &'static str) {
    let close = CloseFrame {
        code,
        reason: reason.into(),
    };
    let _ = tokio::time::timeout(SEND_TIMEOUT, socket.send(Message::Close(Some(close)))).await;
}

/// Sends one announcement; an error means the socket is gone or stuck.
async fn send_head(socket: &mut WebSocket, head: &Head, metrics: &Metrics) -> Result<(), ()> {
    let text = head.frame().map_err(|_| ())?;
    match tokio::time::timeout(SEND_TIMEOUT, socket.send(Message::Text((&*text).into()))).await {
        Ok(Ok(())) => {
            Metrics::add(&metrics.announcements, 1);
            Ok(())
        }
        _ => Err(()),
    }
}
