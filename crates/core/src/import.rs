//! `flightdeck import`: an archive of `flightdeck export` into this workspace, all or nothing.
//!
//! Two passes over the file. The first checks everything before anything is written: the
//! format and schema versions (a newer one is refused naming both), that every line parses,
//! every record's entity, that its columns exist here with values of their types and its key
//! is whole, no key twice, and each entity's count and checksum against the manifest. Any
//! problem stops the import with nothing written, each problem named by entity, line and
//! field. The second pass writes in one transaction through the store's one write path
//! (cr-sqlite records it for sync; tasks, environments, schedules, runs and error records get
//! audit rows), so a failure or a kill midway leaves the workspace as it was: a record whose
//! key is new here is created; one equal to the row here is unchanged; one that differs is
//! skipped, overwritten, or written when its `updated_at` is newer (`--on-conflict`). Importing
//! the same file twice changes nothing the second time. `--dry-run` reports the same counts
//! and writes nothing.
//!
//! An archive of an older schema is upgraded on read: the columns it lacks take this schema's
//! defaults (migrations only add columns to the exported tables). Format 1 is the only format
//! so far; a newer one is refused naming both versions.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{BufRead, BufReader, Read};

use flightdeck_types::{AuditAction, EntityKind, FieldChange};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::error::{CoreError, Result};
use crate::export::{secret_names, ENTITIES, FORMAT_VERSION};
use crate::store::import::{self as sql, Column};
use crate::store::Store;

/// What to do with a record whose row exists here with other values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnConflict {
    /// Keep this workspace's row.
    #[default]
    Skip,
    /// Write the archive's values.
    Overwrite,
    /// Write them when the archive's `updated_at` is later than the row's (else skip).
    Newer,
}

use flightdeck_types::TransferProgress;
pub use flightdeck_types::{EntityCounts, ImportReport};

/// Progress is told every this many records.
const PROGRESS_EVERY: u64 = 2_000;

/// At most this many problems are listed when an archive is refused.
const PROBLEMS_LISTED: usize = 20;

/// The references that must lead somewhere, in the archive or in this workspace: a part of a
/// run or a workflow run is nothing without it. (Other ids may name what was deleted since,
/// as they may in any workspace: a run keeps its task's id after the task is deleted.)
const REFERENCES: [(&str, &str, &str); 4] = [
    ("execution_events", "execution_id", "executions"),
    ("execution_snapshots", "execution_id", "executions"),
    ("workflow_run_steps", "run_id", "workflow_runs"),
    ("workflow_approvals", "run_id", "workflow_runs"),
];

/// Imports the archive `open` reads (called once per pass).
pub fn import(
    store: &Store,
    open: &dyn Fn() -> Result<Box<dyn Read>>,
    on_conflict: OnConflict,
    dry_run: bool,
) -> Result<ImportReport> {
    import_with_progress(store, open, on_conflict, dry_run, &mut |_| {})
}

/// [`import`], calling `progress` now and then: while every record is checked (`checking`,
/// the records read so far), then while they are written (`writing`, of the total).
pub fn import_with_progress(
    store: &Store,
    open: &dyn Fn() -> Result<Box<dyn Read>>,
    on_conflict: OnConflict,
    dry_run: bool,
    progress: &mut dyn FnMut(&TransferProgress),
) -> Result<ImportReport> {
    let tables: HashMap<&str, Vec<Column>> = store.read(|c| {
        ENTITIES
            .iter()
            .map(|e| Ok((*e, sql::columns(c, e)?)))
            .collect()
    })?;
    let (mut report, total) = check(store, open()?, &tables, progress)?;
    report.dry_run = dry_run;
    let counts = &mut report.entities;
    let mut done = 0u64;
    let mut step = |progress: &mut dyn FnMut(&TransferProgress)| {
        done += 1;
        if done % PROGRESS_EVERY == 0 || done == total {
            progress(&TransferProgress {
                phase: "writing".into(),
                records: done,
                total: Some(total),
                bytes: 0,
            });
        }
    };
    match dry_run {
        true => store.read(|c| {
            for_each_record(open()?, |entity, row| {
                step(progress);
                plan(c, &tables, counts, on_conflict, &entity, &row).map(|_| ())
            })
        })?,
        false => store.write(|w| {
            for_each_record(open()?, |entity, row| {
                step(progress);
                if let Some((here, changed)) = plan(w, &tables, counts, on_conflict, &entity, &row)?
                {
                    write(w, &tables, &entity, &row, here.as_ref(), &changed)?;
                }
                Ok(())
            })
        })?,
    }
    let memories = report.entities.get("memories").cloned().unwrap_or_default();
    if !dry_run && memories.created + memories.updated > 0 {
        // Found by meaning at once, as memories a sync pulls are; the import itself is done
        // whatever happens here (a memory without its vector is found by keywords).
        match crate::memory::index_pending_default(store) {
            Ok(n) => report.memories_indexed = n as u64,
            Err(e) => tracing::warn!(error = %e, "imported memories are not indexed yet"),
        }
    }
    Ok(report)
}

