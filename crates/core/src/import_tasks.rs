//! Tasks from where people keep them today: a CSV file (a spreadsheet, Jira, Linear) or GitHub
//! issues as `gh issue list --json number,title,body,state,labels,createdAt` writes them.
//!
//! The file is read and checked here (every row, every problem named by its line and column),
//! then turned into an archive of task records, the format `flightdeck export` writes, and
//! brought in by [`crate::import::import`]: the same validation, `--dry-run`, conflict policy,
//! single transaction and audit rows as an archive's import.
//!
//! A task's id is derived from what identifies its row in the source (a GitHub issue's URL;
//! the CSV column mapped to `key`, else the row's cells), so importing the same file again
//! finds the tasks it made: unchanged rows change nothing, edited ones follow `--on-conflict`.
//! Times the source does not give are the import's time for a new task and left alone for one
//! that exists.

use std::collections::{BTreeMap, HashMap};
use std::io::Cursor;
use std::path::Path;

use flightdeck_types::{Priority, TaskStatus, Timestamp, TransferProgress};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use crate::error::{CoreError, Result};
use crate::export::{Manifest, FORMAT_VERSION};
use crate::import::{ImportReport, OnConflict};
use crate::store::Store;

/// What a file of tasks is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Csv,
    GitHub,
}

/// How a file's rows become tasks.
#[derive(Debug, Clone, Default)]
pub struct Mapping {
    /// CSV: `(FIELD, COLUMN)`: the column that holds a task field (see [`FIELDS`]); a field
    /// not mapped is read from the column of its own name or a usual other one (any case:
    /// `Summary` for title, `State` for status, `Issue key` or `ID` for key...), if any.
    pub columns: Vec<(String, String)>,
    /// `(VALUE, STATUS)`: a source's status (or, for GitHub, state or label) that is not one
    /// of Flightdeck's.
    pub statuses: Vec<(String, String)>,
    /// `(VALUE, PRIORITY)`: the same for priorities (GitHub: labels).
    pub priorities: Vec<(String, String)>,
    /// GitHub: `OWNER/NAME`, for issues listed without their `url`.
    pub repo: Option<String>,
}

/// The task fields a CSV column can be mapped to.
pub const FIELDS: [&str; 7] = [
    "title",
    "description",
    "status",
    "priority",
    "created_at",
    "updated_at",
    "key",
];

/// The column names each field is read from when not mapped (any case), first found first:
/// a field's own name, then what Jira's and Linear's CSV exports call it.
const SYNONYMS: [(&str, &[&str]); 7] = [
    ("title", &["title", "summary", "name"]),
    ("description", &["description", "body", "details"]),
    ("status", &["status", "state"]),
    ("priority", &["priority"]),
    ("created_at", &["created_at", "created"]),
    ("updated_at", &["updated_at", "updated"]),
    ("key", &["key", "issue key", "id"]),
];

/// At most this many problems are listed when a file is refused.
const PROBLEMS_LISTED: usize = 20;

/// What the file at `path` is, from its first bytes: zstd's magic number is an archive
/// (`archive`), a JSON list GitHub issues (`github`), anything else `csv`.
pub fn detect(path: &Path) -> Result<&'static str> {
    use std::io::Read;
    let mut head = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(4096).read_to_end(&mut head))
        .map_err(|e| CoreError::io(format!("cannot read {}", path.display()), e))?;
    if head.starts_with(&[0x28, 0xB5, 0x2F, 0xFD]) {
        return Ok("archive");
    }
    let text = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&head);
    Ok(match text.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'[') => "github",
        _ => "csv",
    })
}

