//! `/metrics`: Prometheus text exposition through the `prometheus` crate.
//!
//! This process's counters, its socket gauge and a request-duration histogram per route live
//! in its registry; per-device last seen and lag come from the database at scrape time (a
//! registry of their own per scrape), so every server process on one database reports them
//! alike.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use prometheus::{
    Encoder, GaugeVec, HistogramOpts, HistogramVec, IntCounter, IntGauge, Opts, Registry,
    TextEncoder,
};

use crate::app::AppState;
use crate::db::{workspaces, DbError};
use crate::error::ApiError;

/// Request-duration buckets, in seconds: from a quick pull to a push of several MiB.
const BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// This process's metrics.
pub struct Metrics {
    registry: Registry,
    pub pushes: IntCounter,
    pub cells_in: IntCounter,
    pub cells_out: IntCounter,
    pub pulls: IntCounter,
    pub announcements: IntCounter,
    pub sockets: IntGauge,
    /// Per request: method, route (the route's pattern, never the raw path) and status.
    pub requests: HistogramVec,
}

impl Default for Metrics {
    fn default() -> Self {
        let registry = Registry::new();
        let counter = |name: &str, help: &str| {
            let c = IntCounter::new(name, help).expect("a valid metric name");
            registry
                .register(Box::new(c.clone()))
                .expect("each metric registered once");
            c
        };
        let pushes = counter("flightdeck_sync_pushes_total", "Pushes accepted.");
        let cells_in = counter(
            "flightdeck_sync_cells_in_total",
            "Cells received in accepted pushes.",
        );
        let cells_out = counter(
            "flightdeck_sync_cells_out_total",
            "Cells sent in pull pages.",
        );
        let pulls = counter("flightdeck_sync_pulls_total", "Pull pages served.");
        let announcements = counter(
            "flightdeck_sync_announcements_total",
            "Head announcements sent over WebSockets.",
        );
        let sockets = IntGauge::new(
            "flightdeck_sync_connected_sockets",
            "WebSockets open on this process.",
        )
        .expect("a valid metric name");
        registry
            .register(Box::new(sockets.clone()))
            .expect("registered once");
        let requests = HistogramVec::new(
            HistogramOpts::new(
                "flightdeck_sync_request_duration_seconds",
                "Time to answer a request, by method, route and status.",
            )
            .buckets(BUCKETS.to_vec()),
            &["method", "route", "status"],
        )
        .expect("a valid metric");
        registry
            .register(Box::new(requests.clone()))
            .expect("registered once");
        Metrics {
            registry,
            pushes,
            cells_in,
            cells_out,
            pulls,
            announcements,
            sockets,
            requests,
        }
    }
}

impl Metrics {
    pub fn add(counter: &IntCounter, amount: usize) {
        counter.inc_by(amount as u64);
    }

    /// Counts a socket as connected until the guard drops.
    pub fn socket_connected(self: &Arc<Self>) -> SocketGuard {
        self.sockets.inc();
        SocketGuard(self.clone())
    }
}

pub struct SocketGuard(Arc<Metrics>);

impl Drop for SocketGuard {
    fn drop(&mut self) {
        self.0.sockets.dec();
    }
}

pub fn router() -> Router<AppState> {
    Router::new().route("/metrics", get(metrics))
}

/// Times every routed request into `flightdeck_sync_request_duration_seconds` (a route layer:
/// requests no route matched are not timed, so unknown paths add no series).
pub async fn track(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    let method = request.method().to_string();
    let started = Instant::now();
    let response = next.run(request).await;
    state
        .metrics
        .requests
        .with_label_values(&[&method, &route, response.status().as_str()])
        .observe(started.elapsed().as_secs_f64());
    response
}

async fn metrics(State(state): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    let client = state.pool.get().await.map_err(DbError::from)?;
    let devices = workspaces::device_stats(&**client).await?;
    let gauge = |name: &str, help: &str| {
        GaugeVec::new(Opts::new(name, help), &["workspace", "device"]).expect("a valid metric")
    };
    let last_seen = gauge(
        "flightdeck_sync_device_last_seen_seconds",
        "When the device last pushed or pulled (unix seconds).",
    );
    let lag = gauge(
        "flightdeck_sync_device_lag",
        "Workspace head minus the sequence number the device last pulled up to.",
    );
    for device in &devices {
        let labels = [device.workspace_id.to_string(), device.id.to_string()];
        let labels = [labels[0].as_str(), labels[1].as_str()];
        if let Some(seen) = device.last_seen_unix {
            last_seen.with_label_values(&labels).set(seen as f64);
        }
        lag.with_label_values(&labels).set(device.lag as f64);
    }
    let scrape = Registry::new();
    scrape
        .register(Box::new(last_seen))
        .expect("registered once");
    scrape.register(Box::new(lag)).expect("registered once");
    let mut families = state.metrics.registry.gather();
    families.extend(scrape.gather());
    let mut out = Vec::new();
    TextEncoder::new()
        .encode(&families, &mut out)
        .map_err(|e| ApiError::Internal(format!("metrics could not be encoded: {e}")))?;
    Ok((
        [(CONTENT_TYPE, TextEncoder::new().format_type().to_string())],
        out,
    ))
}
