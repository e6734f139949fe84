//! Time travel in the real app: a workflow run's timeline scrubber (the graph and the log
//! follow it, a fork at a boundary), "Fork from here" on a step, a plain run's timeline and
//! fork, lineage links both ways, and Compare from both runs lists.

use flightdeck_core::workflows::{self, Format};
use flightdeck_core::Store;
use flightdeck_tests::app::App;
use flightdeck_tests::poll;
use flightdeck_tests::webdriver::Session;
use flightdeck_types::{WorkflowRunFilter, WorkflowRunStatus};

use super::workflows::{apply_and_start, open_run, status_of, wait_status, WAIT};

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