/// What a record does here, counted: `Some((the row here, the columns that differ))` when it
/// is to be written.
type Plan = Option<(Option<Map<String, Value>>, Vec<String>)>;

fn plan(
    conn: &rusqlite::Connection,
    tables: &HashMap<&str, Vec<Column>>,
    counts: &mut BTreeMap<String, EntityCounts>,
    on_conflict: OnConflict,
    entity: &str,
    row: &Map<String, Value>,
) -> Result<Plan> {
    let pk = primary_key(&tables[entity]);
    let here = sql::find(conn, entity, &pk, row)?;
    let counts = counts.entry(entity.to_string()).or_default();
    let Some(existing) = &here else {
        counts.created += 1;
        return Ok(Some((None, Vec::new())));
    };
    let changed: Vec<String> = row
        .iter()
        .filter(|(k, v)| existing.get(k.as_str()) != Some(v))
        .map(|(k, _)| k.clone())
        .collect();
    if changed.is_empty() {
        counts.unchanged += 1;
        return Ok(None);
    }
    let at = |r: &Map<String, Value>| r.get("updated_at").and_then(Value::as_i64);
    let take = match on_conflict {
        OnConflict::Skip => false,
        OnConflict::Overwrite => true,
        OnConflict::Newer => at(row) > at(existing),
    };
    match take {
        true => counts.updated += 1,
        false => counts.skipped += 1,
    }
    Ok(take.then_some((here, changed)))
}

fn primary_key(columns: &[Column]) -> Vec<&str> {
    columns
        .iter()
        .filter(|c| c.pk)
        .map(|c| c.name.as_str())
        .collect()
}

/// Writes a record (created, or its `changed` columns), with its audit row where its entity
/// has them.
fn write(
    w: &mut crate::store::Writer<'_>,
    tables: &HashMap<&str, Vec<Column>>,
    entity: &str,
    row: &Map<String, Value>,
    here: Option<&Map<String, Value>>,
    changed: &[String],
) -> Result<()> {
    let changed: Vec<&str> = changed.iter().map(String::as_str).collect();
    match here {
        None => sql::insert(w, entity, row)?,
        Some(_) => sql::update(w, entity, &primary_key(&tables[entity]), row, &changed)?,
    }
    if let (Some(kind), Some(id)) = (audited(entity), row.get("id").and_then(Value::as_str)) {
        let fields: BTreeMap<String, FieldChange> = row
            .iter()
            .filter(|(k, _)| here.is_none() || changed.contains(&k.as_str()))
            .map(|(k, v)| {
                let old = here.and_then(|h| h.get(k)).cloned().unwrap_or(Value::Null);
                (
                    k.clone(),
                    FieldChange {
                        old,
                        new: v.clone(),
                    },
                )
            })
            .collect();
        let action = match here {
            None => AuditAction::Create,
            Some(_) => AuditAction::Update,
        };
        w.audit(kind, id, action, fields);
    }
    Ok(())
}

/// Whether `text` is a value column `column` of `entity` may hold, for the columns that hold
/// one of a fixed set (`None` for the others); the error names the ones it may.
fn known_value(entity: &str, column: &str, text: &str) -> Option<std::result::Result<(), String>> {
    use flightdeck_types::{
        ErrorKind, ExecutionStatus, ExecutorKind, MisfirePolicy, OverlapPolicy, RecoveryStatus,
        ScheduleKind, Severity, TaskStatus, WorkflowRunStatus,
    };
    fn check<T: std::str::FromStr<Err = String>>(text: &str) -> std::result::Result<(), String> {
        text.parse::<T>().map(|_| ())
    }
    Some(match (entity, column) {
        ("tasks", "status") => check::<TaskStatus>(text),
        ("executions", "status") => check::<ExecutionStatus>(text),
        ("executions", "executor") => check::<ExecutorKind>(text),
        ("schedules", "kind") => check::<ScheduleKind>(text),
        ("schedules", "misfire_policy") => check::<MisfirePolicy>(text),
        ("schedules", "overlap_policy") => check::<OverlapPolicy>(text),
        ("schedules", "cron_dialect") => check::<flightdeck_types::schedule::CronDialect>(text),
        ("error_records", "severity") => check::<Severity>(text),
        ("error_records", "recovery_status") => check::<RecoveryStatus>(text),
        ("error_records", "kind") => check::<ErrorKind>(text),
        ("workflow_runs", "status") => check::<WorkflowRunStatus>(text),
        _ => return None,
    })
}

