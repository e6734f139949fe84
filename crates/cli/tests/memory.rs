//! `flightdeck memory ...` through the real binary, with the real all-MiniLM-L6-v2 model
//! (`$FLIGHTDECK_MODEL_DIR`) or, where a test says so, with no model at all.

use std::path::Path;
use std::process::Output;

use serde_json::Value;

mod common;
#[path = "memory/edit.rs"]
mod edit;
#[path = "memory/mcp.rs"]
mod mcp;

use common::{command, json, ok};

const STAGING: &str = "The staging database password is rotated every 90 days.";
const BACKUP: &str = "Nightly backups are copied to the Frankfurt bucket.";
const STANDUP: &str = "Standup moved to 9:30 on Mondays.";
const LOGIN: &str = "The login form posts to /api/session.";

/// Runs `flightdeck` with `$FLIGHTDECK_MODEL_DIR` pointing at an empty directory: no model.
fn without_model(data: &Path, args: &[&str]) -> Output {
    let empty = data.join("no-model");
    std::fs::create_dir_all(&empty).unwrap();
    command(data, args)
        .env("FLIGHTDECK_MODEL_DIR", &empty)
        .output()
        .unwrap()
}

fn stdout_json(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("--json prints JSON")
}

/// A command that must be refused: exit 1, nothing on stdout, exactly one stderr line.
fn refused(data: &Path, args: &[&str]) -> String {
    let out = command(data, args).output().unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(1), "`{}`: {stderr}", args.join(" "));
    assert!(out.stdout.is_empty(), "a failure prints nothing on stdout");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one readable line, got: {stderr:?}");
    lines[0].to_string()
}

fn add(data: &Path, content: &str) -> String {
    ok(data, &["memory", "add", content]).trim().to_string()
}

#[test]
fn add_then_search_finds_by_meaning_and_names_the_signal() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let ids: Vec<String> = [STAGING, BACKUP, STANDUP, LOGIN]
        .iter()
        .map(|c| add(d, c))
        .collect();
    assert!(ids.iter().all(|id| id.len() == 36), "add prints the id");

    // No word of the query is in the memory: only its meaning can find it.
    let found = json(
        d,
        &[
            "memory",
            "search",
            "how often do we change the test DB credentials",
        ],
    );
    assert_eq!(found["mode"], "hybrid");
    assert_eq!(found["model"], "all-MiniLM-L6-v2");
    assert!(found["note"].is_null());
    let top = &found["hits"][0];
    assert_eq!(top["memory"]["id"], ids[0].as_str());
    assert_eq!(top["memory"]["content"], STAGING);
    assert_eq!(top["matched"], serde_json::json!(["vector"]));
    assert_eq!(top["vector_rank"], 1);
    assert!(top["keyword_rank"].is_null());
    assert!(top["score"].as_f64().unwrap() > 0.0);

    // Words it does share add the keyword signal.
    let both = json(d, &["memory", "search", "nightly backups", "--limit", "1"]);
    assert_eq!(both["hits"].as_array().unwrap().len(), 1, "--limit holds");
    assert_eq!(both["hits"][0]["memory"]["id"], ids[1].as_str());
    assert_eq!(
        both["hits"][0]["matched"],
        serde_json::json!(["vector", "keyword"])
    );

    // The text form: a line saying how it ranked, then relevance, signals, id and content.
    let text = ok(
        d,
        &[
            "memory",
            "search",
            "when is the daily meeting",
            "--limit",
            "2",
        ],
    );
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].contains("by meaning (all-MiniLM-L6-v2)"), "{text}");
    assert!(lines[1].starts_with("RELEVANCE"), "{text}");
    assert!(
        lines[2].contains(&ids[2]) && lines[2].contains("vector"),
        "{text}"
    );
}

#[test]
fn without_a_model_search_is_keyword_only_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for c in [STAGING, BACKUP] {
        assert!(without_model(d, &["memory", "add", c]).status.success());
    }
    let found = stdout_json(&without_model(
        d,
        &["--json", "memory", "search", "staging password"],
    ));
    assert_eq!(found["mode"], "keyword_only");
    assert!(found["model"].is_null());
    assert!(
        found["note"]
            .as_str()
            .unwrap()
            .contains("no embedding model is installed"),
        "{found}"
    );
    assert_eq!(found["hits"][0]["memory"]["content"], STAGING);
    assert_eq!(found["hits"][0]["matched"], serde_json::json!(["keyword"]));

    let text = without_model(d, &["memory", "search", "staging password"]);
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(
        text.starts_with("keyword-only: no embedding model"),
        "{text}"
    );

    // By meaning alone nothing matches, and the person is told why.
    let text = without_model(
        d,
        &["memory", "search", "how often are credentials changed"],
    );
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(
        text.contains("keyword-only") && text.contains("no memories match"),
        "{text}"
    );
}

