//! Import and Export in Settings: a dry run's preview, the import itself, an export to a
//! file, each with `transfer-progress` events while it works, and the native file pickers.
//! The work runs on a blocking thread so the window stays live.

use std::path::PathBuf;

use flightdeck_core::export::{self, ExportOptions};
use flightdeck_core::import::OnConflict;
use flightdeck_core::import_tasks::{self, Mapping};
use flightdeck_types::{ExportSummary, ImportReport, TransferProgress};
use tauri::{AppHandle, Emitter, State};
use tauri_plugin_dialog::DialogExt;

use crate::error::{from_core, shell_error, CommandResult};
use crate::state::AppState;

pub const TRANSFER_PROGRESS_EVENT: &str = "transfer-progress";

/// What an import of `path` would do, written nowhere; its problems as the error.
#[tauri::command]
pub async fn preview_import(
    app: AppHandle,
    state: State<'_, AppState>,
    path: String,
    on_conflict: String,
) -> CommandResult<ImportReport> {
    import(app, &state, path, &on_conflict, true).await
}

/// Imports `path` (an archive, a CSV of tasks or GitHub issues, told by its first bytes), all
/// or nothing.
#[tauri::command]
pub async fn run_import(
    app: AppHandle,
    state: State<'_, AppState>,
    path: String,
    on_conflict: String,
) -> CommandResult<ImportReport> {
    import(app, &state, path, &on_conflict, false).await
}

async fn import(
    app: AppHandle,
    state: &AppState,
    path: String,
    on_conflict: &str,
    dry_run: bool,
) -> CommandResult<ImportReport> {
    let store = state.store()?.clone();
    let policy = match on_conflict {
        "skip" => OnConflict::Skip,
        "overwrite" => OnConflict::Overwrite,
        "newer" => OnConflict::Newer,
        other => {
            return Err(shell_error(
                "invalid",
                Some("on_conflict"),
                format!("`{other}` is not a conflict policy: skip, overwrite or newer"),
            ))
        }
    };
    let path = file(&path)?;
    blocking(move || {
        let kind = import_tasks::detect(&path)?;
        import_tasks::import_file(
            &store,
            &path,
            kind,
            &Mapping::default(),
            policy,
            dry_run,
            &mut |p| tell(&app, p),
        )
    })
    .await
}

/// Exports the whole workspace to `path`.
#[tauri::command]
pub async fn run_export(
    app: AppHandle,
    state: State<'_, AppState>,
    path: String,
) -> CommandResult<ExportSummary> {
    let store = state.store()?.clone();
    let options = ExportOptions {
        workspace: state.workspace.clone(),
        ..ExportOptions::default()
    };
    let path = file(&path)?;
    blocking(move || {
        let (manifest, bytes) =
            export::export_to_file(&store, &options, &path, &mut |p| tell(&app, p))?;
        Ok(ExportSummary {
            path: path.display().to_string(),
            records: manifest.counts.values().sum(),
            bytes,
            counts: manifest.counts,
            secrets: manifest.secrets,
        })
    })
    .await
}

/// Where an export goes unless the person picks another file: their home directory (else
/// the workspace's), under the name the CLI gives it.
#[tauri::command]
pub fn default_export_path(state: State<'_, AppState>) -> String {
    let dir = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| state.database.with_file_name(""));
    let name = export::default_file_name(&state.workspace, flightdeck_core::clock::now());
    dir.join(name).display().to_string()
}

/// The native picker: a file to import (`save` false) or where to save an export; `None`
/// when the person closes it.
#[tauri::command]
pub async fn choose_file(
    app: AppHandle,
    save: bool,
    suggested: Option<String>,
) -> CommandResult<Option<String>> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let mut dialog = app.dialog().file();
    if let Some(path) = suggested.map(PathBuf::from) {
        if let Some(dir) = path.parent().filter(|d| d.is_dir()) {
            dialog = dialog.set_directory(dir);
        }
        if let Some(name) = path.file_name() {
            dialog = dialog.set_file_name(name.to_string_lossy());
        }
    }
    let done = move |picked: Option<tauri_plugin_dialog::FilePath>| {
        let _ = tx.send(picked.map(|p| p.to_string()));
    };
    match save {
        true => dialog.save_file(done),
        false => dialog
            .add_filter(
                "Flightdeck export, CSV, GitHub issues",
                &["zst", "csv", "json"],
            )
            .pick_file(done),
    }
    rx.await
        .map_err(|_| shell_error("internal", None, "the file picker closed without an answer"))
}

fn file(path: &str) -> CommandResult<PathBuf> {
    match path.trim() {
        "" => Err(shell_error(
            "invalid",
            Some("path"),
            "no file given: type its path or choose one",
        )),
        p => Ok(PathBuf::from(p)),
    }
}

fn tell(app: &AppHandle, progress: &TransferProgress) {
    if let Err(e) = app.emit(TRANSFER_PROGRESS_EVENT, progress) {
        tracing::warn!(error = %e, "progress not shown");
    }
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> flightdeck_core::error::Result<T> + Send + 'static,
) -> CommandResult<T> {
    tauri::async_runtime::spawn_blocking(work)
        .await
        .map_err(|e| shell_error("internal", None, format!("the work stopped: {e}")))?
        .map_err(from_core)
}
