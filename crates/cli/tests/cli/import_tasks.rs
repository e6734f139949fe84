//! `flightdeck import` of tasks from a CSV file and from GitHub issues (`gh issue list
//! --json`), through the real binary: columns found by name or mapped, statuses and
//! priorities mapped, problems named by line and column with nothing written, the same file
//! twice changing nothing, and the conflict policies on rows edited since.

use std::path::Path;

use serde_json::Value;

use super::common::{fails, json, ok};

/// The workspace's tasks by title.
fn tasks(d: &Path) -> std::collections::BTreeMap<String, Value> {
    json(d, &["task", "list", "--all"])
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["title"].as_str().unwrap().to_string(), t.clone()))
        .collect()
}

fn counts(report: &Value) -> [u64; 4] {
    let t = &report["entities"]["tasks"];
    ["created", "updated", "unchanged", "skipped"].map(|k| t[k].as_u64().unwrap())
}

/// A Jira-like export: a byte order mark, CRLF line ends, quoted fields with commas, quotes
/// and a line break inside, an empty row, a status and priority of Jira's own.
const JIRA: &str = "\u{feff}Issue key,Summary,Status,Priority,Description,Created\r\n\
    OPS-1,\"Rotate keys, then restart\",To Do,Highest,\"First line\r\nsecond \"\"quoted\"\" line\",2026-11-01 09:30\r\n\
    ,,,,,\r\n\
    OPS-2,Write the runbook,In Progress,Low,,2026-11-02\r\n\
    OPS-3,Drop the old bucket,Won't Do,Medium,,2026-11-03T10:00:00Z\r\n";

#[test]
fn a_csv_of_tasks_imports_once_with_its_columns_found_or_mapped() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let file = d.join("jira.csv");
    std::fs::write(&file, JIRA).unwrap();
    let path = file.to_str().unwrap();

    let dry = json(d, &["import", path, "--dry-run"]);
    assert_eq!(counts(&dry), [3, 0, 0, 0], "the empty row is passed over");
    assert!(tasks(d).is_empty(), "a dry run writes nothing");

    let report = json(d, &["import", path]);
    assert_eq!(counts(&report), [3, 0, 0, 0]);
    let all = tasks(d);
    let first = &all["Rotate keys, then restart"];
    assert_eq!(first["description"], "First line\r\nsecond \"quoted\" line");
    assert_eq!(first["status"], "todo");
    assert_eq!(first["priority"], "urgent");
    assert_eq!(first["created_at"], "2026-11-01T09:30:00.000Z");
    assert_eq!(all["Write the runbook"]["status"], "in_progress");
    assert_eq!(all["Write the runbook"]["priority"], "low");
    assert_eq!(all["Drop the old bucket"]["status"], "cancelled");
    assert_eq!(
        all["Drop the old bucket"]["created_at"],
        "2026-11-03T10:00:00.000Z"
    );
    let audit = json(d, &["audit"]);
    let created: Vec<&Value> = audit
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["entity"] == "task" && a["action"] == "create")
        .collect();
    assert_eq!(
        created.len(),
        3,
        "each task created through the write path, with its audit row: {audit}"
    );

    let again = json(d, &["import", path]);
    assert_eq!(
        counts(&again),
        [0, 0, 3, 0],
        "the same file twice changes nothing"
    );
    assert_eq!(tasks(d), all);

    // The issue key names the task: an edited summary is the same task, by the policy.
    let id = all["Write the runbook"]["id"].as_str().unwrap().to_string();
    std::fs::write(
        &file,
        JIRA.replace("Write the runbook", "Write the runbook v2"),
    )
    .unwrap();
    assert_eq!(counts(&json(d, &["import", path])), [0, 0, 2, 1]);
    assert!(
        tasks(d).contains_key("Write the runbook"),
        "skip keeps ours"
    );
    let report = json(d, &["import", path, "--on-conflict", "overwrite"]);
    assert_eq!(counts(&report), [0, 1, 2, 0]);
    let now = tasks(d);
    assert_eq!(now["Write the runbook v2"]["id"], id.as_str());
    assert_eq!(now.len(), 3);
}

