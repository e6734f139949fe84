//! Executors: each turns one run's spec into an [`Outcome`], streaming events through an
//! [`EventSink`] and stopping when the cancel signal fires.

pub mod agent_thread;
pub mod http;
pub mod pause_clock;
pub mod shell;

use std::sync::Arc;
use std::time::Duration;

use flightdeck_types::{ExecutionEvent, ExecutionStatus, Timestamp};
use tokio::sync::{mpsc, oneshot, watch};

use super::secret_mask::SecretMask;
use crate::error::Result;
use crate::store::{executions, Store};

/// How a run ended, as the executor saw it.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub status: ExecutionStatus,
    pub exit_code: Option<i64>,
    pub result: Option<serde_json::Value>,
    pub error: Option<String>,
}

impl Outcome {
    pub fn failed(error: impl Into<String>) -> Self {
        Self {
            status: ExecutionStatus::Failed,
            exit_code: None,
            result: None,
            error: Some(error.into()),
        }
    }
}

/// Fires once when the run should stop (a cancel was asked for).
#[derive(Clone)]
pub struct CancelSignal(watch::Receiver<bool>);

impl CancelSignal {
    pub fn new() -> (watch::Sender<bool>, Self) {
        let (tx, rx) = watch::channel(false);
        (tx, Self(rx))
    }

    /// Resolves when a cancel is asked for; never when the sender is dropped without one.
    pub async fn cancelled(&mut self) {
        if self.0.wait_for(|c| *c).await.is_err() {
            std::future::pending::<()>().await;
        }
    }

    pub fn is_cancelled(&self) -> bool {
        *self.0.borrow()
    }
}

/// Tunables of the event sink.
#[derive(Debug, Clone, Copy)]
pub struct SinkConfig {
    /// Bytes of stdout/stderr kept per run; the rest is dropped after one `truncated` event.
    pub output_cap_bytes: usize,
    /// Events are written in batches of at most this many...
    pub batch_lines: usize,
    /// ...or after this long, whichever comes first.
    pub batch_interval: Duration,
}

impl Default for SinkConfig {
    fn default() -> Self {
        Self {
            output_cap_bytes: 1024 * 1024,
            batch_lines: 256,
            batch_interval: Duration::from_millis(50),
        }
    }
}

enum Msg {
    Event(&'static str, String),
    Flush(oneshot::Sender<()>),
}

/// Appends a run's events to the store in batches: one write per 256 events or 50 ms
/// instead of one per line, so a chatty process does not serialise on the write lock.
#[derive(Clone)]
pub struct EventSink {
    tx: mpsc::UnboundedSender<Msg>,
}

/// What the sink wrote, for the final write.
#[derive(Debug, Clone, Default)]
pub struct SinkTotals {
    pub next_seq: i64,
    pub output_bytes: u64,
    pub truncated: bool,
    /// Output lines that record a memory (`memory: ...`), at most one past
    /// [`crate::memory::MAX_PER_RUN`] so that the capture can say some were left out.
    pub memory_lines: Vec<String>,
    /// The last stdout line (a workflow step's JSON result when it is JSON), at most
    /// [`LAST_LINE_MAX`] bytes.
    pub last_stdout: Option<String>,
}

pub const LAST_LINE_MAX: usize = 64 * 1024;

impl EventSink {
    /// Starts the writer task; events get numbers from `first_seq` on, each batch moved up
    /// past the run's last stored event when it is written. Every event's data is
    /// masked with `mask` before anything else looks at it (the output cap, `memory:` lines,
    /// a step's last line) and before it is written.
    pub fn start(
        store: Arc<Store>,
        execution_id: String,
        first_seq: i64,
        config: SinkConfig,
        mask: Arc<SecretMask>,
    ) -> (Self, tokio::task::JoinHandle<Result<SinkTotals>>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let handle = tokio::spawn(write_loop(store, execution_id, first_seq, config, mask, rx));
        (Self { tx }, handle)
    }

    /// Queues one event. Output kinds (`stdout`, `stderr`) count against the output cap.
    pub fn push(&self, kind: &'static str, data: impl Into<String>) {
        // A closed channel means the run is being torn down; late lines are moot.
        let _ = self.tx.send(Msg::Event(kind, data.into()));
    }