/// The entities whose rows carry audit rows when written.
fn audited(entity: &str) -> Option<EntityKind> {
    Some(match entity {
        "tasks" => EntityKind::Task,
        "environments" => EntityKind::Environment,
        "schedules" => EntityKind::Schedule,
        "executions" => EntityKind::Execution,
        "error_records" => EntityKind::ErrorRecord,
        _ => return None,
    })
}

/// Calls `each` with every record's entity and row (the header and manifest passed over).
fn for_each_record(
    file: Box<dyn Read>,
    mut each: impl FnMut(String, Map<String, Value>) -> Result<()>,
) -> Result<()> {
    let lines = BufReader::new(decoder(file)?).lines();
    for line in lines {
        let line = line.map_err(|e| CoreError::io("reading the archive", e))?;
        let Ok(Value::Object(mut record)) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        if let (Some(Value::String(entity)), Some(Value::Object(row))) =
            (record.remove("entity"), record.remove("row"))
        {
            each(entity, row)?;
        }
    }
    Ok(())
}

fn decoder(file: Box<dyn Read>) -> Result<Box<dyn Read>> {
    Ok(Box::new(zstd::stream::Decoder::new(file).map_err(|e| {
        CoreError::io("the archive is not zstd-compressed", e)
    })?))
}

/// The first pass: every check, every problem; the report's versions and secrets, and the
/// number of records.
fn check(
    store: &Store,
    file: Box<dyn Read>,
    tables: &HashMap<&str, Vec<Column>>,
    progress: &mut dyn FnMut(&TransferProgress),
) -> Result<(ImportReport, u64)> {
    let mut problems: Vec<String> = Vec::new();
    let mut problem = |line: usize, entity: &str, field: Option<&str>, message: String| {
        problems.push(match field {
            Some(f) => format!("line {line} ({entity}, field {f}): {message}"),
            None => format!("line {line} ({entity}): {message}"),
        });
    };
    let mut report = ImportReport::default();
    let mut manifest: Option<Map<String, Value>> = None;
    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    let mut hashes: BTreeMap<String, Sha256> = BTreeMap::new();
    let mut keys: HashSet<(String, String)> = HashSet::new();
    // (line, entity, column, target entity, id): checked once every key is known.
    let mut references: Vec<(usize, String, &str, &str, String)> = Vec::new();
    let mut reader = BufReader::new(decoder(file)?);
    let mut raw = Vec::new();
    let mut n = 0;
    loop {
        raw.clear();
        let read = reader
            .read_until(b'\n', &mut raw)
            .map_err(|e| CoreError::io("reading the archive (is it a flightdeck export?)", e))?;
        if read == 0 {
            break;
        }
        n += 1;
        let Ok(Value::Object(mut record)) = serde_json::from_slice::<Value>(&raw) else {
            problem(n, "-", None, "not a JSON object".into());
            continue;
        };
        if n == 1 {
            let Some(Value::Object(h)) = record.remove("flightdeck_export") else {
                return Err(CoreError::invalid(
                    "file",
                    "not a flightdeck export: its first line has no `flightdeck_export` header",
                ));
            };
            let format = h.get("format_version").and_then(Value::as_u64).unwrap_or(0) as u32;
            if format > FORMAT_VERSION {
                return Err(CoreError::invalid(
                    "file",
                    format!("the archive is format {format}, newer than this Flightdeck's {FORMAT_VERSION}: import it with a newer Flightdeck"),
                ));
            }
            let schema = h.get("schema_version").and_then(Value::as_u64).unwrap_or(0) as u32;
            if schema > store.schema_version() {
                return Err(CoreError::invalid(
                    "file",
                    format!("the archive's schema is version {schema}, newer than this workspace's {}: import it with a newer Flightdeck", store.schema_version()),
                ));
            }
            report.format_version = format;
            report.schema_version = schema;
            continue;
        }
        if let Some(Value::Object(m)) = record.remove("manifest") {
            manifest = Some(m);
            continue;
        }
        let entity = match record.get("entity").and_then(Value::as_str) {
            Some(e) if ENTITIES.contains(&e) => e.to_string(),
            Some(e) => {
                problem(
                    n,
                    e,
                    None,
                    format!("`{e}` is not an entity this Flightdeck knows"),
                );
                continue;
            }
            None => {
                problem(n, "-", Some("entity"), "missing".into());
                continue;
            }
        };
        *counts.entry(entity.clone()).or_default() += 1;
        if n as u64 % PROGRESS_EVERY == 0 {
            progress(&TransferProgress {
                phase: "checking".into(),
                records: n as u64 - 1,
                total: None,
                bytes: 0,
            });
        }
        hashes.entry(entity.clone()).or_default().update(&raw);
        let Some(Value::Object(row)) = record.get("row") else {
            problem(n, &entity, Some("row"), "missing or not an object".into());
            continue;
        };
        let columns = &tables[entity.as_str()];
        for (name, value) in row {
            let Some(column) = columns.iter().find(|c| &c.name == name) else {
                problem(n, &entity, Some(name), "no such column here".into());
                continue;
            };
            let fits = match value {
                Value::Null => !column.pk,
                Value::Number(v) if column.declared.contains("INT") => v.is_i64(),
                Value::Number(_) => !column.declared.contains("TEXT"),
                Value::String(_) => {
                    !column.declared.contains("INT") && !column.declared.contains("REAL")
                }
                Value::Object(o) => o.contains_key("$hex"),
                _ => false,
            };
            if !fits {
                problem(
                    n,
                    &entity,
                    Some(name),
                    format!("{value} does not fit a {} column", column.declared),
                );
            } else if let Some(Err(e)) = value.as_str().and_then(|v| known_value(&entity, name, v))
            {
                problem(n, &entity, Some(name), e);
            }
        }
        let key: Vec<String> = columns
            .iter()
            .filter(|c| c.pk)
            .map(|c| row.get(&c.name).map(Value::to_string).unwrap_or_default())
            .collect();
        if key.iter().any(|k| k.is_empty() || k == "null") {
            problem(n, &entity, None, "its key is not whole".into());
        } else if !keys.insert((entity.clone(), key.join("\u{1}"))) {
            problem(
                n,
                &entity,
                None,
                format!("key {} is in the archive twice", key.join(", ")),
            );
        }
        for (from, column, to) in REFERENCES {
            if from == entity {
                if let Some(id) = row.get(column).and_then(Value::as_str) {
                    references.push((n, entity.clone(), column, to, id.to_string()));
                }
            }
        }
        if entity == "environments" {
            report.secrets_to_set.extend(secret_names(row));
        }
    }
    store.read(|c| {
        for (line, entity, column, to, id) in &references {
            let key = serde_json::to_string(id).expect("strings serialize");
            if keys.contains(&(to.to_string(), key)) {
                continue;
            }
            let here = sql::find(
                c,
                to,
                &["id"],
                &Map::from_iter([("id".into(), Value::from(id.as_str()))]),
            )?;
            if here.is_none() {
                problem(
                    *line,
                    entity,
                    Some(column),
                    format!("`{id}` is in neither the archive's {to} nor this workspace's"),
                );
            }
        }
        Ok(())
    })?;
    let manifest = manifest.ok_or_else(|| {
        CoreError::invalid(
            "file",
            "the archive has no manifest: it was cut short (export it again)",
        )
    })?;
    for (entity, expected) in manifest
        .get("counts")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        let got = counts.get(entity).copied().unwrap_or(0);
        if expected.as_u64() != Some(got) {
            problem(
                n,
                entity,
                None,
                format!("the manifest counts {expected} records, the archive holds {got}"),
            );
        }
        let sum = hashes
            .remove(entity)
            .map(|h| hex::encode(h.finalize()))
            .unwrap_or_else(|| hex::encode(Sha256::digest(b"")));
        if manifest["checksums"].get(entity).and_then(Value::as_str) != Some(sum.as_str()) {
            problem(
                n,
                entity,
                None,
                "its checksum does not match the manifest's: the archive was changed or damaged"
                    .into(),
            );
        }
        report
            .entities
            .insert(entity.clone(), EntityCounts::default());
    }
    if !problems.is_empty() {
        let total = problems.len();
        problems.truncate(PROBLEMS_LISTED);
        return Err(CoreError::invalid(
            "file",
            format!(
                "nothing imported: {total} problem(s) in the archive: {}",
                problems.join("; ")
            ),
        ));
    }
    Ok((report, counts.values().sum()))
}
