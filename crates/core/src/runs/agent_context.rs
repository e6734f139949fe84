//! The context an agent run is given: a markdown file holding its task, the memories most
//! relevant to it (the same search `flightdeck memory search` makes with the task's title and
//! description, floor included) and the most similar past runs of other tasks, most relevant
//! first, capped in size. The run sees its path as `$FLIGHTDECK_CONTEXT_FILE`, and an agent
//! command template may name it as `{context}`. The memories given count as used (their
//! access count and last access move), and the run's `context` event lists them.

use std::path::PathBuf;

use flightdeck_types::{
    Execution, ExecutionSpec, Memory, MemoryHit, ShellSpec, SimilarRun, TaskContext, Timestamp,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::error::{CoreError, Result};
use crate::memory::{self, Embedder};
use crate::store::{memories as rows, Store};

pub const CONTEXT_FILE_ENV: &str = "FLIGHTDECK_CONTEXT_FILE";

/// This device's settings for agent context (kept beside the memory index's own settings).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ContextSettings {
    /// Whether agent runs get a context file at all.
    pub enabled: bool,
    /// At most this many memories and this many similar runs.
    pub memories: usize,
    pub runs: usize,
    /// The file's cap in bytes: whole entries past it are left out, least relevant first.
    pub max_bytes: usize,
}

impl Default for ContextSettings {
    fn default() -> Self {
        ContextSettings {
            enabled: true,
            memories: 8,
            runs: 3,
            max_bytes: 16 * 1024,
        }
    }
}

const SETTINGS_KEY: &str = "agent_context";

pub fn settings(store: &Store) -> Result<ContextSettings> {
    let stored = store.read(|c| rows::meta(c, SETTINGS_KEY))?;
    Ok(stored
        .and_then(|v| serde_json::from_str(&v).ok())
        .unwrap_or_default())
}

pub fn set_settings(store: &Store, settings: ContextSettings) -> Result<ContextSettings> {
    if settings.max_bytes < 1024 {
        return Err(CoreError::invalid(
            "max_bytes",
            format!(
                "{} bytes cannot hold a task and one memory; give at least 1024 (the default \
                 is 16384)",
                settings.max_bytes
            ),
        ));
    }
    let text = serde_json::to_string(&settings).expect("settings serialize");
    store.write(|w| rows::set_meta(w, SETTINGS_KEY, &text))?;
    Ok(settings)
}

/// What an agent run was given.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GivenContext {
    pub file: PathBuf,
    pub bytes: usize,
    /// The memories in the file, in its order.
    pub memory_ids: Vec<String>,
    pub similar_runs: Vec<String>,
    /// Entries the size cap left out.
    pub left_out: usize,
}

/// `<database dir>/run-context/<run id>.md`, beside the database like the run's memory file.
pub fn context_file_path(store: &Store, run_id: &str) -> PathBuf {
    super::beside_database(store, "run-context").join(format!("{run_id}.md"))
}

/// The context `prompt` would be given now (for a task's run, the task's title and
/// description; the runs of `own_task` are not "similar past runs"), without writing it or
/// counting anything as used.
pub fn preview(
    store: &Store,
    embedder: Option<&dyn Embedder>,
    prompt: &str,
    own_task: Option<&str>,
    settings: &ContextSettings,
) -> Result<Rendered> {
    let wanted = settings.memories.max(settings.runs);
    let mut context = memory::context_for_text(store, embedder, prompt, own_task, wanted)?;
    context.memories.truncate(settings.memories);
    context.similar_runs.truncate(settings.runs);
    let (title, description) = prompt
        .trim()
        .split_once('\n')
        .unwrap_or((prompt.trim(), ""));
    Ok(render(
        title,
        description,
        &context,
        crate::clock::now(),
        settings.max_bytes,
    ))
}

/// The prompt an agent run of a task is given: its title, and its description below.
pub fn task_prompt(title: &str, description: &str) -> String {
    if description.trim().is_empty() {
        title.to_string()
    } else {
        format!("{title}\n\n{description}")
    }
}