#[test]
fn reindex_builds_vectors_with_progress_on_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for c in [STAGING, BACKUP, STANDUP] {
        assert!(without_model(d, &["memory", "add", c]).status.success());
    }
    // The model is back, but the memories were indexed without it.
    let before = json(d, &["memory", "search", "when is the daily meeting"]);
    assert_eq!(before["mode"], "keyword_only");
    assert!(
        before["note"].as_str().unwrap().contains("memory reindex"),
        "{before}"
    );

    let out = command(d, &["--json", "memory", "reindex"])
        .output()
        .unwrap();
    let report = stdout_json(&out);
    assert_eq!(report["indexed"], 3);
    assert_eq!(report["mode"], "hybrid");
    assert_eq!(report["model"], "all-MiniLM-L6-v2");
    assert_eq!(report["dimension"], 384);
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.starts_with("\rreindexing with all-MiniLM-L6-v2 ["),
        "{stderr:?}"
    );
    assert!(
        stderr.contains("0/3") && stderr.ends_with("] 3/3\n"),
        "{stderr:?}"
    );

    let after = json(d, &["memory", "search", "when is the daily meeting"]);
    assert_eq!(after["mode"], "hybrid");
    assert_eq!(after["hits"][0]["memory"]["content"], STANDUP);
    assert_eq!(after["hits"][0]["vector_rank"], 1);

    // Without a model, reindex brings the full-text index up to date and says what it lacks.
    let plain = stdout_json(&without_model(d, &["--json", "memory", "reindex"]));
    assert_eq!(plain["mode"], "keyword_only");
    assert!(plain["model"].is_null());
}

#[test]
fn list_show_archive_and_filters_print_stable_json() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let task = json(d, &["task", "add", "Rotate credentials"]);
    let task_id = task["id"].as_str().unwrap();
    ok(d, &["env", "add", "staging"]);

    let scope = format!("task:{task_id}");
    let lesson = json(
        d,
        &[
            "memory",
            "add",
            STAGING,
            "--kind",
            "lesson",
            "--scope",
            &scope,
            "--importance",
            "0.9",
        ],
    );
    let keys: Vec<&str> = lesson
        .as_object()
        .unwrap()
        .keys()
        .map(|k| k.as_str())
        .collect();
    for key in [
        "id",
        "content",
        "kind",
        "scope",
        "importance",
        "source_execution_id",
        "access_count",
        "last_accessed_at",
        "archived",
        "summary_id",
        "created_at",
        "updated_at",
    ] {
        assert!(keys.contains(&key), "{key} missing from {lesson}");
    }
    assert_eq!(lesson["kind"], "lesson");
    assert_eq!(lesson["importance"], 0.9);
    assert_eq!(
        lesson["scope"],
        serde_json::json!({"kind": "task", "id": task_id})
    );
    assert_eq!(lesson["archived"], false);
    let lesson_id = lesson["id"].as_str().unwrap().to_string();

    let env_note = json(d, &["memory", "add", BACKUP, "--scope", "env:staging"]);
    assert_eq!(env_note["scope"]["kind"], "environment");
    assert_eq!(env_note["kind"], "note", "the default kind");
    let global = add(d, LOGIN);

    let all = json(d, &["memory", "list"]);
    assert_eq!(all.as_array().unwrap().len(), 3);
    assert_eq!(all[0]["id"], global.as_str(), "newest first");
    let of_task = json(d, &["memory", "list", "--scope", &scope]);
    assert_eq!(of_task.as_array().unwrap().len(), 1);
    assert_eq!(of_task[0]["id"], lesson_id.as_str());
    let lessons = json(d, &["memory", "list", "--kind", "lesson"]);
    assert_eq!(lessons.as_array().unwrap().len(), 1);
    let globals = json(d, &["memory", "list", "--scope", "global"]);
    assert_eq!(globals.as_array().unwrap().len(), 1);
    assert_eq!(
        json(d, &["memory", "list", "--limit", "2"])
            .as_array()
            .unwrap()
            .len(),
        2
    );

    assert_eq!(json(d, &["memory", "show", &lesson_id])["content"], STAGING);
    let shown = ok(d, &["memory", "show", &lesson_id]);
    assert!(
        shown.contains(&format!("scope:         task:{task_id}")),
        "{shown}"
    );

    let archived = json(d, &["memory", "archive", &lesson_id]);
    assert_eq!(archived["archived"], true);
    assert_eq!(json(d, &["memory", "list"]).as_array().unwrap().len(), 2);
    let with_archived = json(d, &["memory", "list", "--archived"]);
    assert_eq!(with_archived.as_array().unwrap().len(), 3);
    let listed = ok(d, &["memory", "list", "--archived"]);
    assert!(listed.contains("[archived]"), "{listed}");

    // Archived memories are found only when asked for.
    let query = ["memory", "search", "staging database password"];
    let hidden = json(d, &query);
    assert!(hidden["hits"]
        .as_array()
        .unwrap()
        .iter()
        .all(|h| h["memory"]["id"] != lesson_id.as_str()));
    let mut asking = query.to_vec();
    asking.push("--archived");
    let found = json(d, &asking);
    assert_eq!(found["hits"][0]["memory"]["id"], lesson_id.as_str());
    assert_eq!(found["hits"][0]["memory"]["archived"], true);
}

