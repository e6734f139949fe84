//! The Workflows view of the real app: a definition listed, started from its parameter form
//! (a bad integer refused beside its field), its run page's DAG following the run live up to
//! an approval, Approve clicked, the run ending with its last step really run, and a rerun
//! from that step.

use std::time::Duration;

use flightdeck_core::workflows::{self, Format};
use flightdeck_core::Store;
use flightdeck_tests::app::App;
use flightdeck_tests::poll;
use flightdeck_tests::webdriver::Session;
use flightdeck_types::{Decision, StepStatus, WorkflowRunFilter, WorkflowRunStatus};

pub(super) const WAIT: Duration = Duration::from_secs(20);

pub(super) fn status_of(ui: &Session, css: &str) -> Result<Option<String>, String> {
    match ui.find_all(css)?.first() {
        Some(element) => ui.attribute(element, "data-status"),
        None => Ok(None),
    }
}

pub(super) fn wait_status(ui: &Session, css: &str, want: &str) {
    poll::until(&format!("{css} to be {want}"), WAIT, || {
        Ok((status_of(ui, css)?.as_deref() == Some(want)).then_some(()))
    });
}

/// Applies `definition` to the workspace under `data` and starts a run of workflow `name`
/// there (nothing runs it until the app does); its id.
pub(super) fn apply_and_start(data: &std::path::Path, definition: &str, name: &str) -> String {
    let store = Store::open_workspace(Some(data), "default").unwrap();
    workflows::apply(&store, definition, Format::Yaml).unwrap();
    let start = flightdeck_types::StartWorkflow {
        workflow: name.into(),
        ..Default::default()
    };
    let keyring = flightdeck_core::secrets::OsKeyring::from_env().unwrap();
    workflows::start(&store, &keyring, &start).unwrap().id
}

/// Opens run `run_id`'s page from the Workflows view's list of runs.
pub(super) fn open_run(ui: &Session, run_id: &str) {
    ui.click(&ui.find("[data-testid=nav-workflows]").unwrap())
        .unwrap();
    let row = poll::until("the run listed", WAIT, || {
        Ok(ui
            .find_all(&format!(
                "[data-testid=workflow-run-row][data-id='{run_id}'] \
                 [data-testid=workflow-run-open]"
            ))?
            .into_iter()
            .next())
    });
    ui.click(&row).unwrap();
}

