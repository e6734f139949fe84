//! Workflows across devices: a run on one device, watched and steered from another through
//! the real sync server.

use std::time::Duration;

use flightdeck_core::runs::{Runner, RunnerConfig};
use flightdeck_core::workflows::{self, Format, WorkflowDriver};
use flightdeck_tests::poll::until_async;
use flightdeck_tests::sync_rig::keyring;
use flightdeck_types::{StartWorkflow, StepStatus, WorkflowRunStatus};

use super::{join, quick_daemons, start_server};

const WAIT: Duration = Duration::from_secs(30);

/// [`until_async`] for probes that cannot fail.
async fn until<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    until_async(what, WAIT, || Ok(check())).await
}

/// A's worker: its runner and workflow driver, which run its runs.
fn worker(
    store: &std::sync::Arc<flightdeck_core::Store>,
) -> (
    flightdeck_core::runs::RunnerHandle,
    flightdeck_core::workflows::driver::DriverHandle,
) {
    let runner = Runner::new(
        store.clone(),
        std::sync::Arc::new(keyring()),
        RunnerConfig::default(),
    )
    .spawn();
    (runner, WorkflowDriver::new(store.clone()).spawn())
}

/// A workflow run on device A, watched and steered from device B through the real server:
/// B sees A's progress live, B's pause is acted on by A (its shell step stops), and B's
/// approval lets A run the step after it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workflow_runs_on_one_device_and_is_steered_from_another() {
    let server = start_server().await;
    let (a, b) = (join(&server).await, join(&server).await);
    let (stop_tx, daemons) = quick_daemons(&[&a, &b]);
    // A is the worker: its runner and workflow driver run the run.
    let (runner, driver) = worker(&a.store);

    let scratch = tempfile::tempdir().unwrap();
    let (ticks, shipped) = (scratch.path().join("ticks"), scratch.path().join("shipped"));
    let yaml = format!(
        "name: steered\nsteps:\n  - id: tick\n    shell: for i in $(seq 100); do echo $i >> {t}; sleep 0.05; done\n  - id: gate\n    kind: approval\n    needs: [tick]\n  - id: ship\n    needs: [gate]\n    shell: echo shipped > {s}\n",
        t = ticks.display(),
        s = shipped.display()
    );
    workflows::apply(&a.store, &yaml, Format::Yaml).unwrap();
    let run = workflows::start(
        &a.store,
        &flightdeck_core::secrets::OsKeyring::from_env().unwrap(),
        &StartWorkflow {
            workflow: "steered".into(),
            ..Default::default()
        },
    )
    .unwrap();
    let lines = |p: &std::path::Path| std::fs::read_to_string(p).map_or(0, |t| t.lines().count());

    // B sees A's run progress live: the tick step running.
    until("B to see the tick step running", || {
        let seen = workflows::get_run(&b.store, &run.id).ok()?;
        (seen.checkpoint.steps["tick"].status == StepStatus::Running).then_some(())
    })
    .await;

    // B asks for a pause; A acts on it and B sees that.
    workflows::pause(&b.store, &run.id).unwrap();
    until("A to pause the run", || {
        let r = workflows::get_run(&a.store, &run.id).unwrap();
        (r.status == WorkflowRunStatus::Paused).then_some(())
    })
    .await;
    until("B to see it paused", || {
        let r = workflows::get_run(&b.store, &run.id).ok()?;
        (r.status == WorkflowRunStatus::Paused).then_some(())
    })
    .await;
    assert!(
        lines(&ticks) < 100,
        "the step was stopped before it finished"
    );

    workflows::resume(&b.store, &run.id).unwrap();
    until("B to see the approval waiting", || {
        let r = workflows::get_run(&b.store, &run.id).ok()?;
        (r.status == WorkflowRunStatus::WaitingApproval).then_some(())
    })
    .await;
    assert_eq!(
        lines(&ticks),
        100,
        "the tick step ran to its end after the resume"
    );
    assert!(!shipped.exists());

    // B approves; A runs the step after the approval.
    workflows::approve(&b.store, &run.id, "gate", Some("from B".into())).unwrap();
    until("B to see the run succeed", || {
        let r = workflows::get_run(&b.store, &run.id).ok()?;
        (r.status == WorkflowRunStatus::Succeeded).then_some(())
    })
    .await;
    assert!(shipped.exists(), "A ran the shipping step");
    let done = workflows::get_run(&a.store, &run.id).unwrap();
    let approval = done.checkpoint.steps["gate"]
        .outputs
        .approval
        .clone()
        .unwrap();
    assert_eq!(approval.decided_by, b.store.device_id());
    assert_eq!(approval.comment.as_deref(), Some("from B"));
    assert!(
        flightdeck_core::runs::list(&b.store, &Default::default())
            .unwrap()
            .iter()
            .all(|e| e.device_id.as_deref() == Some(a.store.device_id())),
        "every step ran on A"
    );

    driver.stop().await.unwrap();
    runner.stop().await.unwrap();
    stop_tx.send(()).unwrap();
    for handle in daemons {
        handle.await.unwrap().unwrap();
    }
}

