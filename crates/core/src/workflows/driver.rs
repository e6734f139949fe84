//! The driver: on the runner device, moves live workflow runs on when something outside a
//! step's end changes them (a start, pause, resume, cancel or approval, from this device or
//! merged by sync), sends the stop and continue signals that pausing needs, and resumes
//! runs a dead process left behind.

use std::sync::Arc;
use std::time::Duration;

use flightdeck_types::WorkflowRunStatus;
use tokio::sync::Notify;

use super::engine;
use crate::error::Result;
use crate::store::{workflows as sql, Store};

/// Moves every live run of this device on once. A run only waiting (for a person's approval,
/// or paused with nothing of it ending) is read, not written: an idle run costs no write.
pub fn tick(store: &Store) -> Result<()> {
    let ids = store.read(|c| sql::live_run_ids(c, store.device_id()))?;
    if super::lease::held(store)? {
        return Ok(()); // until a sync says whether another device adopted them
    }
    super::lease::renew(store)?;
    for id in ids {
        if store.read(|c| engine::is_waiting(c, &id))? {
            continue;
        }
        let effects = store.write(|w| engine::advance_in(w, &id))?;
        effects.apply();
    }
    Ok(())
}

/// At a worker's start (after [`crate::runs::recover_interrupted`] ended the step runs a dead
/// process left `running`, which hands them to their retry policies): every run that was
/// running here is marked `interrupted` at a boundary and resumed from its checkpoint.
/// Returns how many were.
pub fn recover(store: &Store) -> Result<usize> {
    if super::lease::held(store)? {
        return Ok(0); // the driver recovers them once the hold ends
    }
    let ids = store.read(|c| sql::live_run_ids(c, store.device_id()))?;
    let mut resumed = 0;
    for id in ids {
        let effects = store.write(|w| {
            let mut run = sql::find_run(w, &id)?;
            if run.status == WorkflowRunStatus::Running {
                run.status = WorkflowRunStatus::Interrupted;
                // The status goes back to running in advance_in below.
                engine::status_boundary(w, &mut run, "interrupted", serde_json::json!({}))?;
                resumed += 1;
            }
            engine::advance_in(w, &id)
        })?;
        effects.apply();
    }
    Ok(resumed)
}

pub struct WorkflowDriver {
    store: Arc<Store>,
    /// A safety net for changes no subscriber hears of (rows merged by sync, other processes).
    idle_poll: Duration,
}

pub struct DriverHandle {
    stop: Arc<Notify>,
    task: tokio::task::JoinHandle<Result<()>>,
}

impl DriverHandle {
    pub async fn stop(self) -> Result<()> {
        self.stop.notify_one();
        self.task.await.expect("the workflow driver does not panic")
    }
}

impl WorkflowDriver {
    pub fn new(store: Arc<Store>) -> Self {
        Self {
            store,
            idle_poll: Duration::from_millis(250),
        }
    }

    /// Starts the loop on the current runtime; the caller holds the worker lock.
    pub fn spawn(self) -> DriverHandle {
        let stop = Arc::new(Notify::new());
        let task = tokio::spawn(self.run(stop.clone()));
        DriverHandle { stop, task }
    }

    async fn run(self, stop: Arc<Notify>) -> Result<()> {
        let wake = Arc::new(Notify::new());
        // Not the engine's own transitions: a run it moved on needs nothing more now.
        crate::runs::runner::forward_changes(&self.store, wake.clone(), |c| {
            matches!(c.table, "workflow_runs" | "workflow_approvals")
                && c.action != flightdeck_types::AuditAction::Transition
        });
        let mut held = super::lease::held(&self.store)?;
        loop {
            let store = self.store.clone();
            let was_held = held;
            let (ticked, still_held) = tokio::task::spawn_blocking(move || {
                let mut held = was_held;
                let ticked = (|| {
                    if held && !super::lease::held(&store)? {
                        held = false;
                        recover(&store)?;
                    }
                    tick(&store)
                })();
                (ticked, held)
            })
            .await
            .expect("ticks do not panic");
            held = still_held;
            if let Err(e) = ticked {
                tracing::warn!(error = %e, "could not move workflow runs on");
            }
            tokio::select! {
                _ = stop.notified() => return Ok(()),
                _ = wake.notified() => {}
                _ = tokio::time::sleep(self.idle_poll) => {}
            }
        }
    }
}
