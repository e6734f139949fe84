//! State shared by all commands, handed to Tauri with `.manage()` (no globals).

use std::path::PathBuf;

use flightdeck_core::Store;

use crate::error::{from_core, CommandError, CommandResult};

pub struct AppState {
    pub workspace: String,
    pub database: PathBuf,
    /// The open store, or why it could not be opened: the window still opens and shows the
    /// reason instead of vanishing.
    store: Result<Store, CommandError>,
}

impl AppState {
    /// Opens the workspace store from `$FLIGHTDECK_DATA_DIR` (else the platform data dir),
    /// workspace `$FLIGHTDECK_WORKSPACE` (else `default`): the same data the CLI uses.
    pub fn open() -> AppState {
        let workspace = std::env::var("FLIGHTDECK_WORKSPACE")
            .ok()
            .filter(|w| !w.is_empty())
            .unwrap_or_else(|| flightdeck_core::paths::DEFAULT_WORKSPACE.to_string());
        let database = flightdeck_core::paths::default_data_dir()
            .and_then(|dir| flightdeck_core::paths::workspace_db_path(&dir, &workspace));
        let (database, store) = match database {
            Ok(path) => {
                let store = Store::open(&path).map_err(from_core);
                (path, store)
            }
            Err(e) => (PathBuf::new(), Err(from_core(e))),
        };
        if let Err(e) = &store {
            tracing::error!(error = %e.message, "the store did not open");
        }
        AppState {
            workspace,
            database,
            store,
        }
    }

    pub fn store(&self) -> CommandResult<&Store> {
        self.store.as_ref().map_err(Clone::clone)
    }
}
