//! The one typed door to the desktop shell: every call into `window.__TAURI__.core.invoke`
//! goes through here, so views never touch JS or command names directly.

use serde::de::DeserializeOwned;
use serde::Serialize;
use wasm_bindgen::prelude::*;

#[wasm_bindgen]
extern "C" {
    /// Tauri's IPC entry point; present because the shell sets `app.withGlobalTauri`.
    /// `catch` turns both a rejected promise and a missing `__TAURI__` (a plain browser)
    /// into an `Err` instead of an exception.
    #[wasm_bindgen(js_namespace = ["window", "__TAURI__", "core"], js_name = invoke, catch)]
    async fn tauri_invoke(command: &str, args: JsValue) -> Result<JsValue, JsValue>;
}

pub use flightdeck_types::CommandError as ApiError;
use std::collections::BTreeMap;

use flightdeck_types::{
    AppInfo, ConflictInfo, DeviceTrustInfo, Environment, EnvironmentPatch, ErrorFilter,
    ErrorRecord, Execution, ExecutionEvent, ExecutionFilter, Memory, MemoryFilter, MemoryPatch,
    MemorySearch, MergeOutcome, NewEnvironment, NewMemory, NewSchedule, NewTask, RunDiff, Schedule,
    SchedulePatch, Settings, StartRun, SyncInfo, Task, TaskContext, TaskFilter, TaskPatch,
    Timestamp, WorktreeRecord,
};

fn api_error(code: &str, message: impl Into<String>) -> ApiError {
    ApiError {
        code: code.to_owned(),
        message: message.into(),
        field: None,
    }
}

/// A rejection is a `CommandError` object when the command failed, and a plain string or a
/// JS exception when the IPC itself failed (unknown command, no Tauri).
fn from_rejection(value: JsValue) -> ApiError {
    if let Ok(error) = serde_wasm_bindgen::from_value::<ApiError>(value.clone()) {
        return error;
    }
    let message = value
        .as_string()
        .or_else(|| {
            value
                .dyn_ref::<js_sys::Error>()
                .map(|error| String::from(error.message()))
        })
        .unwrap_or_else(|| format!("{value:?}"));
    api_error("ipc", message)
}

/// Calls a shell command. Tauri matches argument names in camelCase, so argument structs
/// use `#[serde(rename_all = "camelCase")]`.
pub(crate) async fn invoke<Args, Output>(command: &str, args: &Args) -> Result<Output, ApiError>
where
    Args: Serialize + ?Sized,
    Output: DeserializeOwned,
{
    // JSON-compatible: maps become plain objects and `None` becomes `null`, as the shell's
    // serde_json expects (the default would make JS `Map`s that serialize as `{}`).
    let args = args
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(|error| api_error("encode", error.to_string()))?;
    let output = tauri_invoke(command, args).await.map_err(from_rejection)?;
    serde_wasm_bindgen::from_value(output).map_err(|error| api_error("decode", error.to_string()))
}

pub async fn app_info() -> Result<AppInfo, ApiError> {
    invoke("app_info", &()).await
}

#[derive(Serialize)]
pub(crate) struct FilterArgs<'a, F> {
    pub(crate) filter: &'a F,
}

pub async fn list_tasks(filter: TaskFilter) -> Result<Vec<Task>, ApiError> {
    invoke("list_tasks", &FilterArgs { filter: &filter }).await
}

#[derive(Serialize)]
struct CreateArgs<'a> {
    input: &'a NewTask,
}

pub async fn create_task(input: NewTask) -> Result<Task, ApiError> {
    invoke("create_task", &CreateArgs { input: &input }).await
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct IdArgs<'a> {
    pub(crate) id: &'a str,
}

pub async fn get_task(id: String) -> Result<Task, ApiError> {
    invoke("get_task", &IdArgs { id: &id }).await
}

#[derive(Serialize)]
struct PatchArgs<'a, P> {
    id: &'a str,
    patch: &'a P,
}

pub async fn update_task(id: String, patch: TaskPatch) -> Result<Task, ApiError> {
    invoke(
        "update_task",
        &PatchArgs {
            id: &id,
            patch: &patch,
        },
    )
    .await
}

#[derive(Serialize)]
struct ArchiveArgs<'a> {
    id: &'a str,
    archived: bool,
}

