//! The shell executor through the real runner: real child processes, a real store.

#[path = "common/mod.rs"]
mod common;
#[path = "common/git.rs"]
mod git;
#[path = "common/runner.rs"]
mod runner;
#[path = "runs_shell/slow.rs"]
mod slow;
#[path = "runs_shell/trust.rs"]
mod trust;
#[path = "runs_shell/worktree.rs"]
mod worktree;
#[path = "runs_shell/worktree_actions.rs"]
mod worktree_actions;

use flightdeck_core::runs;
use flightdeck_types::{ExecutionSpec, ExecutionStatus, NewExecution, RetryPolicy, ShellSpec};
use runner::{until, Rig};

fn alive(pid: &str) -> bool {
    std::process::Command::new("kill")
        .args(["-0", pid])
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap()
        .success()
}

#[test]
fn output_streams_in_order_and_the_exit_code_is_kept() {
    let rig = Rig::start();
    let ok = rig.queue("echo one; echo two >&2; echo three", None);
    let ok = rig.final_state(&ok.id);
    assert_eq!(ok.status, ExecutionStatus::Succeeded);
    assert_eq!(ok.exit_code, Some(0));
    let out = rig.output(&ok.id);
    let stdout: Vec<&str> = out
        .iter()
        .filter(|(k, _)| k == "stdout")
        .map(|(_, d)| d.as_str())
        .collect();
    assert_eq!(stdout, ["one", "three"]);
    assert!(out.contains(&("stderr".into(), "two".into())));

    let bad = rig.queue("exit 7", None);
    let bad = rig.final_state(&bad.id);
    assert_eq!(bad.status, ExecutionStatus::Failed);
    assert_eq!(bad.exit_code, Some(7));
}

#[test]
fn a_timeout_kills_the_command() {
    let rig = Rig::start();
    let run = rig.queue("sleep 1000", Some(1));
    let run = rig.final_state(&run.id);
    assert_eq!(run.status, ExecutionStatus::TimedOut);
}

#[test]
fn cancel_kills_grandchildren_too() {
    let rig = Rig::start();
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("grandchild.pid");
    let run = rig.queue(
        &format!("sleep 1000 & echo $! > {}; wait", pid_file.display()),
        None,
    );
    let pid = until("the grandchild's pid", || {
        std::fs::read_to_string(&pid_file)
            .ok()
            .filter(|p| p.ends_with('\n'))
    });
    let pid = pid.trim().to_string();
    assert!(alive(&pid));
    runs::request_cancel(&rig.store, &run.id).unwrap();
    let run = rig.final_state(&run.id);
    assert_eq!(run.status, ExecutionStatus::Cancelled);
    until("the grandchild to be killed", || {
        (!alive(&pid)).then_some(())
    });
}

#[test]
fn huge_output_is_capped_with_one_truncation_marker() {
    let rig = Rig::start();
    let run = rig.queue("yes 0123456789 | head -c 5000000", None);
    let run = rig.final_state(&run.id);
    assert_eq!(run.status, ExecutionStatus::Succeeded);
    let out = rig.output(&run.id);
    let kept: usize = out
        .iter()
        .filter(|(k, _)| k == "stdout")
        .map(|(_, d)| d.len() + 1)
        .sum();
    assert!(kept < 2_000_000, "kept {kept} bytes of 5,000,000");
    assert_eq!(out.iter().filter(|(k, _)| k == "truncated").count(), 1);
    assert_eq!(run.result.as_ref().unwrap()["truncated"], true);
}

/// A shell run whose exit code 75 means "retry after the time in `retry after N s`".
fn usage_limited(line: &str) -> NewExecution {
    NewExecution {
        spec: Some(ExecutionSpec::Shell(ShellSpec {
            line: Some(line.into()),
            retry_after_exit_code: Some(75),
            ..ShellSpec::default()
        })),
        retry_policy: Some(RetryPolicy {
            retry_after_pattern: Some(r"retry after (\d+) s".into()),
            ..RetryPolicy::default()
        }),
        ..NewExecution::default()
    }
}

#[test]
fn an_agent_usage_limit_schedules_the_retry_at_the_time_it_names() {
    let rig = Rig::start();
    // An agent CLI that hits its usage limit: exit 75 and say when to come back.
    let run = rig.queue_new(usage_limited(
        "echo 'usage limit reached; retry after 3 s'; exit 75",
    ));
    let run = rig.final_state(&run.id);
    assert_eq!(run.status, ExecutionStatus::Failed);
    assert_eq!(run.exit_code, Some(75));
    let at = run.result.as_ref().unwrap()["retry_after_at"]
        .as_i64()
        .expect("the retry-after time is read from the output");
    let finished = run.finished_at.unwrap().as_millis();
    assert!(
        (finished + 2_000..=finished + 3_000).contains(&at),
        "{at} vs {finished}"
    );
    let retry = rig.retry_of(&run.id);
    assert_eq!(retry.not_before.unwrap().as_millis(), at);
    assert_eq!(retry.attempt, 2);

    // The same exit code without the pattern's match is a plain failure left for a person.
    let plain = rig.queue_new(usage_limited("echo 'something else'; exit 75"));
    let plain = rig.final_state(&plain.id);
    assert!(plain
        .result
        .as_ref()
        .unwrap()
        .get("retry_after_at")
        .is_none());
}

