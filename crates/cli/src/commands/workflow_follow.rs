//! Watching workflow runs: `--follow` (step changes and logs as they happen), `logs` and
//! `status`. The run may execute in this process, the daemon, the app or on another device,
//! so everything is read from the store.

use std::collections::HashMap;
use std::io::Write;
use std::time::Duration;

use flightdeck_core::{runs, workflows, CoreError, Store};
use flightdeck_types::{ExecutionEvent, StepStatus, WorkflowProgress, WorkflowRun};
use serde_json::json;

use crate::output::{stdout_closed, table, write_stdout_line, Output};

/// What has been printed so far of one run.
#[derive(Default)]
struct Cursor {
    statuses: HashMap<String, (StepStatus, u32)>,
    events: HashMap<String, i64>,
    /// Step runs that ended and whose events were all printed: not read again.
    drained: std::collections::HashSet<String>,
    /// The run's own status last printed (paused, resumed, waiting).
    run_status: Option<flightdeck_types::WorkflowRunStatus>,
    /// The run's pinned definition, read once.
    definition: Option<flightdeck_types::WorkflowDefinition>,
}

/// Prints step changes (stderr) and step output (stdout, `[step] line`) until the run is
/// final; with `--json`, one JSON object per line on stdout. Returns the final run.
pub fn follow(store: &Store, run_id: &str, out: &Output) -> Result<WorkflowRun, CoreError> {
    let mut cursor = Cursor::default();
    // Changes this process commits (its own worker's): the run's end is seen when it is
    // written, not up to a poll later. Other processes' are seen at the next poll.
    let id = run_id.to_string();
    let changes = store.subscribe_to(move |c| c.table == "workflow_runs" && c.id == id);
    loop {
        // The status is read before the logs, so that a final run's logs are complete.
        let run = workflows::get_run(store, run_id)?;
        print_new(store, &run, &mut cursor, None, true, out)?;
        if cursor.run_status != Some(run.status) && !run.status.is_final() {
            if cursor.run_status.is_some()
                || run.status != flightdeck_types::WorkflowRunStatus::Queued
            {
                if out.is_json() {
                    write_stdout_line(
                        &json!({ "type": "status", "status": run.status }).to_string(),
                    );
                } else {
                    eprintln!("workflow run {} {}", run.id, run.status);
                }
            }
            cursor.run_status = Some(run.status);
        }
        if run.status.is_final() || stdout_closed() {
            if !out.is_json() {
                eprintln!("workflow run {} {}", run.id, run.status);
            }
            return Ok(run);
        }
        wait_for_end_or_poll(store, run_id, &changes)?;
    }
}

/// Returns at the next poll (every 50 ms: the whole run is read then) or as soon as this
/// process writes run `run_id` final, whichever comes first. Only the status is read on a
/// change, so that a long run's many boundaries cost the watcher nothing much.
fn wait_for_end_or_poll(
    store: &Store,
    run_id: &str,
    changes: &std::sync::mpsc::Receiver<flightdeck_core::store::Change>,
) -> Result<(), CoreError> {
    let poll = std::time::Instant::now() + Duration::from_millis(50);
    loop {
        let left = poll.saturating_duration_since(std::time::Instant::now());
        match changes.recv_timeout(left) {
            // The subscription carries only this run's row (see `follow`).
            Ok(_) => {
                if workflows::status_of(store, run_id)?.is_final() {
                    return Ok(());
                }
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => return Ok(()),
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                std::thread::sleep(left);
                return Ok(());
            }
        }
    }
}

fn print_new(
    store: &Store,
    run: &WorkflowRun,
    cursor: &mut Cursor,
    only_step: Option<&str>,
    transitions: bool,
    out: &Output,
) -> Result<(), CoreError> {
    // A run's pinned definition never changes: parsed once per follow.
    if cursor.definition.is_none() {
        cursor.definition = Some(workflows::definition_of(store, run)?);
    }
    let def = cursor.definition.take().expect("set above");
    let printed = print_steps(store, run, &def, cursor, only_step, transitions, out);
    cursor.definition = Some(def);
    printed
}

