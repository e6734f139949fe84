//! Where a workspace's data lives: `$FLIGHTDECK_DATA_DIR`, else the platform data dir
//! (`~/.local/share/flightdeck` on Linux), with one folder per workspace.

use std::path::{Path, PathBuf};

use crate::error::{CoreError, Result};

pub const DATA_DIR_ENV: &str = "FLIGHTDECK_DATA_DIR";
pub const DEFAULT_WORKSPACE: &str = "default";
const DB_FILE: &str = "flightdeck.db";

/// The data dir: `$FLIGHTDECK_DATA_DIR` if set, else the platform default.
pub fn default_data_dir() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os(DATA_DIR_ENV).filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    directories::ProjectDirs::from("dev", "flightdeck", "flightdeck")
        .map(|dirs| dirs.data_dir().to_path_buf())
        .ok_or_else(|| {
            CoreError::Refused(format!(
                "no home directory to keep data in; set {DATA_DIR_ENV} or pass --data-dir"
            ))
        })
}

/// A workspace name: 1-64 of letters, digits, `-` and `_` (it names a folder).
pub fn validate_workspace(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(CoreError::invalid(
            "workspace",
            format!("`{name}` is not a workspace name: use 1-64 letters, digits, `-` or `_`"),
        ))
    }
}

/// The data dir and workspace name of a workspace's database file, or `None` for a database
/// elsewhere (one opened by path).
pub fn workspace_of_db(db: &Path) -> Option<(PathBuf, String)> {
    let workspace_dir = db.parent()?;
    let workspaces = workspace_dir.parent()?;
    let name = workspace_dir.file_name()?.to_str()?;
    let is_workspace = db.file_name()? == DB_FILE
        && workspaces.file_name()? == "workspaces"
        && validate_workspace(name).is_ok();
    let data_dir = workspaces.parent()?;
    is_workspace.then(|| (data_dir.to_path_buf(), name.to_string()))
}

/// The database file of `workspace` under `data_dir`.
pub fn workspace_db_path(data_dir: &Path, workspace: &str) -> Result<PathBuf> {
    validate_workspace(workspace)?;
    Ok(data_dir.join("workspaces").join(workspace).join(DB_FILE))
}
