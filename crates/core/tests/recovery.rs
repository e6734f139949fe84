//! Recovery against a real store: runs end the way the runner ends them (final status written
//! and `on_run_finished` called in the same write), and the error records, retries and
//! escalations that follow are checked.

use flightdeck_core::store::executions;
use flightdeck_core::{recovery, runs, Store};
use flightdeck_types::{
    ErrorFilter, ErrorRecord, Execution, ExecutionFilter, ExecutionSpec, ExecutionStatus, HttpSpec,
    NewExecution, RecoveryStatus, RetryPolicy, Severity, ShellSpec,
};
use serde_json::json;

fn temp_store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("flightdeck.db")).unwrap();
    (dir, store)
}

fn no_jitter() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 3,
        base_delay_ms: 1_000,
        factor: 2.0,
        max_delay_ms: 60_000,
        jitter: 0.0,
        retry_after_pattern: None,
        retry_on_failure: false,
    }
}

fn http_spec() -> ExecutionSpec {
    ExecutionSpec::Http(HttpSpec {
        url: "http://127.0.0.1:9/api".into(),
        ..HttpSpec::default()
    })
}

fn shell_spec() -> ExecutionSpec {
    ExecutionSpec::Shell(ShellSpec {
        line: Some("make test".into()),
        ..ShellSpec::default()
    })
}

fn queue(store: &Store, spec: ExecutionSpec) -> Execution {
    runs::queue(
        store,
        NewExecution {
            spec: Some(spec),
            retry_policy: Some(no_jitter()),
            ..NewExecution::default()
        },
    )
    .unwrap()
}

/// Ends `id` as the runner does: the final row and the recovery hook in one write.
fn end(
    store: &Store,
    id: &str,
    status: ExecutionStatus,
    result: Option<serde_json::Value>,
) -> Execution {
    store
        .write(|w| {
            let mut run = executions::find(w, id)?;
            run.status = status;
            run.exit_code = (status == ExecutionStatus::Failed).then_some(2);
            run.result = result;
            run.error = (status != ExecutionStatus::Succeeded).then(|| "boom".to_string());
            run.started_at.get_or_insert(w.now());
            run.finished_at = Some(w.now());
            executions::finish(w, &run)?;
            recovery::on_run_finished(w, &run)?;
            Ok(run)
        })
        .unwrap()
}

fn only_record(store: &Store) -> ErrorRecord {
    let all = recovery::list(store, &ErrorFilter::default()).unwrap();
    assert_eq!(all.len(), 1, "one record per failing run chain: {all:?}");
    all.into_iter().next().unwrap()
}

/// The queued retry of `run`, if any.
fn retry_of(store: &Store, run: &Execution) -> Option<Execution> {
    runs::list(store, &ExecutionFilter::default())
        .unwrap()
        .into_iter()
        .find(|r| r.retry_of.as_deref() == Some(run.id.as_str()))
}

#[test]
fn a_non_zero_exit_is_a_medium_error_left_for_a_person() {
    let (_d, store) = temp_store();
    let run = queue(&store, shell_spec());
    let run = end(&store, &run.id, ExecutionStatus::Failed, None);
    let record = only_record(&store);
    assert_eq!(record.severity, Severity::Medium);
    assert_eq!(record.recovery_status, RecoveryStatus::New);
    assert_eq!(record.execution_id.as_deref(), Some(run.id.as_str()));
    assert!(record.message.contains("exit code 2"), "{}", record.message);
    assert!(
        retry_of(&store, &run).is_none(),
        "medium errors do not retry"
    );
}

#[test]
fn server_errors_retry_with_backoff_then_escalate() {
    let (_d, store) = temp_store();
    let first = queue(&store, http_spec());
    let first = end(
        &store,
        &first.id,
        ExecutionStatus::Failed,
        Some(json!({"status": 500})),
    );
    let record = only_record(&store);
    assert_eq!(record.severity, Severity::High);
    assert_eq!(record.recovery_status, RecoveryStatus::RetryScheduled);
    let second = retry_of(&store, &first).expect("a retry is queued");
    assert_eq!(second.attempt, 2);
    assert_eq!(second.status, ExecutionStatus::Queued);
    let finished = first.finished_at.unwrap().as_millis();
    assert_eq!(second.not_before.unwrap().as_millis() - finished, 1_000);
    assert_eq!(record.next_retry_at, second.not_before);

    let second = end(
        &store,
        &second.id,
        ExecutionStatus::Failed,
        Some(json!({"status": 503})),
    );
    let third = retry_of(&store, &second).expect("a second retry");
    assert_eq!(third.attempt, 3);
    assert_eq!(
        third.not_before.unwrap().as_millis() - second.finished_at.unwrap().as_millis(),
        2_000
    );

    let third = end(
        &store,
        &third.id,
        ExecutionStatus::Failed,
        Some(json!({"status": 500})),
    );
    let record = only_record(&store);
    assert_eq!(record.recovery_status, RecoveryStatus::Escalated);
    assert_eq!(record.attempts, 3);
    assert_eq!(record.max_attempts, 3);
    assert!(retry_of(&store, &third).is_none(), "no fourth attempt");
    assert_eq!(
        record.details["attempt_errors"].as_array().unwrap().len(),
        3
    );
    let escalated = recovery::escalated_since(&store, flightdeck_types::Timestamp(0)).unwrap();
    assert_eq!(escalated.len(), 1);
}