/// The runs of checkpoint entry `state`, oldest first: its ended attempts, then the one
/// running or last run; with whether each had ended when the run was read (its events are
/// then complete). A step reused from an earlier run (`rerun --from`) ran in that run.
fn runs_of(state: &flightdeck_types::StepState) -> Vec<(String, bool)> {
    if state.reused_from.is_some() {
        return Vec::new();
    }
    let mut runs: Vec<(String, bool)> = state
        .attempts
        .iter()
        .map(|a| (a.execution_id.clone(), true))
        .collect();
    if let Some(id) = &state.execution_id {
        if !runs.iter().any(|(r, _)| r == id) {
            runs.push((id.clone(), state.status.is_final()));
        }
    }
    runs
}

fn print_steps(
    store: &Store,
    run: &WorkflowRun,
    def: &flightdeck_types::WorkflowDefinition,
    cursor: &mut Cursor,
    only_step: Option<&str>,
    transitions: bool,
    out: &Output,
) -> Result<(), CoreError> {
    let mut stderr = std::io::stderr().lock();
    // A fan-out step's items run as `ID[INDEX]`; `logs RUN ID[2]` asks for one of them.
    fn base(key: &str) -> &str {
        key.split_once('[').map_or(key, |(id, _)| id)
    }
    for step in &def.steps {
        if only_step.is_some_and(|s| base(s) != step.id) {
            continue;
        }
        let Some(state) = run.checkpoint.steps.get(&step.id) else {
            continue;
        };
        // The step, then its fan-out items by index: the runs of each, read from the
        // checkpoint (as of the read above), not by listing every run of the workflow run.
        let mut entries: Vec<(String, &flightdeck_types::StepState)> =
            vec![(step.id.clone(), state)];
        for index in 0..state.items.unwrap_or(0) {
            let key = workflows::engine::fanout::item_key(&step.id, index);
            if let Some(item) = run.checkpoint.steps.get(&key) {
                entries.push((key, item));
            }
        }
        for (key, entry) in &entries {
            if only_step.is_some_and(|o| o != step.id && o != key) {
                continue;
            }
            for (exec_id, ended) in runs_of(entry) {
                if cursor.drained.contains(&exec_id) {
                    continue;
                }
                let after = cursor.events.entry(exec_id.clone()).or_insert(0);
                loop {
                    let batch = runs::events(store, &exec_id, *after, 1_000)?;
                    let Some(last) = batch.last() else { break };
                    *after = last.seq;
                    print_events(key, &batch, out, &mut stderr);
                }
                // Ended when the run was read, so nothing more comes.
                if ended {
                    cursor.drained.insert(exec_id);
                }
            }
        }
        if !transitions {
            continue;
        }
        let now = (state.status, state.attempt);
        if cursor.statuses.get(&step.id) != Some(&now) {
            cursor.statuses.insert(step.id.clone(), now);
            if out.is_json() {
                let line = json!({
                    "type": "step", "step": step.id, "status": state.status,
                    "attempt": state.attempt, "error": state.error,
                });
                write_stdout_line(&line.to_string());
            } else if state.status != StepStatus::Pending {
                let _ = writeln!(stderr, "{}", transition(run, &step.id, state));
            }
        }
    }
    Ok(())
}

fn transition(run: &WorkflowRun, id: &str, s: &flightdeck_types::StepState) -> String {
    let took = match (s.started_at, s.finished_at) {
        (Some(a), Some(b)) => format!(" in {} ms", b.as_millis() - a.as_millis()),
        _ => String::new(),
    };
    let why = s
        .error
        .as_deref()
        .map(|e| format!(": {e}"))
        .unwrap_or_default();
    match s.status {
        // While a retry runs, the step's error is why the attempt before it failed.
        StepStatus::Running if s.attempt > 1 => format!(
            "▸ {id} running (attempt {}{})",
            s.attempt,
            s.error
                .as_deref()
                .map(|e| format!("; attempt {} failed: {e}", s.attempt - 1))
                .unwrap_or_default()
        ),
        StepStatus::Running => format!("▸ {id} running"),
        StepStatus::WaitingApproval => format!(
            "▸ {id} waiting for approval{}: `flightdeck workflow approve {} {id}` (or reject)",
            approval_message(Some(s))
                .map(|m| format!(" ({m})"))
                .unwrap_or_default(),
            run.id
        ),
        status => format!("▸ {id} {status}{took}{why}"),
    }
}

/// An approval step's message as rendered when it started waiting.
fn approval_message(state: Option<&flightdeck_types::StepState>) -> Option<String> {
    state?
        .inputs
        .as_ref()?
        .get("message")?
        .as_str()
        .map(String::from)
}

