//! State shared by all commands, handed to Tauri with `.manage()` (no globals).

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, Once};

use flightdeck_core::secrets::OsKeyring;
use flightdeck_core::Store;

use crate::error::{from_core, CommandError, CommandResult};
use crate::sync::Daemon;

pub struct AppState {
    /// When `main` began: launch-to-interactive is measured from here.
    pub started: std::time::Instant,
    pub workspace: String,
    pub database: PathBuf,
    /// The open store, or why it could not be opened: the window still opens and shows the
    /// reason instead of vanishing.
    store: Result<Arc<Store>, CommandError>,
    /// The OS keyring, or why there is none (secrets and sync need it; tasks do not).
    keyring: Result<Arc<OsKeyring>, CommandError>,
    /// What the background sync last reported, for `sync_status` and the tray.
    pub live: Mutex<crate::sync::Live>,
    /// The app's own background sync, when the workspace has joined a server and the worker
    /// does not sync it (see [`crate::sync`]).
    pub daemon: Mutex<Option<Daemon>>,
    /// The worker (runner, scheduler and sync), once started.
    pub worker: Mutex<Option<crate::worker::Worker>>,
    /// Whether the running worker syncs the workspace (so the app's own sync stays off).
    pub worker_syncs: AtomicBool,
    /// Start-up's heap is trimmed once, at the first `app_ready` (see [`crate::heap`]).
    pub startup_trim: Once,
}

impl AppState {
    /// Opens the workspace store from `$FLIGHTDECK_DATA_DIR` (else the platform data dir),
    /// workspace `$FLIGHTDECK_WORKSPACE` (else `default`): the same data the CLI uses.
    pub fn open(started: std::time::Instant) -> AppState {
        let workspace = std::env::var("FLIGHTDECK_WORKSPACE")
            .ok()
            .filter(|w| !w.is_empty())
            .unwrap_or_else(|| flightdeck_core::paths::DEFAULT_WORKSPACE.to_string());
        let database = flightdeck_core::paths::default_data_dir()
            .and_then(|dir| flightdeck_core::paths::workspace_db_path(&dir, &workspace));
        let (database, store) = match database {
            Ok(path) => {
                let store = Store::open(&path).map(Arc::new).map_err(from_core);
                (path, store)
            }
            Err(e) => (PathBuf::new(), Err(from_core(e))),
        };
        if let Err(e) = &store {
            tracing::error!(error = %e.message, "the store did not open");
        }
        let keyring = OsKeyring::from_env().map(Arc::new).map_err(from_core);
        AppState {
            started,
            workspace,
            database,
            store,
            keyring,
            live: Mutex::default(),
            daemon: Mutex::default(),
            worker: Mutex::default(),
            worker_syncs: AtomicBool::new(false),
            startup_trim: Once::new(),
        }
    }

    pub fn store(&self) -> CommandResult<&Arc<Store>> {
        self.store.as_ref().map_err(Clone::clone)
    }

    pub fn keyring(&self) -> CommandResult<&Arc<OsKeyring>> {
        self.keyring.as_ref().map_err(Clone::clone)
    }

    /// Where the app's settings live: beside the workspace database.
    pub fn settings_path(&self) -> PathBuf {
        self.database.with_file_name("app-settings.json")
    }
}
