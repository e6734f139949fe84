//! Background sync for the app: `sync::daemon::run` on its own thread and tokio runtime,
//! started with the app when the workspace has joined a server (or right after a join), its
//! rounds reported to the UI as `sync-status` events and to the tray.

use std::sync::Arc;

use flightdeck_core::secrets::OsKeyring;
use flightdeck_core::sync::{account, daemon};
use flightdeck_core::Store;
use flightdeck_types::{EntityChanged, SyncInfo};
use tauri::{AppHandle, Emitter, Manager};

use crate::error::{from_core, CommandResult};
use crate::state::AppState;

/// What the last sync round said (the rest of [`SyncInfo`] is read from the store).
#[derive(Debug, Default, Clone)]
pub struct Live {
    pub online: Option<bool>,
    pub last_error: Option<String>,
}

/// A running background sync; dropping the sender stops it.
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

/// Starts the background sync if the workspace has joined a server and it is not running.
pub fn start_if_joined(app: &AppHandle) -> CommandResult<()> {
    let state = app.state::<AppState>();
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

fn on_round(
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