/// Archives a task, or with `archived == false` brings it back.
pub async fn archive_task(id: String, archived: bool) -> Result<Task, ApiError> {
    invoke("archive_task", &ArchiveArgs { id: &id, archived }).await
}

/// Deletes a task for good.
pub async fn delete_task(id: String) -> Result<Task, ApiError> {
    invoke("delete_task", &IdArgs { id: &id }).await
}

#[derive(Serialize)]
struct DeleteEnvArgs<'a> {
    id: &'a str,
    force: bool,
}

/// Deletes an environment; while tasks use it, refused unless `force` (which clears theirs).
pub async fn delete_environment(id: String, force: bool) -> Result<Environment, ApiError> {
    invoke("delete_environment", &DeleteEnvArgs { id: &id, force }).await
}

pub async fn list_environments() -> Result<Vec<Environment>, ApiError> {
    invoke("list_environments", &()).await
}

#[derive(Serialize)]
struct NewEnvArgs<'a> {
    input: &'a NewEnvironment,
}

pub async fn create_environment(input: NewEnvironment) -> Result<Environment, ApiError> {
    invoke("create_environment", &NewEnvArgs { input: &input }).await
}

pub async fn update_environment(
    id: String,
    patch: EnvironmentPatch,
) -> Result<Environment, ApiError> {
    invoke(
        "update_environment",
        &PatchArgs {
            id: &id,
            patch: &patch,
        },
    )
    .await
}

#[derive(Serialize)]
struct SecretArgs<'a> {
    id: &'a str,
    var: &'a str,
    value: &'a str,
}

/// Sends a secret value to the keyring through the shell; it never comes back.
pub async fn set_env_secret(
    id: String,
    var: String,
    value: String,
) -> Result<Environment, ApiError> {
    invoke(
        "set_env_secret",
        &SecretArgs {
            id: &id,
            var: &var,
            value: &value,
        },
    )
    .await
}

pub async fn env_secret_status(id: String) -> Result<BTreeMap<String, bool>, ApiError> {
    invoke("env_secret_status", &IdArgs { id: &id }).await
}

pub async fn sync_status() -> Result<SyncInfo, ApiError> {
    invoke("sync_status", &()).await
}

#[derive(Serialize)]
struct JoinArgs<'a> {
    url: &'a str,
    token: &'a str,
}

pub async fn join_sync(url: String, token: String) -> Result<SyncInfo, ApiError> {
    invoke(
        "join_sync",
        &JoinArgs {
            url: &url,
            token: &token,
        },
    )
    .await
}

pub async fn list_conflicts() -> Result<Vec<ConflictInfo>, ApiError> {
    invoke("list_conflicts", &()).await
}

pub async fn list_devices() -> Result<Vec<DeviceTrustInfo>, ApiError> {
    invoke("list_devices", &()).await
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TrustArgs {
    site_id: String,
    trusted: bool,
}

pub async fn set_device_trust(site_id: String, trusted: bool) -> Result<DeviceTrustInfo, ApiError> {
    invoke("set_device_trust", &TrustArgs { site_id, trusted }).await
}

#[derive(Serialize)]
struct ConflictArgs {
    id: i64,
}

pub async fn restore_conflict(id: i64) -> Result<ConflictInfo, ApiError> {
    invoke("restore_conflict", &ConflictArgs { id }).await
}

pub async fn get_settings() -> Result<Settings, ApiError> {
    invoke("get_settings", &()).await
}

#[derive(Serialize)]
struct SettingsArgs<'a> {
    settings: &'a Settings,
}

pub async fn save_settings(settings: Settings) -> Result<Settings, ApiError> {
    invoke(
        "save_settings",
        &SettingsArgs {
            settings: &settings,
        },
    )
    .await
}

/// Tells the shell the first task list is on screen; returns ms since the app's `main`.
pub async fn app_ready() -> Result<u64, ApiError> {
    invoke("app_ready", &()).await
}

// Runs.

pub async fn list_runs(filter: ExecutionFilter) -> Result<Vec<Execution>, ApiError> {
    invoke("list_runs", &FilterArgs { filter: &filter }).await
}

pub async fn get_run(id: String) -> Result<Execution, ApiError> {
    invoke("get_run", &IdArgs { id: &id }).await
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct EventsArgs<'a> {
    id: &'a str,
    after_seq: i64,
    limit: Option<u32>,
}

