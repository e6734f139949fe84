//! Runs, schedules and recovery through the real `flightdeck` binary: foreground runs, the
//! daemon as a real process (killed for real mid-run and started again), schedules and errors.

mod common;
#[path = "runs/control.rs"]
mod control;
#[path = "runs/failpoint.rs"]
mod failpoint;
#[path = "runs/fanout.rs"]
mod fanout;
#[path = "../../core/tests/common/git.rs"]
mod git;
#[path = "runs/replay.rs"]
mod replay;
#[path = "runs/workflows.rs"]
mod workflows;
#[path = "runs/worktrees.rs"]
mod worktrees;

use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::{command, fails, flightdeck, json, ok};
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(30);

/// Polls `check` until it yields a value, failing with `what` after `WAIT`.
fn until<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(start.elapsed() < WAIT, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn task(data: &Path) -> String {
    ok(data, &["task", "add", "Runnable"]).trim().to_string()
}

fn run_json(data: &Path, id: &str) -> Value {
    json(data, &["runs", "show", id])
}

struct Daemon(Child);

impl Daemon {
    fn start(data: &Path) -> Daemon {
        let child = command(data, &["daemon"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the daemon starts");
        Daemon(child)
    }

    /// A real SIGKILL: no clean-up code runs.
    fn kill(mut self) {
        self.0.kill().unwrap();
        self.0.wait().unwrap();
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_foreground_run_streams_its_output_and_sets_the_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let id = task(d);

    let good = flightdeck(
        d,
        &["run", &id, "--shell", "echo one; echo two >&2; echo three"],
    );
    assert_eq!(good.code, 0, "{}", good.stderr);
    assert_eq!(good.stdout, "one\nthree\n");
    assert_eq!(good.stderr, "two\n");

    let bad = flightdeck(d, &["run", &id, "--shell", "echo partial; exit 3"]);
    assert_eq!(bad.code, 1);
    assert_eq!(bad.stdout, "partial\n");
    let last = bad.stderr.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("error: run ") && last.ends_with("failed: exited with code 3"),
        "{last}"
    );

    let runs = json(d, &["runs", "list", "--task", &id]);
    let runs = runs.as_array().unwrap();
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0]["status"], "failed");
    assert_eq!(runs[0]["exit_code"], 3);
    assert_eq!(runs[1]["status"], "succeeded");
    let logs = ok(d, &["runs", "logs", runs[0]["id"].as_str().unwrap()]);
    assert!(logs.contains("partial"), "{logs}");
    // Filtered by executor and environment (the task has none).
    let count = |args: &[&str]| {
        let mut all = vec!["runs", "list", "--task", &id];
        all.extend_from_slice(args);
        json(d, &all).as_array().unwrap().len()
    };
    assert_eq!(count(&["--executor", "shell"]), 2);
    assert_eq!(count(&["--executor", "http"]), 0);
    ok(d, &["env", "add", "web"]);
    assert_eq!(count(&["--env", "web"]), 0);
    let unknown = flightdeck(d, &["runs", "list", "--env", "nope"]);
    assert_eq!(unknown.code, 1, "{}", unknown.stderr);
    assert_eq!(
        unknown.stderr.trim().lines().count(),
        1,
        "{}",
        unknown.stderr
    );

    // A non-zero exit is a medium error that waits for a person.
    let errors = json(d, &["errors", "list"]);
    assert_eq!(errors.as_array().unwrap().len(), 1);
    assert_eq!(errors[0]["severity"], "medium");
    assert_eq!(errors[0]["recovery_status"], "new");
}

#[test]
fn bad_run_and_schedule_input_is_refused_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let id = task(d);
    let cases: &[(&[&str], &str)] = &[
        (
            &["run", "no-such-task", "--shell", "true"],
            "no task matches",
        ),
        (&["run", &id], "give --shell, --http or --agent-thread"),
        (
            &["run", &id, "--http", "http://x", "--header", "NoColon"],
            "is not 'Name: value'",
        ),
        (
            &[
                "schedule",
                "add",
                "s",
                "--task",
                &id,
                "--cron",
                "61 * * * *",
                "--shell",
                "true",
            ],
            "minute",
        ),
        (
            &[
                "schedule",
                "add",
                "s",
                "--task",
                &id,
                "--cron",
                "0 9 * * *",
                "--tz",
                "Mars/Base",
                "--shell",
                "true",
            ],
            "Mars/Base",
        ),
        (
            &["schedule", "add", "s", "--task", &id, "--shell", "true"],
            "--cron",
        ),
        (&["runs", "cancel", "nope"], "no run matches `nope`"),
        (
            &["errors", "retry", "nope"],
            "no error record matches `nope`",
        ),
    ];
    for (args, expected) in cases {
        let line = fails(d, args);
        assert!(
            line.contains(expected),
            "`{}`: expected `{expected}` in: {line}",
            args.join(" ")
        );
    }
    assert!(json(d, &["schedule", "list"])
        .as_array()
        .unwrap()
        .is_empty());
}