/// Imports the file at `path`, a `kind` of [`detect`]'s: an archive streamed from the file
/// (read once per pass), tasks from a CSV or GitHub issues.
pub fn import_file(
    store: &Store,
    path: &Path,
    kind: &str,
    mapping: &Mapping,
    on_conflict: OnConflict,
    dry_run: bool,
    progress: &mut dyn FnMut(&TransferProgress),
) -> Result<ImportReport> {
    let source = match kind {
        "archive" => {
            let path = path.to_path_buf();
            let open = move || -> Result<Box<dyn std::io::Read>> {
                let f = std::fs::File::open(&path)
                    .map_err(|e| CoreError::io(format!("cannot read {}", path.display()), e))?;
                Ok(Box::new(std::io::BufReader::new(f)))
            };
            return crate::import::import_with_progress(
                store,
                &open,
                on_conflict,
                dry_run,
                progress,
            );
        }
        "github" => Source::GitHub,
        "csv" => Source::Csv,
        other => {
            return Err(CoreError::invalid(
                "from",
                format!("`{other}` is not a kind of file to import: archive, csv or github"),
            ))
        }
    };
    let bytes = std::fs::read(path)
        .map_err(|e| CoreError::io(format!("cannot read {}", path.display()), e))?;
    import(
        store,
        source,
        &bytes,
        mapping,
        on_conflict,
        dry_run,
        progress,
    )
}

/// Imports the tasks of `bytes` (a file of `source`).
pub fn import(
    store: &Store,
    source: Source,
    bytes: &[u8],
    mapping: &Mapping,
    on_conflict: OnConflict,
    dry_run: bool,
    progress: &mut dyn FnMut(&TransferProgress),
) -> Result<ImportReport> {
    let tasks = match source {
        Source::Csv => from_csv(bytes, mapping)?,
        Source::GitHub => from_github(bytes, mapping)?,
    };
    let archive = archive(store, tasks)?;
    let open =
        move || -> Result<Box<dyn std::io::Read>> { Ok(Box::new(Cursor::new(archive.clone()))) };
    crate::import::import_with_progress(store, &open, on_conflict, dry_run, progress)
}

/// A task as read from a file: its fields, its identity in the source.
#[derive(Debug, Clone, PartialEq)]
struct Row {
    key: String,
    title: String,
    description: String,
    status: TaskStatus,
    priority: Priority,
    created_at: Option<Timestamp>,
    updated_at: Option<Timestamp>,
}

/// Problems found in a file, each with where it is.
#[derive(Default)]
struct Problems(Vec<String>);

impl Problems {
    fn add(&mut self, at: impl std::fmt::Display, message: impl std::fmt::Display) {
        self.0.push(format!("{at}: {message}"));
    }

    fn or(self, what: &str) -> Result<()> {
        if self.0.is_empty() {
            return Ok(());
        }
        let total = self.0.len();
        let mut listed = self.0;
        listed.truncate(PROBLEMS_LISTED);
        Err(CoreError::invalid(
            "file",
            format!(
                "nothing imported: {total} problem(s) in the {what}: {}",
                listed.join("; ")
            ),
        ))
    }
}

