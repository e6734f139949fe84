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

const WAIT: Duration = Duration::from_secs(20);

fn status_of(ui: &Session, css: &str) -> Result<Option<String>, String> {
    match ui.find_all(css)?.first() {
        Some(element) => ui.attribute(element, "data-status"),
        None => Ok(None),
    }
}

fn wait_status(ui: &Session, css: &str, want: &str) {
    poll::until(&format!("{css} to be {want}"), WAIT, || {
        Ok((status_of(ui, css)?.as_deref() == Some(want)).then_some(()))
    });
}

/// Applies `definition` to the workspace under `data` and starts a run of workflow `name`
/// there (nothing runs it until the app does); its id.
fn apply_and_start(data: &std::path::Path, definition: &str, name: &str) -> String {
    let store = Store::open_workspace(Some(data), "default").unwrap();
    workflows::apply(&store, definition, Format::Yaml).unwrap();
    let start = flightdeck_types::StartWorkflow {
        workflow: name.into(),
        ..Default::default()
    };
    let keyring = flightdeck_core::secrets::OsKeyring::from_env().unwrap();
    workflows::start(&store, &keyring, &start).unwrap().id
}

/// Ticks the rows (`[data-testid=ROW][data-id=ID]`) of runs `ids` in the list on screen,
/// opens Compare, and returns what it says about where they diverge.
fn compare_ticked(ui: &Session, row: &str, ids: &[String]) -> String {
    for id in ids {
        let pick = poll::until("the run's compare box", WAIT, || {
            Ok(ui
                .find_all(&format!(
                    "[data-testid={row}][data-id='{id}'] [data-testid=compare-pick]"
                ))?
                .into_iter()
                .next())
        });
        ui.click(&pick).unwrap();
    }
    ui.click(&ui.find("[data-testid=compare-open]").unwrap())
        .unwrap();
    poll::until("the divergence", WAIT, || {
        Ok(ui
            .texts("[data-testid=compare-divergence]")?
            .into_iter()
            .next())
    })
}

