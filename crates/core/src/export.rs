//! `flightdeck export`: a workspace as one file that is readable and moves between machines
//! without a sync server. Newline-delimited JSON compressed with zstd (`zstdcat FILE | jq`):
//!
//! 1. a header: `{"flightdeck_export": {"format_version", "schema_version", "workspace",
//!    "device", "created_at", "since", "entities"}}`;
//! 2. a record per row: `{"entity": "tasks", "row": {COLUMN: VALUE, ...}}`, every column by
//!    name (a blob as `{"$hex": "..."}`), the entities in [`ENTITIES`]' order;
//! 3. the manifest, last, once every count and checksum is known: `{"manifest": {...}}` (see
//!    [`Manifest`]).
//!
//! Rows are read in one read transaction (a consistent snapshot across tables) and written as
//! they are read, so memory stays flat however large the workspace is. Secret values never
//! leave the keyring: they are not in the database at all; their names are (in each
//! environment's row), and the manifest lists them, for the import to say what to set again.

use std::collections::BTreeMap;
use std::io::Write;

use flightdeck_types::{Timestamp, TransferProgress};
use serde::Serialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::error::{CoreError, Result};
use crate::store::export as sql;
use crate::store::Store;

/// The archive format this build writes.
pub const FORMAT_VERSION: u32 = 1;

/// Every synced entity, in the order an export writes them (what a row refers to comes before
/// it). `device_heartbeats` is left out: a device's liveness, meaningless on another machine.
pub const ENTITIES: [&str; 13] = [
    "environments",
    "tasks",
    "schedules",
    "workflows",
    "workflow_runs",
    "workflow_run_steps",
    "workflow_approvals",
    "executions",
    "execution_events",
    "execution_snapshots",
    "error_records",
    "memories",
    "audit_log",
];

/// What to export.
#[derive(Debug, Clone, Default)]
pub struct ExportOptions {
    /// The workspace's name, as the manifest records it.
    pub workspace: String,
    /// Some of [`ENTITIES`]; all of them when empty.
    pub entities: Vec<String>,
    /// Only rows changed (else made) at or after this instant.
    pub since: Option<Timestamp>,
}

/// The last line of an archive.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Manifest {
    pub format_version: u32,
    pub schema_version: u32,
    pub workspace: String,
    pub device: String,
    pub created_at: Timestamp,
    pub since: Option<Timestamp>,
    /// Records per entity (every entity exported, zero included).
    pub counts: BTreeMap<String, u64>,
    /// Per entity, SHA-256 (hex) of its record lines in order, each with its newline.
    pub checksums: BTreeMap<String, String>,
    /// The secret variables the environments name, whose values stay in this machine's
    /// keyring: what must be set again after an import elsewhere.
    pub secrets: Vec<SecretName>,
}

pub use flightdeck_types::SecretName;

/// The entities `asked` names, checked, in [`ENTITIES`]' order; all of them when empty.
pub fn entities(asked: &[String]) -> Result<Vec<&'static str>> {
    for name in asked {
        if !ENTITIES.contains(&name.as_str()) {
            return Err(CoreError::invalid(
                "entities",
                format!(
                    "`{name}` is not an entity; give some of: {}",
                    ENTITIES.join(", ")
                ),
            ));
        }
    }
    Ok(ENTITIES
        .into_iter()
        .filter(|e| asked.is_empty() || asked.iter().any(|a| a == e))
        .collect())
}

