//! What the desktop shell tells the UI about itself.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppInfo {
    pub version: String,
    /// The workspace database file this window works on.
    pub database: String,
    pub workspace: String,
    /// This device's id (the store's cr-sqlite site id), when the store is open.
    pub device_id: Option<String>,
}

/// A failed shell command, as the UI receives it: a stable `code` to branch on (the same
/// codes as the CLI's `--json` errors), a `message` to show, and the `field` at fault for
/// form errors.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandError {
    pub code: String,
    pub message: String,
    #[serde(default)]
    pub field: Option<String>,
}

impl std::fmt::Display for CommandError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CommandError {}
