//! Insights from a store seeded with runs of known durations, statuses and queue times: the
//! figures equal the same figures computed here from the raw lists.

use flightdeck_core::{insights, runs, Store};
use flightdeck_types::{
    ExecutionSpec, InsightsGroup, InsightsQuery, NewExecution, ShellSpec, Timestamp,
};

use crate::common::{count, ship, task, temp_store};

const DAY: i64 = 86_400_000;

struct Seed<'a> {
    status: &'a str,
    queued_at: i64,
    queue_ms: i64,
    duration_ms: Option<i64>,
    attempt: u32,
    error: Option<&'a str>,
}

/// Queues a run of `task_id` and sets what the figures read.
fn seed(store: &Store, task_id: &str, s: &Seed<'_>) -> String {
    let exec = runs::queue(
        store,
        NewExecution {
            task_id: Some(task_id.to_string()),
            spec: Some(ExecutionSpec::Shell(ShellSpec {
                line: Some("true".into()),
                ..Default::default()
            })),
            ..Default::default()
        },
    )
    .unwrap();
    let started = s.duration_ms.map(|_| s.queued_at + s.queue_ms);
    let finished = s.duration_ms.and_then(|d| started.map(|st| st + d));
    store
        .write(|w| {
            w.execute(
                "UPDATE executions SET status = ?2, queued_at = ?3, started_at = ?4,
                     finished_at = ?5, attempt = ?6, error = ?7 WHERE id = ?1",
                rusqlite::params![
                    exec.id,
                    s.status,
                    s.queued_at,
                    started,
                    finished,
                    s.attempt,
                    s.error
                ],
            )?;
            Ok(())
        })
        .unwrap();
    exec.id
}

/// Nearest rank, written out again here: the value at rank ceil(p * n).
fn rank(values: &[i64], p: f64) -> i64 {
    let mut v = values.to_vec();
    v.sort();
    let r = (p * v.len() as f64).ceil() as usize;
    v[r.max(1) - 1]
}

