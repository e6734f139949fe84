//! `flightdeck export` through the real binary: one zstd-compressed NDJSON file with a header,
//! a record per row and a manifest whose counts and checksums match the records; secret values
//! never in it, their names listed; `--entities` and `--since` narrow it; bad input makes no file.

use std::io::BufRead;
use std::path::Path;

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::common::{fails, json, ok};

/// The archive's lines, decompressed and parsed.
fn lines(file: &Path) -> Vec<Value> {
    let bytes = std::fs::read(file).unwrap();
    let plain = zstd::stream::decode_all(&bytes[..]).unwrap();
    plain
        .lines()
        .map(|l| serde_json::from_str(&l.unwrap()).unwrap())
        .collect()
}

/// A workspace with an environment `prod` whose secret API_TOKEN is set to `secret`, a task
/// `first` in it and a task `second`, a run of `first` printing `line`, and a memory `memory`;
/// the first task's id.
fn seeded(d: &Path, secret: &str, [first, second]: [&str; 2], line: &str, memory: &str) -> String {
    ok(
        d,
        &[
            "env",
            "add",
            "prod",
            "--var",
            "REGION=eu",
            "--secret-var",
            "API_TOKEN",
        ],
    );
    let _ = super::common::flightdeck_with_stdin(
        d,
        &["env", "secret", "set", "prod", "API_TOKEN"],
        Some(secret),
    );
    assert_eq!(
        json(d, &["env", "show", "prod"])["secret_status"]["API_TOKEN"],
        "set",
        "the secret is set on this device"
    );
    let task = ok(d, &["task", "add", first, "--env", "prod"])
        .trim()
        .to_string();
    ok(d, &["task", "add", second]);
    ok(d, &["run", &task, "--shell", &format!("echo {line}")]);
    ok(d, &["memory", "add", memory]);
    task
}

#[test]
fn export_writes_every_entity_with_a_manifest_that_checks_out() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let secret = "s3cr3t-value-never-exported";
    let task = seeded(
        d,
        secret,
        ["Ship the export", "Second"],
        "hello from the run",
        "Exports are NDJSON inside zstd",
    );

    let file = d.join("out.ndjson.zst");
    let manifest = json(d, &["export", "-o", file.to_str().unwrap(), "--quiet"]);
    assert!(!d.join("out.ndjson.zst.partial").exists());
    let all = lines(&file);
    let header = &all[0]["flightdeck_export"];
    assert_eq!(header["format_version"], 1);
    assert_eq!(header["workspace"], "default");
    let last = &all[all.len() - 1]["manifest"];
    assert_eq!(last, &manifest, "the file's manifest is the one printed");

    // Counts and checksums recomputed here from the records themselves.
    let plain = zstd::stream::decode_all(&std::fs::read(&file).unwrap()[..]).unwrap();
    let record_lines: Vec<&[u8]> = plain.split_inclusive(|b| *b == b'\n').collect();
    let record_lines = &record_lines[1..record_lines.len() - 1];
    let mut counts = std::collections::BTreeMap::<String, u64>::new();
    let mut hashes = std::collections::BTreeMap::<String, Sha256>::new();
    for line in record_lines {
        let record: Value = serde_json::from_slice(line).unwrap();
        let entity = record["entity"].as_str().unwrap().to_string();
        *counts.entry(entity.clone()).or_default() += 1;
        hashes.entry(entity).or_default().update(line);
    }
    for (entity, n) in &counts {
        assert_eq!(last["counts"][entity], *n, "{entity}");
        let hash = hex::encode(hashes.remove(entity).unwrap().finalize());
        assert_eq!(last["checksums"][entity], hash, "{entity}");
    }
    assert_eq!(last["counts"]["tasks"], 2);
    assert_eq!(last["counts"]["environments"], 1);
    assert_eq!(last["counts"]["executions"], 1);
    assert_eq!(last["counts"]["memories"], 1);
    assert!(last["counts"]["execution_events"].as_u64().unwrap() >= 1);
    assert!(last["counts"]["audit_log"].as_u64().unwrap() >= 4);
    assert_eq!(
        last["counts"].as_object().unwrap().len(),
        13,
        "every entity, zero included"
    );
    let task_row = all
        .iter()
        .find(|r| r["entity"] == "tasks" && r["row"]["id"] == task.as_str())
        .expect("the task's record");
    assert_eq!(task_row["row"]["title"], "Ship the export");

    // Secret values never; their names, to set again.
    assert!(
        !String::from_utf8_lossy(&plain).contains(secret),
        "a secret value is in the export"
    );
    assert_eq!(
        last["secrets"],
        serde_json::json!([{"environment": "prod", "name": "API_TOKEN"}])
    );

    // Narrowed: only tasks; only what changed since a moment ago (nothing).
    let tasks_only = d.join("tasks.ndjson.zst");
    ok(
        d,
        &[
            "export",
            "--entities",
            "tasks",
            "-o",
            tasks_only.to_str().unwrap(),
        ],
    );
    let t = lines(&tasks_only);
    assert_eq!(t.len(), 2 + 2, "header, two tasks, manifest");
    assert!(t[1..3].iter().all(|r| r["entity"] == "tasks"));
    let later = d.join("later.ndjson.zst");
    ok(
        d,
        &[
            "export",
            "--since",
            "2099-01-01T00:00:00Z",
            "-o",
            later.to_str().unwrap(),
        ],
    );
    assert_eq!(lines(&later).len(), 2, "header and manifest, no record");

    // Bad input: one line, and no file made.
    let bad = d.join("bad.ndjson.zst");
    let line = fails(
        d,
        &[
            "export",
            "--entities",
            "tasks,colours",
            "-o",
            bad.to_str().unwrap(),
        ],
    );
    assert!(
        line.contains("`colours` is not an entity") && line.contains("environments"),
        "{line}"
    );
    assert!(!bad.exists() && !d.join("bad.ndjson.zst.partial").exists());
    let line = fails(
        d,
        &[
            "export",
            "--since",
            "last tuesday",
            "-o",
            bad.to_str().unwrap(),
        ],
    );
    assert!(line.contains("last tuesday"), "{line}");
    assert!(!bad.exists());
}