fn from_csv(bytes: &[u8], mapping: &Mapping) -> Result<Vec<Row>> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(bytes);
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| {
            CoreError::invalid("file", format!("the CSV's header row cannot be read: {e}"))
        })?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    if header.iter().all(String::is_empty) {
        return Err(CoreError::invalid(
            "file",
            "the CSV has no header row: its first line must name the columns (e.g. title,status)",
        ));
    }
    let columns = column_of_fields(&header, &mapping.columns)?;
    let statuses = value_map::<TaskStatus>("--status-map", &mapping.statuses)?;
    let priorities = value_map::<Priority>("--priority-map", &mapping.priorities)?;
    let mut problems = Problems::default();
    let mut tasks = Vec::new();
    let mut seen: HashMap<String, u64> = HashMap::new();
    for record in reader.records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map(|p| p.line()).unwrap_or(0);
                problems.add(format!("line {line}"), csv_error(&e));
                continue;
            }
        };
        let line = record.position().map(|p| p.line()).unwrap_or(0);
        if record.iter().all(|cell| cell.trim().is_empty()) {
            continue;
        }
        let cell = |field: &str| -> (&str, &str) {
            match columns.get(field) {
                Some(&i) => (header[i].as_str(), record.get(i).unwrap_or("").trim()),
                None => ("", ""),
            }
        };
        let at = |column: &str| format!("line {line} (column {column})");
        let (title_column, title) = cell("title");
        if title.is_empty() {
            problems.add(at(title_column), "no title: every task needs one");
        }
        let (column, text) = cell("status");
        let status = match text {
            "" => TaskStatus::Todo,
            t => status_of(t, &statuses).unwrap_or_else(|| {
                problems.add(
                    at(column),
                    unknown("status", t, "--status-map", TaskStatus::ALL),
                );
                TaskStatus::Todo
            }),
        };
        let (column, text) = cell("priority");
        let priority = match text {
            "" => Priority::Medium,
            t => priority_of(t, &priorities).unwrap_or_else(|| {
                problems.add(
                    at(column),
                    unknown("priority", t, "--priority-map", Priority::ALL),
                );
                Priority::Medium
            }),
        };
        let mut time = |field: &str| {
            let (column, text) = cell(field);
            match text {
                "" => None,
                t => match parse_time(t) {
                    Ok(at) => Some(at),
                    Err(e) => {
                        problems.add(at(column), e);
                        None
                    }
                },
            }
        };
        let created_at = time("created_at");
        let updated_at = time("updated_at").or(created_at);
        let key = match cell("key") {
            ("", _) => format!(
                "csv-row:{}",
                record.iter().collect::<Vec<_>>().join("\u{1f}")
            ),
            (column, "") => {
                problems.add(
                    at(column),
                    "no key: the column mapped to `key` identifies each task",
                );
                continue;
            }
            (_, k) => format!("csv-key:{k}"),
        };
        if let Some(first) = seen.insert(key.clone(), line) {
            problems.add(
                format!("line {line}"),
                match cell("key").0 {
                    "" => format!("the same row as line {first}: remove one, or map a column that tells them apart with --map key=COLUMN"),
                    column => format!("its {column} is line {first}'s too: a key names one task"),
                },
            );
        }
        tasks.push(Row {
            key,
            title: title.to_string(),
            description: cell("description").1.to_string(),
            status,
            priority,
            created_at,
            updated_at,
        });
    }
    problems.or("CSV")?;
    Ok(tasks)
}

/// The column each mapped or same-named field is read from; a mapping that names no field or
/// no column is refused with what there is.
fn column_of_fields(header: &[String], map: &[(String, String)]) -> Result<HashMap<String, usize>> {
    let find = |name: &str| header.iter().position(|h| h.eq_ignore_ascii_case(name));
    let mut columns = HashMap::new();
    for (field, column) in map {
        if !FIELDS.contains(&field.as_str()) {
            return Err(CoreError::invalid(
                "map",
                format!(
                    "`{field}` is not a task field; map some of: {}",
                    FIELDS.join(", ")
                ),
            ));
        }
        let Some(i) = find(column) else {
            return Err(CoreError::invalid(
                "map",
                format!(
                    "{field}={column}: the CSV has no column `{column}`; its columns: {}",
                    header.join(", ")
                ),
            ));
        };
        columns.insert(field.clone(), i);
    }
    for field in FIELDS {
        if !columns.contains_key(field) {
            let same = SYNONYMS
                .iter()
                .find(|(f, _)| *f == field)
                .and_then(|(_, names)| names.iter().find_map(|n| find(n)));
            if let Some(i) = same {
                columns.insert(field.to_string(), i);
            }
        }
    }
    if !columns.contains_key("title") {
        return Err(CoreError::invalid(
            "map",
            format!(
                "the CSV has no `title` column; its columns: {}; say which holds the title with --map title=COLUMN",
                header.join(", ")
            ),
        ));
    }
    Ok(columns)
}

fn csv_error(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::Utf8 { .. } => {
            "not UTF-8 text: save the file as UTF-8 and import it again".into()
        }
        _ => format!("the CSV cannot be read here: {e}"),
    }
}