#[test]
fn schedules_list_their_next_fire_times_and_pause() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let id = task(d);
    let schedule = ok(
        d,
        &[
            "schedule",
            "add",
            "nightly",
            "--task",
            &id,
            "--cron",
            "30 2 * * *",
            "--tz",
            "Europe/Berlin",
            "--shell",
            "true",
        ],
    )
    .trim()
    .to_string();
    let next = json(d, &["schedule", "next", &schedule, "-n", "3"]);
    let next = next.as_array().unwrap();
    assert_eq!(next.len(), 3);
    for time in next {
        // 02:30 in Berlin is 00:30 or 01:30 UTC depending on daylight saving.
        let text = time.as_str().unwrap();
        assert!(
            text.contains("T00:30:00") || text.contains("T01:30:00"),
            "{text}"
        );
    }
    ok(d, &["schedule", "pause", &schedule]);
    assert!(json(d, &["schedule", "next", &schedule])
        .as_array()
        .unwrap()
        .is_empty());
    ok(d, &["schedule", "resume", &schedule]);
    let shown = json(d, &["schedule", "show", &schedule]);
    assert_eq!(shown["enabled"], true);
    ok(d, &["schedule", "rm", &schedule]);
    assert!(json(d, &["schedule", "list"])
        .as_array()
        .unwrap()
        .is_empty());
}

#[test]
fn a_killed_daemon_leaves_an_interrupted_run_that_the_next_one_retries() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let id = task(d);
    let marker = d.join("second-attempt");
    let pid_file = d.join("sleeper.pid");
    // The first attempt hangs (recording its pid); the retry finds the marker and succeeds.
    let script = format!(
        "if [ -e {m} ]; then echo recovered; else touch {m}; echo $$ > {p}; exec sleep 1000; fi",
        m = marker.display(),
        p = pid_file.display()
    );
    let daemon = Daemon::start(d);
    let run = ok(d, &["run", &id, "--shell", &script, "--detach"])
        .trim()
        .to_string();
    until("the daemon to start the run", || {
        (run_json(d, &run)["status"] == "running" && pid_file.exists()).then_some(())
    });
    // Killed once its process group is recorded (the record is written right after the
    // spawn; a kill before it would leave nothing to find, by design of the test, not of
    // recovery).
    until("the run's process group to be recorded", || {
        let logs = flightdeck(d, &["--json", "runs", "logs", &run]);
        logs.stdout
            .lines()
            .any(|l| l.contains("\"kind\":\"process\""))
            .then_some(())
    });
    daemon.kill();
    assert_eq!(
        run_json(d, &run)["status"],
        "running",
        "nobody marked it yet"
    );
    let orphan = std::fs::read_to_string(&pid_file).unwrap();

    let _daemon = Daemon::start(d);
    until("the run to be marked interrupted", || {
        (run_json(d, &run)["status"] == "interrupted").then_some(())
    });
    let retried = until("a retry to succeed", || {
        let runs = json(d, &["runs", "list", "--task", &id]);
        runs.as_array()
            .unwrap()
            .iter()
            .find(|r| r["retry_of"] == run.as_str() && r["status"] == "succeeded")
            .cloned()
    });
    assert_eq!(retried["attempt"], 2);
    let error = until("the error to be resolved", || {
        let errors = json(d, &["errors", "list"]);
        errors
            .as_array()
            .unwrap()
            .first()
            .filter(|e| e["recovery_status"] == "resolved")
            .cloned()
    });
    assert_eq!(error["severity"], "high");
    // The hung attempt's process group was killed when its run was found interrupted.
    let orphan = orphan.trim();
    until("the orphaned attempt to be gone", || {
        let alive = std::process::Command::new("kill")
            .args(["-0", orphan])
            .stderr(Stdio::null())
            .status()
            .unwrap()
            .success();
        (!alive).then_some(())
    });
}