#[test]
fn figures_per_task_match_the_raw_runs_and_the_window_holds() {
    let (_dir, store) = temp_store();
    let now = flightdeck_core::clock::now().as_millis();
    let build = task(&store, "build the api").id;
    let lint = task(&store, "lint").id;
    // 23 runs of `build` over the last 5 days: durations from a fixed spread, every fifth
    // failed, one cancelled, two retries; `lint`: 4 runs.
    let mut build_durations = Vec::new();
    let mut build_queue = Vec::new();
    let (mut ok, mut failed) = (0, 0);
    for i in 0..23i64 {
        let duration = 100 + (i * 37) % 250 + if i == 7 { 5_000 } else { 0 };
        let queue = 5 + (i * 13) % 40;
        let status = match i {
            _ if i % 5 == 4 => "failed",
            11 => "cancelled",
            _ => "succeeded",
        };
        match status {
            "failed" => failed += 1,
            "succeeded" => ok += 1,
            _ => {}
        }
        build_durations.push(duration);
        build_queue.push(queue);
        seed(
            &store,
            &build,
            &Seed {
                status,
                queued_at: now - (i % 5) * DAY - 3_600_000,
                queue_ms: queue,
                duration_ms: Some(duration),
                attempt: if i == 3 || i == 9 { 2 } else { 1 },
                error: (status == "failed").then_some("exit code 1"),
            },
        );
    }
    for i in 0..4i64 {
        seed(
            &store,
            &lint,
            &Seed {
                status: "succeeded",
                queued_at: now - 1_000 * (i + 1),
                queue_ms: 1,
                duration_ms: Some(10 * (i + 1)),
                attempt: 1,
                error: None,
            },
        );
    }
    // Outside the window (10 days ago): counted in no figure of a 7-day window.
    seed(
        &store,
        &lint,
        &Seed {
            status: "failed",
            queued_at: now - 10 * DAY,
            queue_ms: 1,
            duration_ms: Some(99_999),
            attempt: 1,
            error: Some("old"),
        },
    );
    // Still queued: a run, but no duration or queue time.
    seed(
        &store,
        &lint,
        &Seed {
            status: "queued",
            queued_at: now - 500,
            queue_ms: 0,
            duration_ms: None,
            attempt: 1,
            error: None,
        },
    );

    let q = InsightsQuery {
        since: Timestamp::from_millis(now - 7 * DAY),
        until: Timestamp::from_millis(now + 1),
        by: InsightsGroup::Task,
    };
    let figures = insights::insights(&store, &q).unwrap();
    assert_eq!(figures.total.runs, 23 + 4 + 1);
    assert_eq!(
        figures.days.len(),
        8,
        "a day of each of the 7 days, and today's start"
    );
    let b = figures
        .groups
        .iter()
        .find(|g| g.key.as_deref() == Some(build.as_str()))
        .expect("a group for the build task");
    assert_eq!(b.label, "build the api");
    assert_eq!(b.runs, 23);
    assert_eq!(b.by_status["failed"], failed);
    assert_eq!(b.by_status["cancelled"], 1);
    let rate = ok as f64 / (ok + failed) as f64;
    assert!((b.success_rate.unwrap() - rate).abs() < 1e-12, "{b:?}");
    assert_eq!(b.duration_ms.count, 23);
    assert_eq!(b.duration_ms.p50, Some(rank(&build_durations, 0.50)));
    assert_eq!(b.duration_ms.p95, Some(rank(&build_durations, 0.95)));
    assert_eq!(b.duration_ms.max, Some(5_000 + 100 + (7 * 37) % 250));
    assert_eq!(b.queue_ms.p50, Some(rank(&build_queue, 0.50)));
    assert_eq!(b.retries, 2);
    assert!((b.retries_per_run.unwrap() - 2.0 / 21.0).abs() < 1e-12);
    assert_eq!(b.per_day.iter().sum::<u64>(), 23);
    assert_eq!(
        b.per_day.iter().filter(|n| **n > 0).count(),
        5,
        "spread over five days: {:?}",
        b.per_day
    );

    // The durations' buckets: 1-2-5 bounds, each value in the first bound at or above it,
    // written out again here.
    let mut all: Vec<i64> = build_durations.clone();
    all.extend([10, 20, 30, 40]);
    let bound_of = |v: i64| -> i64 {
        let mut b = 1i64;
        for i in 0.. {
            b = [1, 2, 5][i % 3] * 10i64.pow((i / 3) as u32);
            if b >= v {
                break;
            }
        }
        b
    };
    let mut expected = std::collections::BTreeMap::new();
    for v in &all {
        *expected.entry(bound_of(*v)).or_insert(0u64) += 1;
    }
    let got: std::collections::BTreeMap<i64, u64> = figures
        .durations
        .iter()
        .filter(|b| b.count > 0)
        .map(|b| (b.up_to_ms, b.count))
        .collect();
    assert_eq!(got, expected);
    assert_eq!(figures.durations.first().unwrap().up_to_ms, 10);
    assert_eq!(figures.durations.last().unwrap().up_to_ms, 10_000);
    assert_eq!(
        figures.durations.len(),
        10,
        "10 ms to 10 s, the empty ones between kept"
    );

    let l = figures
        .groups
        .iter()
        .find(|g| g.key.as_deref() == Some(lint.as_str()))
        .unwrap();
    assert_eq!(l.runs, 5, "the old run is outside, the queued one inside");
    assert_eq!(l.by_status.get("failed"), None);
    assert_eq!(l.duration_ms.count, 4);
    assert_eq!(l.duration_ms.p50, Some(20));
    assert_eq!(l.duration_ms.p95, Some(40));
    assert_eq!(l.success_rate, Some(1.0));

    // A 30-day window takes the old run in; by executor everything is one group.
    let wide = insights::insights(
        &store,
        &InsightsQuery {
            since: Timestamp::from_millis(now - 30 * DAY),
            by: InsightsGroup::Executor,
            ..q.clone()
        },
    )
    .unwrap();
    assert_eq!(wide.total.runs, 29);
    assert_eq!(wide.groups.len(), 1);
    assert_eq!(wide.groups[0].key.as_deref(), Some("shell"));
    assert_eq!(wide.total.duration_ms.max, Some(99_999));

    // A window that ends before it starts says so.
    let bad = insights::insights(
        &store,
        &InsightsQuery {
            since: q.until,
            until: q.since,
            ..q.clone()
        },
    )
    .unwrap_err();
    assert!(bad.to_string().contains("before it starts"), "{bad}");
}

