//! `/metrics`: Prometheus text exposition (format 0.0.4), written by hand.
//!
//! Counters and the socket gauge live in this process; per-device last seen and lag come from
//! the database at scrape time, so every server process on one database reports them alike.

use std::fmt::Write;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

use crate::app::AppState;
use crate::db::{workspaces, DbError};
use crate::error::ApiError;

/// This process's counters.
#[derive(Default)]
pub struct Metrics {
    pub pushes: AtomicU64,
    pub cells_in: AtomicU64,
    pub cells_out: AtomicU64,
    pub pulls: AtomicU64,
    pub announcements: AtomicU64,
    pub sockets: AtomicI64,
}

impl Metrics {
    pub fn add(counter: &AtomicU64, amount: usize) {
        counter.fetch_add(amount as u64, Ordering::Relaxed);
    }

    /// Counts a socket as connected until the guard drops.
    pub fn socket_connected(self: &Arc<Self>) -> SocketGuard {
        self.sockets.fetch_add(1, Ordering::Relaxed);
        SocketGuard(self.clone())
    }
}

pub struct SocketGuard(Arc<Metrics>);

impl Drop for SocketGuard {
    fn drop(&mut self) {
        self.0.sockets.fetch_sub(1, Ordering::Relaxed);
    }
}

pub fn router() -> Router<AppState> {
    Router::new().route("/metrics", get(metrics))
}

async fn metrics(State(state): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    let client = state.pool.get().await.map_err(DbError::from)?;
    let devices = workspaces::device_stats(&**client).await?;
    let metrics = &state.metrics;
    let mut out = String::new();
    let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
    for (name, help, value) in [
        (
            "flightdeck_sync_pushes_total",
            "Pushes accepted",
            load(&metrics.pushes),
        ),
        (
            "flightdeck_sync_cells_in_total",
            "Cells received in accepted pushes",
            load(&metrics.cells_in),
        ),
        (
            "flightdeck_sync_cells_out_total",
            "Cells sent in pull pages",
            load(&metrics.cells_out),
        ),
        (
            "flightdeck_sync_pulls_total",
            "Pull pages served",
            load(&metrics.pulls),
        ),
        (
            "flightdeck_sync_announcements_total",
            "Head announcements sent over WebSockets",
            load(&metrics.announcements),
        ),
    ] {
        let _ = writeln!(
            out,
            "# HELP {name} {help}.\n# TYPE {name} counter\n{name} {value}"
        );
    }
    let _ = writeln!(
        out,
        "# HELP flightdeck_sync_connected_sockets WebSockets open on this process.\n\
         # TYPE flightdeck_sync_connected_sockets gauge\n\
         flightdeck_sync_connected_sockets {}",
        metrics.sockets.load(Ordering::Relaxed)
    );
    let _ = writeln!(
        out,
        "# HELP flightdeck_sync_device_last_seen_seconds When the device last pushed or pulled \
         (unix seconds).\n# TYPE flightdeck_sync_device_last_seen_seconds gauge"
    );
    for device in devices.iter() {
        if let Some(seen) = device.last_seen_unix {
            let _ = writeln!(
                out,
                "flightdeck_sync_device_last_seen_seconds{{workspace=\"{}\",device=\"{}\"}} {seen}",
                device.workspace_id, device.id
            );
        }
    }
    let _ = writeln!(
        out,
        "# HELP flightdeck_sync_device_lag Workspace head minus the sequence number the device \
         last pulled up to.\n# TYPE flightdeck_sync_device_lag gauge"
    );
    for device in &devices {
        let _ = writeln!(
            out,
            "flightdeck_sync_device_lag{{workspace=\"{}\",device=\"{}\"}} {}",
            device.workspace_id, device.id, device.lag
        );
    }
    Ok((
        [(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        out,
    ))
}
