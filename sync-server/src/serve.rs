//! Serving the router over TCP. hyper-util's connection builder is used directly because
//! `axum::serve` gives hyper no timer, so hyper's header-read timeout never fires: a client
//! that trickled request headers (or opened connections and sent nothing) held each
//! connection and its task for ever.

use std::future::Future;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;

/// How long a client may take to send a request's headers, counted from the moment the
/// connection waits for them: so it is also how long an idle keep-alive connection is kept.
/// Flightdeck's client drops idle connections sooner (see `flightdeck_core::sync::client`).
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(20);

/// HTTP/2 connections (h2c) are pinged this often and closed when a ping is not answered
/// within the header-read timeout.
const HTTP2_PING_INTERVAL: Duration = Duration::from_secs(20);

/// How long open requests get to finish once shutdown is asked for.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Serves `router` on `listener` until `shutdown` completes, then lets open connections
/// finish (up to [`SHUTDOWN_GRACE`]). WebSocket upgrades work as with `axum::serve`; an
/// upgraded socket is no longer under the header timeout (it has its own pings).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    header_read_timeout: Duration,
    shutdown: impl Future<Output = ()>,
) {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(header_read_timeout);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(HTTP2_PING_INTERVAL)
        .keep_alive_timeout(header_read_timeout);
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let (tcp, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors, say: a connection's error, not the server's.
                    tracing::warn!(%error, "cannot accept a connection");
                    tokio::task::yield_now().await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // Small writes (WebSocket announcements, push acknowledgements) must leave at once:
        // with Nagle's algorithm on, loopback latency sat at delayed-ACK multiples (40 ms).
        if let Err(error) = tcp.set_nodelay(true) {
            tracing::warn!(%error, "cannot set TCP_NODELAY");
        }
        let service = TowerToHyperService::new(router.clone());
        let (builder, watcher) = (builder.clone(), graceful.watcher());
        tokio::spawn(async move {
            // The builder reads the first bytes to tell HTTP/1 from HTTP/2 before hyper's
            // own timer runs: a connection that sends nothing is dropped here.
            // (`readable()` may wake spuriously; a peek waits for a byte or the end.)
            let mut first = [0u8; 1];
            match tokio::time::timeout(header_read_timeout, tcp.peek(&mut first)).await {
                Ok(Ok(n)) if n > 0 => {}
                _ => return,
            }
            let connection = builder.serve_connection_with_upgrades(TokioIo::new(tcp), service);
            if let Err(error) = watcher.watch(connection.into_owned()).await {
                tracing::debug!(%error, "connection ended with an error");
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("connections still open after the shutdown grace period");
    }
}
