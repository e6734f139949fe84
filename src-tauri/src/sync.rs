//! Sync for the app. The worker (see [`crate::worker`]) syncs a workspace that had joined a
//! server when it started; otherwise (joined later, or the worker lock is held by
//! `flightdeck daemon`) the app runs `sync::daemon::run` by itself here, on its own thread and
//! tokio runtime. Either way each round is reported to the UI as a `sync-status` event and to
//! the tray.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use flightdeck_core::secrets::OsKeyring;
use flightdeck_core::sync::{account, daemon};
use flightdeck_core::Store;
use flightdeck_types::{EntityChanged, SyncInfo, WorkerState};
use tauri::{AppHandle, Emitter, Manager};

use crate::error::{from_core, CommandResult};
use crate::state::AppState;

/// What the background work last reported (the rest of [`SyncInfo`] is read from the store).
#[derive(Debug, Default, Clone)]
pub struct Live {
    pub online: Option<bool>,
    pub last_error: Option<String>,
    /// Who runs the workspace's runs and schedules.
    pub worker: WorkerState,
}

/// The app's own background sync (when the worker does not sync); dropping it stops it.
pub struct Daemon {
    _shutdown: tokio::sync::oneshot::Sender<()>,
    _thread: std::thread::JoinHandle<()>,
}

pub const SYNC_STATUS_EVENT: &str = "sync-status";
pub const ENTITY_CHANGED_EVENT: &str = "entity-changed";

/// The sync status as the UI shows it.
pub fn info(state: &AppState) -> CommandResult<SyncInfo> {
    let status = account::status(state.store()?).map_err(from_core)?;
    let live = state.live.lock().unwrap_or_else(|p| p.into_inner()).clone();
    Ok(SyncInfo {
        joined: status.joined,
        server_url: status.server_url,
        workspace_name: status.workspace_name,
        device_id: status.device_id,
        online: live.online,
        last_error: live.last_error,
        pending_cells: status.pending_cells,
        last_sync_at: status.last_sync_at,
        unresolved_conflicts: status.unresolved_conflicts,
        newer_version_notice: status.newer_version_notice,
        server_loss_notice: status.server_loss_notice,
        clock_notice: status.clock_notice,
        worker: live.worker,
    })
}

/// Sends the current status to the UI and the tray.
pub fn report(app: &AppHandle) {
    let state = app.state::<AppState>();
    match info(&state) {
        Ok(info) => {
            crate::tray::show_status(app, &info);
            if let Err(e) = app.emit(SYNC_STATUS_EVENT, &info) {
                tracing::warn!(error = %e, "could not emit sync-status");
            }
        }
        Err(e) => tracing::warn!(error = %e.message, "could not read the sync status"),
    }
}

/// Starts the app's own background sync if the workspace has joined a server and neither it
/// nor the worker's sync is running.
pub fn start_if_joined(app: &AppHandle) -> CommandResult<()> {
    let state = app.state::<AppState>();
    if state.worker_syncs.load(Ordering::SeqCst) {
        return Ok(());
    }
    let store = state.store()?.clone();
    if !account::status(&store).map_err(from_core)?.joined {
        return Ok(());
    }
    let keyring = state.keyring()?.clone();
    let mut slot = state.daemon.lock().unwrap_or_else(|p| p.into_inner());
    if slot.is_none() {
        *slot = Some(spawn(app.clone(), store, keyring));
    }
    Ok(())
}

/// Stops the app's own background sync (the worker is about to sync instead).
pub fn stop_standalone(app: &AppHandle) {
    let state = app.state::<AppState>();
    let stopped = state
        .daemon
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .take();
    drop(stopped);
}

/// After a leave: the app's own background sync stops, and the worker's (which stops by
/// itself at its next round) no longer counts, so that joining again starts the app's.
pub fn stop_after_leaving(app: &AppHandle) {
    stop_standalone(app);
    let state = app.state::<AppState>();
    state.worker_syncs.store(false, Ordering::SeqCst);
    set_live(app, None, None);
}

fn spawn(app: AppHandle, store: Arc<Store>, keyring: Arc<OsKeyring>) -> Daemon {
    let (shutdown, stopped) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::spawn(move || {
        // Its own single-threaded runtime: the daemon borrows the store, so its future need
        // not be Send, and it never competes with Tauri's runtime.
        let runtime = match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(runtime) => runtime,
            Err(e) => {
                tracing::error!(error = %e, "no runtime for background sync");
                return;
            }
        };
        let on_round = |result: &flightdeck_core::Result<_>| on_round(&app, result);
        let outcome = runtime.block_on(daemon::run(
            &store,
            keyring.as_ref(),
            daemon::DaemonOptions::default(),
            async {
                let _ = stopped.await;
            },
            on_round,
        ));
        if let Err(e) = outcome {
            tracing::error!(error = %e, "background sync stopped");
            set_live(&app, Some(false), Some(e.to_string()));
            report(&app);
        }
    });
    Daemon {
        _shutdown: shutdown,
        _thread: thread,
    }
}

fn set_live(app: &AppHandle, online: Option<bool>, last_error: Option<String>) {
    let state = app.state::<AppState>();
    let mut live = state.live.lock().unwrap_or_else(|p| p.into_inner());
    live.online = online;
    live.last_error = last_error;
}

/// One sync round's outcome, from the worker's sync or the app's own.
pub fn on_round(
    app: &AppHandle,
    result: &flightdeck_core::Result<flightdeck_core::sync::client::SyncReport>,
) {
    match result {
        Ok(round) => {
            set_live(app, Some(true), None);
            // Remote rows arrive through cr-sqlite, not the store's write path, so the
            // store's subscribers do not hear of them: tell the UI here.
            if round.pulled_cells > 0 {
                let changed = EntityChanged {
                    table: "*".into(),
                    id: String::new(),
                };
                if let Err(e) = app.emit(ENTITY_CHANGED_EVENT, &changed) {
                    tracing::warn!(error = %e, "could not emit entity-changed");
                }
            }
            if round.conflicts > 0 {
                crate::notify::notify(
                    app,
                    "Sync conflicts",
                    &format!(
                        "{} of your changes were replaced by another device; restore them \
                         from Sync",
                        round.conflicts
                    ),
                );
            }
        }
        Err(e) => set_live(app, Some(false), Some(e.to_string())),
    }
    report(app);
}
