//! Recovery: an error record for every failed run, automatic retries with backoff for high and
//! critical failures (honouring a "retry after" time), escalation once the attempts run out,
//! and what a person can do by hand: retry, resolve, ignore, escalate.
//!
//! One record follows a run and its retries: its `execution_id` is always the latest attempt,
//! and a retry points back at the attempt it repeats (`retry_of`), which is how the record is
//! found again when the retry ends.

pub mod policy;
pub mod slow;

use std::collections::BTreeMap;

use flightdeck_types::{
    AuditAction, EntityKind, ErrorFilter, ErrorKind, ErrorRecord, Execution, ExecutionStatus,
    FieldChange, NewExecution, RecoveryStatus, Severity, Timestamp,
};
use serde_json::{json, Value};

use crate::audit::diff;
use crate::error::{CoreError, Result};
use crate::store::{error_records as sql, executions, Store, Writer};

/// Called by the runner inside the write that moves `run` to a final status, so the error
/// record and any retry commit together with the status.
pub fn on_run_finished(w: &mut Writer<'_>, run: &Execution) -> Result<()> {
    slow::clear(w, run)?;
    let existing = match &run.retry_of {
        Some(previous) => sql::for_execution(w, previous)?,
        None => None,
    };
    match run.status {
        ExecutionStatus::Succeeded => {
            if let Some(old) = existing.filter(|r| !r.recovery_status.is_closed()) {
                let mut new = old.clone();
                new.execution_id = Some(run.id.clone());
                new.recovery_status = RecoveryStatus::Resolved;
                new.next_retry_at = None;
                set_detail(&mut new, "resolved_by", json!(run.id));
                save(w, &old, new)?;
            }
            Ok(())
        }
        ExecutionStatus::Cancelled => {
            // A person stopped it: no retry, and an open record goes back to them.
            if let Some(old) = existing.filter(|r| !r.recovery_status.is_closed()) {
                let mut new = old.clone();
                new.execution_id = Some(run.id.clone());
                new.recovery_status = RecoveryStatus::New;
                new.next_retry_at = None;
                set_detail(&mut new, "retry_cancelled", json!(run.id));
                save(w, &old, new)?;
            }
            Ok(())
        }
        status if status.is_failure() => record_failure(w, run, existing),
        _ => Ok(()),
    }
}

/// Called by the runner when a queued run starts: a record waiting for this retry moves to
/// `retrying`.
pub fn on_run_started(w: &mut Writer<'_>, run: &Execution) -> Result<()> {
    let Some(previous) = &run.retry_of else {
        return Ok(());
    };
    if let Some(old) = sql::for_execution(w, previous)? {
        if old.recovery_status == RecoveryStatus::RetryScheduled {
            let new = ErrorRecord {
                recovery_status: RecoveryStatus::Retrying,
                ..old.clone()
            };
            save(w, &old, new)?;
        }
    }
    Ok(())
}

fn record_failure(
    w: &mut Writer<'_>,
    run: &Execution,
    existing: Option<ErrorRecord>,
) -> Result<()> {
    let severity = policy::classify(run);
    let message = failure_message(run);
    let now = w.now();
    let (old, mut new) = match existing {
        Some(old) => {
            let mut new = old.clone();
            // A retry that failed worse raises the record's severity; never lowers it.
            new.severity = new.severity.max(severity);
            new.message = message.clone();
            (Some(old), new)
        }
        None => (
            None,
            ErrorRecord {
                id: crate::ids::new_id(),
                kind: ErrorKind::Failure,
                execution_id: None,
                task_id: run.task_id.clone(),
                schedule_id: run.schedule_id.clone(),
                severity,
                message: message.clone(),
                details: json!({ "root_execution_id": run.id }),
                recovery_status: RecoveryStatus::New,
                attempts: 0,
                max_attempts: 0,
                next_retry_at: None,
                created_at: now,
                updated_at: now,
            },
        ),
    };
    new.execution_id = Some(run.id.clone());
    new.attempts = run.attempt;
    new.max_attempts = run.retry_policy.max_attempts.max(1);
    push_detail(
        &mut new,
        "attempt_errors",
        json!({ "attempt": run.attempt, "run": run.id, "status": run.status, "error": message }),
    );
    new.next_retry_at = None;
    new.recovery_status = if new.severity < Severity::High {
        RecoveryStatus::New
    } else if run.attempt >= new.max_attempts {
        set_detail(
            &mut new,
            "escalated_reason",
            json!(format!("gave up after {} attempt(s)", run.attempt)),
        );
        RecoveryStatus::Escalated
    } else {
        let at = retry_time(run, now);
        let retry = queue_retry(w, run, at)?;
        set_detail(&mut new, "retry_run_id", json!(retry.id));
        new.next_retry_at = Some(at);
        RecoveryStatus::RetryScheduled
    };
    match old {
        Some(old) => save(w, &old, new),
        None => {
            sql::insert(w, &new)?;
            w.audit(
                EntityKind::ErrorRecord,
                &new.id,
                AuditAction::Create,
                diff(None, Some(&new)),
            );
            Ok(())
        }
    }
}

