//! Engine events to the UI as they happen: every committed write of this process's store
//! becomes an `entity-changed` event, then one `sync-status` (pending changes grew).

use flightdeck_core::store::Change;
use flightdeck_types::EntityChanged;
use tauri::{AppHandle, Emitter, Manager};

use crate::state::AppState;
use crate::sync::{report, ENTITY_CHANGED_EVENT};

pub fn forward_store_changes(app: &AppHandle) {
    let state = app.state::<AppState>();
    let Ok(store) = state.store() else {
        return;
    };
    let changes = store.subscribe();
    let app = app.clone();
    std::thread::spawn(move || {
        // Ends when the store (and with it the sender) is dropped at exit.
        while let Ok(first) = changes.recv() {
            emit(&app, first);
            // A transaction's changes arrive together: forward them all, report once.
            while let Ok(next) = changes.try_recv() {
                emit(&app, next);
            }
            report(&app);
        }
    });
}

fn emit(app: &AppHandle, change: Change) {
    let payload = EntityChanged {
        table: change.table.to_string(),
        id: change.id,
    };
    if let Err(e) = app.emit(ENTITY_CHANGED_EVENT, &payload) {
        tracing::warn!(error = %e, "could not emit entity-changed");
    }
}