#[test]
fn bad_input_gives_one_readable_line_and_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let line = refused(d, &["memory", "add", "   "]);
    assert!(
        line.starts_with("error: ") && line.contains("content"),
        "{line}"
    );
    let line = refused(d, &["memory", "add", "x", "--importance", "1.5"]);
    assert!(
        line.contains("importance") && line.contains("between 0.0 and 1.0"),
        "{line}"
    );
    let line = refused(d, &["memory", "add", "x", "--importance", "-0.1"]);
    assert!(line.contains("importance"), "{line}");
    let line = refused(d, &["memory", "add", "x", "--scope", "team"]);
    assert!(line.contains("`team` is not a scope"), "{line}");
    let line = refused(d, &["memory", "add", "x", "--scope", "task:nope"]);
    assert!(line.contains("nope"), "{line}");
    let line = refused(d, &["memory", "list", "--scope", "env:nowhere"]);
    assert!(line.contains("nowhere"), "{line}");
    let line = refused(d, &["memory", "search", "x", "--limit", "0"]);
    assert!(line.contains("limit"), "{line}");
    let line = refused(d, &["memory", "show", "no-such-id"]);
    assert!(line.contains("no-such-id"), "{line}");
    let line = refused(d, &["memory", "archive", "no-such-id"]);
    assert!(line.contains("no-such-id"), "{line}");
    assert_eq!(
        json(d, &["memory", "list"]),
        serde_json::json!([]),
        "nothing was written"
    );

    // With --json the one line is a JSON error naming the field.
    let line = refused(d, &["--json", "memory", "add", "x", "--importance", "2"]);
    let error: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(error["error"]["code"], "invalid");
    assert_eq!(error["error"]["field"], "importance");
}