/// When the next attempt may start: the executor's "retry after" time when it found one (a
/// usage limit resets then, and trying earlier only fails again; it is honoured even past the
/// policy's cap), else the policy's backoff.
fn retry_time(run: &Execution, now: Timestamp) -> Timestamp {
    match policy::retry_after_at(run) {
        Some(at) => Timestamp(at.max(now.as_millis())),
        None => {
            let wait = policy::backoff_ms(&run.retry_policy, run.attempt, &mut rand::rng());
            Timestamp(now.as_millis().saturating_add(wait as i64))
        }
    }
}

fn queue_retry(w: &mut Writer<'_>, run: &Execution, at: Timestamp) -> Result<Execution> {
    // A step's next attempt runs where its workflow run now runs (another device may have
    // adopted it).
    let device_id = match &run.workflow_run_id {
        Some(id) => crate::store::workflows::find_run(w, id)?
            .device_id
            .or_else(|| run.device_id.clone()),
        None => run.device_id.clone(),
    };
    crate::runs::queue_in(
        w,
        NewExecution {
            task_id: run.task_id.clone(),
            environment_id: run.environment_id.clone(),
            schedule_id: run.schedule_id.clone(),
            workflow_run_id: run.workflow_run_id.clone(),
            step_id: run.step_id.clone(),
            retry_of: Some(run.id.clone()),
            spec: Some(run.spec.clone()),
            attempt: Some(run.attempt + 1),
            device_id,
            retry_policy: Some(run.retry_policy.clone()),
            not_before: Some(at),
            // A retry is lineage of its first attempt already (`retry_of`).
            forked_from: None,
        },
    )
}

fn failure_message(run: &Execution) -> String {
    let what = match run.status {
        ExecutionStatus::TimedOut => "timed out".to_string(),
        ExecutionStatus::Interrupted => "was interrupted".to_string(),
        _ => match run.exit_code {
            Some(code) => format!("failed with exit code {code}"),
            None => "failed".to_string(),
        },
    };
    // The shell executor's own "exited with code N" says nothing the exit code does not.
    let repeats = |error: &str| {
        run.exit_code
            .is_some_and(|code| error == format!("exited with code {code}"))
    };
    match &run.error {
        Some(error) if !error.is_empty() && !repeats(error) => {
            format!("{} run {what}: {error}", run.spec.kind())
        }
        _ => format!("{} run {what}", run.spec.kind()),
    }
}

fn set_detail(record: &mut ErrorRecord, key: &str, value: Value) {
    if !record.details.is_object() {
        record.details = json!({});
    }
    record.details[key] = value;
}

fn push_detail(record: &mut ErrorRecord, key: &str, value: Value) {
    if !record.details.is_object() {
        record.details = json!({});
    }
    match record.details.get_mut(key).and_then(Value::as_array_mut) {
        Some(list) => list.push(value),
        None => record.details[key] = json!([value]),
    }
}

fn save(w: &mut Writer<'_>, old: &ErrorRecord, mut new: ErrorRecord) -> Result<()> {
    let changes = diff(Some(old), Some(&new));
    if changes.is_empty() {
        return Ok(());
    }
    new.updated_at = w.now();
    w.update_changed(
        EntityKind::ErrorRecord,
        &new.id,
        AuditAction::Transition,
        changes,
        |field| column_value(&new, field),
    )
}

fn column_value(r: &ErrorRecord, field: &str) -> rusqlite::types::Value {
    use rusqlite::types::Value as V;
    let text = |t: &Option<String>| t.clone().map_or(V::Null, V::Text);
    match field {
        "execution_id" => text(&r.execution_id),
        "task_id" => text(&r.task_id),
        "schedule_id" => text(&r.schedule_id),
        "severity" => V::Text(r.severity.as_str().into()),
        "message" => V::Text(r.message.clone()),
        "details" => V::Text(r.details.to_string()),
        "recovery_status" => V::Text(r.recovery_status.as_str().into()),
        "attempts" => V::Integer(r.attempts.into()),
        "max_attempts" => V::Integer(r.max_attempts.into()),
        "next_retry_at" => r
            .next_retry_at
            .map_or(V::Null, |t| V::Integer(t.as_millis())),
        other => unreachable!("error record field `{other}` is not stored"),
    }
}

pub fn list(store: &Store, filter: &ErrorFilter) -> Result<Vec<ErrorRecord>> {
    store.read(|conn| sql::list(conn, filter))
}

