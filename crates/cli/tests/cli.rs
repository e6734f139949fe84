//! The `flightdeck` binary end to end: real process, real store, real extensions.

use std::path::Path;

use serde_json::Value;

mod common;
#[path = "cli/export.rs"]
mod export;
#[path = "cli/import_archive.rs"]
mod import_archive;
#[path = "cli/import_tasks.rs"]
mod import_tasks;
#[path = "cli/insights.rs"]
mod insights;
#[path = "cli/restore.rs"]
mod restore;
#[path = "cli/schedules.rs"]
mod schedules;

use common::{fails, flightdeck, flightdeck_with_stdin, json, ok};

fn task_count(data: &Path) -> usize {
    json(data, &["task", "list", "--all"])
        .as_array()
        .unwrap()
        .len()
}

#[test]
fn task_lifecycle() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();

    let id = ok(d, &["task", "add", "Fix the login bug", "-p", "high"])
        .trim()
        .to_string();
    assert_eq!(id.len(), 36, "prints the new id: {id}");
    let created = json(
        d,
        &[
            "task",
            "add",
            "Write docs",
            "--description",
            "CLI reference",
            "--status",
            "blocked",
        ],
    );
    let docs_id = created["id"].as_str().unwrap().to_string();
    assert_eq!(created["status"], "blocked");
    assert_eq!(created["priority"], "medium");

    let all = json(d, &["task", "list"]);
    assert_eq!(all.as_array().unwrap().len(), 2);
    assert_eq!(all[0]["id"], id.as_str(), "most urgent first");

    let blocked = json(d, &["task", "list", "--status", "blocked"]);
    assert_eq!(blocked.as_array().unwrap().len(), 1);
    assert_eq!(blocked[0]["id"], docs_id.as_str());
    let found = json(d, &["task", "list", "--search", "cli REF"]);
    assert_eq!(
        found.as_array().unwrap().len(),
        1,
        "search is case-insensitive over descriptions"
    );

    let updated = json(
        d,
        &[
            "task",
            "update",
            &id,
            "--status",
            "in_progress",
            "--title",
            "Fix login",
        ],
    );
    assert_eq!(updated["status"], "in_progress");
    assert_eq!(updated["title"], "Fix login");
    assert_eq!(json(d, &["task", "show", &id])["title"], "Fix login");

    ok(d, &["task", "archive", &id]);
    assert_eq!(
        json(d, &["task", "list"]).as_array().unwrap().len(),
        1,
        "archived tasks are hidden"
    );
    assert_eq!(task_count(d), 2, "--all shows them");
    ok(d, &["task", "unarchive", &id]);
    assert_eq!(json(d, &["task", "list"]).as_array().unwrap().len(), 2);

    ok(d, &["task", "rm", &docs_id]);
    assert_eq!(task_count(d), 1);
    assert!(fails(d, &["task", "show", &docs_id]).contains("no task matches"));

    let history = json(d, &["audit", "--entity", &id]);
    let actions: Vec<&str> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        ["unarchive", "archive", "update", "create"],
        "newest first"
    );
    let update = &history[2];
    assert_eq!(update["changes"]["status"]["old"], "todo");
    assert_eq!(update["changes"]["status"]["new"], "in_progress");
    assert_eq!(update["changes"]["title"]["new"], "Fix login");
    assert!(
        update["changes"].get("priority").is_none(),
        "only changed fields are listed"
    );
    assert_eq!(update["device_id"].as_str().unwrap().len(), 32);
    let deleted = json(d, &["audit", "--entity", &docs_id]);
    assert_eq!(deleted[0]["action"], "delete");
    assert_eq!(deleted[0]["changes"]["title"]["old"], "Write docs");
}

#[test]
fn environment_lifecycle_and_task_links() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();

    let env = json(
        d,
        &[
            "env",
            "add",
            "web",
            "--path",
            "/srv/web",
            "--repo",
            "https://example.invalid/web.git",
            "--var",
            "RUST_LOG=debug",
            "--var",
            "URL=a=b",
            "--secret-var",
            "API_KEY",
            "--setup",
            "make deps",
            "--agent",
            "claude -p {prompt}",
        ],
    );
    let env_id = env["id"].as_str().unwrap().to_string();
    assert_eq!(env["env_vars"]["URL"], "a=b");
    assert_eq!(env["secret_vars"], serde_json::json!(["API_KEY"]));
    assert_eq!(env["working_dir"], "/srv/web");

    assert_eq!(json(d, &["env", "show", "web"])["id"], env_id.as_str());
    assert_eq!(json(d, &["env", "show", &env_id])["name"], "web");
    assert!(fails(d, &["env", "add", "web"]).contains("already exists"));

    let task = json(d, &["task", "add", "Deploy", "--env", "web"]);
    assert_eq!(task["environment_id"], env_id.as_str());
    assert_eq!(
        json(d, &["task", "list", "--env", "web"])
            .as_array()
            .unwrap()
            .len(),
        1
    );
    ok(d, &["task", "add", "Elsewhere"]);
    assert_eq!(
        json(d, &["task", "list", "--env", &env_id])
            .as_array()
            .unwrap()
            .len(),
        1
    );

    let renamed = json(
        d,
        &[
            "env",
            "update",
            "web",
            "--name",
            "website",
            "--unset-var",
            "URL",
            "--var",
            "PORT=8080",
            "--no-setup",
        ],
    );
    assert_eq!(renamed["name"], "website");
    assert_eq!(
        renamed["env_vars"],
        serde_json::json!({"PORT": "8080", "RUST_LOG": "debug"})
    );
    assert_eq!(renamed["setup_script"], Value::Null);
    let list = json(d, &["env", "list"]);
    assert_eq!(list.as_array().unwrap().len(), 1);

    assert!(fails(d, &["env", "rm", "website"]).contains("--force"));
    let deleted = json(d, &["env", "rm", "website", "--force"]);
    assert_eq!(deleted["id"], env_id.as_str());
    let task_after = json(d, &["task", "show", task["id"].as_str().unwrap()]);
    assert_eq!(
        task_after["environment_id"],
        Value::Null,
        "--force clears the tasks' environment"
    );

    let history = json(d, &["audit", "--entity", &env_id]);
    let actions: Vec<&str> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["delete", "update", "create"]);
    assert_eq!(history[1]["changes"]["name"]["old"], "web");
}

