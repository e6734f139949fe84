//! The worker: everything one workspace runs in the background — the runner (queued runs,
//! retries included, once their time comes), the workflow driver, the scheduler and, when the workspace has joined
//! a server, sync. It holds the workspace's worker lock for its whole life, so the desktop app
//! and `flightdeck daemon` never both fire a schedule or start a run.

use std::future::Future;
use std::sync::Arc;

use crate::error::Result;
use crate::runs::{self, RunnerConfig, WorkerLock};
use crate::schedules::{Scheduler, SystemClock};
use crate::secrets::SecretStore;
use crate::store::Store;
use crate::sync::{account, daemon};

#[derive(Debug, Clone, Default)]
pub struct WorkerOptions {
    pub runner: RunnerConfig,
    pub sync: daemon::DaemonOptions,
}

/// What the worker tells its host (the CLI prints it, the app turns it into events).
#[derive(Debug)]
pub enum WorkerEvent {
    /// Runs found `running` at start-up, left by a process that died; now `interrupted`.
    Recovered(usize),
    /// Workflow runs found running at start-up, resumed from their checkpoints.
    WorkflowsResumed(usize),
    /// Sync is off: the workspace has not joined a server.
    SyncOff,
    /// This workspace joined a server, but this device has no device token to sync with
    /// (the keyring lost it, or it was never stored): why, and what to do. Nothing syncs.
    NoDeviceToken(String),
    /// One sync round's outcome.
    Synced(Result<crate::sync::client::SyncReport>),
}

/// Takes the worker lock as `holder` (or fails naming who holds it), recovers interrupted
/// runs, then runs the runner, the scheduler and sync until `shutdown` completes. Runs in
/// flight finish before it returns.
pub async fn run(
    store: Arc<Store>,
    secrets: Arc<dyn SecretStore>,
    holder: &str,
    options: WorkerOptions,
    shutdown: impl Future<Output = ()>,
    on_event: impl Fn(WorkerEvent) + Send + Sync + 'static,
) -> Result<()> {
    let lock = WorkerLock::acquire(&store, holder)?;
    let on_event = Arc::new(on_event);
    let recovered = runs::recover_interrupted(&store, secrets.as_ref())?;
    if !recovered.is_empty() {
        on_event(WorkerEvent::Recovered(recovered.len()));
    }
    let resumed = crate::workflows::recover(&store)?;
    if resumed > 0 {
        on_event(WorkerEvent::WorkflowsResumed(resumed));
    }
    let runner_config = runs::settings::apply(&store, options.runner)?;
    let runner = runs::Runner::new(store.clone(), secrets.clone(), runner_config).spawn();
    let driver = crate::workflows::WorkflowDriver::new(store.clone()).spawn();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let searching = {
        let (store, mut stop) = (store.clone(), stop_rx.clone());
        tokio::spawn(crate::memory::serve::serve(store, async move {
            let _ = stop.wait_for(|s| *s).await;
        }))
    };
    let cleaning = tokio::spawn(clean_worktrees(store.clone(), stop_rx.clone()));
    let backing_up = tokio::spawn(daily_backups(store.clone(), stop_rx.clone()));
    let scheduler = Arc::new(Scheduler::new(store.clone(), Arc::new(SystemClock)));
    let scheduling = tokio::spawn(scheduler.run(stop_rx.clone()));
    let joined = account::status(&store)?.joined;
    let token_problem = match joined {
        true => account::credentials(&store, &*secrets).err(),
        false => None,
    };
    let syncing = if let Some(problem) = token_problem {
        on_event(WorkerEvent::NoDeviceToken(format!(
            "this device joined a sync server but has no device token to use ({problem}); \
             set {} to the token `sync join` printed, or join again with a new join token \
             (on a machine without an OS keyring, FLIGHTDECK_KEYRING=file keeps it in the \
             encrypted secrets file)",
            account::TOKEN_ENV
        )));
        None
    } else if joined {
        let (store, secrets, events) = (store.clone(), secrets.clone(), on_event.clone());
        let mut stop = stop_rx;
        Some(tokio::spawn(async move {
            let stopped = async move {
                let _ = stop.wait_for(|s| *s).await;
            };
            daemon::run(&store, &*secrets, options.sync, stopped, |round| {
                events(WorkerEvent::Synced(match round {
                    Ok(r) => Ok(r.clone()),
                    Err(e) => Err(crate::CoreError::Sync {
                        code: "round".into(),
                        message: e.to_string(),
                    }),
                }))
            })
            .await
        }))
    } else {
        on_event(WorkerEvent::SyncOff);
        None
    };

    shutdown.await;
    let _ = stop_tx.send(true);
    let driver_result = driver.stop().await;
    let search_result = searching.await.expect("the search service does not panic");
    if let Err(e) = &search_result {
        tracing::warn!(error = %e, "the memory search service stopped");
    }
    let _ = cleaning.await;
    let _ = backing_up.await;
    let runner_result = runner.stop().await.and(driver_result);
    let scheduler_result = scheduling.await.expect("the scheduler does not panic");
    let sync_result = match syncing {
        Some(task) => task.await.expect("sync does not panic"),
        None => Ok(()),
    };
    lock.release(&store)?;
    runner_result.and(scheduler_result).and(sync_result)
}

