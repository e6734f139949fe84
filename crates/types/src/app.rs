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

/// Payload of the shell's `entity-changed` event: a row of `table` changed (`table` is `*`
/// when a sync round applied remote changes to any table).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntityChanged {
    pub table: String,
    pub id: String,
}

/// What one sync round asked for by hand did (the app's Sync now).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncRound {
    pub pushed_cells: u64,
    pub pulled_cells: u64,
    pub conflicts: u64,
}

/// Something that happened while the person may look elsewhere (a run ended, an error was
/// escalated, a sync conflict): the `notice` event, shown as a desktop notification and as a
/// toast in the app.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppNotice {
    pub title: String,
    pub body: String,
}

/// What leaving the sync server did (the app's Leave, `flightdeck sync leave`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncLeft {
    pub server_url: String,
    /// Why the server could not be told (the token then works there until its admin revokes
    /// the device); `None` when the server revoked it.
    pub server_error: Option<String>,
    /// The server's id for this device, for that admin.
    pub device_id: Option<String>,
    /// Local changes the server never had: they stay on this device.
    pub unpushed_cells: u64,
}

/// Sync as the UI shows it: the payload of the `sync-status` event and of `sync_status`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncInfo {
    pub joined: bool,
    pub server_url: Option<String>,
    pub workspace_name: Option<String>,
    pub device_id: String,
    /// Whether the last sync round reached the server (`None`: none ran yet).
    pub online: Option<bool>,
    /// Why the last round failed, when it did.
    pub last_error: Option<String>,
    /// Local changes the server has not acknowledged yet.
    pub pending_cells: usize,
    pub last_sync_at: Option<crate::Timestamp>,
    pub unresolved_conflicts: usize,
    /// "N changes from a newer version are waiting; update Flightdeck", naming the devices,
    /// when this device holds pulled changes its schema does not have yet.
    #[serde(default)]
    pub newer_version_notice: Option<String>,
    /// Set once the server was found restored from an older backup or replaced and this
    /// device re-synchronised with it.
    #[serde(default)]
    pub server_loss_notice: Option<String>,
    /// Set while this device's clock is more than 5 minutes off the sync server's.
    #[serde(default)]
    pub clock_notice: Option<String>,
    /// Who runs this workspace's queued runs and schedules.
    #[serde(default)]
    pub worker: WorkerState,
}

/// Where the workspace's worker (runner + scheduler, one per workspace database) runs, as
/// the app sees it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum WorkerState {
    #[default]
    Starting,
    /// This app runs them.
    Running,
    /// Another process holds the worker lock (`flightdeck daemon`): it runs them, and this
    /// app takes over when it stops. `holder` says who, as the lock records it.
    Elsewhere { holder: String },
    /// The worker could not start or stopped with an error.
    Stopped { error: String },
}

impl WorkerState {
    /// One line for the status bar and the tray.
    pub fn describe(&self) -> String {
        match self {
            WorkerState::Starting => "Runner: starting".into(),
            WorkerState::Running => "Runner: this app".into(),
            WorkerState::Elsewhere { holder } => format!("Runner: {holder}"),
            WorkerState::Stopped { error } => format!("Runner stopped: {error}"),
        }
    }
}

/// Payload of the shell's `run-events` event: new timeline lines of one run, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunEvents {
    pub execution_id: String,
    pub events: Vec<crate::ExecutionEvent>,
}

/// What the UI asks for when it starts a run of a task: a shell line, or (when `shell` is
/// empty or absent) the agent command of the task's environment with the task as prompt.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct StartRun {
    pub task_id: String,
    pub shell: Option<String>,
    pub timeout_secs: Option<u64>,
}

/// A workflow in the app's list: its newest version and every version stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkflowSummary {
    pub workflow: crate::Workflow,
    /// Oldest first.
    pub versions: Vec<u32>,
}

/// A workflow run's page: its progress and the definition version it pinned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkflowRunDetail {
    pub progress: crate::WorkflowProgress,
    pub definition: crate::WorkflowDefinition,
    /// Who runs it, when that needs saying: its device stopped answering (it can be
    /// adopted here), or this device holds it until a sync.
    #[serde(default)]
    pub lease_note: Option<String>,
    /// Whether this device may adopt it now (its device's lease lapsed).
    #[serde(default)]
    pub adoptable: bool,
    /// The runs made from this one (reruns and forks), oldest first.
    #[serde(default)]
    pub made_from_this: Vec<DerivedRun>,
}

/// A run made from another: by `rerun --from STEP` or by `fork --step STEP`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DerivedRun {
    pub id: String,
    /// The step it restarted (rerun) or was forked at.
    pub step: Option<String>,
    pub forked: bool,
}

/// One logged sync conflict: a local value that a remote write replaced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConflictInfo {
    pub id: i64,
    pub table: String,
    pub column: String,
    pub local_value: String,
    pub remote_value: String,
    pub detected_at: crate::Timestamp,
    pub restored: bool,
}

/// One device of the workspace, and whether this device takes the runs it writes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceTrustInfo {
    /// Its cr-sqlite site id, hex: how runs and refusals name it.
    pub site_id: String,
    /// As the sync server listed it, when known.
    pub name: Option<String>,
    pub this_device: bool,
    pub trusted: bool,
    pub last_seen_at: Option<String>,
}

/// The app's own settings, kept next to the workspace database.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// `light`, `dark` or `system` (the default).
    pub theme: Theme,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Theme {
    Light,
    Dark,
    #[default]
    System,
}

impl Theme {
    pub const ALL: [Theme; 3] = [Theme::Light, Theme::Dark, Theme::System];

    pub fn as_str(self) -> &'static str {
        match self {
            Theme::Light => "light",
            Theme::Dark => "dark",
            Theme::System => "system",
        }
    }
}