/// Writes the archive of `options` to `out`, calling `progress` with the records written so
/// far (of the total, counted first in the same snapshot) and the compressed bytes now and
/// then, and once at the end.
pub fn export(
    store: &Store,
    options: &ExportOptions,
    out: &mut dyn Write,
    progress: &mut dyn FnMut(&TransferProgress),
) -> Result<Manifest> {
    let entities = entities(&options.entities)?;
    let mut counted = Counted {
        inner: out,
        bytes: 0,
    };
    let mut zstd = zstd::stream::Encoder::new(&mut counted, 3).map_err(io_error)?;
    let created_at = crate::clock::now();
    let mut manifest = Manifest {
        format_version: FORMAT_VERSION,
        schema_version: store.schema_version(),
        workspace: options.workspace.clone(),
        device: store.device_id().to_string(),
        created_at,
        since: options.since,
        counts: BTreeMap::new(),
        checksums: BTreeMap::new(),
        secrets: Vec::new(),
    };
    let header = json!({ "flightdeck_export": {
        "format_version": FORMAT_VERSION,
        "schema_version": manifest.schema_version,
        "workspace": manifest.workspace,
        "device": manifest.device,
        "created_at": created_at,
        "since": options.since,
        "entities": entities,
    }});
    write_line(&mut zstd, &header)?;
    let mut records = 0u64;
    // History on its way to the synced tables (`store/staged.rs`) is exported with them.
    store.flush_staged()?;
    store.read(|c| {
        // One snapshot for every table: rows written meanwhile are in none or all of them.
        let tx = c.unchecked_transaction()?;
        let since_of = |entity: &str| -> Result<Option<(&'static str, i64)>> {
            Ok(match options.since {
                Some(at) => sql::time_column(&tx, entity)?.map(|column| (column, at.as_millis())),
                None => None,
            })
        };
        let mut total = 0;
        for entity in &entities {
            total += sql::count_rows(&tx, entity, since_of(entity)?)?;
        }
        let told = |records: u64, bytes: u64| TransferProgress {
            phase: "exporting".into(),
            records,
            total: Some(total),
            bytes,
        };
        for entity in &entities {
            let since = since_of(entity)?;
            let mut hash = Sha256::new();
            let n = sql::for_each_row(&tx, entity, since, |row| {
                if *entity == "environments" {
                    manifest.secrets.extend(secret_names(&row));
                }
                let mut line = serde_json::to_vec(&json!({ "entity": entity, "row": row }))
                    .expect("JSON values always serialize");
                line.push(b'\n');
                hash.update(&line);
                zstd.write_all(&line).map_err(io_error)?;
                records += 1;
                if records % 10_000 == 0 {
                    progress(&told(records, zstd.get_ref().bytes));
                }
                Ok(())
            })?;
            manifest.counts.insert(entity.to_string(), n);
            manifest
                .checksums
                .insert(entity.to_string(), hex::encode(hash.finalize()));
        }
        tx.finish()?;
        Ok(())
    })?;
    write_line(&mut zstd, &json!({ "manifest": manifest }))?;
    zstd.finish().map_err(io_error)?;
    counted.flush().map_err(io_error)?;
    progress(&TransferProgress {
        phase: "exporting".into(),
        records,
        total: Some(records),
        bytes: counted.bytes,
    });
    Ok(manifest)
}

/// The file name an export gets when none is given: `flightdeck-WORKSPACE-YYYYMMDDTHHMMSSZ.ndjson.zst`.
pub fn default_file_name(workspace: &str, at: Timestamp) -> String {
    let stamp = at.to_rfc3339().replace([':', '-'], "");
    format!(
        "flightdeck-{workspace}-{}Z.ndjson.zst",
        &stamp[..stamp.find('.').unwrap_or(stamp.len())]
    )
}

/// [`export`] to the file `path`, written beside it (`PATH.partial`) and renamed once whole
/// and on disk, so a failed export leaves no half file; the manifest and the file's size.
pub fn export_to_file(
    store: &Store,
    options: &ExportOptions,
    path: &std::path::Path,
    progress: &mut dyn FnMut(&TransferProgress),
) -> Result<(Manifest, u64)> {
    let partial = std::path::PathBuf::from(format!("{}.partial", path.display()));
    let file = std::fs::File::create(&partial)
        .map_err(|e| CoreError::io(format!("cannot create {}", partial.display()), e))?;
    let mut writer = std::io::BufWriter::new(file);
    let written = export(store, options, &mut writer, progress).and_then(|m| {
        writer
            .flush()
            .and_then(|_| writer.get_ref().sync_all())
            .map_err(|e| CoreError::io(format!("cannot write {}", partial.display()), e))?;
        std::fs::rename(&partial, path)
            .map_err(|e| CoreError::io(format!("cannot write {}", path.display()), e))?;
        Ok(m)
    });
    match written {
        Ok(manifest) => {
            let bytes = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
            Ok((manifest, bytes))
        }
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            Err(e)
        }
    }
}

/// The secret variable names of an environment's row (its `secret_vars` JSON list).
pub(crate) fn secret_names(row: &serde_json::Map<String, Value>) -> Vec<SecretName> {
    let environment = row
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    row.get("secret_vars")
        .and_then(Value::as_str)
        .and_then(|list| serde_json::from_str::<Vec<String>>(list).ok())
        .unwrap_or_default()
        .into_iter()
        .map(|name| SecretName {
            environment: environment.clone(),
            name,
        })
        .collect()
}

fn write_line(out: &mut impl Write, value: &Value) -> Result<()> {
    let mut line = serde_json::to_vec(value).expect("JSON values always serialize");
    line.push(b'\n');
    out.write_all(&line).map_err(io_error)
}

fn io_error(e: std::io::Error) -> CoreError {
    CoreError::io("writing the export", e)
}

/// A writer that counts what goes through it (the compressed bytes, for the progress line).
struct Counted<'a> {
    inner: &'a mut dyn Write,
    bytes: u64,
}

impl Write for Counted<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}
