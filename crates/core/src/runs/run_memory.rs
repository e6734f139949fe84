//! What a run records as memories: its `memory:` output lines and the JSON lines of the file
//! named by `$FLIGHTDECK_MEMORY_FILE`, written with the run's end (or its recovery), then kept
//! within budget and indexed.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use flightdeck_types::{Memory, MemoryScope};
use serde_json::json;

use super::secret_mask::SecretMask;
use crate::error::{CoreError, Result};
use crate::memory;
use crate::store::{Store, Writer};

/// Records a run's memories inside the write that ends it, and lists them (and what could not
/// be recorded) under `memories` in its result.
pub(super) fn record_memories(
    w: &mut Writer<'_>,
    run_id: &str,
    output_lines: &[String],
    (file_text, file_error): (Option<&str>, Option<String>),
    result: &mut Option<serde_json::Value>,
) -> Result<Vec<Memory>> {
    let mut captured = memory::capture_run(w, run_id, output_lines, file_text)?;
    captured.errors.extend(file_error);
    if !captured.added.is_empty() || !captured.errors.is_empty() {
        let r = result.get_or_insert_with(|| json!({}));
        if let Some(fields) = r.as_object_mut() {
            fields.insert(
                "memories".into(),
                json!({
                    "recorded": captured.added.iter().map(|m| &m.id).collect::<Vec<_>>(),
                    "errors": captured.errors,
                }),
            );
        }
    }
    Ok(captured.added)
}

/// `<database dir>/run-memory/<run id>.jsonl`. Beside the database rather than in /tmp: the
/// data dir is the person's own, so no one else can plant or read it.
pub(super) fn memory_file_path(store: &Store, run_id: &str) -> PathBuf {
    super::beside_database(store, "run-memory").join(format!("{run_id}.jsonl"))
}

/// [`memory_file_path`], its directory created and no file there yet.
pub(super) fn fresh_memory_file(store: &Store, run_id: &str) -> Result<PathBuf> {
    let path = memory_file_path(store, run_id);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| CoreError::io(format!("cannot create {}", dir.display()), e))?;
    }
    match std::fs::remove_file(&path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(CoreError::io(format!("cannot clear {}", path.display()), e)),
    }
    Ok(path)
}

/// The memory file's text (its secret values masked), or why it was not read. No file means
/// the run recorded nothing.
pub(super) fn read_memory_file(path: &Path, mask: &SecretMask) -> (Option<String>, Option<String>) {
    let env = memory::MEMORY_FILE_ENV;
    match std::fs::metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => (None, None),
        Err(e) => (None, Some(format!("{env}: cannot read it: {e}"))),
        Ok(meta) if meta.len() > memory::MAX_FILE_BYTES => (
            None,
            Some(format!(
                "{env}: {} bytes, over the {} byte limit; not read",
                meta.len(),
                memory::MAX_FILE_BYTES
            )),
        ),
        Ok(_) => match std::fs::read_to_string(path) {
            Ok(text) => (Some(mask.mask(&text).into_owned()), None),
            Err(e) => (None, Some(format!("{env}: cannot read it: {e}"))),
        },
    }
}

/// Keeps the scopes the run wrote to within budget and gives the new memories their vectors.
/// The run has ended by now; a failure here is logged, and the next index pass catches up.
pub(super) fn index_recorded_memories(store: &Store, recorded: &[Memory]) {
    let scopes: HashSet<&MemoryScope> = recorded.iter().map(|m| &m.scope).collect();
    for scope in scopes {
        let embedder = memory::embed::shared_default();
        if let Err(e) = memory::enforce_budget(store, embedder, scope, &memory::Budget::default()) {
            tracing::warn!(error = %e, "could not enforce the memory budget after a run");
        }
    }
    if let Err(e) = memory::index_pending_default(store) {
        tracing::warn!(error = %e, "could not index the memories a run recorded");
    }
}