/// `(VALUE, NAME)` pairs checked: each NAME one of `T`'s, the keys folded for matching.
fn value_map<T>(flag: &str, pairs: &[(String, String)]) -> Result<HashMap<String, T>>
where
    T: std::str::FromStr<Err = String>,
{
    pairs
        .iter()
        .map(|(value, name)| {
            name.trim()
                .to_ascii_lowercase()
                .parse::<T>()
                .map(|t| (fold(value), t))
                .map_err(|e| {
                    CoreError::invalid(
                        flag.trim_start_matches('-'),
                        format!("{flag} {value}={name}: {e}"),
                    )
                })
        })
        .collect()
}

/// A value as it is matched: lower case, runs of anything but letters and digits as one `_`.
fn fold(text: &str) -> String {
    let mut out = String::new();
    for c in text.trim().chars() {
        if c.is_alphanumeric() {
            out.extend(c.to_lowercase());
        } else if !out.is_empty() && !out.ends_with('_') {
            out.push('_');
        }
    }
    out.trim_end_matches('_').to_string()
}

/// A source's status: mapped, Flightdeck's own, or one the tools people move from use.
fn status_of(text: &str, map: &HashMap<String, TaskStatus>) -> Option<TaskStatus> {
    let key = fold(text);
    if let Some(s) = map.get(&key) {
        return Some(*s);
    }
    Some(match key.as_str() {
        "todo" | "to_do" | "open" | "new" | "backlog" | "triage" | "unstarted" => TaskStatus::Todo,
        "in_progress" | "doing" | "started" | "active" | "wip" | "in_review" | "review" => {
            TaskStatus::InProgress
        }
        "blocked" | "on_hold" | "waiting" => TaskStatus::Blocked,
        "done" | "closed" | "completed" | "complete" | "resolved" | "fixed" => TaskStatus::Done,
        "cancelled" | "canceled" | "wontfix" | "won_t_fix" | "won_t_do" | "duplicate"
        | "rejected" | "not_planned" => TaskStatus::Cancelled,
        _ => return None,
    })
}

/// A source's priority: mapped, Flightdeck's own, or a common spelling (P0..P4, critical...).
fn priority_of(text: &str, map: &HashMap<String, Priority>) -> Option<Priority> {
    let key = fold(text);
    if let Some(p) = map.get(&key) {
        return Some(*p);
    }
    let bare = ["priority_", "prio_", "pri_", "severity_", "sev_"]
        .iter()
        .find_map(|p| key.strip_prefix(p))
        .unwrap_or(&key);
    let bare = bare.strip_suffix("_priority").unwrap_or(bare);
    Some(match bare {
        "urgent" | "critical" | "highest" | "blocker" | "p0" => Priority::Urgent,
        "high" | "important" | "major" | "p1" => Priority::High,
        "medium" | "normal" | "moderate" | "p2" => Priority::Medium,
        "low" | "lowest" | "minor" | "trivial" | "p3" | "p4" => Priority::Low,
        _ => return None,
    })
}

fn unknown(what: &str, text: &str, flag: &str, known: &[impl std::fmt::Display]) -> String {
    let known: Vec<String> = known.iter().map(ToString::to_string).collect();
    format!(
        "`{text}` is not a {what} here ({}); map it with {flag} '{text}={}'",
        known.join(", "),
        known[0]
    )
}

/// A time as files write them: RFC 3339, or a date with an optional time of day (UTC).
fn parse_time(text: &str) -> std::result::Result<Timestamp, String> {
    use chrono::{NaiveDate, NaiveDateTime};
    if let Ok(at) = Timestamp::parse_rfc3339(text) {
        return Ok(at);
    }
    for format in [
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(at) = NaiveDateTime::parse_from_str(text, format) {
            return Ok(Timestamp::from_millis(at.and_utc().timestamp_millis()));
        }
    }
    match NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        Ok(day) => Ok(Timestamp::from_millis(
            day.and_hms_opt(0, 0, 0)
                .expect("midnight exists")
                .and_utc()
                .timestamp_millis(),
        )),
        Err(_) => Err(format!(
            "`{text}` is not a time; write 2026-12-06, 2026-12-06 09:30 or 2026-12-06T09:30:00Z"
        )),
    }
}