#[test]
fn a_csv_with_other_column_names_takes_a_mapping() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let file = d.join("sheet.csv");
    std::fs::write(
        &file,
        "Ticket,What,Where we are,How bad,Opened\n\
         7,Renew the certificate,Parked,S1,2026-10-10\n\
         8,Clean the logs,Finished,S3,2026-10-11\n",
    )
    .unwrap();
    let path = file.to_str().unwrap();

    let refused = fails(d, &["import", path]);
    assert!(
        refused.contains("no `title` column")
            && refused.contains("Ticket, What, Where we are, How bad, Opened")
            && refused.contains("--map title=COLUMN"),
        "{refused}"
    );
    let map = "title=What,status=Where we are,priority=How bad,created_at=Opened,key=Ticket";
    let refused = fails(d, &["import", path, "--map", map]);
    assert!(
        refused.contains("line 2 (column Where we are)")
            && refused.contains("`Parked` is not a status")
            && refused.contains("--status-map")
            && refused.contains("line 2 (column How bad)")
            && refused.contains("`S1` is not a priority")
            && refused.contains("line 3 (column Where we are)"),
        "every unknown value named by line and column: {refused}"
    );
    assert!(tasks(d).is_empty(), "nothing written");

    let report = json(
        d,
        &[
            "import",
            path,
            "--map",
            map,
            "--status-map",
            "Parked=blocked,Finished=done",
            "--priority-map",
            "S1=urgent",
            "--priority-map",
            "S3=low",
        ],
    );
    assert_eq!(counts(&report), [2, 0, 0, 0]);
    let all = tasks(d);
    assert_eq!(all["Renew the certificate"]["status"], "blocked");
    assert_eq!(all["Renew the certificate"]["priority"], "urgent");
    assert_eq!(
        all["Renew the certificate"]["created_at"],
        "2026-10-10T00:00:00.000Z"
    );
    assert_eq!(all["Clean the logs"]["status"], "done");
    assert_eq!(all["Clean the logs"]["priority"], "low");
}

#[test]
fn bad_csv_files_and_mappings_are_named_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let write = |name: &str, bytes: &[u8]| {
        let file = d.join(name);
        std::fs::write(&file, bytes).unwrap();
        file.to_str().unwrap().to_string()
    };
    let good = write("good.csv", b"title,status\nOne,todo\n");
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec![good.clone(), "--map".into(), "title=Name".into()],
            "title=Name: the CSV has no column `Name`; its columns: title, status",
        ),
        (
            vec![good.clone(), "--map".into(), "colour=title".into()],
            "`colour` is not a task field; map some of: title, description",
        ),
        (
            vec![good.clone(), "--map".into(), "title".into()],
            "--map `title` is not NAME=VALUE",
        ),
        (
            vec![good.clone(), "--status-map".into(), "Parked=someday".into()],
            "--status-map Parked=someday: unknown status `someday`",
        ),
        (
            vec![good.clone(), "--repo".into(), "acme/widgets".into()],
            "--repo is for a github file",
        ),
        (
            vec![write("dup.csv", b"title\nSame\nSame\n")],
            "line 3: the same row as line 2",
        ),
        (
            vec![write("keys.csv", b"key,title\nA-1,One\nA-1,Two\n")],
            "line 3: its key is line 2's too",
        ),
        (
            vec![write("untitled.csv", b"title,status\n,todo\n")],
            "line 2 (column title): no title",
        ),
        (
            vec![write("latin1.csv", b"title\ncaf\xe9\n")],
            "line 2: not UTF-8 text",
        ),
        (
            vec![write("time.csv", b"title,created\nOne,last tuesday\n")],
            "line 2 (column created): `last tuesday` is not a time",
        ),
        (vec![write("empty.csv", b"")], "the CSV has no header row"),
    ];
    for (args, expected) in cases {
        let mut argv = vec!["import"];
        argv.extend(args.iter().map(String::as_str));
        let message = fails(d, &argv);
        assert!(
            message.contains(expected),
            "{argv:?}: expected {expected:?} in {message}"
        );
    }
    assert!(tasks(d).is_empty(), "no refused file wrote anything");
    ok(d, &["import", &good]);
    assert_eq!(tasks(d).len(), 1, "the good file imports");
}

