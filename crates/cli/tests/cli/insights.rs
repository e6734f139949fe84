//! `flightdeck insights` over real runs of real processes.

use crate::common::{fails, flightdeck, json, ok};

#[test]
fn insights_count_real_runs_and_group_their_failures() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let task = ok(d, &["task", "add", "nightly build"]).trim().to_string();
    for line in ["true", "true", "true", "exit 3", "exit 4"] {
        flightdeck(d, &["run", &task, "--shell", line]);
    }

    let figures = json(d, &["insights", "--window", "1d"]);
    assert_eq!(figures["by"], "task");
    assert_eq!(figures["total"]["runs"], 5);
    let group = &figures["groups"][0];
    assert_eq!(group["key"], task.as_str());
    assert_eq!(group["label"], "nightly build");
    assert_eq!(group["by_status"]["succeeded"], 3);
    assert_eq!(group["by_status"]["failed"], 2);
    assert_eq!(group["success_rate"], 0.6);
    assert_eq!(group["duration_ms"]["count"], 5);
    assert!(
        group["duration_ms"]["p95"].as_i64().unwrap()
            >= group["duration_ms"]["p50"].as_i64().unwrap()
    );
    assert_eq!(figures["days"].as_array().unwrap().len(), 2);

    // The table names the task and shows its rate and a bar for today.
    let text = ok(d, &["insights", "--window", "1d"]);
    let row = text
        .lines()
        .find(|l| l.starts_with("nightly build"))
        .unwrap_or_else(|| panic!("a row for the task:\n{text}"));
    assert!(row.contains(" 60.0 "), "{row}");
    assert!(row.trim_end().ends_with('█'), "{row}");

    let by_executor = json(d, &["insights", "--by", "executor"]);
    assert_eq!(by_executor["groups"][0]["key"], "shell");

    // Two exit codes, one reason; the latest run is its example.
    let reasons = json(d, &["insights", "failures", "--window", "1d"]);
    let reasons = reasons.as_array().unwrap();
    assert_eq!(reasons.len(), 1, "{reasons:?}");
    assert_eq!(reasons[0]["count"], 2);
    assert!(
        reasons[0]["reason"].as_str().unwrap().contains("<n>"),
        "{:?}",
        reasons[0]
    );

    // A window before any run: nothing, and the text says how to widen it.
    let empty = ok(d, &["insights", "--since", "30d", "--until", "20d"]);
    assert!(empty.contains("no runs in this window"), "{empty}");

    let bad = fails(d, &["insights", "--window", "soon"]);
    assert!(bad.contains("not a span"), "{bad}");
    let bad = fails(d, &["insights", "--by", "colour"]);
    assert!(bad.contains("task, env, executor"), "{bad}");
}

#[test]
fn a_step_past_its_expected_duration_is_listed_as_slow() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let file = d.join("nightly.yaml");
    std::fs::write(
        &file,
        "name: nightly\nsteps:\n  - id: load\n    expected: 1s\n    shell: 'echo loading; sleep 2'\n",
    )
    .unwrap();
    ok(d, &["workflow", "apply", file.to_str().unwrap()]);
    ok(d, &["workflow", "start", "nightly", "--follow"]);

    let slow = json(d, &["insights", "slow", "--window", "1h"]);
    let slow = slow.as_array().unwrap();
    assert_eq!(slow.len(), 1, "{slow:?}");
    assert_eq!(slow[0]["kind"], "slow");
    assert_eq!(slow[0]["details"]["step"], "load");
    assert_eq!(slow[0]["details"]["expected_ms"], 1000);
    assert_eq!(slow[0]["details"]["ended"]["status"], "succeeded");
    let text = ok(d, &["insights", "slow"]);
    assert!(text.contains("succeeded after"), "{text}");

    let listed = json(d, &["errors", "list", "--kind", "slow"]);
    assert_eq!(listed.as_array().unwrap().len(), 1);
    let failures = json(d, &["errors", "list", "--kind", "failure"]);
    assert_eq!(failures.as_array().unwrap().len(), 0);
    let id = slow[0]["id"].as_str().unwrap();
    let refused = fails(d, &["errors", "retry", id]);
    assert!(refused.contains("nothing to retry"), "{refused}");
}

#[test]
fn health_names_what_needs_doing_and_clears_once_it_is_done() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let task = ok(d, &["task", "add", "import"]).trim().to_string();
    let health = json(d, &["health"]);
    let check = |h: &serde_json::Value, name: &str| {
        h["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .unwrap_or_else(|| panic!("a `{name}` check: {h}"))
            .clone()
    };
    for name in [
        "database",
        "wal",
        "disk",
        "memory_index",
        "sync",
        "worker",
        "backup",
    ] {
        check(&health, name);
    }
    assert_eq!(health["ok"], false, "no backup yet: {health}");
    let backup = check(&health, "backup");
    assert_eq!(backup["status"], "warn");
    assert!(backup["recommendation"]
        .as_str()
        .unwrap()
        .contains("backup now"));
    assert_eq!(check(&health, "sync")["status"], "ok", "not joined is fine");
    assert!(
        check(&health, "database")["figures"]["bytes"]
            .as_u64()
            .unwrap()
            > 0
    );
    assert!(
        check(&health, "disk")["figures"]["free_bytes"]
            .as_u64()
            .unwrap()
            > 0
    );

    // A run queued with no worker to run it: the worker check says what to start.
    let run = ok(d, &["run", &task, "--shell", "true", "--detach"])
        .trim()
        .to_string();
    let worker = check(&json(d, &["health"]), "worker");
    assert_eq!(worker["status"], "warn", "{worker}");
    assert_eq!(worker["figures"]["queued_here"], 1);
    assert!(worker["recommendation"]
        .as_str()
        .unwrap()
        .contains("flightdeck daemon"));

    ok(d, &["runs", "cancel", &run]);
    assert_eq!(check(&json(d, &["health"]), "worker")["status"], "ok");
    ok(d, &["backup", "now"]);
    let after = json(d, &["health"]);
    assert_eq!(check(&after, "backup")["status"], "ok", "{after}");
    let text = ok(d, &["health"]);
    assert!(text.contains("backup") && text.contains("OK"), "{text}");
}

#[test]
fn a_tasks_expected_duration_raises_the_alert_and_can_be_cleared() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let task = ok(d, &["task", "add", "nightly import", "--expected", "1s"])
        .trim()
        .to_string();
    assert_eq!(json(d, &["task", "show", &task])["expected_secs"], 1);
    ok(d, &["run", &task, "--shell", "echo importing; sleep 2"]);
    let slow = json(d, &["insights", "slow", "--window", "1h"]);
    let slow = slow.as_array().unwrap();
    assert_eq!(slow.len(), 1, "{slow:?}");
    let details = &slow[0]["details"];
    assert_eq!(details["judged_against"]["source"], "task");
    assert_eq!(details["expected_ms"], 1000);
    assert_eq!(details["last_lines"], serde_json::json!(["importing"]));

    ok(d, &["task", "update", &task, "--no-expected"]);
    assert_eq!(
        json(d, &["task", "show", &task])["expected_secs"],
        serde_json::Value::Null
    );
    let bad = fails(d, &["task", "update", &task, "--expected", "soon"]);
    assert!(bad.contains("not a duration"), "{bad}");
}
