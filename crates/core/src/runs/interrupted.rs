//! Runs whose process died: at the next start, the holder of the worker lock ends them as
//! `interrupted` (killing what they left running) and keeps what they recorded.

use flightdeck_types::{Execution, ExecutionStatus, Timestamp};

use super::executors::shell;
use super::run_memory::{
    index_recorded_memories, memory_file_path, read_memory_file, record_memories,
};
use super::runner::end_in;
use super::secret_mask::SecretMask;
use crate::error::Result;
use crate::memory;
use crate::secrets::SecretStore;
use crate::store::{executions, Store, Writer};

/// Marks runs left `running` on this device as `interrupted` and hands each to recovery.
/// Only the holder of the worker lock may call it: anyone else could be looking at runs a
/// live runner is executing.
///
/// What such a run recorded before its process died is kept: the `memory:` lines of its stored
/// output and the memory file it left behind become memories of the run, as at a normal end.
///
/// A device [`held`](crate::workflows::lease::held) (back after its workflow lease lapsed, and
/// not synced since) leaves its workflow steps as they are: another device may have adopted
/// their runs. The runner recovers them with [`recover_held_steps`] once the hold ends.
pub fn recover_interrupted(store: &Store, secrets: &dyn SecretStore) -> Result<Vec<Execution>> {
    let held = crate::workflows::lease::held(store)?;
    recover_where(store, secrets, |e| !held || e.workflow_run_id.is_none())
}

/// After a hold: the workflow steps a dead process left `running` on this device (nothing
/// here has run a step since the worker started, so every one is stale) whose runs are still
/// this device's; a step of a run another device adopted was ended there.
pub fn recover_held_steps(store: &Store, secrets: &dyn SecretStore) -> Result<Vec<Execution>> {
    recover_where(store, secrets, |e| e.workflow_run_id.is_some())
}

fn recover_where(
    store: &Store,
    secrets: &dyn SecretStore,
    wanted: impl Fn(&Execution) -> bool,
) -> Result<Vec<Execution>> {
    let (ended, recorded, files) = store.write(|w| {
        let now: Timestamp = w.now();
        let mut stale = executions::running_on_device(w, w.device_id())?;
        stale.retain(|e| wanted(e));
        let mut ended = Vec::with_capacity(stale.len());
        let mut recorded = Vec::new();
        let mut files = Vec::new();
        for old in stale {
            if let Some(process) = executions::last_event_of_kind(w, &old.id, "process")? {
                shell::kill_recorded_group(&process.data);
            }
            let lines = stored_memory_lines(w, &old.id)?;
            let path = memory_file_path(store, &old.id);
            let environment = match &old.environment_id {
                Some(id) => crate::store::environments::matching(w, id)?
                    .into_iter()
                    .find(|env| &env.id == id),
                None => None,
            };
            let mask = SecretMask::for_environment(environment.as_ref(), secrets);
            let (file_text, file_error) = read_memory_file(&path, &mask);
            let mut result = old.result.clone();
            let file = (file_text.as_deref(), file_error);
            recorded.extend(record_memories(w, &old.id, &lines, file, &mut result)?);
            files.push(path);
            let new = Execution {
                status: ExecutionStatus::Interrupted,
                finished_at: Some(now),
                error: Some("the process running it exited".into()),
                result,
                ..old.clone()
            };
            let seq = executions::next_event_seq(w, &old.id)?;
            end_in(w, &old, &new, seq)?;
            ended.push(new);
        }
        Ok((ended, recorded, files))
    })?;
    for path in files {
        let _ = std::fs::remove_file(path);
    }
    if !recorded.is_empty() {
        index_recorded_memories(store, &recorded);
    }
    Ok(ended)
}

/// The `memory:` lines among a run's stored output (which stops at the output cap).
fn stored_memory_lines(w: &Writer<'_>, run_id: &str) -> Result<Vec<String>> {
    let mut lines = Vec::new();
    let mut after = 0;
    loop {
        let page = executions::events(w, run_id, after, 1000)?;
        let Some(last) = page.last() else {
            return Ok(lines);
        };
        after = last.seq;
        lines.extend(
            page.into_iter()
                .filter(|e| matches!(e.kind.as_str(), "stdout" | "stderr"))
                .filter(|e| memory::is_memory_line(&e.data))
                .map(|e| e.data)
                .take(memory::MAX_PER_RUN + 1 - lines.len()),
        );
        if lines.len() > memory::MAX_PER_RUN {
            return Ok(lines);
        }
    }
}