fn print_events(step: &str, events: &[ExecutionEvent], out: &Output, stderr: &mut impl Write) {
    for e in events {
        if out.is_json() {
            let line = json!({ "type": "log", "step": step, "kind": e.kind, "data": e.data });
            write_stdout_line(&line.to_string());
            continue;
        }
        let _ = match e.kind.as_str() {
            "stdout" => {
                write_stdout_line(&format!("[{step}] {}", e.data));
                Ok(())
            }
            "stderr" => writeln!(stderr, "[{step}] {}", e.data),
            "status" | "process" => Ok(()),
            kind => writeln!(stderr, "[{step}] [{kind}] {}", e.data),
        };
    }
}

/// Prints the logs recorded so far of a run's steps (or one step), `[step] line`.
pub fn print_logs(
    store: &Store,
    run_id: &str,
    step: Option<&str>,
    out: &Output,
) -> Result<(), CoreError> {
    let run = workflows::get_run(store, run_id)?;
    if let Some(step) = step {
        if !run.checkpoint.steps.contains_key(step) {
            return Err(CoreError::NotFound {
                kind: "step",
                key: format!("{step} in workflow run {run_id}"),
            });
        }
    }
    print_new(store, &run, &mut Cursor::default(), step, false, out)
}

pub fn render_status(p: &WorkflowProgress) -> String {
    let r = &p.run;
    let ms = |v: i64| match v {
        v if v < 1000 => format!("{v} ms"),
        v => format!("{:.1} s", v as f64 / 1000.0),
    };
    let mut lines = vec![
        format!("run:       {} ({} v{})", r.id, r.workflow_name, r.version),
        format!("status:    {}", r.status),
        format!("progress:  {}/{} steps done", p.done, p.total),
        format!("elapsed:   {}", ms(p.elapsed_ms)),
    ];
    if let (Some(left), Some(eta)) = (p.remaining_ms, p.eta) {
        lines.push(format!(
            "eta:       {} ({} left{})",
            eta.to_rfc3339(),
            ms(left),
            if p.eta_is_guess {
                "; a guess: fewer than 3 earlier runs of some steps"
            } else {
                ""
            }
        ));
    }
    if !p.running.is_empty() {
        lines.push(format!("running:   {}", p.running.join(", ")));
    }
    for step in p.steps.iter().filter(|s| !s.items.is_empty()) {
        let ended = step.items.iter().filter(|i| i.status.is_final()).count();
        let failed = step
            .items
            .iter()
            .filter(|i| i.status == StepStatus::Failed)
            .count();
        lines.push(format!(
            "fan-out:   {}: {ended}/{} items ended{}",
            step.id,
            step.items.len(),
            if failed > 0 {
                format!(", {failed} failed")
            } else {
                String::new()
            }
        ));
    }
    if !p.waiting_approval.is_empty() {
        lines.push(format!(
            "waiting:   {} (approve or reject)",
            p.waiting_approval.join(", ")
        ));
        for id in &p.waiting_approval {
            if let Some(message) = approval_message(r.checkpoint.steps.get(id)) {
                lines.push(format!("           {id}: {message}"));
            }
        }
    }
    if let Some(e) = &r.error {
        lines.push(format!("error:     {e}"));
    }
    if let Some(of) = &r.rerun_of {
        lines.push(format!(
            "{}  {of} {} step {}",
            if r.checkpoint.forked {
                "forked from:"
            } else {
                "rerun of: "
            },
            if r.checkpoint.forked { "at" } else { "from" },
            r.rerun_from.as_deref().unwrap_or("?")
        ));
    }
    let rows = p
        .steps
        .iter()
        .map(|s| {
            vec![
                s.id.clone(),
                s.executor.clone(),
                s.status.to_string(),
                s.attempt.to_string(),
                s.duration_ms.map(ms).unwrap_or_else(|| "-".into()),
                s.p50_ms.map(ms).unwrap_or_else(|| "-".into()),
                s.needs.join(","),
            ]
        })
        .collect::<Vec<_>>();
    lines.push(String::new());
    lines.push(table(
        &["STEP", "EXECUTOR", "STATUS", "TRY", "TOOK", "P50", "NEEDS"],
        &rows,
    ));
    lines.join("\n")
}
