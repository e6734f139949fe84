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

use std::collections::BTreeMap;
use std::io::Cursor;
use std::path::Path;

use flightdeck_types::{Priority, TaskStatus, Timestamp, TransferProgress};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use crate::error::{CoreError, Result};
use crate::export::{Manifest, FORMAT_VERSION};
use crate::import::{ImportReport, OnConflict};
use crate::store::Store;

mod csv;
mod github;
mod values;

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
        Source::Csv => csv::from_csv(bytes, mapping)?,
        Source::GitHub => github::from_github(bytes, mapping)?,
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
