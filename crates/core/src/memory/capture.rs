//! Memories recorded by runs: `memory: ...` lines in a run's output, and a JSON-lines file
//! named by `FLIGHTDECK_MEMORY_FILE` that the run writes. Each becomes a memory linked to its
//! run, scoped to the run's task (global when the run has none). Their vectors are added by
//! [`super::index_pending`]; the full-text entry is written at once.

use std::path::Path;

use flightdeck_types::{Memory, MemoryScope, NewMemory};
use serde::Deserialize;

use crate::error::{CoreError, Result};
use crate::store::memories as rows;
use crate::store::{Store, Writer};

/// The env var the runner sets to the path of the run's memory file.
pub const MEMORY_FILE_ENV: &str = "FLIGHTDECK_MEMORY_FILE";
const PREFIX: &str = "memory:";

#[derive(Debug, Default)]
pub struct CaptureReport {
    pub added: Vec<Memory>,
    /// (1-based line number, what was wrong): bad lines are skipped, not fatal.
    pub errors: Vec<(usize, String)>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileLine {
    content: String,
    kind: Option<String>,
    importance: Option<f64>,
}

fn scope_of(w: &Writer<'_>, execution_id: &str) -> Result<MemoryScope> {
    Ok(match rows::execution_task(w, execution_id)? {
        Some(task) => MemoryScope::task(task),
        None => MemoryScope::global(),
    })
}

fn add_in(w: &mut Writer<'_>, execution_id: &str, input: NewMemory) -> Result<Memory> {
    let (content, kind, importance) = super::validate(&input)?;
    let m = Memory {
        id: crate::ids::new_id(),
        content,
        kind,
        scope: input.scope,
        importance,
        source_execution_id: Some(execution_id.to_string()),
        access_count: 0,
        last_accessed_at: None,
        archived: false,
        summary_id: None,
        created_at: w.now(),
        updated_at: w.now(),
    };
    super::insert_indexed(w, &m, None)?;
    Ok(m)
}

/// If `line` starts with `memory:` (after leading spaces), records the rest as a memory of the
/// run inside the caller's write. `Ok(None)` for other lines.
pub fn capture_from_output(
    w: &mut Writer<'_>,
    execution_id: &str,
    line: &str,
) -> Result<Option<Memory>> {
    let Some(rest) = line.trim_start().strip_prefix(PREFIX) else {
        return Ok(None);
    };
    let scope = scope_of(w, execution_id)?;
    let input = NewMemory {
        content: rest.trim().to_string(),
        scope,
        ..Default::default()
    };
    add_in(w, execution_id, input).map(Some)
}

/// Reads a run's memory file: one JSON object per line, `{"content": .., "kind"?: ..,
/// "importance"?: ..}`. Good lines are added in one transaction; bad ones are reported.
pub fn capture_from_file(store: &Store, execution_id: &str, path: &Path) -> Result<CaptureReport> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CoreError::io(format!("cannot read memory file {}", path.display()), e))?;
    store.write(|w| {
        let scope = scope_of(w, execution_id)?;
        let mut report = CaptureReport::default();
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let parsed: FileLine = match serde_json::from_str(line) {
                Ok(p) => p,
                Err(e) => {
                    report
                        .errors
                        .push((i + 1, format!("not a memory object: {e}")));
                    continue;
                }
            };
            let input = NewMemory {
                content: parsed.content,
                kind: parsed.kind,
                scope: scope.clone(),
                importance: parsed.importance,
                source_execution_id: None,
            };
            match add_in(w, execution_id, input) {
                Ok(m) => report.added.push(m),
                Err(CoreError::Invalid(e)) => report.errors.push((i + 1, e.to_string())),
                Err(e) => return Err(e),
            }
        }
        Ok(report)
    })
}
