//! Claiming runs (queued -> running, in one write, refusing what an untrusted device wrote and
//! ending what was cancelled while queued) and writing a run's end with its status event,
//! audit row, recovery hook and the workflow engine's move: the writes the runner makes
//! around each execution.

use flightdeck_types::{
    AuditAction, EntityKind, Execution, ExecutionEvent, ExecutionSpec, ExecutionStatus, Timestamp,
};
use serde_json::json;

use crate::audit::diff;
use crate::error::Result;
use crate::store::{executions, Store, Writer};

fn status_event(w: &Writer<'_>, id: &str, seq: i64, status: ExecutionStatus) -> Result<()> {
    executions::insert_event(
        w,
        &ExecutionEvent {
            execution_id: id.to_string(),
            seq,
            at: w.now(),
            kind: "status".into(),
            data: status.as_str().into(),
        },
    )
}

/// Claims up to `limit` plain runs and `step_limit` workflow steps: queued -> running with a
/// `status` event. Runs whose cancel was asked for while queued end `cancelled` here instead.
pub(crate) fn claim(store: &Store, limit: u32, step_limit: u32) -> Result<Vec<Execution>> {
    // Read first: an idle runner (nothing queued) costs no write transaction.
    let now = crate::clock::now();
    let ready =
        store.read(|c| executions::claimable(c, store.device_id(), now, limit, step_limit))?;
    if ready.is_empty() {
        return Ok(Vec::new());
    }
    store.write(|w| claim_in(w, limit, step_limit))
}

/// [`claim`] inside the caller's write.
pub(super) fn claim_in(w: &mut Writer<'_>, limit: u32, step_limit: u32) -> Result<Vec<Execution>> {
    let now = w.now();
    let ready = executions::claimable(w, w.device_id(), now, limit, step_limit)?;
    let mut claimed = Vec::with_capacity(ready.len());
    for old in ready {
        let mut new = old.clone();
        if old.cancel_requested_at.is_some() {
            new.status = ExecutionStatus::Cancelled;
            new.finished_at = Some(now);
            new.error = Some("cancelled before it started".into());
            let seq = executions::next_event_seq(w, &old.id)?;
            end_in(w, &old, &new, seq)?;
            continue;
        }
        if let Some(refusal) = crate::trust::check_run(w, &old)? {
            refuse_in(w, &old, &refusal, now)?;
            continue;
        }
        if !executions::mark_running(w, &old.id, now)? {
            continue;
        }
        new.status = ExecutionStatus::Running;
        new.started_at = Some(now);
        let seq = executions::next_event_seq(w, &old.id)?;
        status_event(w, &old.id, seq, ExecutionStatus::Running)?;
        crate::recovery::on_run_started(w, &new)?;
        w.audit(
            EntityKind::Execution,
            &old.id,
            AuditAction::Transition,
            diff(Some(&old), Some(&new)),
        );
        if let ExecutionSpec::Workflow(spec) = &new.spec {
            // No executor task and no slot: the workflow run it starts ends it.
            crate::workflows::engine::start_for_execution(w, &new, spec)?;
            continue;
        }
        claimed.push(new);
    }
    Ok(claimed)
}

/// Ends a run that a device this one does not trust wrote (see [`crate::trust`]) without
/// starting anything: failed, with an error record naming the device and the command that
/// trusts it. Never retried: a retry would be queued by this device, and so look trusted.
fn refuse_in(
    w: &mut Writer<'_>,
    old: &Execution,
    refusal: &crate::trust::Refusal,
    now: Timestamp,
) -> Result<()> {
    let mut new = old.clone();
    new.status = ExecutionStatus::Failed;
    new.finished_at = Some(now);
    new.error = Some(refusal.message());
    new.result = Some(json!({ "refused": refusal }));
    new.retry_policy.retry_on_failure = false;
    new.retry_policy.max_attempts = 1;
    new.attempt = new.attempt.max(1);
    tracing::warn!(run = %old.id, writer = %refusal.site_id, "refused a run from an untrusted device");
    let seq = executions::next_event_seq(w, &old.id)?;
    end_in(w, old, &new, seq)
}

/// Writes a final status, its `status` event, the audit row and the recovery hook's work.
pub(crate) fn end_in(w: &mut Writer<'_>, old: &Execution, new: &Execution, seq: i64) -> Result<()> {
    executions::finish(w, new)?;
    status_event(w, &new.id, seq, new.status)?;
    w.audit(
        EntityKind::Execution,
        &new.id,
        AuditAction::Transition,
        diff(Some(old), Some(new)),
    );
    crate::recovery::on_run_finished(w, new)?;
    crate::workflows::engine::on_execution_finished(w, new)
}