#[test]
fn secret_values_go_to_the_keyring_and_never_into_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(d, &["env", "add", "api", "--secret-var", "TOKEN"]);
    assert_eq!(
        json(d, &["env", "show", "api"])["secret_status"]["TOKEN"],
        "missing"
    );

    let secret = format!("s3cr3t-{}", std::process::id());
    let run = flightdeck_with_stdin(
        d,
        &["env", "secret", "set", "api", "TOKEN"],
        Some(&format!("{secret}\n")),
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        json(d, &["env", "show", "api"])["secret_status"]["TOKEN"],
        "set"
    );

    // A new name is declared on the environment as it is stored.
    let run = flightdeck_with_stdin(d, &["env", "secret", "set", "api", "OTHER"], Some("v"));
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        json(d, &["env", "show", "api"])["secret_vars"],
        serde_json::json!(["OTHER", "TOKEN"])
    );

    for file in walk(d) {
        let bytes = std::fs::read(&file).unwrap();
        let found = bytes.windows(secret.len()).any(|w| w == secret.as_bytes());
        assert!(!found, "the secret value leaked into {}", file.display());
    }

    let empty = flightdeck_with_stdin(d, &["env", "secret", "set", "api", "TOKEN"], Some(""));
    assert_ne!(empty.code, 0);
    assert!(
        empty.stderr.contains("no secret on standard input"),
        "{}",
        empty.stderr
    );

    ok(d, &["env", "secret", "rm", "api", "TOKEN"]);
    let shown = json(d, &["env", "show", "api"]);
    assert_eq!(shown["secret_vars"], serde_json::json!(["OTHER"]));
    ok(d, &["env", "rm", "api"]);
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

#[test]
fn bad_input_is_refused_with_one_line_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let id = ok(d, &["task", "add", "Existing"]).trim().to_string();
    ok(d, &["env", "add", "web"]);

    let cases: &[(&[&str], &str)] = &[
        (&["task", "add", ""], "title: must not be empty"),
        (&["task", "add", "   "], "title: must not be empty"),
        (
            &["task", "add", "x", "--env", "nope"],
            "no environment named or with id `nope`",
        ),
        (
            &["task", "add", "x", "--status", "doing"],
            "unknown status `doing`; expected one of todo",
        ),
        (
            &["task", "add", "x", "--priority", "asap"],
            "unknown priority `asap`",
        ),
        (
            &["task", "list", "--env", "nope"],
            "no environment named or with id `nope`",
        ),
        (&["task", "update", &id], "nothing to change"),
        (
            &["task", "update", &id, "--title", ""],
            "title: must not be empty",
        ),
        (
            &["task", "update", "no-such-id", "--title", "x"],
            "no task matches `no-such-id`",
        ),
        (&["task", "rm", "no-such-id"], "no task matches"),
        (&["task", "frobnicate"], "unrecognized subcommand"),
        (
            &["task", "add", "x", "--bogus"],
            "unexpected argument '--bogus'",
        ),
        (
            &["env", "add", "bad", "--var", "1X=2"],
            "`1X` is not a valid variable name",
        ),
        (
            &["env", "add", "bad", "--var", "NOEQUALS"],
            "`NOEQUALS` is not KEY=VALUE",
        ),
        (
            &["env", "add", "bad", "--secret-var", "A-B"],
            "`A-B` is not a valid variable name",
        ),
        (
            &["env", "add", "bad", "--var", "K=1", "--secret-var", "K"],
            "already a plain variable",
        ),
        (&["env", "add", "a/b"], "contains `/`"),
        (&["env", "add", "web"], "already exists"),
        (
            &["env", "update", "web", "--unset-var", "MISSING"],
            "`MISSING` is not a variable of `web`",
        ),
        (&["env", "show", "nope"], "no environment matches `nope`"),
        (
            &["--workspace", "../etc", "task", "list"],
            "is not a workspace name",
        ),
    ];
    for (args, expected) in cases {
        let line = fails(d, args);
        assert!(
            line.contains(expected),
            "`{}` said {line:?}, expected {expected:?}",
            args.join(" ")
        );
    }
    assert_eq!(task_count(d), 1, "no half-written tasks");
    assert_eq!(json(d, &["env", "list"]).as_array().unwrap().len(), 1);
    assert_eq!(
        json(d, &["audit"]).as_array().unwrap().len(),
        2,
        "only the two real creates were audited"
    );
}