/// The run's timeline lines after `after_seq`; live ones also arrive as `run-events`.
pub async fn run_events(id: String, after_seq: i64) -> Result<Vec<ExecutionEvent>, ApiError> {
    invoke(
        "run_events",
        &EventsArgs {
            id: &id,
            after_seq,
            limit: None,
        },
    )
    .await
}

#[derive(Serialize)]
struct InputArgs<'a, I> {
    input: &'a I,
}

pub async fn start_run(input: StartRun) -> Result<Execution, ApiError> {
    invoke("start_run", &InputArgs { input: &input }).await
}

pub async fn cancel_run(id: String) -> Result<Execution, ApiError> {
    invoke("cancel_run", &IdArgs { id: &id }).await
}

pub async fn rerun(id: String) -> Result<Execution, ApiError> {
    invoke("rerun", &IdArgs { id: &id }).await
}

/// A fork of plain run `id` with fields of its spec edited (field, text).
pub async fn fork_run(id: String, inputs: Vec<(String, String)>) -> Result<Execution, ApiError> {
    #[derive(Serialize)]
    struct Fork<'a> {
        id: &'a str,
        inputs: &'a [(String, String)],
    }
    invoke(
        "fork_run",
        &Fork {
            id: &id,
            inputs: &inputs,
        },
    )
    .await
}

/// The runs forked from plain run `id`.
pub async fn run_forks(id: String) -> Result<Vec<String>, ApiError> {
    invoke("run_forks", &IdArgs { id: &id }).await
}

// A worktree run's diff and what a person does with it.

pub async fn run_diff(id: String) -> Result<RunDiff, ApiError> {
    invoke("run_diff", &IdArgs { id: &id }).await
}

pub async fn merge_run(id: String) -> Result<MergeOutcome, ApiError> {
    invoke("merge_run", &IdArgs { id: &id }).await
}

pub async fn discard_run(id: String) -> Result<WorktreeRecord, ApiError> {
    invoke("discard_run", &IdArgs { id: &id }).await
}

pub async fn rerun_in_worktree(id: String) -> Result<Execution, ApiError> {
    invoke("rerun_in_worktree", &IdArgs { id: &id }).await
}

/// Opens the worktree in the person's editor; the worktree's path.
pub async fn open_worktree(id: String) -> Result<String, ApiError> {
    invoke("open_worktree", &IdArgs { id: &id }).await
}

// Schedules.

pub async fn list_schedules() -> Result<Vec<Schedule>, ApiError> {
    invoke("list_schedules", &()).await
}

pub async fn add_schedule(input: NewSchedule) -> Result<Schedule, ApiError> {
    invoke("add_schedule", &InputArgs { input: &input }).await
}

pub async fn update_schedule(id: String, patch: SchedulePatch) -> Result<Schedule, ApiError> {
    invoke(
        "update_schedule",
        &PatchArgs {
            id: &id,
            patch: &patch,
        },
    )
    .await
}

/// One of the schedule actions that take only its id: `pause_schedule`, `resume_schedule`,
/// `delete_schedule`.
pub async fn schedule_action(command: ScheduleAction, id: String) -> Result<Schedule, ApiError> {
    invoke(command.command(), &IdArgs { id: &id }).await
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScheduleAction {
    Pause,
    Resume,
    Delete,
}

impl ScheduleAction {
    fn command(self) -> &'static str {
        match self {
            ScheduleAction::Pause => "pause_schedule",
            ScheduleAction::Resume => "resume_schedule",
            ScheduleAction::Delete => "delete_schedule",
        }
    }
}

pub async fn trigger_schedule(id: String) -> Result<Execution, ApiError> {
    invoke("trigger_schedule", &IdArgs { id: &id }).await
}

#[derive(Serialize)]
struct PreviewArgs<'a> {
    input: &'a NewSchedule,
    count: usize,
}

/// The next fire times of a schedule not saved yet (errors name the field at fault).
pub async fn preview_schedule(
    input: NewSchedule,
    count: usize,
) -> Result<Vec<Timestamp>, ApiError> {
    invoke(
        "preview_schedule",
        &PreviewArgs {
            input: &input,
            count,
        },
    )
    .await
}

// Errors.

