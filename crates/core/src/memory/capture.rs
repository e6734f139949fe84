//! Memories recorded by runs: `memory: ...` lines in a run's output, and a JSON-lines file
//! named by `FLIGHTDECK_MEMORY_FILE` that the run writes. Each becomes a memory linked to its
//! run, scoped to the run's task (global when the run has none). The runner records them in
//! the transaction that ends the run ([`capture_run`]); the full-text entry is written at once,
//! the vectors right after, by [`super::index_pending_default`].

use std::path::Path;

use flightdeck_types::{Memory, MemoryScope, NewMemory};
use serde::Deserialize;

use crate::error::{CoreError, Result};
use crate::store::memories as rows;
use crate::store::{Store, Writer};

/// The env var the runner sets to the path of the run's memory file.
pub const MEMORY_FILE_ENV: &str = "FLIGHTDECK_MEMORY_FILE";
const PREFIX: &str = "memory:";
/// Memories one run may record from its output, and again from its file: a run stuck printing
/// `memory:` lines in a loop must not flood every device's store.
pub const MAX_PER_RUN: usize = 1000;
/// Problems reported per run; the rest are counted.
const MAX_ERRORS_KEPT: usize = 20;
/// A memory file larger than this is not read (it would be read whole into memory).
pub const MAX_FILE_BYTES: u64 = 8 * 1024 * 1024;

/// Whether an output line records a memory (`memory: ...`, leading spaces allowed).
pub fn is_memory_line(line: &str) -> bool {
    line.trim_start().starts_with(PREFIX)
}

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
    store.write(|w| capture_file_text(w, execution_id, &text))
}

fn capture_file_text(w: &mut Writer<'_>, execution_id: &str, text: &str) -> Result<CaptureReport> {
    let scope = scope_of(w, execution_id)?;
    let mut report = CaptureReport::default();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        if report.added.len() == MAX_PER_RUN {
            report.errors.push((
                i + 1,
                format!("not recorded: a run records at most {MAX_PER_RUN} memories from its file"),
            ));
            break;
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
}

/// What a finished run recorded: the memories, and why some entries were not recorded.
#[derive(Debug, Default)]
pub struct RunMemories {
    pub added: Vec<Memory>,
    pub errors: Vec<String>,
}

/// Records a finished run's memories inside the caller's write (the one that ends the run, so
/// the run and what it learned commit together): its `memory:` output lines, in order, then
/// the text of its memory file. Bad entries are reported, never fatal to the run.
pub fn capture_run(
    w: &mut Writer<'_>,
    execution_id: &str,
    output_lines: &[String],
    file_text: Option<&str>,
) -> Result<RunMemories> {
    let mut out = RunMemories::default();
    for (n, line) in output_lines.iter().enumerate() {
        if n == MAX_PER_RUN {
            out.errors.push(format!(
                "output: only the first {MAX_PER_RUN} `memory:` lines are recorded"
            ));
            break;
        }
        match capture_from_output(w, execution_id, line) {
            Ok(Some(m)) => out.added.push(m),
            Ok(None) => {}
            Err(CoreError::Invalid(e)) => {
                let shown: String = line.trim().chars().take(80).collect();
                out.errors.push(format!("output `{shown}`: {e}"));
            }
            Err(e) => return Err(e),
        }
    }
    if let Some(text) = file_text {
        let report = capture_file_text(w, execution_id, text)?;
        out.added.extend(report.added);
        out.errors.extend(
            report
                .errors
                .into_iter()
                .map(|(line, e)| format!("{MEMORY_FILE_ENV} line {line}: {e}")),
        );
    }
    // They end up in the run's result; a file of garbage must not make that huge.
    if out.errors.len() > MAX_ERRORS_KEPT {
        let more = out.errors.len() - MAX_ERRORS_KEPT;
        out.errors.truncate(MAX_ERRORS_KEPT);
        out.errors.push(format!("and {more} more"));
    }
    Ok(out)
}