/// How often the worker removes merged runs' old worktrees (see
/// [`runs::worktree::clean`]); also once at start.
const WORKTREE_CLEAN_EVERY: std::time::Duration = std::time::Duration::from_secs(6 * 60 * 60);

/// A daily backup of the workspace while the worker runs (looked at ten minutes after it
/// starts, then hourly; the last [`crate::backup::KEEP_DAILY`] kept), and the history past
/// its retention pruned.
async fn daily_backups(store: Arc<Store>, mut stop: tokio::sync::watch::Receiver<bool>) {
    // Not at once: a worker that starts is busy recovering and catching up, and one started
    // for a moment (a `workflow start --follow`) needs no backup.
    tokio::select! {
        _ = stop.wait_for(|s| *s) => return,
        _ = tokio::time::sleep(std::time::Duration::from_secs(600)) => {}
    }
    loop {
        let s = store.clone();
        match tokio::task::spawn_blocking(move || crate::backup::daily_if_due(&s)).await {
            Ok(Ok(Some(made))) => {
                tracing::info!(file = %made.file.display(), "made the daily backup")
            }
            Ok(Ok(None)) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "the daily backup failed"),
            Err(e) => tracing::warn!(error = %e, "the daily backup stopped"),
        }
        // And the history past its retention, if one is set.
        let s = store.clone();
        let pruned = tokio::task::spawn_blocking(move || {
            let days = runs::settings::limits(&s)?.keep_history_days;
            if days == 0 {
                return Ok(crate::retention::Pruned::default());
            }
            crate::retention::prune(&s, days)
        })
        .await;
        match pruned {
            Ok(Ok(p)) if p.runs + p.workflow_runs > 0 => {
                tracing::info!(
                    runs = p.runs,
                    workflow_runs = p.workflow_runs,
                    "pruned old history"
                )
            }
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "pruning old history failed"),
            Err(e) => tracing::warn!(error = %e, "pruning old history stopped"),
        }
        tokio::select! {
            _ = stop.wait_for(|s| *s) => return,
            _ = tokio::time::sleep(std::time::Duration::from_secs(3600)) => {}
        }
    }
}

async fn clean_worktrees(store: Arc<Store>, mut stop: tokio::sync::watch::Receiver<bool>) {
    loop {
        let s = store.clone();
        let done = tokio::task::spawn_blocking(move || {
            runs::worktree::clean::clean(&s, crate::clock::now())
        })
        .await;
        match done {
            Ok(Ok(report)) => {
                for removed in &report.removed {
                    tracing::info!(run = %removed.run_id, path = %removed.path, "removed a merged run's old worktree");
                }
                if !report.kept.is_empty() {
                    tracing::info!(
                        count = report.kept.len(),
                        "old worktrees kept (not merged); `flightdeck runs worktrees` lists them"
                    );
                }
            }
            Ok(Err(e)) => tracing::warn!(error = %e, "the worktree clean-up failed"),
            Err(e) => tracing::warn!(error = %e, "the worktree clean-up stopped"),
        }
        tokio::select! {
            _ = stop.wait_for(|s| *s) => return,
            _ = tokio::time::sleep(WORKTREE_CLEAN_EVERY) => {}
        }
    }
}