/// The SHA-256 of the workspace's database file(s) as they are on disk.
fn disk_state(data: &Path) -> String {
    let dir = data.join("workspaces/default");
    let mut hash = Sha256::new();
    for name in ["flightdeck.db", "flightdeck.db-wal"] {
        if let Ok(bytes) = std::fs::read(dir.join(name)) {
            hash.update(name.as_bytes());
            hash.update(&bytes);
        }
    }
    hex::encode(hash.finalize())
}

#[test]
fn import_brings_an_export_in_once_all_or_nothing() {
    let (a_dir, b_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (a, b) = (a_dir.path(), b_dir.path());
    let task = seeded(
        a,
        "value",
        ["Move me", "Me too"],
        "moved",
        "Imports are all or nothing",
    );
    // A workflow with two versions and a finished run of it; an archived memory.
    let flow = a.join("hello.yaml");
    for greeting in ["hello", "hello again"] {
        std::fs::write(
            &flow,
            format!("name: hello\nsteps:\n  - id: greet\n    shell: echo {greeting}\n"),
        )
        .unwrap();
        ok(a, &["workflow", "apply", flow.to_str().unwrap()]);
    }
    ok(a, &["workflow", "start", "hello", "--follow"]);
    let old = ok(
        a,
        &["memory", "add", "The old release train left on Thursdays"],
    );
    ok(a, &["memory", "archive", old.trim()]);
    let file = a.join("a.ndjson.zst");
    let manifest = json(a, &["export", "-o", file.to_str().unwrap()]);
    assert_eq!(
        manifest["counts"]["workflows"], 2,
        "every version: {manifest}"
    );
    assert_eq!(manifest["counts"]["workflow_runs"], 1);
    assert_eq!(manifest["counts"]["memories"], 2);
    let file = file.to_str().unwrap();

    // A dry run on a workspace that exists: the report, and not a byte written.
    ok(b, &["task", "list"]);
    let before = disk_state(b);
    let dry = json(b, &["import", file, "--dry-run"]);
    assert_eq!(dry["dry_run"], true);
    assert_eq!(dry["entities"]["tasks"]["created"], 2);
    assert_eq!(disk_state(b), before, "a dry run wrote to the database");
    assert_eq!(json(b, &["task", "list"]).as_array().unwrap().len(), 0);

    // The import: every record created, the tasks and the run readable here.
    let done = json(b, &["import", file]);
    for (entity, n) in manifest["counts"].as_object().unwrap() {
        assert_eq!(done["entities"][entity]["created"], *n, "{entity}");
    }
    assert_eq!(
        done["secrets_to_set"],
        serde_json::json!([{"environment": "prod", "name": "API_TOKEN"}])
    );
    assert_eq!(json(b, &["task", "show", &task])["title"], "Move me");
    assert_eq!(
        json(b, &["runs", "list"]).as_array().unwrap().len(),
        2,
        "the task's run and the workflow step's"
    );
    let shown = ok(b, &["env", "show", "prod"]);
    assert!(shown.contains("API_TOKEN"), "{shown}");
    // Every row equal, timestamps included (the audit log also holds the import's own rows).
    let back = b.join("b.ndjson.zst");
    ok(b, &["export", "-o", back.to_str().unwrap()]);
    let rows = |f: &Path| -> std::collections::BTreeSet<String> {
        lines(f)
            .into_iter()
            .filter(|r| r.get("entity").is_some_and(|e| e != "audit_log"))
            .map(|r| r.to_string())
            .collect()
    };
    assert_eq!(rows(&back), rows(Path::new(file)));
    let found = json(
        b,
        &[
            "memory",
            "search",
            "what happens when an import fails halfway",
        ],
    );
    assert_eq!(
        found["hits"][0]["memory"]["content"], "Imports are all or nothing",
        "{found}"
    );
    let archived = json(
        b,
        &[
            "memory",
            "search",
            "which day did the release train leave",
            "--archived",
        ],
    );
    assert_eq!(
        archived["hits"][0]["memory"]["content"], "The old release train left on Thursdays",
        "the archived memory came archived and findable: {archived}"
    );
    assert_eq!(
        json(b, &["workflow", "versions", "hello"])
            .as_array()
            .unwrap()
            .len(),
        2
    );

    // Again: nothing changes, not a byte.
    let settled = disk_state(b);
    let again = json(b, &["import", file]);
    for (entity, n) in manifest["counts"].as_object().unwrap() {
        assert_eq!(again["entities"][entity]["unchanged"], *n, "{entity}");
        assert_eq!(again["entities"][entity]["created"], 0, "{entity}");
    }
    assert_eq!(
        disk_state(b),
        settled,
        "a second import wrote to the database"
    );

    // A row changed here: skipped by default, taken with --on-conflict overwrite.
    ok(b, &["task", "update", &task, "--title", "Renamed here"]);
    let skipped = json(b, &["import", file]);
    assert_eq!(skipped["entities"]["tasks"]["skipped"], 1);
    assert_eq!(json(b, &["task", "show", &task])["title"], "Renamed here");
    let taken = json(b, &["import", file, "--on-conflict", "overwrite"]);
    assert_eq!(taken["entities"]["tasks"]["updated"], 1);
    assert_eq!(json(b, &["task", "show", &task])["title"], "Move me");
    // `newer`: the row edited here since the export stays; a later edit there is taken.
    ok(
        b,
        &["task", "update", &task, "--title", "Renamed here again"],
    );
    let kept = json(b, &["import", file, "--on-conflict", "newer"]);
    assert_eq!(kept["entities"]["tasks"]["skipped"], 1);
    assert_eq!(
        json(b, &["task", "show", &task])["title"],
        "Renamed here again"
    );
    ok(
        a,
        &["task", "update", &task, "--title", "Renamed there, later"],
    );
    let later = a.join("later.ndjson.zst");
    ok(a, &["export", "-o", later.to_str().unwrap(), "--quiet"]);
    let newer = json(
        b,
        &["import", later.to_str().unwrap(), "--on-conflict", "newer"],
    );
    assert_eq!(newer["entities"]["tasks"]["updated"], 1);
    assert_eq!(
        json(b, &["task", "show", &task])["title"],
        "Renamed there, later"
    );
    ok(b, &["task", "update", &task, "--title", "Move me"]);

    // A damaged archive: refused, naming the entity, with nothing written.
    let plain = zstd::stream::decode_all(&std::fs::read(file).unwrap()[..]).unwrap();
    let text = String::from_utf8(plain)
        .unwrap()
        .replace("Me too", "Me three");
    let damaged = a.join("damaged.ndjson.zst");
    std::fs::write(
        &damaged,
        zstd::stream::encode_all(text.as_bytes(), 3).unwrap(),
    )
    .unwrap();
    let c_dir = tempfile::tempdir().unwrap();
    let c = c_dir.path();
    ok(c, &["task", "list"]);
    let state = disk_state(c);
    let line = fails(c, &["import", damaged.to_str().unwrap()]);
    assert!(
        line.contains("nothing imported") && line.contains("(tasks)") && line.contains("checksum"),
        "{line}"
    );
    assert_eq!(disk_state(c), state);

    // An archive from a newer Flightdeck: refused naming both versions.
    let newer = text.replacen("\"format_version\":1", "\"format_version\":7", 1);
    let newer_file = a.join("newer.ndjson.zst");
    std::fs::write(
        &newer_file,
        zstd::stream::encode_all(newer.as_bytes(), 3).unwrap(),
    )
    .unwrap();
    let line = fails(c, &["import", newer_file.to_str().unwrap()]);
    assert!(
        line.contains("format 7") && line.contains("this Flightdeck's 1"),
        "{line}"
    );
    assert_eq!(disk_state(c), state);
}

/// `file`'s archive with its text changed by `edit`, written as `name` beside it.
fn edited(file: &Path, name: &str, edit: impl Fn(Vec<u8>) -> Vec<u8>) -> std::path::PathBuf {
    let plain = zstd::stream::decode_all(&std::fs::read(file).unwrap()[..]).unwrap();
    let out = file.with_file_name(name);
    std::fs::write(&out, zstd::stream::encode_all(&edit(plain)[..], 3).unwrap()).unwrap();
    out
}

/// The archive's text with its line holding `needle` changed by `edit`.
fn with_line(needle: &str, edit: impl Fn(&str) -> String) -> impl Fn(Vec<u8>) -> Vec<u8> {
    let needle = needle.to_string();
    move |plain| {
        String::from_utf8(plain)
            .unwrap()
            .split_inclusive('\n')
            .map(|l| {
                if l.contains(&needle) {
                    edit(l)
                } else {
                    l.to_string()
                }
            })
            .collect::<String>()
            .into_bytes()
    }
}

#[test]
fn broken_archives_are_refused_with_what_is_wrong_and_nothing_written() {
    let (a_dir, c_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (a, c) = (a_dir.path(), c_dir.path());
    let task = ok(a, &["task", "add", "Broken on purpose"])
        .trim()
        .to_string();
    ok(a, &["run", &task, "--shell", "echo a line"]);
    let file = a.join("a.ndjson.zst");
    ok(a, &["export", "-o", file.to_str().unwrap(), "--quiet"]);
    let task_line = format!("\"id\":\"{task}\"");
    let cases: Vec<(&str, std::path::PathBuf, &str)> = vec![
        (
            "a wrong type",
            edited(&file, "type.zst", with_line(&task_line, |l| l.replace("\"priority\":1", "\"priority\":\"high\""))),
            "(tasks, field priority): \"high\" does not fit a INTEGER column",
        ),
        (
            "a status that does not exist",
            edited(&file, "status.zst", with_line(&task_line, |l| l.replace("\"status\":\"todo\"", "\"status\":\"someday\""))),
            "(tasks, field status): unknown status `someday`",
        ),
        (
            "a duplicate id",
            edited(&file, "dup.zst", with_line(&task_line, |l| format!("{l}{l}"))),
            "is in the archive twice",
        ),
        (
            "an unknown entity",
            edited(&file, "entity.zst", with_line(&task_line, |l| l.replace("\"entity\":\"tasks\"", "\"entity\":\"gizmos\""))),
            "`gizmos` is not an entity",
        ),
        (
            "a dangling reference",
            edited(&file, "dangling.zst", with_line("\"entity\":\"execution_events\"", |l| {
                let start = l.find("\"execution_id\":\"").unwrap() + 16;
                let end = start + l[start..].find('"').unwrap();
                format!("{}nope{}", &l[..start], &l[end..])
            })),
            "(execution_events, field execution_id): `nope` is in neither the archive's executions nor this workspace's",
        ),
        (
            "invalid UTF-8",
            edited(&file, "utf8.zst", |mut plain| {
                let at = plain.iter().position(|b| *b == b'\n').unwrap() + 3;
                plain.splice(at..at, [0xff, 0xfe]);
                plain
            }),
            "line 2 (-): not a JSON object",
        ),
        (
            "a bad checksum",
            edited(&file, "sum.zst", with_line(&task_line, |l| l.replace("Broken on purpose", "Broken on porpoise"))),
            "(tasks): its checksum does not match the manifest's",
        ),
    ];
    ok(c, &["task", "list"]);
    let state = disk_state(c);
    for (what, archive, says) in cases {
        let line = fails(c, &["import", archive.to_str().unwrap()]);
        assert!(
            line.contains("nothing imported") && line.contains(says),
            "{what}: {line}"
        );
        assert_eq!(disk_state(c), state, "{what}: something was written");
    }
    // Cut short: no manifest, or not even whole zstd.
    let bytes = std::fs::read(&file).unwrap();
    let cut = a.join("cut.zst");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let line = fails(c, &["import", cut.to_str().unwrap()]);
    assert!(line.contains("archive"), "cut short: {line}");
    assert_eq!(disk_state(c), state);
    assert_eq!(json(c, &["task", "list"]).as_array().unwrap().len(), 0);
}