#[test]
fn failure_reasons_group_messages_that_differ_only_in_numbers_paths_and_ids() {
    let (_dir, store) = temp_store();
    let now = flightdeck_core::clock::now().as_millis();
    let t = task(&store, "deploy").id;
    let failed = |at: i64, error: &str| {
        seed(
            &store,
            &t,
            &Seed {
                status: "failed",
                queued_at: at,
                queue_ms: 1,
                duration_ms: Some(5),
                attempt: 1,
                error: Some(error),
            },
        )
    };
    let oldest = failed(
        now - 5_000,
        "exit code 3 after 1.5 s writing /tmp/build-123/out.log",
    );
    let middle = failed(
        now - 4_000,
        "exit code 17 after 20 s writing /home/ci/work/out.log",
    );
    let latest = failed(now - 3_000, "exit code 2 after 300 s writing ./out.log");
    failed(
        now - 2_000,
        "run 01a24b9a-ec07-72a2-9c60-3ee39a36cc0d: connection refused (port 5432)",
    );
    let q = InsightsQuery {
        since: Timestamp::from_millis(now - DAY),
        until: Timestamp::from_millis(now + 1),
        by: InsightsGroup::Task,
    };
    let reasons = insights::failures(&store, &q, 10).unwrap();
    assert_eq!(reasons.len(), 2, "{reasons:#?}");
    assert_eq!(
        reasons[0].reason,
        "exit code <n> after <n> s writing <path>"
    );
    assert_eq!(reasons[0].count, 3);
    assert_eq!(
        reasons[0].example_run, latest,
        "the latest run is the example"
    );
    let listed: Vec<&str> = reasons[0].runs.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(
        listed,
        [&latest, &middle, &oldest],
        "every run of the reason, latest first"
    );
    assert_eq!(
        reasons[0].runs[2].error,
        "exit code 3 after 1.5 s writing /tmp/build-123/out.log"
    );
    assert_eq!(reasons[1].reason, "run <id>: connection refused (port <n>)");
    assert_eq!(reasons[1].count, 1);
    assert_eq!(insights::failures(&store, &q, 1).unwrap().len(), 1);
}

/// The figures with the kept days dropped: every one read from the runs themselves.
fn from_runs(store: &Store, q: &InsightsQuery) -> flightdeck_types::Insights {
    store
        .write(|w| {
            w.execute("DELETE FROM insights_days", [])?;
            Ok(())
        })
        .unwrap();
    let figures = insights::insights(store, q).unwrap();
    store
        .write(|w| {
            w.execute("DELETE FROM insights_days", [])?;
            Ok(())
        })
        .unwrap();
    figures
}