pub fn get(store: &Store, id: &str) -> Result<ErrorRecord> {
    store.read(|conn| sql::find(conn, id))
}

/// Slow-run records made after `after`, oldest first: what the app notifies about.
pub fn slow_since(store: &Store, after: Timestamp) -> Result<Vec<ErrorRecord>> {
    store.read(|conn| sql::slow_since(conn, after))
}

/// Escalated records changed after `after`, oldest first: what the app notifies about.
pub fn escalated_since(store: &Store, after: Timestamp) -> Result<Vec<ErrorRecord>> {
    store.read(|conn| sql::escalated_since(conn, after))
}

/// Runs the failed work again now, even past the policy's attempts.
pub fn retry(store: &Store, id: &str) -> Result<ErrorRecord> {
    store.write(|w| {
        let old = sql::find(w, id)?;
        if old.kind == ErrorKind::Slow {
            return Err(CoreError::Refused(format!(
                "error {id} says a run was slow, not that it failed: there is nothing to \
                 retry (cancel a stuck run with `flightdeck runs cancel RUN`; `errors resolve \
                 {id}` to close the alert)"
            )));
        }
        if matches!(
            old.recovery_status,
            RecoveryStatus::RetryScheduled | RecoveryStatus::Retrying
        ) {
            return Err(CoreError::Refused(format!(
                "error {id} already has a retry {}; wait for it, or cancel that run first",
                if old.recovery_status == RecoveryStatus::Retrying {
                    "running"
                } else {
                    "queued"
                }
            )));
        }
        let last_id = old
            .execution_id
            .clone()
            .ok_or_else(|| CoreError::Refused(format!("error {id} names no run to retry")))?;
        let last = executions::find(w, &last_id)?;
        let now = w.now();
        let run = queue_retry(w, &last, now)?;
        let mut new = old.clone();
        new.recovery_status = RecoveryStatus::RetryScheduled;
        new.next_retry_at = Some(now);
        set_detail(&mut new, "retry_run_id", json!(run.id));
        set_detail(&mut new, "retried_by_hand", json!(true));
        save(w, &old, new)?;
        sql::find(w, id)
    })
}

pub fn resolve(store: &Store, id: &str) -> Result<ErrorRecord> {
    close(store, id, RecoveryStatus::Resolved)
}

/// Stops any queued retry and drops the record from the default lists' attention.
pub fn ignore(store: &Store, id: &str) -> Result<ErrorRecord> {
    close(store, id, RecoveryStatus::Ignored)
}

/// Flags the record for a person (the app notifies about escalations).
pub fn escalate(store: &Store, id: &str) -> Result<ErrorRecord> {
    store.write(|w| {
        let old = sql::find(w, id)?;
        if old.recovery_status == RecoveryStatus::Escalated {
            return Err(CoreError::Refused(format!(
                "error {id} is already escalated"
            )));
        }
        cancel_queued_retry(w, &old)?;
        let mut new = old.clone();
        new.recovery_status = RecoveryStatus::Escalated;
        new.next_retry_at = None;
        set_detail(&mut new, "escalated_reason", json!("escalated by hand"));
        save(w, &old, new)?;
        sql::find(w, id)
    })
}

fn close(store: &Store, id: &str, to: RecoveryStatus) -> Result<ErrorRecord> {
    store.write(|w| {
        let old = sql::find(w, id)?;
        if old.recovery_status == to {
            return Err(CoreError::Refused(format!("error {id} is already {to}")));
        }
        cancel_queued_retry(w, &old)?;
        let new = ErrorRecord {
            recovery_status: to,
            next_retry_at: None,
            ..old.clone()
        };
        save(w, &old, new)?;
        sql::find(w, id)
    })
}

/// A retry that has not started yet is cancelled outright; one already running is asked to
/// stop (its device acts on the request).
fn cancel_queued_retry(w: &mut Writer<'_>, record: &ErrorRecord) -> Result<()> {
    let Some(retry_id) = record.details.get("retry_run_id").and_then(Value::as_str) else {
        return Ok(());
    };
    let retry = match executions::find(w, retry_id) {
        Ok(run) => run,
        Err(CoreError::NotFound { .. }) => return Ok(()),
        Err(e) => return Err(e),
    };
    if retry.status.is_final() {
        return Ok(());
    }
    executions::request_cancel(w, retry_id, w.now())?;
    let mut changes = BTreeMap::new();
    changes.insert(
        "cancel_requested_at".to_string(),
        FieldChange {
            old: Value::Null,
            new: w.now().as_millis().into(),
        },
    );
    w.audit(
        EntityKind::Execution,
        retry_id,
        AuditAction::Transition,
        changes,
    );
    Ok(())
}