/// Issues as `gh issue list --json number,title,body,state,stateReason,labels,createdAt,url`
/// prints them (label objects as gh writes them).
fn issues(url: bool) -> String {
    let issue = |n: u64, title: &str, body: &str, state: &str, reason: &str, labels: &[&str]| {
        let labels: Vec<Value> = labels
            .iter()
            .map(|l| serde_json::json!({"id": "LA_1", "name": l, "description": "", "color": "d73a4a"}))
            .collect();
        let mut v = serde_json::json!({
            "number": n, "title": title, "body": body, "state": state, "stateReason": reason,
            "labels": labels, "createdAt": format!("2026-11-{n:02}T08:00:00Z"),
        });
        if url {
            v["url"] = format!("https://github.com/acme/widgets/issues/{n}").into();
        }
        v
    };
    serde_json::to_string_pretty(&serde_json::json!([
        issue(
            12,
            "Crash on start",
            "Steps:\r\n1. open the app",
            "OPEN",
            "",
            &["bug", "priority: high"]
        ),
        issue(
            13,
            "Dark mode",
            "",
            "OPEN",
            "",
            &["enhancement", "in progress", "P0"]
        ),
        issue(14, "Old idea", "", "CLOSED", "NOT_PLANNED", &[]),
        issue(15, "Fixed thing", "done", "CLOSED", "COMPLETED", &["minor"]),
    ]))
    .unwrap()
}

#[test]
fn github_issues_import_with_state_labels_and_url() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let file = d.join("issues.json");
    std::fs::write(&file, issues(true)).unwrap();
    let path = file.to_str().unwrap();

    assert_eq!(counts(&json(d, &["import", path])), [4, 0, 0, 0]);
    let all = tasks(d);
    let crash = &all["Crash on start"];
    assert_eq!(crash["status"], "todo");
    assert_eq!(crash["priority"], "high");
    assert_eq!(crash["created_at"], "2026-11-12T08:00:00.000Z");
    assert_eq!(
        crash["description"],
        "Steps:\r\n1. open the app\n\nGitHub: https://github.com/acme/widgets/issues/12\nLabels: bug, priority: high"
    );
    assert_eq!(all["Dark mode"]["status"], "in_progress");
    assert_eq!(all["Dark mode"]["priority"], "urgent");
    assert_eq!(all["Old idea"]["status"], "cancelled");
    assert_eq!(all["Fixed thing"]["status"], "done");
    assert_eq!(all["Fixed thing"]["priority"], "low");
    assert_eq!(
        counts(&json(d, &["import", path])),
        [0, 0, 4, 0],
        "the same issues twice change nothing"
    );

    // Listed without their url: the repository is asked for, and gives the same tasks.
    let bare = d.join("bare.json");
    std::fs::write(&bare, issues(false)).unwrap();
    let bare = bare.to_str().unwrap();
    let refused = fails(d, &["import", bare]);
    assert!(
        refused.contains("issue #12 (field url): no url") && refused.contains("--repo OWNER/NAME"),
        "{refused}"
    );
    let report = json(d, &["import", bare, "--repo", "acme/widgets"]);
    assert_eq!(counts(&report), [0, 0, 4, 0], "{report}");
    assert_eq!(tasks(d), all);

    let broken = d.join("broken.json");
    std::fs::write(&broken, "[{\"number\": 1, \"title\": \"x\"").unwrap();
    let refused = fails(d, &["import", broken.to_str().unwrap(), "--from", "github"]);
    assert!(refused.contains("not a list of GitHub issues"), "{refused}");
}
