//! Insights in the real app over a seeded store: the success rate, the run count and a
//! failure reason read from the view equal what the test computes from the runs it wrote;
//! a reason lists its runs, the latest first, and opens them; the Health panel lists its checks.

use std::time::Duration;

use flightdeck_core::{runs, tasks, Store};
use flightdeck_tests::app::App;
use flightdeck_tests::poll;
use flightdeck_types::{ExecutionSpec, NewExecution, NewTask, ShellSpec};

const WAIT: Duration = Duration::from_secs(30);

#[test]
fn insights_shows_the_figures_of_the_runs_in_the_store() {
    let data = tempfile::tempdir().unwrap();
    let now = flightdeck_core::clock::now().as_millis();
    // 7 succeeded and 3 failed runs over the last three days, written before the app starts
    // (so no worker claims them).
    let (ok, failed) = (7u32, 3u32);
    let mut latest_failure = String::new();
    let mut days = std::collections::BTreeSet::new();
    let task_id;
    {
        let store = Store::open_workspace(Some(data.path()), "default").unwrap();
        let task = tasks::create(
            &store,
            NewTask {
                title: "nightly build".into(),
                ..Default::default()
            },
        )
        .unwrap();
        task_id = task.id.clone();
        for i in 0..(ok + failed) as i64 {
            let run = runs::queue(
                &store,
                NewExecution {
                    task_id: Some(task.id.clone()),
                    spec: Some(ExecutionSpec::Shell(ShellSpec {
                        line: Some("make".into()),
                        ..Default::default()
                    })),
                    ..Default::default()
                },
            )
            .unwrap();
            let failing = i >= ok as i64;
            let queued = now - (i % 3) * 86_400_000 - 60_000 * (10 - i);
            days.insert(queued.div_euclid(86_400_000));
            store
                .write(|w| {
                    w.execute(
                        "UPDATE executions SET status = ?2, queued_at = ?3, started_at = ?4,
                             finished_at = ?5, error = ?6 WHERE id = ?1",
                        rusqlite::params![
                            run.id,
                            if failing { "failed" } else { "succeeded" },
                            queued,
                            queued + 100,
                            queued + 100 + 1_000 * (i + 1),
                            failing.then(|| format!("exited with code {}", i)),
                        ],
                    )?;
                    Ok(())
                })
                .unwrap();
            if failing {
                latest_failure = run.id;
            }
        }
    }
    let expected_rate = format!("{:.1} %", ok as f64 / (ok + failed) as f64 * 100.0);

    let app = App::launch(data.path());
    let ui = app.session();
    ui.click(&ui.find("[data-testid=nav-insights]").unwrap())
        .unwrap();
    let rate = poll::until("the success rate", WAIT, || {
        Ok(ui
            .find_all("[data-testid=insights-success-rate]")?
            .into_iter()
            .next())
    });
    assert_eq!(ui.text(&rate).unwrap(), expected_rate);
    let runs = ui.find("[data-testid=insights-runs]").unwrap();
    assert_eq!(ui.text(&runs).unwrap(), (ok + failed).to_string());
    // The chart has a titled part per day and status.
    let bars = ui.find_all("[data-testid=insights-per-day] rect").unwrap();
    assert!(bars.len() >= 3, "{} bars", bars.len());
    // The distribution: the runs took 1 s, 2 s, ... 10 s, so 1, 1, 3 and 5 of them in the
    // buckets up to 1, 2, 5 and 10 s, each figure in its bar's title.
    let titles: Vec<String> = ui
        .find_all("[data-testid=insights-distribution] rect title")
        .unwrap()
        .iter()
        .map(|t| ui.property(t, "textContent").unwrap().unwrap_or_default())
        .collect();
    let counts: Vec<&str> = titles
        .iter()
        .map(|t| t.rsplit(": ").next().unwrap_or_default())
        .collect();
    assert_eq!(counts, ["1 run", "1 run", "3 runs", "5 runs"], "{titles:?}");
    assert_eq!(
        ui.find_all("[data-testid=insights-distribution] line")
            .unwrap()
            .len(),
        2,
        "p50 and p95 marked"
    );
    // A dot a day with runs in the success-rate line.
    let dots = ui
        .find_all("[data-testid=insights-success-over-time] circle")
        .unwrap();
    assert_eq!(dots.len(), days.len());
    let group_rate = ui.find("[data-testid=group-success-rate]").unwrap();
    assert_eq!(ui.text(&group_rate).unwrap(), expected_rate);

    // One failure reason for the three exit codes; it opens the latest of those runs.
    let reason = poll::until("a failure reason", WAIT, || {
        Ok(ui
            .find_all("[data-testid=failure-reason]")?
            .into_iter()
            .next())
    });
    let text = ui.text(&reason).unwrap();
    assert!(text.starts_with('3') && text.contains("<n>"), "{text}");
    assert_eq!(
        ui.find_all("[data-testid=failure-reason]").unwrap().len(),
        1
    );

    let checks = ui.find_all("[data-testid=health-check]").unwrap();
    assert_eq!(checks.len(), 7, "every health check is listed");

    // The task's page has its own figures.
    ui.click(&ui.find("[data-testid=nav-tasks]").unwrap())
        .unwrap();
    let row = poll::until("the task's row", WAIT, || {
        Ok(ui.find_all("[data-testid=task-title]")?.into_iter().next())
    });
    ui.click(&row).unwrap();
    let own = poll::until("the task's figures", WAIT, || {
        Ok(ui
            .find_all("[data-testid=task-success-rate]")?
            .into_iter()
            .next())
    });
    assert_eq!(ui.text(&own).unwrap(), expected_rate);

    // Its expected duration is set in the editor: a span that does not read is said beside
    // the field and nothing is saved; `2m` is kept as 120 s.
    let field = ui.find("[data-testid=edit-expected]").unwrap();
    ui.type_text(&field, "soon").unwrap();
    ui.click(&ui.find("[data-testid=save-task]").unwrap())
        .unwrap();
    let said = poll::until("the span's error", WAIT, || {
        Ok(ui
            .find_all("[data-testid=field-error-expected_secs]")?
            .into_iter()
            .next())
    });
    assert!(ui.text(&said).unwrap().contains("`soon` is not a duration"));
    ui.clear(&field).unwrap();
    ui.type_text(&field, "2m").unwrap();
    ui.click(&ui.find("[data-testid=save-task]").unwrap())
        .unwrap();
    let store = Store::open_workspace(Some(data.path()), "default").unwrap();
    poll::until("the expected duration saved", WAIT, || {
        let task = tasks::get(&store, &task_id).map_err(|e| e.to_string())?;
        Ok((task.expected_secs == Some(120)).then_some(()))
    });
    drop(store);
    ui.click(&ui.find("[data-testid=nav-insights]").unwrap())
        .unwrap();
    let reason = poll::until("a failure reason again", WAIT, || {
        Ok(ui
            .find_all("[data-testid=failure-reason]")?
            .into_iter()
            .next())
    });

    ui.click(&reason).unwrap();
    let listed = poll::until("the reason's runs", WAIT, || {
        let runs = ui.find_all("[data-testid=failure-run]")?;
        Ok((runs.len() == failed as usize).then_some(runs))
    });
    let messages = ui
        .text(&ui.find("[data-testid=failure-runs]").unwrap())
        .unwrap();
    for code in ok..ok + failed {
        assert!(
            messages.contains(&format!("exited with code {code}")),
            "{messages}"
        );
    }
    ui.click(&listed[0]).unwrap();
    let error = poll::until("the latest failed run's page", WAIT, || {
        Ok(ui.find_all("[data-testid=run-error]")?.into_iter().next())
    });
    assert!(
        ui.text(&error)
            .unwrap()
            .contains(&format!("code {}", ok + failed - 1)),
        "the latest failure ({latest_failure}) opens: {}",
        ui.text(&error).unwrap()
    );
}