#[test]
fn a_run_started_while_the_daemon_runs_is_executed_by_the_daemon() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let id = task(d);
    let _daemon = Daemon::start(d);
    // Wait until the daemon holds the worker lock.
    until("the daemon's worker lock", || {
        d.join("workspaces/default/flightdeck.db.worker.lock")
            .exists()
            .then_some(())
    });
    let run = flightdeck(d, &["run", &id, "--shell", "echo from-daemon"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout, "from-daemon\n");
}

#[test]
fn runs_settings_show_and_change_the_device_limits() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let shown = json(d, &["runs", "settings"]);
    assert_eq!(shown["concurrency"], 4);
    assert!(shown["step_concurrency"].as_u64().unwrap() >= 8, "{shown}");
    let changed = json(d, &["runs", "settings", "--step-concurrency", "2"]);
    assert_eq!(
        (
            changed["concurrency"].as_u64(),
            changed["step_concurrency"].as_u64()
        ),
        (Some(4), Some(2))
    );
    let kept = json(d, &["runs", "settings", "--concurrency", "6"]);
    assert_eq!(
        (
            kept["concurrency"].as_u64(),
            kept["step_concurrency"].as_u64()
        ),
        (Some(6), Some(2))
    );
    let refused = fails(d, &["runs", "settings", "--concurrency", "0"]);
    assert!(refused.contains("from 1 to 10000"), "{refused}");
}

#[test]
fn a_run_queued_with_no_worker_says_so_and_cancels_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let id = task(d);
    let queued = flightdeck(d, &["run", &id, "--shell", "true", "--detach"]);
    assert_eq!(queued.code, 0, "{}", queued.stderr);
    assert!(
        queued
            .stderr
            .contains("no worker is running on this workspace"),
        "{}",
        queued.stderr
    );
    let run_id = queued.stdout.trim().to_string();
    ok(d, &["runs", "cancel", &run_id]);
    let run = run_json(d, &run_id);
    assert_eq!(
        run["status"], "cancelled",
        "ended at once, with nothing running"
    );

    std::fs::write(
        d.join("w.yaml"),
        "name: w\nsteps:\n  - id: a\n    shell: 'true'\n",
    )
    .unwrap();
    ok(
        d,
        &["workflow", "apply", &d.join("w.yaml").display().to_string()],
    );
    let started = flightdeck(d, &["workflow", "start", "w"]);
    assert_eq!(started.code, 0, "{}", started.stderr);
    assert!(
        started.stderr.contains("no worker is running"),
        "{}",
        started.stderr
    );
    assert!(
        started.stderr.contains("workflow follow"),
        "{}",
        started.stderr
    );
    let wf_run = started.stdout.trim().to_string();
    let status = ok(d, &["workflow", "status", &wf_run]);
    assert!(status.contains("no worker is running"), "{status}");
    ok(d, &["workflow", "cancel", &wf_run]);
    let after = json(d, &["workflow", "status", &wf_run]);
    assert_eq!(after["run"]["status"], "cancelled", "{after}");
}
