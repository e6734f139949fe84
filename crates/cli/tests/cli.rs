//! The `flightdeck` binary end to end: real process, real store, real extensions.

use std::path::Path;

use serde_json::Value;

mod common;

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
fn restore_puts_tasks_back_as_they_were_at_an_instant() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let id = ok(d, &["task", "add", "Before"]).trim().to_string();
    let shown = json(d, &["task", "show", &id]);
    // An instant after the create; the rename below is stamped later (the clock is polled).
    let created_ms =
        flightdeck_types::Timestamp::parse_rfc3339(shown["updated_at"].as_str().unwrap())
            .unwrap()
            .as_millis();
    let then = loop {
        let now = flightdeck_core::clock::now();
        if now.as_millis() > created_ms + 1 {
            break now;
        }
        std::thread::yield_now();
    };
    while flightdeck_core::clock::now() <= then {
        std::thread::yield_now();
    }
    ok(d, &["task", "update", &id, "--title", "After"]);
    let extra = ok(d, &["task", "add", "Added later"]).trim().to_string();
    let to = then.to_rfc3339();

    let dry = ok(d, &["restore", "--all", "--to", &to, "--dry-run"]);
    assert!(
        dry.contains("dry run") && dry.contains("nothing was written"),
        "{dry}"
    );
    assert!(dry.contains("title: \"After\" -> \"Before\""), "{dry}");
    assert!(dry.contains(&extra) && dry.contains("delete"), "{dry}");
    assert_eq!(task_count(d), 2, "a dry run writes nothing");

    let one = json(d, &["restore", &id, "--to", &to]);
    assert_eq!(one["changes"][0]["action"], "revert");
    assert_eq!(json(d, &["task", "show", &id])["title"], "Before");
    assert_eq!(task_count(d), 2, "one task's restore leaves the others");

    let all = ok(d, &["restore", "--all", "--to", &to]);
    assert!(all.contains("restored 1 row(s)"), "{all}");
    assert_eq!(task_count(d), 1);

    // A time ago parses; a bad one is refused in one line naming the flag.
    let nothing = ok(d, &["restore", "--all", "--to", "1s"]);
    assert!(
        nothing.contains("nothing to restore") || nothing.contains("restored"),
        "{nothing}"
    );
    let bad = fails(d, &["restore", "--all", "--to", "yesterday"]);
    assert_eq!(bad.trim().lines().count(), 1, "{bad}");
    assert!(
        bad.contains("--to") || bad.contains("`yesterday` is not a time"),
        "{bad}"
    );
    let unknown = fails(d, &["restore", "no-such-id", "--to", "1d"]);
    assert!(unknown.contains("no-such-id"), "{unknown}");
}
