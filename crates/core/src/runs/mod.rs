//! Runs: queue an executor call as an `executions` row, follow its status and events, ask for
//! a cancel. The runner (on the device named by the row) picks queued runs up and executes
//! them; the scheduler and the recovery loop only ever queue rows through [`queue`].

use flightdeck_types::{
    AuditAction, EntityKind, Execution, ExecutionEvent, ExecutionFilter, ExecutionStatus,
    NewExecution,
};

pub mod agent_cli;
pub mod agent_context;
mod claim;
pub mod executors;
mod interrupted;
pub mod lock;
pub mod run_env;
mod run_memory;
pub mod runner;
pub mod secret_mask;
pub mod settings;
pub mod start;
pub mod step_output;
pub mod step_secrets;
pub mod worktree;

pub use agent_cli::agent_cli_spec;
pub use interrupted::{recover_held_steps, recover_interrupted};
pub use lock::WorkerLock;
pub use runner::{Runner, RunnerConfig, RunnerHandle};
pub use start::{fork, forks_of, rerun, rerun_in_worktree, start_for_task};

use crate::audit::diff;
use crate::error::{CoreError, Result};
use crate::store::{executions, Store, Writer};

/// `<database dir>/<dir>`: where a run's files live (its memory file, context file, step
/// output). Beside the database rather than in /tmp: the data dir is the person's own, so no
/// one else can plant or read them.
pub(crate) fn beside_database(store: &Store, dir: &str) -> std::path::PathBuf {
    store
        .path()
        .parent()
        .unwrap_or_else(|| std::path::Path::new("."))
        .join(dir)
}

/// Queues a run inside the caller's write (so a schedule's fire and its run commit together).
pub fn queue_in(w: &mut Writer<'_>, input: NewExecution) -> Result<Execution> {
    let spec = input
        .spec
        .ok_or_else(|| CoreError::invalid("spec", "a run needs something to run"))?;
    let execution = Execution {
        id: crate::ids::new_id(),
        task_id: input.task_id,
        environment_id: input.environment_id,
        schedule_id: input.schedule_id,
        workflow_run_id: input.workflow_run_id,
        step_id: input.step_id,
        retry_of: input.retry_of,
        spec,
        status: ExecutionStatus::Queued,
        attempt: input.attempt.unwrap_or(1),
        device_id: Some(input.device_id.unwrap_or_else(|| w.device_id().to_string())),
        exit_code: None,
        result: None,
        error: None,
        retry_policy: input.retry_policy.unwrap_or_default(),
        queued_at: w.now(),
        not_before: input.not_before,
        started_at: None,
        finished_at: None,
        cancel_requested_at: None,
        forked_from: input.forked_from,
    };
    executions::insert(w, &execution)?;
    w.audit(
        EntityKind::Execution,
        &execution.id,
        AuditAction::Create,
        diff(None, Some(&execution)),
    );
    Ok(execution)
}

pub fn queue(store: &Store, input: NewExecution) -> Result<Execution> {
    store.write(|w| queue_in(w, input))
}

pub fn get(store: &Store, id: &str) -> Result<Execution> {
    store.read(|conn| executions::find(conn, id))
}

pub fn list(store: &Store, filter: &ExecutionFilter) -> Result<Vec<Execution>> {
    store.read(|conn| executions::list(conn, filter))
}

pub fn events(
    store: &Store,
    execution_id: &str,
    after_seq: i64,
    limit: u32,
) -> Result<Vec<ExecutionEvent>> {
    store.read(|conn| executions::events(conn, execution_id, after_seq, limit))
}

/// Every event of run `execution_id`, oldest first (read a page at a time).
pub fn all_events(store: &Store, execution_id: &str) -> Result<Vec<ExecutionEvent>> {
    let mut all = Vec::new();
    let mut after = 0;
    loop {
        let page = events(store, execution_id, after, 5_000)?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        all.extend(page);
    }
    Ok(all)
}

/// Adds an event to a run from outside its runner (an agent's `flightdeck mcp` reporting
/// progress); it goes after whatever the run has, and the runner numbers its own output after
/// it. Returns the event's seq.
pub fn add_event(store: &Store, execution_id: &str, kind: &str, data: String) -> Result<i64> {
    store.write(|w| {
        let seq = executions::next_event_seq(w, execution_id)?;
        executions::insert_event(
            w,
            &ExecutionEvent {
                execution_id: execution_id.to_string(),
                seq,
                at: w.now(),
                kind: kind.to_string(),
                data,
            },
        )?;
        w.touched("execution_events", execution_id, AuditAction::Create);
        Ok(seq)
    })
}

/// The last `n` stdout and stderr events of a run, oldest first.
pub fn last_output(store: &Store, execution_id: &str, n: usize) -> Result<Vec<ExecutionEvent>> {
    let mut output = Vec::new();
    let mut after = 0;
    loop {
        let page = events(store, execution_id, after, 1000)?;
        let Some(last) = page.last() else {
            return Ok(output);
        };
        after = last.seq;
        output.extend(
            page.into_iter()
                .filter(|e| matches!(e.kind.as_str(), "stdout" | "stderr")),
        );
        let keep = output.len().saturating_sub(n);
        output.drain(..keep);
    }
}

/// Asks for a run to stop. Any device may ask; the device running it acts on the request.
/// A run that is already final is refused with a message saying so.
pub fn request_cancel(store: &Store, id: &str) -> Result<Execution> {
    store.write(|w| {
        let run = executions::find(w, id)?;
        if run.status.is_final() {
            return Err(CoreError::Refused(format!(
                "run {id} already ended ({}); nothing to cancel",
                run.status
            )));
        }
        executions::request_cancel(w, id, w.now())?;
        w.touched("executions", id, AuditAction::Update);
        if run.status == ExecutionStatus::Queued && run.device_id.as_deref() == Some(w.device_id())
        {
            // Queued here: nothing has started, so it ends now, whether or not a worker runs
            // (another device's queued run is left to that device, which may be claiming it).
            let mut new = executions::find(w, id)?;
            new.status = ExecutionStatus::Cancelled;
            new.finished_at = Some(w.now());
            new.error = Some("cancelled before it started".into());
            let seq = executions::next_event_seq(w, id)?;
            runner::end_in(w, &run, &new, seq)?;
        }
        executions::find(w, id)
    })
}