#[test]
fn kept_days_give_the_figures_of_the_runs_and_follow_every_write_and_merge() {
    let (_dir, store) = temp_store();
    let now = flightdeck_core::clock::now().as_millis();
    let t = task(&store, "nightly").id;
    let run = |store: &Store, t: &str, days_ago: i64, status: &str, ms: i64| {
        seed(
            store,
            t,
            &Seed {
                status,
                queued_at: now - days_ago * DAY,
                queue_ms: 3,
                duration_ms: Some(ms),
                attempt: 1,
                error: None,
            },
        )
    };
    for i in 0..12i64 {
        run(
            &store,
            &t,
            1 + i % 4,
            if i % 3 == 0 { "failed" } else { "succeeded" },
            100 + i * 10,
        );
    }
    let q = InsightsQuery {
        since: Timestamp::from_millis(now - 10 * DAY),
        until: Timestamp::from_millis(now + 1),
        by: InsightsGroup::Task,
    };
    let first = insights::insights(&store, &q).unwrap();
    let kept = count(
        &store,
        "SELECT count(*) FROM insights_days WHERE grouping = 'task'",
    );
    assert!(kept >= 9, "the window's ended days are kept: {kept} rows");
    assert_eq!(
        insights::insights(&store, &q).unwrap(),
        first,
        "read back from the kept days"
    );
    assert_eq!(from_runs(&store, &q), first);
    assert_eq!(first.total.runs, 12);

    // A run of a kept day changes: its day is dropped and read again.
    let changed = run(&store, &t, 2, "succeeded", 9_000);
    insights::insights(&store, &q).unwrap();
    store
        .write(|w| {
            w.execute(
                "UPDATE executions SET status = 'failed' WHERE id = ?1",
                [&changed],
            )?;
            Ok(())
        })
        .unwrap();
    let after = insights::insights(&store, &q).unwrap();
    assert_eq!(after.total.runs, 13);
    assert_eq!(
        after.total.by_status["failed"],
        first.total.by_status["failed"] + 1
    );
    assert_eq!(after.total.duration_ms.max, Some(9_000));
    assert_eq!(after, from_runs(&store, &q));
    // Removed (as retention does): gone from the figures.
    insights::insights(&store, &q).unwrap();
    store
        .write(|w| {
            w.execute("DELETE FROM executions WHERE id = ?1", [&changed])?;
            Ok(())
        })
        .unwrap();
    let removed = insights::insights(&store, &q).unwrap();
    assert_eq!(removed, first);
    // A row written whole into a kept day (as an import would): counted.
    store
        .write(|w| {
            w.execute(
                "INSERT INTO executions (id, task_id, executor, status, attempt, queued_at,
                     started_at, finished_at, spec)
                 VALUES ('imported', ?1, 'shell', 'succeeded', 1, ?2, ?2, ?2 + 8000, '{}')",
                rusqlite::params![t, now - 4 * DAY],
            )?;
            Ok(())
        })
        .unwrap();
    let imported = insights::insights(&store, &q).unwrap();
    assert_eq!(imported.total.runs, 13);
    assert_eq!(imported.total.duration_ms.max, Some(8_000));
    store
        .write(|w| {
            w.execute("DELETE FROM executions WHERE id = 'imported'", [])?;
            Ok(())
        })
        .unwrap();
    assert_eq!(insights::insights(&store, &q).unwrap(), first);

    // A run made on another device for a kept day, merged here: counted.
    let (_other_dir, other) = temp_store();
    ship(&store, &other);
    run(&other, &t, 3, "timed_out", 7_000);
    insights::insights(&store, &q).unwrap();
    ship(&other, &store);
    let merged = insights::insights(&store, &q).unwrap();
    assert_eq!(merged.total.runs, 13);
    assert_eq!(merged.total.by_status["timed_out"], 1);
    assert_eq!(merged.total.duration_ms.max, Some(7_000));
    assert_eq!(merged, from_runs(&store, &q));
    // ...and changed there later: the change is merged too.
    other
        .write(|w| {
            w.execute(
                "UPDATE executions SET status = 'succeeded' WHERE status = 'timed_out'",
                [],
            )?;
            Ok(())
        })
        .unwrap();
    insights::insights(&store, &q).unwrap();
    ship(&other, &store);
    let again = insights::insights(&store, &q).unwrap();
    assert_eq!(again.total.by_status.get("timed_out"), None);
    assert_eq!(again, from_runs(&store, &q));

    // Other groupings are kept on their own and agree with the runs too.
    for by in [
        InsightsGroup::Executor,
        InsightsGroup::Env,
        InsightsGroup::Schedule,
    ] {
        let q = InsightsQuery { by, ..q.clone() };
        let kept = insights::insights(&store, &q).unwrap();
        assert_eq!(insights::insights(&store, &q).unwrap(), kept);
        assert_eq!(kept, from_runs(&store, &q), "{by:?}");
    }
}
