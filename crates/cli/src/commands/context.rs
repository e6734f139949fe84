//! `flightdeck memory context TASK` and `memory context-settings`: what agent runs are given.

use flightdeck_core::memory::Embedder;
use flightdeck_core::runs::agent_context::{self, ContextSettings};
use flightdeck_core::{tasks, CoreError, Store};
use serde_json::json;

use crate::output::Output;

/// Prints the context file an agent run of `task` would get now.
pub fn show(
    store: &Store,
    embedder: Option<&dyn Embedder>,
    task: &str,
    out: &Output,
) -> Result<(), CoreError> {
    let task = tasks::get(store, task)?;
    let settings = agent_context::settings(store)?;
    let prompt = agent_context::task_prompt(&task.title, &task.description);
    let rendered = agent_context::preview(store, embedder, &prompt, Some(&task.id), &settings)?;
    let view = json!({
        "task_id": task.id,
        "enabled": settings.enabled,
        "bytes": rendered.text.len(),
        "memory_ids": rendered.memory_ids,
        "similar_runs": rendered.run_ids,
        "left_out": rendered.left_out,
        "markdown": rendered.text,
    });
    out.print(&view, || {
        let mut text = rendered.text.clone();
        if !settings.enabled {
            text.push_str(
                "\n(context is off on this device: agent runs get no file; turn it on with \
                 `flightdeck memory context-settings --context on`)",
            );
        }
        text
    });
    Ok(())
}

pub fn settings(
    store: &Store,
    enabled: Option<bool>,
    memories: Option<usize>,
    runs: Option<usize>,
    max_bytes: Option<usize>,
    out: &Output,
) -> Result<(), CoreError> {
    let mut settings = agent_context::settings(store)?;
    let changed = enabled.is_some() || memories.is_some() || runs.is_some() || max_bytes.is_some();
    if changed {
        settings = agent_context::set_settings(
            store,
            ContextSettings {
                enabled: enabled.unwrap_or(settings.enabled),
                memories: memories.unwrap_or(settings.memories),
                runs: runs.unwrap_or(settings.runs),
                max_bytes: max_bytes.unwrap_or(settings.max_bytes),
            },
        )?;
    }
    out.print(&settings, || {
        format!(
            "context: {}\nmemories: {}\nruns: {}\nmax bytes: {}",
            if settings.enabled { "on" } else { "off" },
            settings.memories,
            settings.runs,
            settings.max_bytes
        )
    });
    Ok(())
}