#[test]
fn a_workflow_started_in_the_app_waits_for_approval_then_finishes() {
    let data = tempfile::tempdir().unwrap();
    let finished = data.path().join("finished.txt");
    let definition = format!(
        r#"
name: release
params:
  count:
    type: integer
    description: how many to ship
steps:
  - id: prepare
    shell: echo "preparing {{{{ params.count }}}}"
  - id: approve
    needs: prepare
    kind: approval
    message: Ship it?
  - id: finish
    needs: approve
    shell: echo "shipped {{{{ params.count }}}}" > '{}' && echo finished
"#,
        finished.display()
    );
    {
        let store = Store::open_workspace(Some(data.path()), "default").unwrap();
        workflows::apply(&store, &definition, Format::Yaml).unwrap();
    }

    let app = App::launch(data.path());
    let ui = app.session();
    ui.click(&ui.find("[data-testid=nav-workflows]").unwrap())
        .unwrap();
    let start = poll::until("the workflow listed", WAIT, || {
        Ok(ui
            .find_all("[data-testid=workflow-start-release]")?
            .into_iter()
            .next())
    });
    assert_eq!(
        ui.texts("[data-testid=workflow-row] [data-testid=workflow-steps]")
            .unwrap(),
        ["3"]
    );
    assert_eq!(ui.texts("[data-testid=workflow-version]").unwrap(), ["v1"]);
    ui.click(&start).unwrap();
    let count = poll::until("the parameter form", WAIT, || {
        Ok(ui.find_all("[data-testid=param-count]")?.into_iter().next())
    });

    // Not an integer: refused beside the field, and nothing starts.
    ui.type_text(&count, "abc").unwrap();
    let submit = ui.find("[data-testid=start-workflow-submit]").unwrap();
    ui.click(&submit).unwrap();
    let error = poll::until("the parameter's error", WAIT, || {
        Ok(ui
            .texts("[data-testid=field-error-param-count]")?
            .into_iter()
            .next())
    });
    assert!(error.contains("`abc` is not an integer"), "{error}");
    let store = Store::open_workspace(Some(data.path()), "default").unwrap();
    let all = WorkflowRunFilter::default();
    assert!(workflows::runs(&store, &all).unwrap().is_empty());

    // A good value starts the run and opens its page, which follows it live.
    ui.clear(&count).unwrap();
    ui.type_text(&count, "3").unwrap();
    ui.click(&submit).unwrap();
    wait_status(ui, "[data-testid=dag-step-prepare]", "succeeded");
    wait_status(ui, "[data-testid=dag-step-approve]", "waiting_approval");
    wait_status(ui, "[data-testid=workflow-run-status]", "waiting_approval");
    assert_eq!(
        status_of(ui, "[data-testid=dag-step-finish]")
            .unwrap()
            .as_deref(),
        Some("pending")
    );
    assert!(!finished.exists(), "finish waits for the approval");
    let eta = ui.find("[data-testid=workflow-eta]").unwrap();
    assert_eq!(
        ui.attribute(&eta, "data-guess").unwrap().as_deref(),
        Some("true"),
        "no history: the ETA is a guess"
    );
    assert!(ui.text(&eta).unwrap().contains("guess"));
    let runs = workflows::runs(&store, &all).unwrap();
    assert_eq!(runs.len(), 1, "{runs:?}");
    let run_id = runs[0].id.clone();
    assert_eq!(runs[0].checkpoint.params["count"], 3);

    let comment = ui.find("[data-testid=approval-comment-approve]").unwrap();
    ui.type_text(&comment, "looks good").unwrap();
    ui.click(&ui.find("[data-testid=approve-approve]").unwrap())
        .unwrap();
    wait_status(ui, "[data-testid=dag-step-finish]", "succeeded");
    wait_status(ui, "[data-testid=workflow-run-status]", "succeeded");
    poll::until("3/3 steps done", WAIT, || {
        Ok(ui
            .texts("[data-testid=workflow-steps-done]")?
            .iter()
            .any(|t| t == "3/3 steps")
            .then_some(()))
    });

    // The step's log, on a click on its button: the run log of its execution.
    ui.click(&ui.find("[data-testid=step-button-finish]").unwrap())
        .unwrap();
    poll::until("the finish step's log", WAIT, || {
        Ok(ui
            .texts("[data-testid=run-log] [data-testid=log-line][data-kind=stdout]")?
            .iter()
            .any(|t| t == "finished")
            .then_some(()))
    });

    // It really ran: the file its last step wrote, and the run as the engine recorded it.
    assert_eq!(
        std::fs::read_to_string(&finished).unwrap().trim(),
        "shipped 3"
    );
    let run = workflows::get_run(&store, &run_id).unwrap();
    assert_eq!(run.status, WorkflowRunStatus::Succeeded, "{run:?}");
    let approve = &run.checkpoint.steps["approve"];
    assert_eq!(approve.status, StepStatus::Succeeded);
    let approval = approve.outputs.approval.as_ref().expect("the decision");
    assert_eq!(approval.decision, Decision::Approved);
    assert_eq!(approval.comment.as_deref(), Some("looks good"));

    // Rerun from `finish`: a new run opens, reusing the approval, and runs `finish` again.
    std::fs::remove_file(&finished).unwrap();
    ui.click(&ui.find("[data-testid=rerun-from-finish]").unwrap())
        .unwrap();
    let new_page = format!("[data-testid=workflow-run]:not([data-id='{run_id}'])");
    poll::until("the rerun's page", WAIT, || {
        Ok((!ui.find_all(&new_page)?.is_empty()).then_some(()))
    });
    wait_status(ui, "[data-testid=workflow-run-status]", "succeeded");
    assert_eq!(
        std::fs::read_to_string(&finished).unwrap().trim(),
        "shipped 3"
    );
    let runs = workflows::runs(&store, &all).unwrap();
    assert_eq!(runs.len(), 2, "{runs:?}");
    let rerun = runs.iter().find(|r| r.id != run_id).unwrap();
    assert_eq!(rerun.rerun_of.as_deref(), Some(run_id.as_str()));
    assert_eq!(rerun.rerun_from.as_deref(), Some("finish"));
    assert_eq!(rerun.status, WorkflowRunStatus::Succeeded);

    // Back in the list, both runs are there with their steps done.
    ui.click(&ui.find("[data-testid=back-to-workflows]").unwrap())
        .unwrap();
    for id in [&run_id, &rerun.id] {
        let row = format!("[data-testid=workflow-run-row][data-id='{id}']");
        wait_status(ui, &row, "succeeded");
        assert_eq!(
            ui.texts(&format!("{row} [data-testid=workflow-run-steps]"))
                .unwrap(),
            ["3/3"]
        );
    }
}