    /// Waits until every event pushed so far is written.
    pub async fn flush(&self) {
        let (tx, rx) = oneshot::channel();
        if self.tx.send(Msg::Flush(tx)).is_ok() {
            let _ = rx.await;
        }
    }
}

async fn write_loop(
    store: Arc<Store>,
    execution_id: String,
    first_seq: i64,
    config: SinkConfig,
    mask: Arc<SecretMask>,
    mut rx: mpsc::UnboundedReceiver<Msg>,
) -> Result<SinkTotals> {
    let mut totals = SinkTotals {
        next_seq: first_seq,
        ..SinkTotals::default()
    };
    let mut batch: Vec<ExecutionEvent> = Vec::new();
    let mut waiters: Vec<oneshot::Sender<()>> = Vec::new();
    let mut first_error = None;
    loop {
        let deadline = tokio::time::sleep(config.batch_interval);
        tokio::pin!(deadline);
        let open = loop {
            tokio::select! {
                msg = rx.recv() => match msg {
                    None => break false,
                    Some(Msg::Flush(w)) => { waiters.push(w); break true; }
                    Some(Msg::Event(kind, mut data)) => {
                        mask.mask_string(&mut data);
                        accept(&mut totals, &mut batch, &execution_id, &config, kind, data);
                        if batch.len() >= config.batch_lines { break true; }
                    }
                },
                _ = &mut deadline, if !batch.is_empty() => break true,
            }
        };
        if !batch.is_empty() {
            let mut events = std::mem::take(&mut batch);
            let store = store.clone();
            let id = execution_id.clone();
            let written = tokio::task::spawn_blocking(move || {
                store.write(|w| {
                    // Another process may have added events to this run since (an agent's
                    // `flightdeck mcp` reporting progress): the batch goes after them, numbered
                    // in the same transaction. One indexed max() per batch.
                    let shift = (executions::next_event_seq(w, &id)? - events[0].seq).max(0);
                    for e in &mut events {
                        e.seq += shift;
                        executions::insert_event(w, e)?;
                    }
                    w.touched(
                        "execution_events",
                        &id,
                        flightdeck_types::AuditAction::Create,
                    );
                    Ok(shift)
                })
            })
            .await
            .expect("the event writer does not panic");
            match written {
                Ok(shift) => totals.next_seq += shift,
                Err(e) => {
                    tracing::warn!(error = %e, run = %execution_id, "could not write run events");
                    first_error.get_or_insert(e);
                }
            }
        }
        for w in waiters.drain(..) {
            let _ = w.send(());
        }
        if !open {
            break;
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(totals),
    }
}

fn accept(
    totals: &mut SinkTotals,
    batch: &mut Vec<ExecutionEvent>,
    execution_id: &str,
    config: &SinkConfig,
    kind: &'static str,
    data: String,
) {
    if matches!(kind, "stdout" | "stderr") {
        // Looked at before the output cap: what a run learned at the end of a long log counts.
        if crate::memory::is_memory_line(&data)
            && totals.memory_lines.len() <= crate::memory::MAX_PER_RUN
        {
            totals.memory_lines.push(data.clone());
        }
        if kind == "stdout" && !data.trim().is_empty() {
            totals.last_stdout = (data.len() <= LAST_LINE_MAX).then(|| data.clone());
        }
        totals.output_bytes += data.len() as u64 + 1;
        if totals.truncated {
            return;
        }
        if totals.output_bytes > config.output_cap_bytes as u64 {
            totals.truncated = true;
            let marker = format!(
                "output passed {} bytes; the rest of it is not kept",
                config.output_cap_bytes
            );
            batch.push(event(totals, execution_id, "truncated", marker));
            return;
        }
    }
    batch.push(event(totals, execution_id, kind, data));
}

fn event(totals: &mut SinkTotals, id: &str, kind: &str, data: String) -> ExecutionEvent {
    let seq = totals.next_seq;
    totals.next_seq += 1;
    ExecutionEvent {
        execution_id: id.to_string(),
        seq,
        at: crate::clock::now(),
        kind: kind.to_string(),
        data,
    }
}

/// Parses a "retry after" value: an RFC 3339 time or a number of seconds from `now`.
pub fn parse_retry_after_value(value: &str, now: Timestamp) -> Option<i64> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<f64>() {
        if secs.is_finite() && secs >= 0.0 {
            return Some(now.as_millis() + (secs * 1000.0) as i64);
        }
    }
    chrono::DateTime::parse_from_rfc3339(value)
        .ok()
        .map(|t| t.timestamp_millis())
}
