//! Environment commands. Secret values go from the form to the keyring through
//! `set_env_secret` and are never sent back: the UI only learns whether each is set.

use std::collections::BTreeMap;

use flightdeck_core::environments;
use flightdeck_types::{Environment, EnvironmentPatch, NewEnvironment};
use tauri::State;

use crate::error::{from_core, CommandResult};
use crate::state::AppState;

#[tauri::command]
pub fn list_environments(state: State<'_, AppState>) -> CommandResult<Vec<Environment>> {
    environments::list(state.store()?).map_err(from_core)
}

#[tauri::command]
pub fn create_environment(
    state: State<'_, AppState>,
    input: NewEnvironment,
) -> CommandResult<Environment> {
    environments::create(state.store()?, input).map_err(from_core)
}

#[tauri::command]
pub fn update_environment(
    state: State<'_, AppState>,
    id: String,
    patch: EnvironmentPatch,
) -> CommandResult<Environment> {
    let (store, keyring) = (state.store()?, state.keyring()?);
    environments::update(store, keyring.as_ref(), &id, patch).map_err(from_core)
}

#[tauri::command]
pub fn delete_environment(
    state: State<'_, AppState>,
    id: String,
    force: bool,
) -> CommandResult<Environment> {
    let (store, keyring) = (state.store()?, state.keyring()?);
    environments::delete(store, keyring.as_ref(), &id, force).map_err(from_core)
}

#[tauri::command]
pub fn set_env_secret(
    state: State<'_, AppState>,
    id: String,
    var: String,
    value: String,
) -> CommandResult<Environment> {
    let (store, keyring) = (state.store()?, state.keyring()?);
    environments::set_secret(store, keyring.as_ref(), &id, &var, &value).map_err(from_core)
}

/// Which secret variables have a value on this device (never the values).
#[tauri::command]
pub fn env_secret_status(
    state: State<'_, AppState>,
    id: String,
) -> CommandResult<BTreeMap<String, bool>> {
    let (store, keyring) = (state.store()?, state.keyring()?);
    environments::secret_status(store, keyring.as_ref(), &id).map_err(from_core)
}