/// With a daemon running, `memory search` asks it (its model is loaded) and gets the same
/// hits as a search in this process; the CLI process itself has no model to load (its
/// `$FLIGHTDECK_MODEL_DIR` is empty), yet the search ranks by meaning.
#[test]
fn with_a_daemon_running_search_is_answered_by_it_without_loading_the_model() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for c in [STAGING, BACKUP, STANDUP, LOGIN] {
        add(d, c);
    }
    let query = "how often are the credentials of the test DB changed";
    let local = json(d, &["memory", "search", query]);
    assert_eq!(local["served_by"], "this process");
    assert_eq!(local["mode"], "hybrid");

    let mut daemon = command(d, &["daemon"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let socket = d.join("workspaces/default/flightdeck.db.search.sock");
    let start = std::time::Instant::now();
    while !socket.exists() {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(30),
            "no search socket"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let served = stdout_json(&without_model(d, &["--json", "memory", "search", query]));
    daemon.kill().unwrap();
    daemon.wait().unwrap();
    assert_eq!(served["served_by"], "worker");
    assert_eq!(
        served["mode"], "hybrid",
        "ranked by meaning, with no model in this process"
    );
    let ids = |v: &Value| -> Vec<String> {
        v["hits"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["memory"]["id"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(ids(&served), ids(&local));
    assert!(served["hits"][0]["memory"]["content"]
        .as_str()
        .unwrap()
        .contains("staging database password"));
}

/// A query about nothing in the store returns nothing, and says how close the best came;
/// with the floor at 0 every candidate comes back.
#[test]
fn a_query_with_no_answer_returns_nothing_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for c in [STAGING, BACKUP, STANDUP, LOGIN] {
        add(d, c);
    }
    let none = json(d, &["memory", "search", "parental leave policy"]);
    assert_eq!(none["hits"].as_array().unwrap().len(), 0, "{none}");
    assert!(none["below_floor"].as_u64().unwrap() > 0);
    let text = ok(d, &["memory", "search", "parental leave policy"]);
    assert!(text.contains("nothing relevant"), "{text}");
    let all = json(
        d,
        &["memory", "search", "parental leave policy", "--floor", "0"],
    );
    assert_eq!(all["hits"].as_array().unwrap().len(), 4);
    // Scores are on a 0..1 scale, best first.
    let scores: Vec<f64> = all["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["relevance"].as_f64().unwrap())
        .collect();
    assert!(scores.iter().all(|s| (0.0..=1.0).contains(s)));
    // The floor is a setting of this device.
    assert!(ok(d, &["memory", "floor", "0"]).contains("relevance floor: 0"));
    assert_eq!(
        json(d, &["memory", "search", "parental leave policy"])["hits"]
            .as_array()
            .unwrap()
            .len(),
        4
    );
    let line = refused(d, &["memory", "floor", "2"]);
    assert!(line.contains("not between 0 and 1"), "{line}");
}

/// An identifier found in exactly one memory ranks it first, however common its other words.
#[test]
fn a_rare_exact_token_ranks_its_memory_first() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for c in [
        "Port 3000 conflicts with the docs server; run the web app on port 3001 instead.",
        "The staging Postgres listens on port 5433, not the default.",
        "Grafana is on port 3002 behind the VPN.",
        "Use port 8080 for the local API gateway.",
    ] {
        add(d, c);
    }
    let found = json(d, &["memory", "search", "port 5433"]);
    assert!(
        found["hits"][0]["memory"]["content"]
            .as_str()
            .unwrap()
            .contains("5433"),
        "{found}"
    );
    let bare = json(d, &["memory", "search", "5433"]);
    assert!(bare["hits"][0]["memory"]["content"]
        .as_str()
        .unwrap()
        .contains("5433"));
}

/// `memory context TASK` prints what an agent run of the task would be given: the memories a
/// search for the task returns, in its order; the settings change it and bad ones are refused.
#[test]
fn memory_context_shows_what_an_agent_run_would_get() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for c in [STAGING, BACKUP, STANDUP, LOGIN] {
        add(d, c);
    }
    let task = json(d, &["task", "add", "Rotate the staging database password"]);
    let task_id = task["id"].as_str().unwrap();
    let searched: Vec<String> = json(
        d,
        &["memory", "search", "Rotate the staging database password"],
    )["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["memory"]["id"].as_str().unwrap().to_string())
        .collect();
    let context = json(d, &["memory", "context", task_id]);
    let given: Vec<String> = serde_json::from_value(context["memory_ids"].clone()).unwrap();
    assert_eq!(given, searched);
    let markdown = context["markdown"].as_str().unwrap();
    assert!(markdown.starts_with("# Task: Rotate the staging database password"));
    assert!(markdown.contains(STAGING), "{markdown}");
    // A preview counts nothing as used.
    let listed = json(d, &["memory", "list"]);
    assert!(listed
        .as_array()
        .unwrap()
        .iter()
        .all(|m| m["access_count"] == 0));

    let settings = json(
        d,
        &[
            "memory",
            "context-settings",
            "--memories",
            "1",
            "--runs",
            "0",
        ],
    );
    assert_eq!(settings["memories"], 1);
    assert_eq!(settings["enabled"], true);
    let one = json(d, &["memory", "context", task_id]);
    assert_eq!(one["memory_ids"].as_array().unwrap().len(), 1);
    let line = refused(d, &["memory", "context-settings", "--max-bytes", "100"]);
    assert!(line.contains("at least 1024"), "{line}");
    let line = refused(d, &["memory", "context", "no-such-task"]);
    assert!(line.contains("no task matches"), "{line}");
}
