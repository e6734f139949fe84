//! Sync commands: status, joining a server (which starts background sync), leaving it (which
//! stops it), and the conflict log with restore.

use flightdeck_core::sync::account;
use flightdeck_core::trust;
use flightdeck_types::{ConflictInfo, DeviceTrustInfo, SyncInfo, SyncLeft, SyncRound, Timestamp};
use tauri::{AppHandle, State};

use crate::error::{from_core, CommandResult};
use crate::state::AppState;

#[tauri::command]
pub fn sync_status(state: State<'_, AppState>) -> CommandResult<SyncInfo> {
    crate::sync::info(&state)
}

#[tauri::command]
pub async fn join_sync(
    app: AppHandle,
    state: State<'_, AppState>,
    url: String,
    token: String,
) -> CommandResult<SyncInfo> {
    let (store, keyring) = (state.store()?.clone(), state.keyring()?.clone());
    let joined = account::join(&store, keyring.as_ref(), url.trim(), token.trim())
        .await
        .map_err(from_core)?;
    if let Some(e) = joined.keyring_error {
        tracing::warn!(error = %e, "the device token did not reach the keyring");
    }
    crate::sync::start_if_joined(&app)?;
    crate::sync::report(&app);
    crate::sync::info(&state)
}

/// Leaves the sync server (`flightdeck sync leave`): the server revokes this device's token,
/// the app's background sync stops (the worker's stops at its next round), the data stays.
#[tauri::command]
pub async fn leave_sync(app: AppHandle, state: State<'_, AppState>) -> CommandResult<SyncLeft> {
    let (store, keyring) = (state.store()?.clone(), state.keyring()?.clone());
    let left = account::leave(&store, keyring.as_ref())
        .await
        .map_err(from_core)?;
    crate::sync::stop_after_leaving(&app);
    crate::sync::report(&app);
    Ok(SyncLeft {
        server_url: left.server_url,
        server_error: left.server_error,
        device_id: left.device_id,
        unpushed_cells: left.unpushed_cells as u64,
    })
}

/// One sync round now (push what is pending, pull until current), then the status event.
#[tauri::command]
pub async fn sync_now(app: AppHandle, state: State<'_, AppState>) -> CommandResult<SyncRound> {
    let (store, keyring) = (state.store()?.clone(), state.keyring()?.clone());
    let report = account::sync_now(&store, keyring.as_ref())
        .await
        .map_err(from_core)?;
    crate::sync::report(&app);
    Ok(SyncRound {
        pushed_cells: report.pushed_cells as u64,
        pulled_cells: report.pulled_cells as u64,
        conflicts: report.conflicts as u64,
    })
}

#[tauri::command]
pub fn list_conflicts(state: State<'_, AppState>) -> CommandResult<Vec<ConflictInfo>> {
    let rows = state.store()?.conflicts().map_err(from_core)?;
    Ok(rows.into_iter().map(conflict_info).collect())
}

#[tauri::command]
pub fn restore_conflict(
    app: AppHandle,
    state: State<'_, AppState>,
    id: i64,
) -> CommandResult<ConflictInfo> {
    let row = state.store()?.restore_conflict(id).map_err(from_core)?;
    crate::sync::report(&app);
    Ok(conflict_info(row))
}

fn conflict_info(row: flightdeck_core::store::ConflictRow) -> ConflictInfo {
    ConflictInfo {
        id: row.id,
        table: row.table,
        column: row.column,
        local_value: show_value(&row.local_value),
        remote_value: show_value(&row.remote_value),
        detected_at: Timestamp(row.detected_at),
        restored: row.restored_at.is_some(),
    }
}

fn show_value(value: &flightdeck_core::store::SqlValue) -> String {
    use flightdeck_core::store::SqlValue;
    match value {
        SqlValue::Null => "(empty)".into(),
        SqlValue::Integer(i) => i.to_string(),
        SqlValue::Real(f) => f.to_string(),
        SqlValue::Text(t) => t.clone(),
        SqlValue::Blob(b) => format!("({} bytes)", b.len()),
    }
}

/// This device and the workspace's others, with whether this device takes their runs (the
/// server's list is asked for when joined; offline, the devices last seen).
#[tauri::command]
pub async fn list_devices(state: State<'_, AppState>) -> CommandResult<Vec<DeviceTrustInfo>> {
    let (store, keyring) = (state.store()?.clone(), state.keyring()?.clone());
    let (devices, problem) = trust::list_refreshed(&store, keyring.as_ref())
        .await
        .map_err(from_core)?;
    if let Some(e) = problem {
        tracing::warn!(error = %e, "showing the devices last seen");
    }
    Ok(devices.into_iter().map(device_trust_info).collect())
}

/// Trusts (or stops trusting) the device with site id `site_id`.
#[tauri::command]
pub fn set_device_trust(
    state: State<'_, AppState>,
    site_id: String,
    trusted: bool,
) -> CommandResult<DeviceTrustInfo> {
    let store = state.store()?;
    let changed = match trusted {
        true => trust::trust(store, &site_id),
        false => trust::untrust(store, &site_id),
    }
    .map_err(from_core)?;
    Ok(device_trust_info(changed))
}

fn device_trust_info(d: trust::DeviceTrust) -> DeviceTrustInfo {
    DeviceTrustInfo {
        site_id: d.site_id,
        name: d.name,
        this_device: d.this_device,
        trusted: d.trusted,
        last_seen_at: d.last_seen_at,
    }
}
