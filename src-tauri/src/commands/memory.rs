//! Memory commands: search by meaning and keywords, browse, add, edit, archive and restore, and the
//! context of a task. They run on a blocking thread, not Tauri's main thread: the first one
//! loads the embedding model (about a second), and a search embeds its query.

use flightdeck_core::memory::{self, embed::shared_default};
use flightdeck_core::{CoreError, Store};
use flightdeck_types::{Memory, MemoryFilter, MemoryPatch, MemorySearch, NewMemory, TaskContext};
use tauri::State;

use crate::error::{from_core, shell_error, CommandResult};
use crate::state::AppState;

/// Hits a search returns when the UI does not say.
const DEFAULT_LIMIT: usize = 20;
/// Memories and similar runs shown in a task's context panel.
const CONTEXT_SIZE: usize = 5;

async fn off_main<T: Send + 'static>(
    state: &AppState,
    f: impl FnOnce(&Store) -> Result<T, CoreError> + Send + 'static,
) -> CommandResult<T> {
    let store = state.store()?.clone();
    tauri::async_runtime::spawn_blocking(move || f(&store))
        .await
        .map_err(|e| shell_error("internal", None, format!("the memory call stopped: {e}")))?
        .map_err(from_core)
}

#[tauri::command]
pub async fn search_memories(
    state: State<'_, AppState>,
    query: String,
    filter: MemoryFilter,
    limit: Option<usize>,
) -> CommandResult<MemorySearch> {
    let limit = limit.unwrap_or(DEFAULT_LIMIT);
    off_main(&state, move |s| {
        memory::search(s, shared_default(), &query, &filter, limit)
    })
    .await
}

/// Newest first.
#[tauri::command]
pub async fn list_memories(
    state: State<'_, AppState>,
    filter: MemoryFilter,
    limit: Option<usize>,
) -> CommandResult<Vec<Memory>> {
    let limit = limit.unwrap_or(100);
    off_main(&state, move |s| memory::list(s, &filter, limit)).await
}

#[tauri::command]
pub async fn add_memory(state: State<'_, AppState>, input: NewMemory) -> CommandResult<Memory> {
    off_main(&state, move |s| memory::add(s, shared_default(), input)).await
}

/// Edits a memory's text, kind, scope or importance (`memory edit`).
#[tauri::command]
pub async fn update_memory(
    state: State<'_, AppState>,
    id: String,
    patch: MemoryPatch,
) -> CommandResult<Memory> {
    off_main(&state, move |s| {
        memory::update(s, shared_default(), &id, patch)
    })
    .await
}

#[tauri::command]
pub async fn archive_memory(state: State<'_, AppState>, id: String) -> CommandResult<Memory> {
    off_main(&state, move |s| memory::archive(s, &id)).await
}

#[tauri::command]
pub async fn unarchive_memory(state: State<'_, AppState>, id: String) -> CommandResult<Memory> {
    off_main(&state, move |s| memory::unarchive(s, &id)).await
}

/// The task's most relevant memories and the most similar runs of other tasks.
#[tauri::command]
pub async fn task_context(
    state: State<'_, AppState>,
    task_id: String,
) -> CommandResult<TaskContext> {
    off_main(&state, move |s| {
        memory::context_for_task(s, shared_default(), &task_id, CONTEXT_SIZE)
    })
    .await
}

/// This device's relevance floor: search hits less relevant than it are dropped.
#[tauri::command]
pub async fn memory_floor(state: State<'_, AppState>) -> CommandResult<f64> {
    off_main(&state, memory::relevance_floor).await
}

#[tauri::command]
pub async fn set_memory_floor(state: State<'_, AppState>, floor: f64) -> CommandResult<f64> {
    off_main(&state, move |s| memory::set_relevance_floor(s, floor)).await
}