#[test]
fn a_workflow_run_is_paused_resumed_and_cancelled_from_its_page() {
    let data = tempfile::tempdir().unwrap();
    let gate = data.path().join("never");
    let definition = format!(
        r#"
name: long
steps:
  - id: wait
    shell: while [ ! -e '{}' ]; do sleep 0.05; done
  - id: after
    needs: wait
    shell: echo after
"#,
        gate.display()
    );
    let run_id = apply_and_start(data.path(), &definition, "long");

    let app = App::launch(data.path());
    let ui = app.session();
    open_run(ui, &run_id);
    wait_status(ui, "[data-testid=dag-step-wait]", "running");

    let store = Store::open_workspace(Some(data.path()), "default").unwrap();
    ui.click(&ui.find("[data-testid=workflow-pause]").unwrap())
        .unwrap();
    wait_status(ui, "[data-testid=workflow-run-status]", "paused");
    let run = workflows::get_run(&store, &run_id).unwrap();
    assert_eq!(run.status, WorkflowRunStatus::Paused, "{run:?}");

    // A control is disabled while the action before it is still answering, and a click on a
    // disabled button does nothing: wait for each one enabled, not merely shown.
    let resume = poll::until("the Resume button enabled", WAIT, || {
        Ok(ui
            .find_all("[data-testid=workflow-resume]:not([disabled])")?
            .into_iter()
            .next())
    });
    ui.click(&resume).unwrap();
    wait_status(ui, "[data-testid=workflow-run-status]", "running");

    let cancel = poll::until("the Pause button back and Cancel enabled", WAIT, || {
        Ok((!ui.find_all("[data-testid=workflow-pause]")?.is_empty())
            .then(|| {
                ui.find("[data-testid=workflow-cancel]:not([disabled])")
                    .ok()
            })
            .flatten())
    });
    ui.click(&cancel).unwrap();
    wait_status(ui, "[data-testid=workflow-run-status]", "cancelled");
    assert_eq!(
        status_of(ui, "[data-testid=dag-step-after]")
            .unwrap()
            .as_deref(),
        Some("cancelled")
    );
    let run = workflows::get_run(&store, &run_id).unwrap();
    assert_eq!(run.status, WorkflowRunStatus::Cancelled, "{run:?}");
    assert_eq!(run.checkpoint.steps["after"].status, StepStatus::Cancelled);
    assert!(ui
        .find_all("[data-testid=workflow-cancel]")
        .unwrap()
        .is_empty());
}

