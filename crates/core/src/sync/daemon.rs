//! Background sync: pull as soon as the server announces a new head over its WebSocket, push
//! soon after every local write (from this process or any other on the same database), pull
//! on a slow interval as a safety net, and back off with jitter while the server is away.
//! The app keeps working offline throughout; this only catches up.

use std::future::Future;
use std::time::Duration;

use super::account::{credentials, sync_now};
use super::announcements::{watch_server, Heard};
use super::backoff::Backoff;
use super::client::SyncReport;
use super::pull_cursor;
use crate::error::Result;
use crate::secrets::SecretStore;
use crate::store::Store;

#[derive(Debug, Clone)]
pub struct DaemonOptions {
    /// How often to look for local writes (a cheap `crsql_db_version()` read).
    pub local_poll: Duration,
    /// How often to pull when nothing else prompts it.
    pub pull_interval: Duration,
    /// The longest wait between retries while the server is unreachable.
    pub max_backoff: Duration,
}

impl Default for DaemonOptions {
    fn default() -> Self {
        Self {
            local_poll: Duration::from_millis(100),
            pull_interval: Duration::from_secs(30),
            max_backoff: Duration::from_secs(60),
        }
    }
}

/// Runs until `shutdown` completes, calling `on_round` after every sync attempt.
pub async fn run(
    store: &Store,
    secrets: &dyn SecretStore,
    options: DaemonOptions,
    shutdown: impl Future<Output = ()>,
    mut on_round: impl FnMut(&Result<SyncReport>),
) -> Result<()> {
    tokio::pin!(shutdown);
    let (url, token) = credentials(store, secrets)?;
    let (heard_tx, mut heard) = tokio::sync::watch::channel(Heard::default());
    let watcher = tokio::spawn(watch_server(url, token, options.max_backoff, heard_tx));
    let mut backoff = Backoff::new(options.max_backoff);
    let mut seen_version: Option<i64> = None;
    let mut next_pull = tokio::time::Instant::now();
    let mut retry_at: Option<tokio::time::Instant> = None;
    let outcome = loop {
        tokio::select! {
            _ = &mut shutdown => break Ok(()),
            _ = tokio::time::sleep(options.local_poll) => {}
            _ = heard.changed() => {}
        }
        let now = tokio::time::Instant::now();
        if retry_at.is_some_and(|at| now < at) {
            continue;
        }
        let version = match store.db_version() {
            Ok(v) => v,
            Err(e) => break Err(e),
        };
        let local_write = seen_version != Some(version);
        let announced = heard.borrow_and_update().head;
        let remote_ahead = match (announced, pull_cursor(store)) {
            (Some(head), Ok(cursor)) => head > cursor,
            _ => false,
        };
        if !(local_write || remote_ahead || now >= next_pull || retry_at.is_some()) {
            continue;
        }
        let result = sync_now(store, secrets).await;
        on_round(&result);
        match &result {
            Ok(_) => {
                backoff.reset();
                retry_at = None;
                // Our own pull moved db_version too: remember where the round left it.
                seen_version = store.db_version().ok();
                next_pull = tokio::time::Instant::now() + options.pull_interval;
            }
            Err(e) => {
                let wait = backoff.next_wait();
                tracing::warn!(error = %e, retry_in = ?wait, "sync failed; working offline");
                retry_at = Some(tokio::time::Instant::now() + wait);
            }
        }
    };
    watcher.abort();
    outcome
}