/// Opens run `run_id`'s page from the Workflows view's list of runs.
fn open_run(ui: &Session, run_id: &str) {
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

    let resume = poll::until("the Resume button", WAIT, || {
        Ok(ui
            .find_all("[data-testid=workflow-resume]")?
            .into_iter()
            .next())
    });
    ui.click(&resume).unwrap();
    wait_status(ui, "[data-testid=workflow-run-status]", "running");

    let cancel = poll::until("the Pause button back", WAIT, || {
        Ok((!ui.find_all("[data-testid=workflow-pause]")?.is_empty())
            .then(|| ui.find("[data-testid=workflow-cancel]").ok())
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

/// "Fork from here" on a finished run's step: a form takes an edited field, the fork's page
/// opens and runs the step with it (the step before it is not run again), and both pages link
/// to each other.
#[test]
fn a_fork_from_a_step_runs_it_edited_and_both_runs_link_to_each_other() {
    let data = tempfile::tempdir().unwrap();
    let counter = data.path().join("first-ran");
    let definition = format!(
        "name: forkable\nsteps:\n  - id: first\n    shell: echo ran >> '{}'\n  - id: second\n    needs: first\n    shell: echo original\n",
        counter.display()
    );
    let run_id = apply_and_start(data.path(), &definition, "forkable");
    let app = App::launch(data.path());
    let ui = app.session();
    open_run(ui, &run_id);
    wait_status(ui, "[data-testid=workflow-run-status]", "succeeded");
    assert_eq!(
        std::fs::read_to_string(&counter).unwrap().lines().count(),
        1
    );

    ui.click(&ui.find("[data-testid=step-button-second]").unwrap())
        .unwrap();
    let fork = poll::until("Fork from here", WAIT, || {
        Ok(ui
            .find_all("[data-testid=fork-from-second]")?
            .into_iter()
            .next())
    });
    ui.click(&fork).unwrap();
    let field = poll::until("the fork form", WAIT, || {
        Ok(ui.find_all("[data-testid=fork-field]")?.into_iter().next())
    });
    ui.type_text(&field, "shell").unwrap();
    ui.type_text(&ui.find("[data-testid=fork-text]").unwrap(), "echo edited")
        .unwrap();
    ui.click(&ui.find("[data-testid=fork-submit]").unwrap())
        .unwrap();

    // The fork's page: it says where it came from, and runs `second` with the edit.
    let new_page = format!("[data-testid=workflow-run]:not([data-id='{run_id}'])");
    poll::until("the fork's page", WAIT, || {
        Ok((!ui.find_all(&new_page)?.is_empty()).then_some(()))
    });
    wait_status(ui, "[data-testid=workflow-run-status]", "succeeded");
    let origin = poll::until("the fork's origin", WAIT, || {
        Ok(ui.find_all("[data-testid=forked-from]")?.into_iter().next())
    });
    assert_eq!(ui.text(&origin).unwrap(), run_id);
    ui.click(&ui.find("[data-testid=step-button-second]").unwrap())
        .unwrap();
    poll::until("the edited step's log", WAIT, || {
        Ok(ui
            .texts("[data-testid=run-log] [data-testid=log-line][data-kind=stdout]")?
            .iter()
            .any(|t| t == "edited")
            .then_some(()))
    });
    assert_eq!(
        std::fs::read_to_string(&counter).unwrap().lines().count(),
        1,
        "the step before the fork kept its recorded outputs and did not run again"
    );
    let store = Store::open_workspace(Some(data.path()), "default").unwrap();
    let fork_id = workflows::runs(&store, &WorkflowRunFilter::default())
        .unwrap()
        .into_iter()
        .find(|r| r.id != run_id)
        .unwrap()
        .id;

    // Back through the link: the first run lists its fork.
    ui.click(&origin).unwrap();
    let back = format!("[data-testid=workflow-run][data-id='{run_id}']");
    poll::until("the first run's page", WAIT, || {
        Ok((!ui.find_all(&back)?.is_empty()).then_some(()))
    });
    let forked_as = poll::until("the link to the fork", WAIT, || {
        Ok(ui.find_all("[data-testid=forked-as]")?.into_iter().next())
    });
    assert_eq!(ui.text(&forked_as).unwrap(), fork_id);
}

/// Compare from the runs list: two runs of one workflow whose second step printed different
/// words; ticking both and Compare shows that step as where they diverge, its row marked.
#[test]
fn two_runs_ticked_in_the_list_compare_with_the_divergent_step_marked() {
    let data = tempfile::tempdir().unwrap();
    let definition = "name: words\nparams:\n  word:\n    type: string\nsteps:\n  - id: same\n    shell: echo same\n  - id: says\n    needs: same\n    shell: echo '{{ params.word }}'\n  - id: after\n    needs: says\n    shell: echo after\n";
    let ids: Vec<String> = {
        let store = Store::open_workspace(Some(data.path()), "default").unwrap();
        workflows::apply(&store, definition, Format::Yaml).unwrap();
        let keyring = flightdeck_core::secrets::OsKeyring::from_env().unwrap();
        ["hello", "goodbye"]
            .iter()
            .map(|word| {
                let start = flightdeck_types::StartWorkflow {
                    workflow: "words".into(),
                    text_params: vec![format!("word={word}")],
                    ..Default::default()
                };
                workflows::start(&store, &keyring, &start).unwrap().id
            })
            .collect()
    };
    let app = App::launch(data.path());
    let ui = app.session();
    let store = Store::open_workspace(Some(data.path()), "default").unwrap();
    poll::until("both runs to end", WAIT, || {
        let runs =
            workflows::runs(&store, &WorkflowRunFilter::default()).map_err(|e| e.to_string())?;
        Ok(runs
            .iter()
            .all(|r| r.status == WorkflowRunStatus::Succeeded)
            .then_some(()))
    });
    ui.click(&ui.find("[data-testid=nav-workflows]").unwrap())
        .unwrap();
    let said = compare_ticked(ui, "workflow-run-row", &ids);
    assert!(said.contains("diverge at step `says`"), "{said}");
    let marked = |step: &str| -> Option<String> {
        let row = ui
            .find(&format!("[data-testid=compare-step][data-step='{step}']"))
            .unwrap();
        ui.attribute(&row, "data-diverges").unwrap()
    };
    assert_eq!(marked("says").as_deref(), Some("true"));
    assert_eq!(marked("same").as_deref(), Some("false"));
    assert_eq!(marked("after").as_deref(), Some("false"));
}

/// The run page's timeline: the scrubber moved to the first boundary (the keyboard: Home)
/// shows every step pending and no log; to the last (End), every step done and the log; one
/// step back (the ◀ button), the last step not yet done. "Now" goes back to the live run.
#[test]
fn the_timeline_scrubber_moves_the_graph_and_the_log_to_a_boundary() {
    let data = tempfile::tempdir().unwrap();
    let definition =
        "name: three\nsteps:\n  - id: one\n    shell: echo first\n  - id: two\n    needs: one\n    shell: echo second\n  - id: three\n    needs: two\n    shell: echo third\n";
    let run_id = apply_and_start(data.path(), definition, "three");
    let app = App::launch(data.path());
    let ui = app.session();
    open_run(ui, &run_id);
    wait_status(ui, "[data-testid=workflow-run-status]", "succeeded");
    wait_status(ui, "[data-testid=dag-step-three]", "succeeded");
    let mark = |ui: &Session| -> Result<Option<String>, String> {
        match ui.find_all("[data-testid=timeline-mark]")?.first() {
            Some(e) => ui.attribute(e, "data-mark"),
            None => Ok(None),
        }
    };
    let timeline = poll::until("the timeline", WAIT, || {
        Ok(ui.find_all("[data-testid=timeline]")?.into_iter().next())
    });
    // Home: the first boundary, the run as it was queued.
    ui.type_text(&timeline, "\u{E011}").unwrap();
    poll::until("mark 0", WAIT, || {
        Ok((mark(ui)?.as_deref() == Some("0")).then_some(()))
    });
    for step in ["one", "two", "three"] {
        wait_status(ui, &format!("[data-testid=dag-step-{step}]"), "pending");
    }
    assert!(ui
        .texts("[data-testid=timeline-log-line]")
        .unwrap()
        .is_empty());

    // End: the last boundary, everything done, the whole log.
    ui.type_text(&timeline, "\u{E010}").unwrap();
    poll::until("the last mark", WAIT, || {
        Ok(mark(ui)?
            .filter(|m| m != "0" && m != "now")
            .map(|m| m.parse::<u32>().unwrap()))
    });
    wait_status(ui, "[data-testid=dag-step-three]", "succeeded");
    let log = poll::until("the log by then", WAIT, || {
        let lines = ui.texts("[data-testid=timeline-log-line][data-kind=stdout]")?;
        Ok((lines.len() == 3).then_some(lines))
    });
    assert_eq!(log, ["[one] first", "[two] second", "[three] third"]);
    let last: u32 = mark(ui).unwrap().unwrap().parse().unwrap();

    // Back one boundary at a time until `three` is no longer done: the graph follows.
    let mut at = last;
    while status_of(ui, "[data-testid=dag-step-three]")
        .unwrap()
        .as_deref()
        == Some("succeeded")
    {
        assert!(at > 0, "`three` was done at every boundary");
        ui.click(&ui.find("[data-testid=timeline-previous]").unwrap())
            .unwrap();
        at -= 1;
        let want = at.to_string();
        poll::until("one boundary back", WAIT, || {
            Ok((mark(ui)?.as_deref() == Some(want.as_str())).then_some(()))
        });
    }
    assert_ne!(
        status_of(ui, "[data-testid=dag-step-one]")
            .unwrap()
            .as_deref(),
        Some("pending"),
        "one step back from the end, the first step had run"
    );

    // Now: the live run again.
    ui.click(&ui.find("[data-testid=timeline-now]").unwrap())
        .unwrap();
    poll::until("now", WAIT, || {
        Ok((mark(ui)?.as_deref() == Some("now")).then_some(()))
    });
    wait_status(ui, "[data-testid=dag-step-three]", "succeeded");

    // From the first boundary on, to one of step `two`: fork the run there.
    ui.type_text(&timeline, "\u{E011}").unwrap();
    poll::until("mark 0 again", WAIT, || {
        Ok((mark(ui)?.as_deref() == Some("0")).then_some(()))
    });
    let fork = loop {
        if let Some(button) = ui
            .find_all("[data-testid=timeline-fork][data-step=two]")
            .unwrap()
            .into_iter()
            .next()
        {
            break button;
        }
        let before = mark(ui).unwrap();
        assert_ne!(before, Some(last.to_string()), "no boundary of `two`");
        ui.click(&ui.find("[data-testid=timeline-next]").unwrap())
            .unwrap();
        poll::until("one boundary on", WAIT, || {
            Ok((mark(ui)? != before).then_some(()))
        });
    };
    ui.click(&fork).unwrap();
    let new_page = format!("[data-testid=workflow-run]:not([data-id='{run_id}'])");
    poll::until("the fork's page", WAIT, || {
        Ok((!ui.find_all(&new_page)?.is_empty()).then_some(()))
    });
    wait_status(ui, "[data-testid=workflow-run-status]", "succeeded");
    let store = Store::open_workspace(Some(data.path()), "default").unwrap();
    let fork = workflows::runs(&store, &WorkflowRunFilter::default())
        .unwrap()
        .into_iter()
        .find(|r| r.id != run_id)
        .unwrap();
    assert_eq!(fork.rerun_of.as_deref(), Some(run_id.as_str()));
    assert_eq!(fork.rerun_from.as_deref(), Some("two"));
    assert!(fork.checkpoint.forked);
    assert!(
        fork.checkpoint.steps["one"].reused_from.is_some(),
        "the step before the boundary kept its recorded outputs"
    );
}

/// Compare from the Runs list, for two plain runs whose logs differ: side by side, said to
/// diverge, and back to Runs.
#[test]
fn two_plain_runs_ticked_in_runs_compare_side_by_side() {
    use flightdeck_types::{ExecutionSpec, ExecutionStatus, NewExecution, ShellSpec};
    let data = tempfile::tempdir().unwrap();
    let ids: Vec<String> = {
        let store = Store::open_workspace(Some(data.path()), "default").unwrap();
        ["alpha", "beta"]
            .iter()
            .map(|word| {
                // Each in an environment of its own, with a variable of its own name.
                let env = flightdeck_core::environments::create(
                    &store,
                    flightdeck_types::NewEnvironment {
                        name: format!("env-{word}"),
                        env_vars: [(word.to_uppercase(), "1".to_string())].into(),
                        ..Default::default()
                    },
                )
                .unwrap();
                let spec = ExecutionSpec::Shell(ShellSpec {
                    line: Some(format!("echo {word}")),
                    ..Default::default()
                });
                let new = NewExecution {
                    spec: Some(spec),
                    environment_id: Some(env.id),
                    ..Default::default()
                };
                flightdeck_core::runs::queue(&store, new).unwrap().id
            })
            .collect()
    };
    let app = App::launch(data.path());
    let ui = app.session();
    let store = Store::open_workspace(Some(data.path()), "default").unwrap();
    poll::until("both runs to end", WAIT, || {
        let all = ids
            .iter()
            .map(|id| flightdeck_core::runs::get(&store, id).map(|r| r.status))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| e.to_string())?;
        Ok(all
            .iter()
            .all(|s| *s == ExecutionStatus::Succeeded)
            .then_some(()))
    });
    ui.click(&ui.find("[data-testid=nav-runs]").unwrap())
        .unwrap();
    let said = compare_ticked(ui, "run-row", &ids);
    assert!(said.contains("diverge"), "{said}");
    assert!(
        !ui.find_all("[data-testid=compare-step][data-diverges=true]")
            .unwrap()
            .is_empty(),
        "the differing part is marked"
    );
    // The environments' variables, by name only.
    let names = ui.texts("[data-testid=compare-environment]").unwrap();
    assert!(
        names.len() == 1 && names[0].contains("ALPHA") && names[0].contains("BETA"),
        "{names:?}"
    );
    ui.click(&ui.find("[data-testid=back-to-runs]").unwrap())
        .unwrap();
    poll::until("the Runs view", WAIT, || {
        Ok((!ui.find_all("[data-testid=runs]")?.is_empty()).then_some(()))
    });
}

/// A plain run's page has a timeline too: at its start (Home) it is queued with no log, at
/// its end (End) it succeeded with its whole log; "Fork…" runs it again with its command
/// edited, and the two pages link to each other.
#[test]
fn a_plain_runs_page_has_a_timeline_and_forks_it_edited() {
    use flightdeck_types::{ExecutionSpec, ExecutionStatus, NewExecution, ShellSpec};
    let data = tempfile::tempdir().unwrap();
    let id = {
        let store = Store::open_workspace(Some(data.path()), "default").unwrap();
        let spec = ExecutionSpec::Shell(ShellSpec {
            line: Some("echo one; sleep 0.2; echo two".into()),
            ..Default::default()
        });
        let new = NewExecution {
            spec: Some(spec),
            ..Default::default()
        };
        flightdeck_core::runs::queue(&store, new).unwrap().id
    };
    let app = App::launch(data.path());
    let ui = app.session();
    let store = Store::open_workspace(Some(data.path()), "default").unwrap();
    poll::until("the run to end", WAIT, || {
        let run = flightdeck_core::runs::get(&store, &id).map_err(|e| e.to_string())?;
        Ok((run.status == ExecutionStatus::Succeeded).then_some(()))
    });
    ui.click(&ui.find("[data-testid=nav-runs]").unwrap())
        .unwrap();
    let row = poll::until("the run listed", WAIT, || {
        Ok(ui
            .find_all(&format!(
                "[data-testid=run-row][data-id='{id}'] [data-testid=run-what]"
            ))?
            .into_iter()
            .next())
    });
    ui.click(&row).unwrap();
    let timeline = poll::until("the run's timeline", WAIT, || {
        Ok(ui
            .find_all("[data-testid=run-timeline]")?
            .into_iter()
            .next())
    });
    let at = |ui: &Session| -> Result<Option<String>, String> {
        match ui.find_all("[data-testid=run-timeline-at]")?.first() {
            Some(e) => ui.attribute(e, "data-status"),
            None => Ok(None),
        }
    };
    ui.type_text(&timeline, "\u{E011}").unwrap();
    poll::until("queued", WAIT, || {
        Ok((at(ui)?.as_deref() == Some("queued")).then_some(()))
    });
    assert!(ui
        .texts("[data-testid=run-timeline-line]")
        .unwrap()
        .is_empty());
    ui.type_text(&timeline, "\u{E010}").unwrap();
    poll::until("succeeded", WAIT, || {
        Ok((at(ui)?.as_deref() == Some("succeeded")).then_some(()))
    });
    let lines = poll::until("its whole log", WAIT, || {
        let lines = ui.texts("[data-testid=run-timeline-line][data-kind=stdout]")?;
        Ok((lines.len() == 2).then_some(lines))
    });
    assert_eq!(lines, ["one", "two"]);

    // Fork…: the same run with its command edited; its page opens, runs it, links back.
    ui.click(&ui.find("[data-testid=run-fork]").unwrap())
        .unwrap();
    let field = poll::until("the fork form", WAIT, || {
        Ok(ui
            .find_all("[data-testid=run-fork-field]")?
            .into_iter()
            .next())
    });
    ui.type_text(&field, "shell").unwrap();
    ui.type_text(
        &ui.find("[data-testid=run-fork-text]").unwrap(),
        "echo forked",
    )
    .unwrap();
    ui.click(&ui.find("[data-testid=run-fork-submit]").unwrap())
        .unwrap();
    let back = poll::until("the fork's page", WAIT, || {
        Ok(ui
            .find_all("[data-testid=run-forked-from]")?
            .into_iter()
            .next())
    });
    assert_eq!(ui.text(&back).unwrap(), id);
    poll::until("the fork to succeed", WAIT, || {
        Ok(ui
            .texts("[data-testid=log-line][data-kind=stdout]")?
            .iter()
            .any(|l| l == "forked")
            .then_some(()))
    });
    ui.click(&back).unwrap();
    let forked_as = poll::until("the link to the fork", WAIT, || {
        Ok(ui
            .find_all("[data-testid=run-forked-as]")?
            .into_iter()
            .next())
    });
    let fork_id = ui.text(&forked_as).unwrap();
    let fork = flightdeck_core::runs::get(&store, &fork_id).unwrap();
    assert_eq!(fork.forked_from.as_deref(), Some(id.as_str()));
}