/// Cancel and reject asked for on device B end runs running on device A, through the real
/// server: B's reject fails A's run naming it, and B's cancel stops A's running step.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_and_reject_from_another_device_end_the_run_where_it_runs() {
    let server = start_server().await;
    let (a, b) = (join(&server).await, join(&server).await);
    let (stop_tx, daemons) = quick_daemons(&[&a, &b]);
    let (runner, driver) = worker(&a.store);
    let yaml = "name: remote\nsteps:\n  - id: gate\n    kind: approval\n  - id: after\n    needs: gate\n    shell: echo never\n";
    workflows::apply(&a.store, yaml, Format::Yaml).unwrap();
    let long = "name: long\nsteps:\n  - id: sleep\n    shell: sleep 60\n";
    workflows::apply(&a.store, long, Format::Yaml).unwrap();
    let keyring = flightdeck_core::secrets::OsKeyring::from_env().unwrap();
    let start = |name: &str| {
        workflows::start(
            &a.store,
            &keyring,
            &StartWorkflow {
                workflow: name.into(),
                ..Default::default()
            },
        )
        .unwrap()
    };

    let gated = start("remote");
    until("B to see the approval waiting", || {
        let r = workflows::get_run(&b.store, &gated.id).ok()?;
        (r.status == WorkflowRunStatus::WaitingApproval).then_some(())
    })
    .await;
    workflows::reject(&b.store, &gated.id, "gate", Some("not from here".into())).unwrap();
    let failed = until("A to fail the run", || {
        let r = workflows::get_run(&a.store, &gated.id).unwrap();
        (r.status == WorkflowRunStatus::Failed).then_some(r)
    })
    .await;
    assert_eq!(
        failed.error.as_deref(),
        Some("step `gate` failed: rejected: not from here")
    );
    assert_eq!(
        failed.checkpoint.steps["after"].status,
        StepStatus::Cancelled
    );

    let sleeping = start("long");
    until("B to see the step running", || {
        let r = workflows::get_run(&b.store, &sleeping.id).ok()?;
        (r.checkpoint.steps.get("sleep")?.status == StepStatus::Running).then_some(())
    })
    .await;
    workflows::cancel(&b.store, &sleeping.id).unwrap();
    let cancelled = until("A to cancel the run", || {
        let r = workflows::get_run(&a.store, &sleeping.id).unwrap();
        (r.status == WorkflowRunStatus::Cancelled).then_some(r)
    })
    .await;
    let step = flightdeck_core::runs::get(
        &a.store,
        cancelled.checkpoint.steps["sleep"]
            .execution_id
            .as_deref()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(step.status, flightdeck_types::ExecutionStatus::Cancelled);
    until("B to see it cancelled", || {
        let r = workflows::get_run(&b.store, &sleeping.id).ok()?;
        (r.status == WorkflowRunStatus::Cancelled).then_some(())
    })
    .await;

    driver.stop().await.unwrap();
    runner.stop().await.unwrap();
    stop_tx.send(()).unwrap();
    for handle in daemons {
        handle.await.unwrap().unwrap();
    }
}
