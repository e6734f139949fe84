//! What a workflow step's run gets and leaves besides its output: the variables
//! `$FLIGHTDECK_OUTPUT` (a file of `key=value` lines it may write), `$FLIGHTDECK_STEP_ATTEMPT`
//! and `$FLIGHTDECK_IDEMPOTENCY_KEY` (the same for every attempt of one step of one run);
//! and, at its end, those values and its JSON result (its last stdout line, or an HTTP
//! body, when that is JSON) in the run's result for the engine to read.

use std::path::{Path, PathBuf};

use flightdeck_types::{Execution, ExecutionSpec};
use serde_json::{json, Map, Value};

use super::executors::SinkTotals;
use crate::error::{CoreError, Result};
use crate::store::Store;

pub const OUTPUT_ENV: &str = "FLIGHTDECK_OUTPUT";
pub const ATTEMPT_ENV: &str = "FLIGHTDECK_STEP_ATTEMPT";
pub const IDEMPOTENCY_ENV: &str = "FLIGHTDECK_IDEMPOTENCY_KEY";
/// Bytes of `$FLIGHTDECK_OUTPUT` read; a bigger file is refused whole.
pub const MAX_OUTPUT_FILE: u64 = 1024 * 1024;

/// `<database dir>/step-output/<run id>`, created empty.
pub fn fresh_file(store: &Store, run_id: &str) -> Result<PathBuf> {
    let dir = super::beside_database(store, "step-output");
    std::fs::create_dir_all(&dir)
        .map_err(|e| CoreError::io(format!("cannot create {}", dir.display()), e))?;
    let path = dir.join(run_id);
    std::fs::write(&path, b"")
        .map_err(|e| CoreError::io(format!("cannot create {}", path.display()), e))?;
    Ok(path)
}

/// The variables a step's command sees.
pub fn step_env(run: &Execution, output: Option<&Path>) -> Vec<(&'static str, String)> {
    let (Some(workflow_run), Some(step)) = (&run.workflow_run_id, &run.step_id) else {
        return Vec::new();
    };
    let mut env = vec![
        (ATTEMPT_ENV, run.attempt.to_string()),
        (IDEMPOTENCY_ENV, format!("{workflow_run}:{step}")),
        ("FLIGHTDECK_WORKFLOW_RUN_ID", workflow_run.clone()),
        ("FLIGHTDECK_STEP_ID", step.clone()),
    ];
    if let Some(path) = output {
        env.push((OUTPUT_ENV, path.display().to_string()));
    }
    env
}

/// Adds `outputs` (the file's values) and `json` to a step run's result, and removes the file.
pub fn add_to_result(
    spec: &ExecutionSpec,
    result: &mut Option<Value>,
    totals: &SinkTotals,
    output: Option<&Path>,
) {
    let r = result.get_or_insert_with(|| json!({}));
    let Some(fields) = r.as_object_mut() else {
        return;
    };
    let parsed = match spec {
        ExecutionSpec::Http(_) => fields
            .get("body")
            .and_then(Value::as_str)
            .and_then(|b| serde_json::from_str::<Value>(b).ok()),
        _ => totals
            .last_stdout
            .as_deref()
            .and_then(|l| serde_json::from_str::<Value>(l.trim()).ok())
            .filter(|v| v.is_object() || v.is_array()),
    };
    if let Some(v) = parsed {
        fields.insert("json".into(), v);
    }
    if let Some(path) = output {
        match read_values(path) {
            Ok(values) if !values.is_empty() => {
                fields.insert("outputs".into(), Value::Object(values));
            }
            Ok(_) => {}
            Err(e) => {
                fields.insert("outputs_error".into(), json!(e));
            }
        }
        let _ = std::fs::remove_file(path);
    }
}

/// `key=value` lines; blank lines and `#` comments are skipped, a later key wins.
fn read_values(path: &Path) -> std::result::Result<Map<String, Value>, String> {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Map::new()),
        Err(e) => return Err(format!("{OUTPUT_ENV}: cannot read it: {e}")),
    };
    if meta.len() > MAX_OUTPUT_FILE {
        return Err(format!(
            "{OUTPUT_ENV}: {} bytes, over the {MAX_OUTPUT_FILE} byte limit; not read",
            meta.len()
        ));
    }
    let text = std::fs::read_to_string(path).map_err(|e| format!("{OUTPUT_ENV}: {e}"))?;
    let mut values = Map::new();
    for line in text.lines() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        if let Some((k, v)) = line.split_once('=') {
            values.insert(k.trim().to_string(), Value::String(v.to_string()));
        }
    }
    Ok(values)
}
