//! A run's clock: deadlines moved on by time spent paused, timeouts as people write them,
//! and (debug builds) the check that every checkpoint entry that changed was noted as moved.

use flightdeck_types::{StepStatus, Timestamp, WorkflowRun};

/// Debug builds (every test) check that each entry that changed was noted as moved: one
/// that was not would never reach its row.
#[cfg(debug_assertions)]
pub(super) fn unnoted_moves(
    before: &std::collections::BTreeMap<String, flightdeck_types::StepState>,
    now: &flightdeck_types::Checkpoint,
) {
    let keys = before.keys().chain(now.steps.keys());
    for key in keys.filter(|k| before.get(*k) != now.steps.get(*k)) {
        assert!(
            now.moved.0.contains(key),
            "checkpoint entry `{key}` changed without `set_step`: {:?} -> {:?}",
            before.get(key),
            now.steps.get(key)
        );
    }
}

/// `secs` seconds after `at`.
pub(super) fn after(at: Timestamp, secs: u64) -> Timestamp {
    Timestamp::from_millis(
        at.as_millis()
            .saturating_add((secs as i64).saturating_mul(1000)),
    )
}

/// A timeout as a person wrote it: `90 s`, `5 min`, `2 h`.
pub(super) fn span(secs: u64) -> String {
    match secs {
        s if s >= 3600 && s % 3600 == 0 => format!("{} h", s / 3600),
        s if s >= 60 && s % 60 == 0 => format!("{} min", s / 60),
        s => format!("{s} s"),
    }
}

/// Whether the run's own `timeout` has passed (never while it is paused).
pub(super) fn timed_out(run: &WorkflowRun, now: Timestamp) -> bool {
    run.checkpoint.paused_at.is_none() && run.checkpoint.deadline.is_some_and(|d| now >= d)
}

/// At a resume (or a cancel of a paused run): the run's deadline and every waiting
/// approval's move on by the time the run spent paused, which no timeout counts.
pub(super) fn resume_deadlines(run: &mut WorkflowRun, now: Timestamp) {
    let Some(paused_at) = run.checkpoint.paused_at.take() else {
        return;
    };
    let paused = (now.as_millis() - paused_at.as_millis()).max(0);
    let shift = |d: &mut Option<Timestamp>| {
        if let Some(t) = d {
            *t = Timestamp::from_millis(t.as_millis() + paused);
        }
    };
    shift(&mut run.checkpoint.deadline);
    for (key, state) in run.checkpoint.steps.iter_mut() {
        if state.status == StepStatus::WaitingApproval && state.deadline.is_some() {
            shift(&mut state.deadline);
            run.checkpoint.moved.0.insert(key.clone());
        }
    }
}
