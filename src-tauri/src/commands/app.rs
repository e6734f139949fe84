//! Commands about the app itself.

use flightdeck_types::AppInfo;
use tauri::{AppHandle, State};

use crate::error::CommandResult;
use crate::state::AppState;

#[tauri::command]
pub fn app_info(app: AppHandle, state: State<'_, AppState>) -> CommandResult<AppInfo> {
    Ok(AppInfo {
        version: app.package_info().version.to_string(),
        database: state.database.display().to_string(),
        workspace: state.workspace.clone(),
        device_id: state.store().ok().map(|s| s.device_id().to_string()),
    })
}