/// One issue as `gh issue list --json ...` lists it (fields it was not asked for absent).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Issue {
    number: Option<u64>,
    title: Option<String>,
    #[serde(default)]
    body: String,
    state: Option<String>,
    state_reason: Option<String>,
    #[serde(default)]
    labels: Vec<Label>,
    created_at: Option<String>,
    updated_at: Option<String>,
    url: Option<String>,
}

#[derive(Deserialize)]
struct Label {
    name: String,
}

fn from_github(bytes: &[u8], mapping: &Mapping) -> Result<Vec<Row>> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let items: Vec<Value> = serde_json::from_slice(bytes).map_err(|e| {
        CoreError::invalid(
            "file",
            format!("not a list of GitHub issues ({e}); write one with `gh issue list --json number,title,body,state,labels,createdAt,url`"),
        )
    })?;
    if let Some(repo) = &mapping.repo {
        if repo.split('/').filter(|p| !p.is_empty()).count() != 2 {
            return Err(CoreError::invalid(
                "repo",
                format!("`{repo}` is not OWNER/NAME"),
            ));
        }
    }
    let statuses = value_map::<TaskStatus>("--status-map", &mapping.statuses)?;
    let priorities = value_map::<Priority>("--priority-map", &mapping.priorities)?;
    let mut problems = Problems::default();
    let mut tasks = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (i, item) in items.into_iter().enumerate() {
        // Named by number where it has one, else by its place in the list.
        let name = match item.get("number").and_then(Value::as_u64) {
            Some(n) => format!("issue #{n}"),
            None => format!("item {} of the list", i + 1),
        };
        let at = |field: &str| format!("{name} (field {field})");
        let issue: Issue = match serde_json::from_value(item) {
            Ok(issue) => issue,
            Err(e) => {
                problems.add(&name, format!("not an issue as gh lists it: {e}"));
                continue;
            }
        };
        let title = issue.title.as_deref().unwrap_or("").trim().to_string();
        if title.is_empty() {
            problems.add(
                at("title"),
                "no title: list issues with --json number,title,...",
            );
        }
        let url = match (&issue.url, &mapping.repo, issue.number) {
            (Some(url), _, _) => url.clone(),
            (None, Some(repo), Some(n)) => {
                format!("https://github.com/{}/issues/{n}", repo.trim_matches('/'))
            }
            (None, None, Some(_)) => {
                problems.add(at("url"), "no url: list issues with --json ...,url, or say whose they are with --repo OWNER/NAME");
                continue;
            }
            (None, _, None) => {
                problems.add(
                    at("number"),
                    "no number and no url: list issues with --json number,title,...,url",
                );
                continue;
            }
        };
        let labels: Vec<&str> = issue.labels.iter().map(|l| l.name.as_str()).collect();
        let state = issue.state.as_deref().unwrap_or("OPEN");
        let mapped_label = labels.iter().find_map(|l| statuses.get(&fold(l)).copied());
        let status = match (
            fold(state).as_str(),
            issue.state_reason.as_deref().map(fold),
        ) {
            _ if statuses.contains_key(&fold(state)) => statuses[&fold(state)],
            ("closed", Some(reason)) if reason == "not_planned" => TaskStatus::Cancelled,
            ("closed", _) => TaskStatus::Done,
            ("open", _) => mapped_label
                .or_else(|| {
                    labels.iter().find_map(|l| {
                        status_of(l, &HashMap::new())
                            .filter(|s| matches!(s, TaskStatus::InProgress | TaskStatus::Blocked))
                    })
                })
                .unwrap_or(TaskStatus::Todo),
            _ => {
                problems.add(
                    at("state"),
                    unknown("state", state, "--status-map", TaskStatus::ALL),
                );
                TaskStatus::Todo
            }
        };
        let priority = labels
            .iter()
            .filter_map(|l| priority_of(l, &priorities))
            .max_by_key(|p| p.rank())
            .unwrap_or_default();
        let mut time = |field: &str, text: &Option<String>| match text.as_deref().map(parse_time) {
            None => None,
            Some(Ok(at)) => Some(at),
            Some(Err(e)) => {
                problems.add(at(field), e);
                None
            }
        };
        let created_at = time("createdAt", &issue.created_at);
        let updated_at = time("updatedAt", &issue.updated_at).or(created_at);
        let mut description = issue.body.trim_end().to_string();
        if !description.is_empty() {
            description.push_str("\n\n");
        }
        description.push_str(&format!("GitHub: {url}"));
        if !labels.is_empty() {
            description.push_str(&format!("\nLabels: {}", labels.join(", ")));
        }
        let key = format!("github:{url}");
        if let Some(first) = seen.insert(key.clone(), i + 1) {
            problems.add(
                &name,
                format!("{url} is listed twice (items {first} and {})", i + 1),
            );
        }
        tasks.push(Row {
            key,
            title,
            description,
            status,
            priority,
            created_at,
            updated_at,
        });
    }
    problems.or("GitHub issues")?;
    Ok(tasks)
}

