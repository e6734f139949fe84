//! Slow-run alerts. A run is slow once it runs past what is expected of it: the first set of
//! its workflow step's `expected`, its schedule's expected duration and its task's, else 1.5x
//! the p95 of the latest (up to 200) succeeded runs of the same task (a plain run) or step (a
//! workflow step), when there are at least 10. Then,
//! once per run, an error record of kind `slow` (severity low, recovery `new`) with
//! diagnostics: elapsed against expected, what that was judged from, the last 20 output lines,
//! and whether the machine is busy. The app turns it into a desktop notification; the run's
//! end resolves it.
//!
//! The runner watches each run it starts (see [`watch`]); nothing is looked up before a run
//! has run [`LOOK_FROM`], so the many short runs of a busy worker (a chain's steps) cost
//! nothing, and an alert can come that late for a run expected to be quicker.

use std::sync::Arc;
use std::time::Duration;

use flightdeck_types::{
    AuditAction, EntityKind, ErrorKind, ErrorRecord, Execution, RecoveryStatus, Severity,
};
use serde_json::{json, Value};

use super::{save, set_detail};
use crate::audit::diff;
use crate::error::Result;
use crate::store::{error_records as sql, executions, insights as history, Store, Writer};

/// A run is first looked at this long after it started.
pub const LOOK_FROM: Duration = Duration::from_secs(1);
/// Without an expected duration: slow past this many times the p95 of its history...
pub const P95_FACTOR: f64 = 1.5;
/// ...of at least this many earlier succeeded runs...
pub const MIN_HISTORY: usize = 10;
/// ...the latest this many.
pub const MAX_HISTORY: usize = 200;
/// Output lines kept in the diagnostics.
pub const LAST_LINES: usize = 20;

/// What a run is expected to take, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Expectation {
    pub expected_ms: i64,
    /// `{"source": "step"|"schedule"|"task", "expected_secs"}` or `{"source": "history", "of": "task"|"step",
    /// "runs", "p50_ms", "p95_ms", "max_ms", "factor"}`.
    pub basis: Value,
}

/// What run `run` is expected to take; `None` when nothing says (no `expected`, and fewer than
/// [`MIN_HISTORY`] earlier runs to judge from).
pub fn expectation(store: &Store, run: &Execution) -> Result<Option<Expectation>> {
    let step = run
        .step_id
        .as_deref()
        .map(|s| s.split('[').next().unwrap_or(s).to_string());
    let history = match (&run.workflow_run_id, &step, &run.task_id) {
        (Some(wf_run), Some(step), _) => {
            let wf = crate::workflows::get_run(store, wf_run)?;
            let def = crate::workflows::definition_of(store, &wf)?;
            if let Some(secs) = def.step(step).and_then(|s| s.expected_secs) {
                return Ok(Some(Expectation {
                    expected_ms: secs as i64 * 1000,
                    basis: json!({ "source": "step", "expected_secs": secs }),
                }));
            }
            let h = store.read(|c| {
                // The ETA's own history: this step's succeeded runs in other runs.
                crate::store::workflows::step_durations(
                    c,
                    &wf.workflow_name,
                    step,
                    &wf.id,
                    MAX_HISTORY as u32,
                )
            })?;
            ("step", h)
        }
        (None, _, task) if run.schedule_id.is_some() || task.is_some() => {
            let schedule = match &run.schedule_id {
                Some(id) => store.read(|c| crate::schedules::find_in(c, id))?,
                None => None,
            };
            if let Some(secs) = schedule.and_then(|s| s.expected_secs) {
                return Ok(Some(Expectation {
                    expected_ms: secs as i64 * 1000,
                    basis: json!({ "source": "schedule", "expected_secs": secs }),
                }));
            }
            let Some(task) = task else {
                return Ok(None);
            };
            let expected = store
                .read(|c| crate::store::tasks::find(c, task))
                .ok()
                .and_then(|t| t.expected_secs);
            if let Some(secs) = expected {
                return Ok(Some(Expectation {
                    expected_ms: secs as i64 * 1000,
                    basis: json!({ "source": "task", "expected_secs": secs }),
                }));
            }
            (
                "task",
                store.read(|c| history::task_history(c, task, &run.id, MAX_HISTORY))?,
            )
        }
        _ => return Ok(None),
    };
    let (of, durations) = history;
    if durations.len() < MIN_HISTORY {
        return Ok(None);
    }
    let spread = crate::insights::spread(durations);
    let p95 = spread.p95.unwrap_or_default();
    Ok(Some(Expectation {
        expected_ms: ((p95 as f64) * P95_FACTOR).ceil() as i64,
        basis: json!({
            "source": "history",
            "of": of,
            "runs": spread.count,
            "p50_ms": spread.p50,
            "p95_ms": p95,
            "max_ms": spread.max,
            "factor": P95_FACTOR,
        }),
    }))
}