#[test]
fn json_errors_are_one_json_line() {
    let dir = tempfile::tempdir().unwrap();
    let run = flightdeck(dir.path(), &["--json", "task", "add", ""]);
    assert_eq!(run.code, 1);
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(lines.len(), 1);
    let err: Value = serde_json::from_str(lines[0]).unwrap();
    assert_eq!(err["error"]["code"], "invalid");
    assert_eq!(err["error"]["field"], "title");
}

#[test]
fn workspaces_are_separate_databases() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(d, &["task", "add", "In default"]);
    ok(d, &["--workspace", "team", "task", "add", "In team"]);
    let default = json(d, &["task", "list"]);
    let team = json(d, &["--workspace", "team", "task", "list"]);
    assert_eq!(default[0]["title"], "In default");
    assert_eq!(team[0]["title"], "In team");
    assert_eq!(team.as_array().unwrap().len(), 1);
    assert!(d.join("workspaces/team/flightdeck.db").is_file());
}

#[test]
fn json_task_shape_is_stable() {
    let dir = tempfile::tempdir().unwrap();
    let task = json(dir.path(), &["task", "add", "Shape"]);
    assert_eq!(
        sorted_keys(&task),
        [
            "archived",
            "created_at",
            "description",
            "environment_id",
            "expected_secs",
            "id",
            "priority",
            "status",
            "title",
            "updated_at"
        ]
    );
    let env = json(dir.path(), &["env", "add", "shape"]);
    assert_eq!(
        sorted_keys(&env),
        [
            "agent_command",
            "agent_context",
            "base_branch",
            "created_at",
            "env_vars",
            "id",
            "name",
            "repository",
            "secret_vars",
            "setup_script",
            "updated_at",
            "working_dir"
        ]
    );
}

fn sorted_keys(value: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = value
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort();
    keys
}

/// `flightdeck --json task add x | head -5` where the reader has gone before the CLI writes:
/// the command still does its work and ends quietly, with no panic on the broken pipe.
#[test]
fn a_closed_stdout_ends_the_command_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for args in [
        &["--json", "task", "add", "x"][..],
        &["task", "add", "y"][..],
        &["--json", "task", "list"][..],
    ] {
        let mut child = common::command(d, args)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // No reader is left: every write the CLI makes to stdout fails with EPIPE.
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert_eq!(out.status.code(), Some(0), "{args:?}: {stderr}");
        assert!(stderr.is_empty(), "{args:?} printed on stderr: {stderr}");
    }
    assert_eq!(task_count(d), 2, "both tasks were created");
}

#[test]
fn with_json_a_refused_command_line_is_one_json_error() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        &["--json", "task", "add"][..],
        &["task", "--json", "frobnicate"][..],
        &["--json", "task", "add", "x", "--priority", "sometimes"][..],
    ] {
        let run = flightdeck(dir.path(), args);
        assert_eq!(run.code, 2, "{args:?}");
        assert_eq!(run.stderr.lines().count(), 1, "{args:?}: {}", run.stderr);
        let body: Value = serde_json::from_str(run.stderr.trim()).unwrap();
        assert_eq!(body["error"]["code"], "usage", "{args:?}");
        assert!(!body["error"]["message"].as_str().unwrap().is_empty());
    }
    let plain = flightdeck(dir.path(), &["task", "add"]);
    assert!(plain.stderr.starts_with("error: "), "{}", plain.stderr);
}

#[test]
fn version_names_the_commit_and_completions_print_for_each_shell() {
    let dir = tempfile::tempdir().unwrap();
    let version = ok(dir.path(), &["--version"]);
    let commit = std::process::Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .unwrap();
    let commit = String::from_utf8(commit.stdout).unwrap();
    assert_eq!(
        version.trim(),
        format!(
            "flightdeck {} (commit {})",
            env!("CARGO_PKG_VERSION"),
            commit.trim()
        )
    );
    for (shell, marker) in [
        ("bash", "complete -F _flightdeck"),
        ("zsh", "#compdef flightdeck"),
        ("fish", "complete -c flightdeck"),
    ] {
        let script = ok(dir.path(), &["completions", shell]);
        assert!(script.contains(marker), "{shell}: {}", &script[..200]);
        assert!(script.contains("insights"), "{shell} completes subcommands");
    }
    let bad = fails(dir.path(), &["completions", "tcsh"]);
    assert!(bad.contains("tcsh"), "{bad}");
    assert!(
        !dir.path().join("workspaces").exists(),
        "no workspace is made for either"
    );
}