#[test]
fn a_retry_after_time_is_honoured_over_the_backoff() {
    let (_d, store) = temp_store();
    let run = queue(&store, http_spec());
    let at = flightdeck_core::clock::now_millis() + 3_600_000;
    let run = end(
        &store,
        &run.id,
        ExecutionStatus::Failed,
        Some(json!({"status": 429, "retry_after_at": at})),
    );
    let retry = retry_of(&store, &run).unwrap();
    assert_eq!(retry.not_before.unwrap().as_millis(), at);
    assert_eq!(only_record(&store).next_retry_at.unwrap().as_millis(), at);
}

#[test]
fn a_retry_that_starts_is_retrying_and_one_that_succeeds_resolves() {
    let (_d, store) = temp_store();
    let run = queue(&store, http_spec());
    let run = end(&store, &run.id, ExecutionStatus::TimedOut, None);
    let retry = retry_of(&store, &run).unwrap();
    store
        .write(|w| recovery::on_run_started(w, &retry))
        .unwrap();
    assert_eq!(
        only_record(&store).recovery_status,
        RecoveryStatus::Retrying
    );
    end(&store, &retry.id, ExecutionStatus::Succeeded, None);
    let record = only_record(&store);
    assert_eq!(record.recovery_status, RecoveryStatus::Resolved);
    assert_eq!(record.details["resolved_by"], json!(retry.id));
}

#[test]
fn interrupted_runs_are_high_and_retried_cancelled_ones_never() {
    let (_d, store) = temp_store();
    let run = queue(&store, shell_spec());
    let run = end(&store, &run.id, ExecutionStatus::Interrupted, None);
    assert_eq!(only_record(&store).severity, Severity::High);
    assert!(retry_of(&store, &run).is_some());

    let (_d2, other) = temp_store();
    let run = queue(&other, http_spec());
    let run = end(&other, &run.id, ExecutionStatus::Cancelled, None);
    assert!(recovery::list(&other, &ErrorFilter::default())
        .unwrap()
        .is_empty());
    assert!(retry_of(&other, &run).is_none());
}

#[test]
fn people_retry_resolve_ignore_and_escalate_by_hand() {
    let (_d, store) = temp_store();
    let run = queue(&store, shell_spec());
    let run = end(&store, &run.id, ExecutionStatus::Failed, None);
    let id = only_record(&store).id;

    let record = recovery::retry(&store, &id).unwrap();
    assert_eq!(record.recovery_status, RecoveryStatus::RetryScheduled);
    let retry = retry_of(&store, &run).expect("retry by hand queues a run");
    assert_eq!(retry.attempt, 2);
    let refused = recovery::retry(&store, &id).unwrap_err().to_string();
    assert!(refused.contains("already has a retry queued"), "{refused}");

    // Ignoring stops the queued retry.
    let record = recovery::ignore(&store, &id).unwrap();
    assert_eq!(record.recovery_status, RecoveryStatus::Ignored);
    assert!(runs::get(&store, &retry.id)
        .unwrap()
        .cancel_requested_at
        .is_some());
    let refused = recovery::ignore(&store, &id).unwrap_err().to_string();
    assert!(refused.contains("already ignored"), "{refused}");

    assert_eq!(
        recovery::escalate(&store, &id).unwrap().recovery_status,
        RecoveryStatus::Escalated
    );
    assert_eq!(
        recovery::resolve(&store, &id).unwrap().recovery_status,
        RecoveryStatus::Resolved
    );
    let refused = recovery::resolve(&store, &id).unwrap_err().to_string();
    assert!(refused.contains("already resolved"), "{refused}");
    let missing = recovery::resolve(&store, "nope").unwrap_err().to_string();
    assert!(
        missing.contains("no error record matches `nope`"),
        "{missing}"
    );
}
