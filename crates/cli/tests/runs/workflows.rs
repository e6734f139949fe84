//! `flightdeck workflow ...` through the real binary: the hello-dag file as the README gives
//! it, clear errors, and crash safety under kill -9 at many points.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Stdio};

use serde_json::Value;

use super::common::{command, fails, flightdeck, json, ok};
use super::until;

const HELLO_DAG: &str = r#"name: hello-dag
params:
  greeting: { type: string, default: hello }
steps:
  - id: make
    shell: echo "word={{ params.greeting }}" >> "$FLIGHTDECK_OUTPUT"
  - id: left
    needs: [make]
    shell: echo "left-{{ steps.make.outputs.word }}"
  - id: right
    needs: [make]
    shell: echo "right-{{ steps.make.outputs.word }}"
  - id: join
    needs: [left, right]
    shell: echo joined
"#;

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

#[test]
fn the_hello_dag_file_works_as_written() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let file = write(d, "hello-dag.yaml", HELLO_DAG);
    assert!(ok(d, &["workflow", "apply", &file]).starts_with("applied hello-dag v1"));
    assert!(ok(d, &["workflow", "apply", &file]).contains("unchanged"));

    let run = flightdeck(
        d,
        &[
            "workflow",
            "start",
            "hello-dag",
            "--param",
            "greeting=hi",
            "--follow",
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let out: Vec<&str> = run.stdout.lines().collect();
    assert!(out.contains(&"[left] left-hi"), "{}", run.stdout);
    assert!(out.contains(&"[right] right-hi"), "{}", run.stdout);
    assert!(run.stderr.contains("▸ join succeeded"), "{}", run.stderr);

    let runs = json(d, &["workflow", "runs"]);
    let id = runs[0]["id"].as_str().unwrap().to_string();
    assert_eq!(runs[0]["status"], "succeeded");
    assert_eq!(
        ok(d, &["workflow", "logs", &id, "left"]),
        "[left] left-hi\n"
    );
    // Each step is an ordinary run: its log is the run's log.
    let left = json(d, &["workflow", "status", &id])["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == "left")
        .unwrap()["execution_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(ok(d, &["runs", "logs", &left]), "left-hi\n");
    let status = ok(d, &["workflow", "status", &id]);
    assert!(status.contains("progress:  4/4 steps done"), "{status}");

    // Bad input: one readable line each, and nothing started.
    let line = fails(
        d,
        &["workflow", "start", "hello-dag", "--param", "colour=red"],
    );
    assert!(line.contains("unknown parameter `colour`"), "{line}");
    let bad = write(
        d,
        "bad.yaml",
        "name: bad\nsteps:\n  - id: a\n    needs: [b]\n    shell: 'true'\n",
    );
    let line = fails(d, &["workflow", "validate", &bad]);
    assert!(
        line.contains("step `a`, field `needs`: unknown step `b`"),
        "{line}"
    );
    let line = fails(d, &["workflow", "start", "nope"]);
    assert!(line.contains("no workflow matches `nope`"), "{line}");
    assert_eq!(json(d, &["workflow", "runs"]).as_array().unwrap().len(), 1);

    // A failing run exits non-zero, naming the step.
    let failing = write(
        d,
        "fails.yaml",
        "name: fails\nsteps:\n  - id: boom\n    shell: exit 4\n",
    );
    ok(d, &["workflow", "apply", &failing]);
    let run = flightdeck(d, &["workflow", "start", "fails", "--follow"]);
    assert_eq!(run.code, 1);
    let last = run.stderr.lines().last().unwrap();
    assert!(last.contains("failed: step `boom` failed"), "{last}");
}

/// Steps that each append a line to their own counter file, some before their work (a kill
/// during the work leaves the effect done but the step running) and some as the very last
/// thing (a kill right after it lands between the step's exit and the write recording it).
fn crashy(dir: &Path) -> String {
    let c = |s: &str| dir.join(s).display().to_string();
    let retry = "retry: { max_attempts: 20, base_delay_ms: 10, jitter: 0 }";
    format!(
        "name: crashy
concurrency: 2
steps:
  - id: s1
    {retry}
    shell: echo x >> {s1}; sleep 0.2
  - id: s2
    needs: [s1]
    {retry}
    shell: sleep 0.2; echo x >> {s2}
  - id: p1
    needs: [s2]
    {retry}
    shell: echo x >> {p1}; sleep 0.15
  - id: p2
    needs: [s2]
    {retry}
    shell: sleep 0.15; echo x >> {p2}
  - id: s3
    needs: [p1, p2]
    {retry}
    shell: echo x >> {s3}
  - id: s4
    needs: [s3]
    {retry}
    shell: sleep 0.1; echo x >> {s4}
",
        s1 = c("s1"),
        s2 = c("s2"),
        p1 = c("p1"),
        p2 = c("p2"),
        s3 = c("s3"),
        s4 = c("s4"),
    )
}

const STEPS: [&str; 6] = ["s1", "s2", "p1", "p2", "s3", "s4"];

fn count(dir: &Path, step: &str) -> usize {
    std::fs::read_to_string(dir.join(step))
        .map(|t| t.lines().count())
        .unwrap_or(0)
}

fn status(data: &Path, run: &str) -> Value {
    json(data, &["workflow", "status", run])
}

fn succeeded_steps(status: &Value) -> Vec<String> {
    status["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["status"] == "succeeded")
        .map(|s| s["id"].as_str().unwrap().to_string())
        .collect()
}

/// kill -9: no clean-up code runs.
fn kill(mut child: Child) {
    child.kill().unwrap();
    child.wait().unwrap();
}

fn worker(data: &Path, run: &str, segment: usize) -> Child {
    // The three kinds of worker take turns resuming: `workflow follow` (as `start
    // --follow` runs it) and the daemon.
    let args: Vec<&str> = if segment % 3 == 2 {
        vec!["daemon"]
    } else {
        vec!["workflow", "follow", run]
    };
    command(data, &args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

#[test]
fn kill_nine_at_many_points_never_loses_or_repeats_a_finished_step() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let file = write(d, "crashy.yaml", &crashy(d));
    ok(d, &["workflow", "apply", &file]);
    let mut kills = 0;
    for round in 0..2 {
        for step in STEPS {
            std::fs::remove_file(d.join(step)).ok();
        }
        let first = command(d, &["workflow", "start", "crashy", "--follow"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let run = until("the run to exist", || {
            json(d, &["workflow", "runs", "--status", "running"])
                .as_array()
                .and_then(|r| r.first().cloned())
                .or_else(|| {
                    json(d, &["workflow", "runs", "--status", "queued"])
                        .as_array()
                        .and_then(|r| r.first().cloned())
                })
                .and_then(|r| r["id"].as_str().map(String::from))
        });
        // The count each step had when the store first recorded it succeeded; it must
        // never move again.
        let mut recorded: BTreeMap<String, usize> = BTreeMap::new();
        let mut child = Some(first);
        let mut segment = 0;
        // Kill points: each step's side effect appearing, then the step recorded done.
        for step in STEPS {
            for recorded_phase in [false, true] {
                let process = child.take().unwrap_or_else(|| worker(d, &run, segment));
                until(
                    &format!(
                        "{step} {}",
                        if recorded_phase { "recorded" } else { "effect" }
                    ),
                    || {
                        if recorded_phase {
                            succeeded_steps(&status(d, &run))
                                .contains(&step.to_string())
                                .then_some(())
                        } else {
                            (count(d, step) > 0).then_some(())
                        }
                    },
                );
                kill(process);
                kills += 1;
                segment += 1;
                let now = status(d, &run);
                assert_ne!(now["run"]["status"], "failed", "round {round}: {now}");
                for done in succeeded_steps(&now) {
                    let c = count(d, &done);
                    let first = *recorded.entry(done.clone()).or_insert(c);
                    assert_eq!(c, first, "{done} ran again after it was recorded done");
                }
            }
        }
        // One more worker runs it to the end.
        let last = flightdeck(d, &["workflow", "follow", &run]);
        assert_eq!(last.code, 0, "{}", last.stderr);
        let end = status(d, &run);
        assert_eq!(end["run"]["status"], "succeeded");
        for step in STEPS {
            let c = count(d, step);
            assert!(c >= 1, "{step} never ran");
            if let Some(first) = recorded.get(step) {
                assert_eq!(c, *first, "{step} ran again after it was recorded done");
            }
        }
        let counts: Vec<(&str, usize)> = STEPS.iter().map(|s| (*s, count(d, s))).collect();
        let attempts: Vec<(String, u64)> = end["steps"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                (
                    s["id"].as_str().unwrap().to_string(),
                    s["attempt"].as_u64().unwrap(),
                )
            })
            .collect();
        eprintln!("round {round}: side effects {counts:?}, attempts {attempts:?}");
        // Every side effect is an attempt's, and no step takes more attempts than the kills
        // could cause (one per kill, past its first).
        for ((step, effects), (id, attempt)) in counts.iter().zip(&attempts) {
            assert_eq!(step, id);
            assert!(
                *attempt >= *effects as u64 && *effects >= 1,
                "{step}: {effects} side effects, {attempt} attempts"
            );
            assert!(
                *attempt <= 1 + 12,
                "{step}: {attempt} attempts for 12 kills"
            );
        }
        let snapshots = json(d, &["workflow", "snapshots", &run]);
        assert!(snapshots
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["label"] == "interrupted"));
    }
    assert!(kills >= 20, "{kills} kill points");
}

#[test]
fn workflow_show_prints_a_file_that_apply_takes_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(
        d,
        &["workflow", "apply", &write(d, "hello.yaml", HELLO_DAG)],
    );
    let shown = ok(d, &["workflow", "show", "hello-dag"]);
    assert!(shown.contains("shell: echo joined"), "{shown}");
    let again = json(d, &["workflow", "apply", &write(d, "shown.yaml", &shown)]);
    assert_eq!(
        again["changed"], false,
        "the printed file is the same definition: {again}"
    );
    assert_eq!(again["workflow"]["version"], 1);

    // Versions as everything prints them: `v1`.
    let changed = HELLO_DAG.replace("echo joined", "echo all-joined");
    ok(
        d,
        &["workflow", "apply", &write(d, "hello2.yaml", &changed)],
    );
    let diff = ok(d, &["workflow", "diff", "hello-dag", "v1", "v2"]);
    assert!(
        diff.contains("+    shell: echo all-joined") || diff.contains("+  shell: echo all-joined"),
        "{diff}"
    );
    let old = ok(d, &["workflow", "show", "hello-dag", "--version", "v1"]);
    assert!(old.contains("echo joined"), "{old}");
    let bad = fails(d, &["workflow", "diff", "hello-dag", "v0", "x2"]);
    assert!(bad.contains("is not a version"), "{bad}");

    // A boolean parameter takes TRUE as well as true, yes and 1.
    let flags = "name: flags\nparams:\n  dry: { type: boolean }\nsteps:\n  - id: a\n    shell: echo {{ params.dry }}\n";
    ok(d, &["workflow", "apply", &write(d, "flags.yaml", flags)]);
    for yes in ["TRUE", "Yes", "on"] {
        let started = json(
            d,
            &[
                "workflow",
                "start",
                "flags",
                "--param",
                &format!("dry={yes}"),
            ],
        );
        assert_eq!(started["checkpoint"]["params"]["dry"], true, "{yes}");
    }
}

/// Every stdout line of `args` (with --json) as JSON; the command must succeed.
fn json_lines(d: &Path, args: &[&str]) -> Vec<Value> {
    let mut with_json = vec!["--json"];
    with_json.extend_from_slice(args);
    let run = flightdeck(d, &with_json);
    assert_eq!(run.code, 0, "{}", run.stderr);
    run.stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not one JSON line ({e}): {l}")))
        .collect()
}

#[test]
fn streaming_commands_print_json_lines_with_the_run_id_first() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(
        d,
        &["workflow", "apply", &write(d, "hello.yaml", HELLO_DAG)],
    );
    let lines = json_lines(d, &["workflow", "start", "hello-dag", "--follow"]);
    assert_eq!(lines[0]["type"], "run", "{:?}", lines[0]);
    let id = lines[0]["id"].as_str().unwrap().to_string();
    let last = lines.last().unwrap();
    assert_eq!(
        (last["type"].as_str(), last["run"]["id"].as_str()),
        (Some("end"), Some(id.as_str()))
    );
    assert_eq!(last["run"]["status"], "succeeded");
    assert!(
        lines
            .iter()
            .any(|l| l["type"] == "log" && l["data"] == "joined"),
        "{lines:?}"
    );
    assert!(lines
        .iter()
        .any(|l| l["type"] == "step" && l["step"] == "join"));

    let task = ok(d, &["task", "add", "Lines"]).trim().to_string();
    let lines = json_lines(d, &["run", &task, "--shell", "echo hi"]);
    assert_eq!(lines[0]["type"], "run");
    let run_id = lines[0]["id"].as_str().unwrap().to_string();
    assert!(lines
        .iter()
        .any(|l| l["type"] == "event" && l["kind"] == "stdout" && l["data"] == "hi"));
    assert_eq!(lines.last().unwrap()["run"]["status"], "succeeded");
    let logged = json_lines(d, &["runs", "logs", &run_id]);
    assert!(logged
        .iter()
        .all(|l| l["type"] == "event" && l["execution_id"] == run_id.as_str()));
}

#[test]
fn follow_and_status_say_what_a_person_needs_to_know() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mark = d.join("flaky-once");
    let yaml = format!(
        "name: gate\nparams:\n  v: {{ type: string, default: '1.2' }}\nsteps:\n  - id: flaky\n    retry: {{ max_attempts: 2, base_delay_ms: 10 }}\n    shell: if test -f {m}; then sleep 0.5; else touch {m}; exit 1; fi\n  - id: ask\n    needs: flaky\n    kind: approval\n    message: Ship {{{{ params.v }}}}?\n  - id: after\n    needs: ask\n    shell: echo shipped\n",
        m = mark.display()
    );
    ok(d, &["workflow", "apply", &write(d, "gate.yaml", &yaml)]);
    let follower = command(d, &["workflow", "start", "gate", "--follow"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let run = until("the run to wait for approval", || {
        let runs = json(d, &["workflow", "runs"]);
        let run = runs.as_array()?.first()?.clone();
        (run["status"] == "waiting_approval").then(|| run["id"].as_str().unwrap().to_string())
    });
    let status = ok(d, &["workflow", "status", &run]);
    assert!(status.contains("ask: Ship 1.2?"), "{status}");
    ok(d, &["workflow", "approve", &run, "ask"]);
    let out = follower.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("attempt 1 failed: exited with code 1"),
        "{stderr}"
    );
    assert!(
        stderr.contains("waiting for approval (Ship 1.2?)"),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("workflow run {run} waiting_approval")),
        "{stderr}"
    );

    let rerun = flightdeck(d, &["workflow", "rerun", &run, "--from", "after"]);
    assert_eq!(rerun.code, 0, "{}", rerun.stderr);
    assert!(
        rerun.stderr.contains("reusing the outputs of ask, flaky"),
        "{}",
        rerun.stderr
    );
}

#[test]
fn a_secret_parameter_is_given_from_the_environment_and_masked() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let file = write(
        d,
        "deploy.yaml",
        "name: deploy\nparams:\n  token: { type: string, secret: true }\nsteps:\n  - id: use\n    shell: echo \"using {{ params.token }}\"\n",
    );
    ok(d, &["workflow", "apply", &file]);
    let value = "cli-s3cret-51d0";
    let run = command(
        d,
        &[
            "workflow",
            "start",
            "deploy",
            "--param-env",
            "token=DEPLOY_TOKEN",
            "--follow",
        ],
    )
    .env("DEPLOY_TOKEN", value)
    .output()
    .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr),
    );
    assert!(run.status.success(), "{stderr}");
    assert!(stdout.contains("[use] using ***"), "{stdout}");
    assert!(!stdout.contains(value) && !stderr.contains(value));
    let database: Vec<_> = walk(d)
        .into_iter()
        .filter(|p| p.to_string_lossy().contains(".db"))
        .collect();
    assert!(!database.is_empty(), "the workspace database is found");
    for path in database {
        let bytes = std::fs::read(&path).unwrap_or_default();
        assert!(
            !bytes.windows(value.len()).any(|w| w == value.as_bytes()),
            "the value is in {}",
            path.display()
        );
    }
    let missing = fails(
        d,
        &[
            "workflow",
            "start",
            "deploy",
            "--param-env",
            "token=NOT_SET_ANYWHERE",
        ],
    );
    assert!(
        missing.contains("--param-env token=NOT_SET_ANYWHERE: $NOT_SET_ANYWHERE is not set"),
        "{missing}"
    );
}

fn walk(path: &Path) -> Vec<std::path::PathBuf> {
    match std::fs::read_dir(path) {
        Ok(entries) => entries.flatten().flat_map(|e| walk(&e.path())).collect(),
        Err(_) => vec![path.to_path_buf()],
    }
}