pub async fn list_errors(filter: ErrorFilter) -> Result<Vec<ErrorRecord>, ApiError> {
    invoke("list_errors", &FilterArgs { filter: &filter }).await
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorAction {
    Retry,
    Resolve,
    Ignore,
    Escalate,
}

impl ErrorAction {
    pub const ALL: [ErrorAction; 4] = [
        ErrorAction::Retry,
        ErrorAction::Resolve,
        ErrorAction::Ignore,
        ErrorAction::Escalate,
    ];

    fn command(self) -> &'static str {
        match self {
            ErrorAction::Retry => "retry_error",
            ErrorAction::Resolve => "resolve_error",
            ErrorAction::Ignore => "ignore_error",
            ErrorAction::Escalate => "escalate_error",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            ErrorAction::Retry => "Retry",
            ErrorAction::Resolve => "Resolve",
            ErrorAction::Ignore => "Ignore",
            ErrorAction::Escalate => "Escalate",
        }
    }
}

pub async fn error_action(action: ErrorAction, id: String) -> Result<ErrorRecord, ApiError> {
    invoke(action.command(), &IdArgs { id: &id }).await
}

// Memory.

#[derive(Serialize)]
struct SearchArgs<'a> {
    query: &'a str,
    filter: &'a MemoryFilter,
    limit: Option<usize>,
}

/// Hybrid search (meaning and keywords); `mode` says when it was keywords only.
pub async fn search_memories(
    query: String,
    filter: MemoryFilter,
) -> Result<MemorySearch, ApiError> {
    let args = SearchArgs {
        query: &query,
        filter: &filter,
        limit: None,
    };
    invoke("search_memories", &args).await
}

/// This device's relevance floor (0..1).
pub async fn memory_floor() -> Result<f64, ApiError> {
    invoke("memory_floor", &()).await
}

#[derive(Serialize)]
struct FloorArgs {
    floor: f64,
}

pub async fn set_memory_floor(floor: f64) -> Result<f64, ApiError> {
    invoke("set_memory_floor", &FloorArgs { floor }).await
}

#[derive(Serialize)]
struct ListMemoriesArgs<'a> {
    filter: &'a MemoryFilter,
    limit: Option<usize>,
}

/// Newest first.
pub async fn list_memories(filter: MemoryFilter) -> Result<Vec<Memory>, ApiError> {
    let args = ListMemoriesArgs {
        filter: &filter,
        limit: None,
    };
    invoke("list_memories", &args).await
}

pub async fn add_memory(input: NewMemory) -> Result<Memory, ApiError> {
    invoke("add_memory", &InputArgs { input: &input }).await
}

#[derive(Serialize)]
struct MemoryPatchArgs<'a> {
    id: &'a str,
    patch: &'a MemoryPatch,
}

/// Edits a memory: each field the patch gives replaces the memory's.
pub async fn update_memory(id: String, patch: MemoryPatch) -> Result<Memory, ApiError> {
    invoke(
        "update_memory",
        &MemoryPatchArgs {
            id: &id,
            patch: &patch,
        },
    )
    .await
}

/// Archives a memory, or with `archived == false` brings it back.
pub async fn set_memory_archived(id: String, archived: bool) -> Result<Memory, ApiError> {
    let command = if archived {
        "archive_memory"
    } else {
        "unarchive_memory"
    };
    invoke(command, &IdArgs { id: &id }).await
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TaskIdArgs<'a> {
    task_id: &'a str,
}

pub async fn task_context(task_id: String) -> Result<TaskContext, ApiError> {
    invoke("task_context", &TaskIdArgs { task_id: &task_id }).await
}

mod workflows;
pub use workflows::*;
mod insights;
pub use insights::*;
mod transfer;
pub use transfer::*;

/// One sync round now: push what is pending, pull until current.
pub async fn sync_now() -> Result<flightdeck_types::SyncRound, ApiError> {
    invoke("sync_now", &()).await
}

/// Leaves the sync server; this device's data stays.
pub async fn leave_sync() -> Result<flightdeck_types::SyncLeft, ApiError> {
    invoke("leave_sync", &()).await
}

/// Every task's title by id, archived ones included (for views that name a run's or an
/// error's task); empty when the tasks cannot be read.
pub async fn task_titles() -> std::collections::HashMap<String, String> {
    list_tasks(TaskFilter {
        include_archived: true,
        ..Default::default()
    })
    .await
    .map(|tasks| tasks.into_iter().map(|t| (t.id, t.title)).collect())
    .unwrap_or_default()
}
