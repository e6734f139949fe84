//! Engine events to the UI as they happen. Every committed write of this process's store
//! becomes an `entity-changed` event, then one `sync-status` (pending changes grew). New
//! timeline lines of a run become `run-events` (read from the store right after the write
//! that added them, so the UI never polls for live logs), and finished runs and escalated
//! errors become desktop notifications. Commits of other processes on the same database (the
//! daemon running the work, the CLI) are noticed by SQLite's `data_version` and forwarded the
//! same way.

use std::collections::{BTreeSet, HashMap};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use flightdeck_core::store::Change;
use flightdeck_core::{runs, Store};
use flightdeck_types::{EntityChanged, ExecutionFilter, RunEvents};
use tauri::{AppHandle, Emitter, Manager};

use crate::notify::Alerts;
use crate::state::AppState;
use crate::sync::{report, ENTITY_CHANGED_EVENT};

pub const RUN_EVENTS_EVENT: &str = "run-events";

/// Timeline lines read and emitted at most per read.
const PAGE: u32 = 500;

/// How often the forwarder looks for commits of other processes when this one is quiet. It
/// reads one pragma; the UI itself never polls.
const OTHER_PROCESS_CHECK: Duration = Duration::from_millis(250);

/// The runs looked at after another process wrote: the newest, live or just ended.
const RECENT_RUNS: u32 = 50;

pub fn forward_store_changes(app: &AppHandle) {
    let state = app.state::<AppState>();
    let Ok(store) = state.store() else {
        return;
    };
    let changes = store.subscribe();
    let (app, store) = (app.clone(), store.clone());
    std::thread::spawn(move || {
        let mut logs = RunLogs::default();
        let mut alerts = Alerts::from_now();
        let mut seen_version = store.data_version().ok();
        // Runs until the process exits (this thread keeps the store, hence the sender).
        loop {
            let first = match changes.recv_timeout(OTHER_PROCESS_CHECK) {
                Ok(first) => first,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    let version = store.data_version().ok();
                    if version != seen_version {
                        seen_version = version;
                        other_process_wrote(&app, &store, &mut logs, &mut alerts);
                    }
                    continue;
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => return,
            };
            // A transaction's changes arrive together: forward them all, follow up once each.
            let batch: Vec<Change> = std::iter::once(first).chain(changes.try_iter()).collect();
            let mut touched = BTreeSet::new();
            for change in &batch {
                emit(&app, change);
                touched.insert((change.table, change.id.as_str()));
            }
            let mut errors_changed = false;
            for (table, id) in touched {
                match table {
                    "execution_events" => logs.forward(&app, &store, id),
                    "executions" => follow_run(&app, &store, &mut logs, &mut alerts, id),
                    "error_records" => errors_changed = true,
                    _ => {}
                }
            }
            if errors_changed {
                alerts.errors_changed(&app, &store);
            }
            report(&app);
        }
    });
}

/// Sends a run's new timeline lines and, once it ended, its notification.
fn follow_run(
    app: &AppHandle,
    store: &Arc<Store>,
    logs: &mut RunLogs,
    alerts: &mut Alerts,
    id: &str,
) {
    // Status lines are written with the status itself.
    logs.forward(app, store, id);
    if let Ok(run) = runs::get(store, id) {
        if run.status.is_final() {
            logs.forget(id);
        }
        alerts.run_changed(app, store, &run);
    }
}

/// Another process wrote to the workspace (say, `flightdeck daemon` running the work): which
/// rows is not known, so every view refetches (`*`), and the runs that are live or ended
/// lately get their new log lines and notifications as if this process had written them.
fn other_process_wrote(
    app: &AppHandle,
    store: &Arc<Store>,
    logs: &mut RunLogs,
    alerts: &mut Alerts,
) {
    let everything = EntityChanged {
        table: "*".into(),
        id: String::new(),
    };
    if let Err(e) = app.emit(ENTITY_CHANGED_EVENT, &everything) {
        tracing::warn!(error = %e, "could not emit entity-changed");
    }
    let recent = ExecutionFilter {
        limit: Some(RECENT_RUNS),
        ..Default::default()
    };
    match runs::list(store, &recent) {
        Ok(list) => {
            for run in list {
                if !run.status.is_final() || logs.sent.contains_key(&run.id) {
                    follow_run(app, store, logs, alerts, &run.id);
                } else {
                    alerts.run_changed(app, store, &run);
                }
            }
        }
        Err(e) => tracing::warn!(error = %e, "could not read the recent runs"),
    }
    alerts.errors_changed(app, store);
    report(app);
}

fn emit(app: &AppHandle, change: &Change) {
    let payload = EntityChanged {
        table: change.table.to_string(),
        id: change.id.clone(),
    };
    if let Err(e) = app.emit(ENTITY_CHANGED_EVENT, &payload) {
        tracing::warn!(error = %e, "could not emit entity-changed");
    }
}

/// The last timeline line sent to the UI, per live run.
#[derive(Default)]
struct RunLogs {
    sent: HashMap<String, i64>,
}

impl RunLogs {
    /// Sends the run's lines written since the last ones sent. The UI reads a run's earlier
    /// lines with `run_events` when it opens it and drops any it already has (by `seq`).
    fn forward(&mut self, app: &AppHandle, store: &Arc<Store>, run_id: &str) {
        let mut after = self.sent.get(run_id).copied().unwrap_or(0);
        loop {
            let events = match runs::events(store, run_id, after, PAGE) {
                Ok(events) => events,
                Err(e) => {
                    tracing::warn!(error = %e, run = run_id, "could not read a run's events");
                    return;
                }
            };
            let Some(last) = events.last().map(|e| e.seq) else {
                return;
            };
            let full = events.len() == PAGE as usize;
            let payload = RunEvents {
                execution_id: run_id.to_string(),
                events,
            };
            if let Err(e) = app.emit(RUN_EVENTS_EVENT, &payload) {
                tracing::warn!(error = %e, "could not emit run-events");
            }
            after = last;
            self.sent.insert(run_id.to_string(), last);
            if !full {
                return;
            }
        }
    }

    /// A run ended: nothing more will be written to its timeline.
    fn forget(&mut self, run_id: &str) {
        self.sent.remove(run_id);
    }
}