/// Writes the context file of run `run_id` (see [`preview`]) and counts the memories in it
/// as used.
pub fn write_for_run(
    store: &Store,
    embedder: Option<&dyn Embedder>,
    run_id: &str,
    prompt: &str,
    own_task: Option<&str>,
    settings: &ContextSettings,
) -> Result<GivenContext> {
    let rendered = preview(store, embedder, prompt, own_task, settings)?;
    let file = context_file_path(store, run_id);
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| CoreError::io(format!("cannot create {}", dir.display()), e))?;
    }
    std::fs::write(&file, &rendered.text)
        .map_err(|e| CoreError::io(format!("cannot write {}", file.display()), e))?;
    for id in &rendered.memory_ids {
        memory::record_access(store, id)?;
    }
    Ok(GivenContext {
        file,
        bytes: rendered.text.len(),
        memory_ids: rendered.memory_ids,
        similar_runs: rendered.run_ids,
        left_out: rendered.left_out,
    })
}

/// What the runner does before an agent run starts: the context file when `run` is an agent
/// run and context is on, as the `context` event's data (the file, its size, the memories
/// and runs in it) or why there is none. A context that cannot be written does not stop the
/// run: the agent starts without it and the event says why.
pub fn prepare(store: &Store, run: &Execution) -> Option<(Option<PathBuf>, serde_json::Value)> {
    let ExecutionSpec::Shell(ShellSpec {
        agent_prompt: Some(prompt),
        ..
    }) = &run.spec
    else {
        return None;
    };
    // An environment can turn context off for its own agent runs (`env update --context off`).
    let environment = run
        .environment_id
        .as_deref()
        .and_then(|id| crate::environments::get(store, id).ok());
    if let Some(env) = environment.filter(|e| !e.agent_context) {
        return Some((
            None,
            json!({ "off": format!("context is off for environment `{}`", env.name) }),
        ));
    }
    let settings = match settings(store) {
        Ok(s) if !s.enabled => return None,
        Ok(s) => s,
        Err(e) => return Some((None, json!({ "error": e.to_string() }))),
    };
    let embedder = memory::embed::shared_default();
    let written = write_for_run(
        store,
        embedder,
        &run.id,
        prompt,
        run.task_id.as_deref(),
        &settings,
    );
    Some(match written {
        Ok(given) => {
            let data = serde_json::to_value(&given).expect("context serializes");
            (Some(given.file), data)
        }
        Err(e) => (None, json!({ "error": e.to_string() })),
    })
}

/// The file's text and what went in it.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    pub text: String,
    pub memory_ids: Vec<String>,
    pub run_ids: Vec<String>,
    pub left_out: usize,
}

/// The markdown, at most `max_bytes`: the task first (its description cut if it alone is too
/// long), then memories and runs in order of relevance, each whole or not at all.
pub fn render(
    title: &str,
    description: &str,
    context: &TaskContext,
    now: Timestamp,
    max_bytes: usize,
) -> Rendered {
    let mut text = format!("# Task: {}\n\n", one_line(title));
    if !description.trim().is_empty() {
        let room = max_bytes.saturating_sub(text.len() + 1) / 2;
        text.push_str(cut(description.trim(), room));
        text.push_str("\n\n");
    }
    let mut out = Rendered {
        text,
        memory_ids: Vec::new(),
        run_ids: Vec::new(),
        left_out: 0,
    };
    let memories: Vec<(String, String)> = context
        .memories
        .iter()
        .map(|hit| (hit.memory.id.clone(), memory_entry(hit, now)))
        .collect();
    let runs: Vec<(String, String)> = context
        .similar_runs
        .iter()
        .map(|run| (run.execution_id.clone(), run_entry(run)))
        .collect();
    for (heading, empty, entries, ids) in [
        (
            "## What we know (memories, most relevant first)\n\n",
            "No memory is relevant to this task.\n",
            memories,
            0,
        ),
        (
            "## Similar past runs (most similar first)\n\n",
            "No similar past run.\n",
            runs,
            1,
        ),
    ] {
        let lead = if out.text.ends_with("\n\n") { "" } else { "\n" };
        let opening = format!("{lead}{heading}");
        if out.text.len() + opening.len() + empty.len() > max_bytes {
            out.left_out += entries.len();
            continue;
        }
        out.text.push_str(&opening);
        if entries.is_empty() {
            out.text.push_str(empty);
        }
        for (id, entry) in entries {
            if out.text.len() + entry.len() > max_bytes {
                out.left_out += 1;
                continue;
            }
            out.text.push_str(&entry);
            if ids == 0 {
                out.memory_ids.push(id);
            } else {
                out.run_ids.push(id);
            }
        }
    }
    out
}

