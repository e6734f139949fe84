//! The crash window between a step's command ending and its end being committed, hit on
//! purpose with a failpoint (debug builds only): the process dies with the side effect done
//! and unrecorded; the run resumes, that step runs once more (its second attempt), the steps
//! before it never again, and every attempt count is exactly what that implies.

use std::process::Stdio;

use serde_json::Value;

use super::common::{command, json, ok};

#[test]
fn a_kill_between_a_steps_exit_and_its_commit_runs_that_step_once_more() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let effect = |step: &str| d.join(step).display().to_string();
    let file = d.join("window.yaml");
    std::fs::write(
        &file,
        format!(
            "name: window\nsteps:\n  - id: a\n    shell: echo x >> {a}\n  - id: b\n    needs: a\n    shell: echo x >> {b}\n  - id: c\n    needs: b\n    shell: echo x >> {c}\n",
            a = effect("a"),
            b = effect("b"),
            c = effect("c")
        ),
    )
    .unwrap();
    ok(d, &["workflow", "apply", &file.display().to_string()]);
    let died = command(d, &["workflow", "start", "window", "--follow"])
        .env("FLIGHTDECK_FAILPOINT", "step-exited:b")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(
        died.status.signal(),
        Some(9),
        "the failpoint killed the process"
    );
    let count = |step: &str| std::fs::read_to_string(d.join(step)).map_or(0, |t| t.lines().count());
    assert_eq!((count("a"), count("b"), count("c")), (1, 1, 0));
    let runs = json(d, &["workflow", "runs"]);
    let run = runs[0]["id"].as_str().unwrap().to_string();
    assert_eq!(runs[0]["status"], "running");

    ok(d, &["workflow", "follow", &run]);
    let status = json(d, &["workflow", "status", &run]);
    assert_eq!(status["run"]["status"], "succeeded");
    let attempts: Vec<(String, u64)> = status["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s: &Value| {
            (
                s["id"].as_str().unwrap().to_string(),
                s["attempt"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        attempts,
        [
            ("a".to_string(), 1),
            ("b".to_string(), 2),
            ("c".to_string(), 1)
        ]
    );
    assert_eq!((count("a"), count("b"), count("c")), (1, 2, 1));
}