#[test]
fn a_fan_out_is_one_box_with_a_count_and_each_item_opens_its_log() {
    let data = tempfile::tempdir().unwrap();
    let definition = r#"
name: fan
params:
  repos: { type: list, default: [api, web, cli] }
steps:
  - id: each
    foreach: "{{ params.repos }}"
    shell: echo "checked {{ item }}"
  - id: after
    needs: each
    shell: echo done
"#;
    let run_id = apply_and_start(data.path(), definition, "fan");
    let app = App::launch(data.path());
    let ui = app.session();
    open_run(ui, &run_id);
    wait_status(ui, "[data-testid=dag-step-after]", "succeeded");
    // One box for the fan-out, saying how many items ended, not a box per item.
    let box_ = ui.find("[data-testid=dag-step-each]").unwrap();
    assert_eq!(
        ui.attribute(&box_, "data-items").unwrap().as_deref(),
        Some("3")
    );
    assert!(
        ui.text(&box_).unwrap().contains("3/3 items"),
        "{}",
        ui.text(&box_).unwrap()
    );
    assert!(ui
        .find_all("[data-testid^='dag-step-each[']")
        .unwrap()
        .is_empty());

    ui.click(&ui.find("[data-testid=step-button-each]").unwrap())
        .unwrap();
    let item = poll::until("the items listed", WAIT, || {
        Ok(ui
            .find_all("[data-testid=item-button-each-1]")?
            .into_iter()
            .next())
    });
    assert_eq!(
        ui.find_all("[data-testid^=item-button-each-]")
            .unwrap()
            .len(),
        3
    );
    ui.click(&item).unwrap();
    wait_status(ui, "[data-testid=fan-out-item]", "succeeded");
    poll::until("item 1's log", WAIT, || {
        let lines = ui.texts("[data-testid=log-line]")?;
        Ok(lines
            .iter()
            .any(|l| l.contains("checked web"))
            .then_some(()))
    });
    let lines = ui.texts("[data-testid=log-line]").unwrap();
    assert!(
        !lines.iter().any(|l| l.contains("checked api")),
        "only the chosen item's log: {lines:?}"
    );
}

#[test]
fn a_run_whose_device_stopped_answering_is_adopted_from_its_page() {
    use flightdeck_core::runs::settings::{self, RunnerSettings};
    use flightdeck_core::store::Origin;
    let (far, data) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let done = data.path().join("done");
    // Device A starts a run and is never heard from again.
    let run_id = {
        let a = Store::open(&far.path().join("flightdeck.db")).unwrap();
        settings::set_settings(
            &a,
            RunnerSettings {
                workflow_lease_secs: Some(1),
                ..Default::default()
            },
        )
        .unwrap();
        let yaml = format!(
            "name: far\nsteps:\n  - id: one\n    shell: touch '{}'\n",
            done.display()
        );
        workflows::apply(&a, &yaml, Format::Yaml).unwrap();
        let start = flightdeck_types::StartWorkflow {
            workflow: "far".into(),
            ..Default::default()
        };
        let keyring = flightdeck_core::secrets::OsKeyring::from_env().unwrap();
        let run = workflows::start(&a, &keyring, &start).unwrap();
        workflows::lease::renew(&a).unwrap();
        let b = Store::open_workspace(Some(data.path()), "default").unwrap();
        b.apply_changes(&a.changes_since(0, Origin::Any).unwrap())
            .unwrap();
        flightdeck_core::trust::trust(&b, a.device_id()).unwrap();
        run.id
    };
    let app = App::launch(data.path());
    let ui = app.session();
    open_run(ui, &run_id);
    let adopt = poll::until("the Adopt button, once A's lease lapsed", WAIT, || {
        Ok(ui
            .find_all("[data-testid=workflow-adopt]")?
            .into_iter()
            .next())
    });
    let note = ui
        .text(&ui.find("[data-testid=workflow-lease]").unwrap())
        .unwrap();
    assert!(note.contains("stopped answering"), "{note}");
    ui.click(&adopt).unwrap();
    wait_status(ui, "[data-testid=workflow-run-status]", "succeeded");
    assert!(done.exists(), "the step ran here");
    let store = Store::open_workspace(Some(data.path()), "default").unwrap();
    let run = workflows::get_run(&store, &run_id).unwrap();
    assert_eq!(run.device_id.as_deref(), Some(store.device_id()));
}
