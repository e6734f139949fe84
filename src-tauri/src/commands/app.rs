//! Commands about the app itself: version and paths, and its settings.

use flightdeck_types::{AppInfo, Settings};
use tauri::State;

use crate::error::{shell_error, CommandResult};
use crate::state::AppState;

#[tauri::command]
pub fn app_info(state: State<'_, AppState>) -> CommandResult<AppInfo> {
    Ok(AppInfo {
        // `0.1.0 (commit 0123456789ab)`, as the CLI's and the server's `--version`.
        version: flightdeck_build_info::LONG_VERSION.to_string(),
        database: state.database.display().to_string(),
        workspace: state.workspace.clone(),
        device_id: state.store().ok().map(|s| s.device_id().to_string()),
    })
}

/// Called by the UI once its first task list is on screen: the milliseconds since `main`
/// began (launch to interactive), logged and returned for the benchmark to read.
#[tauri::command]
pub fn app_ready(state: State<'_, AppState>) -> u64 {
    let ms = state.started.elapsed().as_millis() as u64;
    tracing::info!(ms, "interactive");
    state.startup_trim.call_once(crate::heap::trim);
    ms
}

/// The saved settings; defaults when none were saved yet.
#[tauri::command]
pub fn get_settings(state: State<'_, AppState>) -> CommandResult<Settings> {
    match std::fs::read(state.settings_path()) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
            shell_error(
                "corrupt",
                None,
                format!("{}: {e}", state.settings_path().display()),
            )
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Settings::default()),
        Err(e) => Err(shell_error("io", None, e.to_string())),
    }
}

#[tauri::command]
pub fn save_settings(state: State<'_, AppState>, settings: Settings) -> CommandResult<Settings> {
    let json = serde_json::to_vec_pretty(&settings).expect("settings serialize");
    std::fs::write(state.settings_path(), json).map_err(|e| {
        shell_error(
            "io",
            None,
            format!("{}: {e}", state.settings_path().display()),
        )
    })?;
    Ok(settings)
}