fn memory_entry(hit: &MemoryHit, now: Timestamp) -> String {
    let m: &Memory = &hit.memory;
    format!(
        "- **{}** ({}, importance {:.2}, {} old, relevance {:.2})\n  {}\n",
        m.kind,
        scope_words(m),
        m.importance,
        age(now.as_millis() - m.created_at.as_millis()),
        hit.relevance,
        indent(&m.content)
    )
}

fn run_entry(run: &SimilarRun) -> String {
    let mut entry = format!(
        "- **{}**: {} (run {}, similarity {:.2})\n",
        one_line(&run.task_title),
        run.status,
        run.execution_id,
        run.similarity
    );
    if let Some(summary) = run.summary.as_deref().filter(|s| !s.trim().is_empty()) {
        entry.push_str(&format!("  {}\n", indent(cut(summary.trim(), 600))));
    }
    entry
}

fn scope_words(m: &Memory) -> String {
    match &m.scope.id {
        Some(id) => format!("{} {id}", m.scope.kind.as_str()),
        None => m.scope.kind.as_str().to_string(),
    }
}

/// "3 days", "5 hours", "just now".
fn age(millis: i64) -> String {
    let minutes = millis.max(0) / 60_000;
    match minutes {
        0 => "under a minute".into(),
        1..=59 => format!("{minutes} min"),
        60..=2879 => format!("{} hours", minutes / 60),
        _ => format!("{} days", minutes / 1440),
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Continuation lines of a list item, indented under it.
fn indent(s: &str) -> String {
    s.trim().replace('\n', "\n  ")
}

/// At most `max` bytes of `s`, cut at a character boundary.
fn cut(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;
    use flightdeck_types::{MemoryScope, SearchMode};

    fn hit(id: &str, content: &str, relevance: f64) -> MemoryHit {
        MemoryHit {
            memory: Memory {
                id: id.into(),
                content: content.into(),
                kind: "fact".into(),
                scope: MemoryScope::global(),
                importance: 0.5,
                source_execution_id: None,
                access_count: 0,
                last_accessed_at: None,
                archived: false,
                summary_id: None,
                created_at: Timestamp::from_millis(0),
                updated_at: Timestamp::from_millis(0),
            },
            score: relevance,
            relevance,
            vector_rank: Some(1),
            vector_distance: Some(0.2),
            keyword_rank: None,
            keyword_score: 0.0,
        }
    }

    #[test]
    fn the_cap_leaves_out_whole_entries_least_relevant_first() {
        let (title, description) = ("Fix the flaky login test", "It fails one run in ten on CI.");
        let long = "x".repeat(600);
        let context = TaskContext {
            mode: SearchMode::Hybrid,
            keyword_only: None,
            memories: (0..5).map(|i| hit(&format!("m{i}"), &long, 0.9)).collect(),
            similar_runs: Vec::new(),
        };
        let now = Timestamp::from_millis(3 * 86_400_000);
        let all = render(title, description, &context, now, 16 * 1024);
        assert_eq!(all.memory_ids, ["m0", "m1", "m2", "m3", "m4"]);
        assert!(all.text.contains("3 days old"), "{}", all.text);
        assert!(all.text.contains("No similar past run."));
        let capped = render(title, description, &context, now, 1800);
        assert!(capped.text.len() <= 1800, "{}", capped.text.len());
        assert_eq!(capped.memory_ids, ["m0", "m1"]);
        assert_eq!(capped.left_out, 3);
    }
}