/// Watches run `run` (just started) and raises its alert if it runs past what is expected;
/// the runner aborts this task when the run ends.
pub async fn watch(store: Arc<Store>, run: Execution) {
    let started = run.started_at.unwrap_or_else(crate::clock::now).as_millis();
    tokio::time::sleep(LOOK_FROM).await;
    let (s, r) = (store.clone(), run.clone());
    let expected = match tokio::task::spawn_blocking(move || expectation(&s, &r)).await {
        Ok(Ok(Some(e))) => e,
        Ok(Ok(None)) => return,
        Ok(Err(e)) => {
            tracing::warn!(error = %e, run = %run.id, "could not tell what this run should take");
            return;
        }
        Err(_) => return,
    };
    let due = started + expected.expected_ms;
    let wait = due - crate::clock::now().as_millis();
    if wait > 0 {
        tokio::time::sleep(Duration::from_millis(wait as u64)).await;
    }
    let raised = tokio::task::spawn_blocking(move || raise(&store, &run, &expected)).await;
    if let Ok(Err(e)) = raised {
        tracing::warn!(error = %e, "could not record a slow run");
    }
}

/// Records run `run` as slow, unless it ended meanwhile or already was.
pub fn raise(
    store: &Store,
    run: &Execution,
    expected: &Expectation,
) -> Result<Option<ErrorRecord>> {
    let machine = machine();
    store.write(|w| {
        let now_run = executions::find(w, &run.id)?;
        if now_run.status.is_final() || sql::of_kind(w, &run.id, ErrorKind::Slow)?.is_some() {
            return Ok(None);
        }
        let now = w.now();
        let started = now_run.started_at.unwrap_or(now).as_millis();
        let elapsed = now.as_millis() - started;
        let what = match (&now_run.step_id, &now_run.task_id) {
            (Some(step), _) => format!("step `{step}`"),
            (None, Some(_)) => "the task's run".to_string(),
            (None, None) => "the run".to_string(),
        };
        let record = ErrorRecord {
            id: crate::ids::new_id(),
            kind: ErrorKind::Slow,
            execution_id: Some(run.id.clone()),
            task_id: now_run.task_id.clone(),
            schedule_id: now_run.schedule_id.clone(),
            severity: Severity::Low,
            message: format!(
                "{what} is slow: running {} against {} expected",
                human(elapsed),
                human(expected.expected_ms)
            ),
            details: json!({
                "step": now_run.step_id,
                "workflow_run_id": now_run.workflow_run_id,
                "elapsed_ms": elapsed,
                "expected_ms": expected.expected_ms,
                "judged_against": expected.basis,
                "last_lines": history::last_lines(w, &run.id, LAST_LINES)?,
                "machine": machine,
            }),
            recovery_status: RecoveryStatus::New,
            attempts: now_run.attempt,
            max_attempts: 0,
            next_retry_at: None,
            created_at: now,
            updated_at: now,
        };
        sql::insert(w, &record)?;
        w.audit(
            EntityKind::ErrorRecord,
            &record.id,
            AuditAction::Create,
            diff(None, Some(&record)),
        );
        Ok(Some(record))
    })
}

/// In the write that ends run `run`: its slow-run alert, if open, is resolved, saying how it
/// ended and how long it took.
pub(super) fn clear(w: &mut Writer<'_>, run: &Execution) -> Result<()> {
    let Some(old) = sql::of_kind(w, &run.id, ErrorKind::Slow)? else {
        return Ok(());
    };
    if old.recovery_status.is_closed() {
        return Ok(());
    }
    let mut new = old.clone();
    new.recovery_status = RecoveryStatus::Resolved;
    let took = match (run.started_at, run.finished_at) {
        (Some(s), Some(e)) => Some(e.as_millis() - s.as_millis()),
        _ => None,
    };
    set_detail(
        &mut new,
        "ended",
        json!({ "status": run.status, "duration_ms": took, "at": w.now() }),
    );
    save(w, &old, new)
}

/// Whether this machine is busy: load averages against its CPUs, and memory (Linux; other
/// systems say `null` for what they do not tell).
pub fn machine() -> Value {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let load: Option<Vec<f64>> = std::fs::read_to_string("/proc/loadavg").ok().map(|t| {
        t.split_whitespace()
            .take(3)
            .filter_map(|v| v.parse().ok())
            .collect()
    });
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_mb = |key: &str| -> Option<u64> {
        meminfo
            .lines()
            .find(|l| l.starts_with(key))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<u64>().ok())
            .map(|kb| kb / 1024)
    };
    let (total, available) = (mem_mb("MemTotal:"), mem_mb("MemAvailable:"));
    let load_1m = load.as_ref().and_then(|l| l.first().copied());
    let cpu_busy = load_1m.map(|l| l > cpus as f64);
    let memory_low = match (total, available) {
        (Some(t), Some(a)) if t > 0 => Some((a as f64) < 0.1 * t as f64),
        _ => None,
    };
    json!({
        "cpus": cpus,
        "load": load,
        "memory_total_mb": total,
        "memory_available_mb": available,
        "busy": cpu_busy.unwrap_or(false) || memory_low.unwrap_or(false),
        "why_busy": match (cpu_busy, memory_low) {
            (Some(true), _) => Some(format!("load {:.2} over {cpus} CPUs", load_1m.unwrap_or_default())),
            (_, Some(true)) => Some("under 10% of memory available".to_string()),
            _ => None,
        },
    })
}

fn human(ms: i64) -> String {
    match ms {
        ms if ms < 1_000 => format!("{ms} ms"),
        ms if ms < 120_000 => format!("{:.1} s", ms as f64 / 1e3),
        ms => format!("{:.1} min", ms as f64 / 6e4),
    }
}