/// The task id a source's row maps to: the same for the same row, on any device.
fn id_of(key: &str) -> String {
    let digest = Sha256::digest(format!("flightdeck-import\u{0}{key}").as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_custom_bytes(bytes)
        .into_uuid()
        .to_string()
}

/// An archive of `tasks` as `flightdeck export` writes one.
fn archive(store: &Store, tasks: Vec<Row>) -> Result<Vec<u8>> {
    let now = crate::clock::now();
    let rows: Vec<Map<String, Value>> = store.read(|c| {
        tasks
            .into_iter()
            .map(|t| {
                let id = id_of(&t.key);
                let mut row = Map::from_iter([
                    ("id".to_string(), Value::from(id.clone())),
                    ("title".into(), t.title.into()),
                    ("description".into(), t.description.into()),
                    ("status".into(), t.status.to_string().into()),
                    ("priority".into(), t.priority.rank().into()),
                ]);
                let exists = crate::store::import::find(c, "tasks", &["id"], &row)?.is_some();
                let created = t.created_at.or((!exists).then_some(now));
                let updated = t.updated_at.or((!exists).then_some(now));
                if let Some(at) = created {
                    row.insert("created_at".into(), at.as_millis().into());
                }
                if let Some(at) = updated {
                    row.insert("updated_at".into(), at.as_millis().into());
                }
                Ok(row)
            })
            .collect()
    })?;
    let header = json!({ "flightdeck_export": {
        "format_version": FORMAT_VERSION,
        "schema_version": store.schema_version(),
        "entities": ["tasks"],
    }});
    let mut plain = serde_json::to_vec(&header).expect("JSON values always serialize");
    plain.push(b'\n');
    let mut hash = Sha256::new();
    let count = rows.len() as u64;
    for row in rows {
        let mut record = serde_json::to_vec(&json!({ "entity": "tasks", "row": row }))
            .expect("JSON values always serialize");
        record.push(b'\n');
        hash.update(&record);
        plain.extend(record);
    }
    let manifest = Manifest {
        format_version: FORMAT_VERSION,
        schema_version: store.schema_version(),
        workspace: String::new(),
        device: store.device_id().to_string(),
        created_at: now,
        since: None,
        counts: BTreeMap::from([("tasks".to_string(), count)]),
        checksums: BTreeMap::from([("tasks".to_string(), hex::encode(hash.finalize()))]),
        secrets: Vec::new(),
    };
    plain.extend(serde_json::to_vec(&json!({ "manifest": manifest })).expect("serializes"));
    plain.push(b'\n');
    zstd::stream::encode_all(&plain[..], 1).map_err(|e| CoreError::io("packing the tasks", e))
}
