//! `flightdeck schedule add` through the real binary: times that never come refused, cron read as standard cron, an expected duration kept.

use super::common::{fails, json, ok};

#[test]
fn schedule_add_refuses_times_that_never_come() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let task = ok(d, &["task", "add", "Nightly"]).trim().to_string();
    let add = |timing: &[&str]| -> Vec<String> {
        let mut args = vec!["schedule", "add", "s", "--task", task.as_str()];
        args.extend_from_slice(timing);
        args.extend_from_slice(&["--shell", "true"]);
        args.iter().map(|a| a.to_string()).collect()
    };
    let run = |args: &[String]| {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        fails(d, &args)
    };
    let line = run(&add(&["--cron", "0 0 30 2 *"]));
    assert!(
        line.contains("`0 0 30 2 *` never fires: day 30 never occurs in February"),
        "{line}"
    );
    let line = run(&add(&["--cron", "0 0 31 4 *"]));
    assert!(line.contains("day 31 never occurs in April"), "{line}");
    let line = run(&add(&["--at", "2020-01-01T09:00:00Z"]));
    assert!(
        line.contains("`2020-01-01T09:00:00.000Z` is in the past")
            && line.contains("--misfire run_once"),
        "{line}"
    );
    assert!(json(d, &["schedule", "list"])
        .as_array()
        .unwrap()
        .is_empty());
    // Asked for a catch-up run, the past time is kept and fires once, now.
    let args = add(&["--at", "2020-01-01T09:00:00Z", "--misfire", "run_once"]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let id = ok(d, &args).trim().to_string();
    let shown = json(d, &["schedule", "show", &id]);
    assert_eq!(shown["next_fire_at"], shown["run_at"]);
}

#[test]
fn schedule_cron_is_standard_cron() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let task = ok(d, &["task", "add", "Weekdays"]).trim().to_string();
    for (typed, stored) in [
        ("0 9 * * 1-5", "0 0 9 * * MON-FRI"),
        ("0 9 * * 0", "0 0 9 * * SUN"),
        ("@daily", "0 0 0 * * *"),
    ] {
        let id = ok(
            d,
            &[
                "schedule",
                "add",
                typed,
                "--task",
                &task,
                "--cron",
                typed,
                "--tz",
                "America/New_York",
                "--shell",
                "true",
            ],
        )
        .trim()
        .to_string();
        let shown = json(d, &["schedule", "show", &id]);
        assert_eq!(shown["cron_expr"], stored, "{typed}");
        assert_eq!(shown["cron_dialect"], "standard");
        let human = ok(d, &["schedule", "show", &id]);
        assert!(
            human.contains(&format!("cron {stored} America/New_York")),
            "{human}"
        );
    }
    let line = fails(
        d,
        &[
            "schedule",
            "add",
            "x",
            "--task",
            &task,
            "--cron",
            "0 9 * * 8",
            "--shell",
            "true",
        ],
    );
    assert!(line.contains("0 and 7 = Sunday"), "{line}");
}

#[test]
fn schedule_add_takes_an_expected_duration() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let task = ok(d, &["task", "add", "Export"]).trim().to_string();
    let base = ["schedule", "add", "s", "--task", &task, "--cron", "@daily"];
    let with = |extra: &[&str]| -> Vec<String> {
        base.iter()
            .chain(extra)
            .chain(&["--shell", "true"])
            .map(|a| a.to_string())
            .collect()
    };
    let args = with(&["--expected", "5m"]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let id = ok(d, &args).trim().to_string();
    assert_eq!(json(d, &["schedule", "show", &id])["expected_secs"], 300);
    let args = with(&["--expected", "soon"]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let line = fails(d, &args);
    assert!(line.contains("`soon` is not a duration"), "{line}");
}
