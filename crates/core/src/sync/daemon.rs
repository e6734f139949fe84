//! Background sync: pull as soon as the server announces a new head over its WebSocket, push
//! soon after every local write (from this process or any other on the same database), pull
//! on a slow interval as a safety net, and back off with jitter while the server is away.
//! The app keeps working offline throughout; this only catches up.

use std::future::Future;
use std::time::Duration;

use super::account::{credentials, round_with, still_joined};
use super::announcements::{watch_server, Heard};
use super::backoff::Backoff;
use super::client::{apply_announced, Round, SyncClient, SyncReport};
use super::{has_pending, pull_cursor};
use crate::error::Result;
use crate::secrets::SecretStore;
use crate::store::Store;

#[derive(Debug, Clone)]
pub struct DaemonOptions {
    /// How often to look for unpushed local writes made by other processes.
    pub local_poll: Duration,
    /// How often to pull when nothing else prompts it.
    pub pull_interval: Duration,
    /// The longest wait between retries while the server is unreachable.
    pub max_backoff: Duration,
    /// The first wait after a failed round; it doubles with each failure up to
    /// `max_backoff`. A reconnected announcement socket cuts any wait short.
    pub retry_base: Duration,
}

impl Default for DaemonOptions {
    fn default() -> Self {
        Self {
            local_poll: Duration::from_millis(100),
            pull_interval: Duration::from_secs(30),
            max_backoff: Duration::from_secs(60),
            retry_base: super::backoff::DEFAULT_BASE,
        }
    }
}

/// Runs until `shutdown` completes, or the workspace leaves the server, calling `on_round`
/// after every sync attempt.
pub async fn run(
    store: &Store,
    secrets: &dyn SecretStore,
    options: DaemonOptions,
    shutdown: impl Future<Output = ()>,
    mut on_round: impl FnMut(&Result<SyncReport>),
) -> Result<()> {
    tokio::pin!(shutdown);
    let (url, token) = credentials(store, secrets)?;
    let joined = url.clone();
    // Memories a previous process pulled but did not get to index (it stopped between the
    // apply and the index update); cheap when there are none.
    super::client::index_pulled_memories(store);
    let client = SyncClient::new(&url, &token).with_schema(store.schema_version());
    let (heard_tx, mut heard) = tokio::sync::watch::channel(Heard::default());
    let reconnect = std::sync::Arc::new(tokio::sync::Notify::new());
    let watcher = tokio::spawn(watch_server(
        url,
        token,
        options.max_backoff,
        heard_tx,
        reconnect.clone(),
    ));
    let local = local_writes(store);
    let mut backoff = Backoff::with_base(options.retry_base, options.max_backoff);
    let mut next_pull = tokio::time::Instant::now();
    let mut retry_at: Option<tokio::time::Instant> = None;
    // Whether this device may hold unpushed changes: set by a local write through this process
    // and by the poll (which also sees other processes' writes), cleared by a full round.
    let mut maybe_pending = true;
    // An interval, not a sleep made anew on each pass: announcements arriving faster than
    // `local_poll` would otherwise restart the sleep every time, and another process's write
    // would wait for the next scheduled pull, which every successful round pushes back.
    // (An interval of zero would panic; a millisecond is the floor.)
    let mut poll = tokio::time::interval(options.local_poll.max(Duration::from_millis(1)));
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let outcome = loop {
        let woke = tokio::select! {
            _ = &mut shutdown => break Ok(()),
            _ = poll.tick() => Wake::Poll,
            _ = heard.changed() => Wake::Announcement,
            _ = local.notify.notified() => Wake::LocalWrite,
        };
        match woke {
            Wake::LocalWrite => maybe_pending = true,
            // Asking "is anything unpushed?" rather than "did db_version move?" cannot miss a
            // write that lands while a round is running.
            Wake::Poll if !maybe_pending => match has_pending(store) {
                Ok(pending) => maybe_pending = pending,
                Err(e) => break Err(e),
            },
            Wake::Poll | Wake::Announcement => {}
        }
        // The socket (re)connected or announced: the server is back, so whatever wait a
        // failed round left is over, and the round runs now.
        if woke == Wake::Announcement && heard.borrow().connected && retry_at.is_some() {
            backoff.reset();
            retry_at = None;
        }
        let now = tokio::time::Instant::now();
        if retry_at.is_some_and(|at| now < at) {
            continue;
        }
        let (announced, with_changes) = {
            let heard = heard.borrow_and_update();
            (heard.head, heard.with_changes.clone())
        };
        let remote_ahead = match (announced, pull_cursor(store)) {
            (Some(head), Ok(cursor)) => head > cursor,
            _ => false,
        };
        let scheduled = now >= next_pull || retry_at.is_some();
        if !(remote_ahead || scheduled || maybe_pending) {
            continue;
        }
        // The workspace left this server (`sync leave`, in this process or another): stop,
        // before anything is sent with the old token or applied from the old server.
        match still_joined(store, &joined) {
            Ok(true) => {}
            Ok(false) => break Ok(()),
            Err(e) => break Err(e),
        }
        let kind = if maybe_pending || scheduled {
            Round::PushAndPull
        } else {
            Round::PullOnly
        };
        // The newest push came with its cells and this device is one push behind: apply them
        // and skip the pull. Otherwise (or if that fails) the pull below catches up.
        if let (Round::PullOnly, Some(announcement)) = (kind, with_changes) {
            match apply_announced(store, &announcement) {
                Ok(Some(report)) => {
                    on_round(&Ok(report));
                    continue;
                }
                Ok(None) => {}
                Err(e) => tracing::debug!(error = %e, "announced changes not applied; pulling"),
            }
        }
        let result = round_with(store, &client, kind).await;
        if result.is_ok() && kind == Round::PushAndPull {
            // A local write during the round left a wake-up behind that sets this again.
            maybe_pending = false;
        }
        on_round(&result);
        match &result {
            Ok(_) => {
                backoff.reset();
                retry_at = None;
                // The server answered: a socket still waiting to reconnect tries now.
                if !heard.borrow().connected {
                    reconnect.notify_one();
                }
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
    local.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    outcome
}

/// What woke the daemon's loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wake {
    Poll,
    Announcement,
    LocalWrite,
}

/// Wakes the loop at once on writes made through this process's store; writes by other
/// processes on the same file are caught by the `local_poll` check for unpushed changes.
struct LocalWrites {
    notify: std::sync::Arc<tokio::sync::Notify>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

fn local_writes(store: &Store) -> LocalWrites {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let changes = store.subscribe();
    let notify = Arc::new(tokio::sync::Notify::new());
    let stop = Arc::new(AtomicBool::new(false));
    let (n, s) = (notify.clone(), stop.clone());
    // The store announces on a std channel; a small thread turns that into a tokio wake-up.
    std::thread::spawn(move || {
        while !s.load(Ordering::Relaxed) {
            match changes.recv_timeout(Duration::from_millis(500)) {
                Ok(_) => n.notify_one(),
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
            }
        }
    });
    LocalWrites { notify, stop }
}
