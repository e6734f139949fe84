//! Import and export (issue 18), release, one run:
//!
//! 1. the write path's own batched insert: 100,000 task rows (as wide as `task add` makes
//!    them) inserted in one `Store::write` with plain SQL, and again with the audit row the
//!    write path adds to each created task (as the import does): the rates to compare against;
//! 2. `export` of that store (records/s);
//! 3. `import` of the archive into a fresh store: both passes (every check, then the one
//!    transaction), records/s and its ratio to (1).
//!
//! Run: `scripts/with-keyring.sh cargo bench -p flightdeck-core --bench import_export`
//! (`FLIGHTDECK_BENCH_IMPORT_TASKS=N` for another count).

use std::io::Read;
use std::time::Instant;

use flightdeck_core::export::{self, ExportOptions};
use flightdeck_core::import::{self, OnConflict};
use flightdeck_core::Store;

fn main() {
    let n: usize = std::env::var("FLIGHTDECK_BENCH_IMPORT_TASKS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let dir = tempfile::tempdir().unwrap();
    let source = Store::open(&dir.path().join("source.db")).unwrap();

    let t = Instant::now();
    source
        .write(|w| {
            let mut insert = w.prepare(
                "INSERT INTO tasks (id, title, description, status, priority, created_at, updated_at)
                 VALUES (?1, ?2, ?3, 'todo', 1, ?4, ?4)",
            )?;
            for i in 0..n {
                insert.execute(rusqlite::params![
                    format!("01a24c00-0000-7000-8000-{i:012}"),
                    format!("Task number {i}: move the billing service to the new queue"),
                    "Imported from the tracker; see the linked issue for the acceptance criteria.",
                    1_795_000_000_000i64 + i as i64,
                ])?;
            }
            Ok(())
        })
        .unwrap();
    let insert_s = t.elapsed().as_secs_f64();
    println!(
        "write path, batched insert of {n} tasks in one write: {:.2} s ({:.0} rows/s)",
        insert_s,
        n as f64 / insert_s
    );

    // The same rows through the write path as `task add` writes them: each with its audit row.
    let audited = Store::open(&dir.path().join("audited.db")).unwrap();
    let t = Instant::now();
    audited
        .write(|w| {
            for i in 0..n {
                let id = format!("01a24c00-0000-7000-8000-{i:012}");
                let row = serde_json::json!({
                    "id": id,
                    "title": format!("Task number {i}: move the billing service to the new queue"),
                    "description": "Imported from the tracker; see the linked issue for the acceptance criteria.",
                    "status": "todo",
                    "priority": 1,
                    "created_at": 1_795_000_000_000i64 + i as i64,
                    "updated_at": 1_795_000_000_000i64 + i as i64,
                });
                w.prepare_cached(
                    "INSERT INTO tasks (id, title, description, status, priority, created_at, updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )?
                .execute(rusqlite::params![
                    row["id"].as_str(),
                    row["title"].as_str(),
                    row["description"].as_str(),
                    row["status"].as_str(),
                    row["priority"].as_i64(),
                    row["created_at"].as_i64(),
                    row["updated_at"].as_i64(),
                ])?;
                let fields = row
                    .as_object()
                    .unwrap()
                    .iter()
                    .map(|(k, v)| {
                        (
                            k.clone(),
                            flightdeck_types::FieldChange {
                                old: serde_json::Value::Null,
                                new: v.clone(),
                            },
                        )
                    })
                    .collect();
                w.audit(
                    flightdeck_types::EntityKind::Task,
                    &id,
                    flightdeck_types::AuditAction::Create,
                    fields,
                );
            }
            Ok(())
        })
        .unwrap();
    let audited_s = t.elapsed().as_secs_f64();
    println!(
        "write path, batched insert of {n} tasks with their audit rows in one write: {:.2} s ({:.0} rows/s)",
        audited_s,
        n as f64 / audited_s
    );

    let archive = dir.path().join("tasks.ndjson.zst");
    let t = Instant::now();
    let mut file = std::io::BufWriter::new(std::fs::File::create(&archive).unwrap());
    let manifest = export::export(
        &source,
        &ExportOptions {
            workspace: "bench".into(),
            entities: vec!["tasks".into()],
            since: None,
        },
        &mut file,
        &mut |_| {},
    )
    .unwrap();
    drop(file);
    let export_s = t.elapsed().as_secs_f64();
    let records = manifest.counts["tasks"];
    println!(
        "export of {records} records: {:.2} s ({:.0} records/s), {} bytes",
        export_s,
        records as f64 / export_s,
        std::fs::metadata(&archive).unwrap().len()
    );

    let target = Store::open(&dir.path().join("target.db")).unwrap();
    let path = archive.clone();
    let open = move || -> flightdeck_core::error::Result<Box<dyn Read>> {
        Ok(Box::new(std::io::BufReader::new(
            std::fs::File::open(&path).unwrap(),
        )))
    };
    let t = Instant::now();
    let report = import::import(&target, &open, OnConflict::Skip, false).unwrap();
    let import_s = t.elapsed().as_secs_f64();
    assert_eq!(report.entities["tasks"].created, n as u64);
    println!(
        "import of {n} tasks (checks, then one transaction with an audit row each): {:.2} s ({:.0} records/s); its rate over the batched insert's: {:.2} without audit rows, {:.2} with them",
        import_s,
        n as f64 / import_s,
        insert_s / import_s,
        audited_s / import_s
    );
}