/// Every byte of the store's files (the database and its WAL).
fn store_bytes(store: &flightdeck_core::Store) -> Vec<u8> {
    let mut bytes = std::fs::read(store.path()).unwrap();
    let wal = store.path().with_extension("db-wal");
    if let Ok(more) = std::fs::read(wal) {
        bytes.extend(more);
    }
    bytes
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle.as_bytes())
}

#[test]
fn a_secret_a_run_prints_is_masked_before_anything_is_stored() {
    use base64::Engine;
    use flightdeck_core::{environments, memory, secrets::OsKeyring};
    use flightdeck_types::{MemoryFilter, NewEnvironment};

    let rig = Rig::start();
    let env = environments::create(
        &rig.store,
        NewEnvironment {
            name: "vault".into(),
            ..NewEnvironment::default()
        },
    )
    .unwrap();
    // Unique per test run, so that finding it in the files means this run leaked it.
    let secret = format!("hunter2 SECRET/{}", uuid::Uuid::now_v7().simple());
    let keyring = OsKeyring::from_env().unwrap();
    environments::set_secret(&rig.store, &keyring, "vault", "API_TOKEN", &secret).unwrap();
    let script = r#"
        echo "token is $API_TOKEN"
        echo "on stderr: $API_TOKEN" >&2
        printf '%s' "$API_TOKEN" | base64 -w0; echo
        /usr/bin/python3 -c 'import os, urllib.parse; print("url=" + urllib.parse.quote(os.environ["API_TOKEN"], safe=""))'
        # One line written in two chunks, the value split between them.
        head=${API_TOKEN%??????????}
        printf 'split: %s' "$head"; sleep 0.05; printf '%s end\n' "${API_TOKEN#"$head"}"
        echo "memory: the deploy token is $API_TOKEN"
        printf '{"content": "from the file: %s"}\n' "$API_TOKEN" >> "$FLIGHTDECK_MEMORY_FILE"
        exit 3
    "#;
    let run = rig.queue_new(NewExecution {
        environment_id: Some(env.id.clone()),
        spec: Some(ExecutionSpec::Shell(ShellSpec {
            line: Some(script.into()),
            ..ShellSpec::default()
        })),
        ..NewExecution::default()
    });
    let run = rig.final_state(&run.id);
    assert_eq!(run.status, ExecutionStatus::Failed, "{:?}", run.error);

    let lines: Vec<String> = rig.output(&run.id).into_iter().map(|(_, d)| d).collect();
    for want in [
        "token is ***",
        "on stderr: ***",
        "***",
        "url=***",
        "split: *** end",
        "memory: the deploy token is ***",
    ] {
        assert!(lines.iter().any(|l| l == want), "no {want:?} in {lines:?}");
    }
    let all = MemoryFilter {
        include_archived: true,
        ..Default::default()
    };
    let mut memories: Vec<String> = memory::list(&rig.store, &all, 100)
        .unwrap()
        .into_iter()
        .map(|m| m.content)
        .collect();
    memories.sort();
    assert_eq!(
        memories,
        ["from the file: ***", "the deploy token is ***"],
        "memories are masked too"
    );

    let bytes = store_bytes(&rig.store);
    let b64 = base64::engine::general_purpose::STANDARD.encode(&secret);
    for leaked in [
        &secret,
        &b64,
        &secret.replace(' ', "%20").replace('/', "%2F"),
    ] {
        assert!(
            !contains(&bytes, leaked),
            "{leaked:?} is in the store's files"
        );
    }
    // The same value did reach the process: the masked lines above are its output.
    assert!(secret.len() >= 8);
}

/// Another process (an agent's `flightdeck mcp`) may add events to a running run; the run's
/// own output is numbered after them and nothing is lost.
#[test]
fn events_another_writer_adds_to_a_running_run_do_not_collide_with_its_output() {
    let rig = Rig::start();
    let gate_dir = tempfile::tempdir().unwrap();
    let gate = gate_dir.path().join("go");
    let run = rig.queue(
        &format!(
            "echo first; while [ ! -e '{}' ]; do sleep 0.02; done; echo second; echo third",
            gate.display()
        ),
        Some(30),
    );
    until("the first line", || {
        rig.output(&run.id)
            .iter()
            .any(|(_, line)| line == "first")
            .then_some(())
    });
    runs::add_event(&rig.store, &run.id, "progress", "halfway".into()).unwrap();
    std::fs::write(&gate, "").unwrap();
    let ended = rig.final_state(&run.id);
    assert_eq!(
        ended.status,
        ExecutionStatus::Succeeded,
        "{:?}",
        ended.error
    );
    let events = runs::events(&rig.store, &run.id, 0, 1000).unwrap();
    let kinds: Vec<(&str, &str)> = events
        .iter()
        .filter(|e| e.kind != "status" && e.kind != "process" && e.kind != "context")
        .map(|e| (e.kind.as_str(), e.data.as_str()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("stdout", "first"),
            ("progress", "halfway"),
            ("stdout", "second"),
            ("stdout", "third")
        ]
    );
}

#[test]
fn the_worker_holder_is_seen_while_the_lock_is_held() {
    let dir = tempfile::tempdir().unwrap();
    let store = flightdeck_core::Store::open(&dir.path().join("flightdeck.db")).unwrap();
    assert_eq!(runs::lock::worker_holder(&store), None);
    let lock = runs::WorkerLock::acquire(&store, "daemon").unwrap();
    let holder = runs::lock::worker_holder(&store).expect("held");
    assert!(holder.starts_with("daemon pid "), "{holder}");
    lock.release(&store).unwrap();
    assert_eq!(runs::lock::worker_holder(&store), None);
}
