//! History a step's end stages (`store/staged.rs`, migration 0032): its readers see it at
//! once, the store's next write moves it into the synced tables (and only then does sync
//! carry it), a write can move what it staged itself, and a crash keeps it for the next open.

use std::collections::BTreeMap;

use flightdeck_core::store::{audit_log, executions, staged, workflows as runs_sql};
use flightdeck_core::Store;
use flightdeck_types::{AuditAction, EntityKind, ExecutionEvent, Snapshot};

use super::common::{count, ship, temp_store};

/// One event, one snapshot and one audit row of run `run`, written as a write that stages.
fn history_in(
    w: &mut flightdeck_core::store::Writer<'_>,
    run: &str,
) -> flightdeck_core::Result<()> {
    w.stage_history();
    executions::insert_event(
        w,
        &ExecutionEvent {
            execution_id: run.into(),
            seq: 1,
            at: w.now(),
            kind: "status".into(),
            data: "running".into(),
        },
    )?;
    runs_sql::insert_snapshot(
        w,
        &Snapshot {
            id: format!("{run}-0"),
            workflow_run_id: run.into(),
            execution_id: Some(run.into()),
            seq: 0,
            step_id: Some("s0".into()),
            label: "started".into(),
            inputs: serde_json::json!({}),
            outputs: serde_json::json!({}),
            checkpoint: Default::default(),
            started_at: w.now(),
            finished_at: None,
            recorded_at: Some(w.now()),
        },
    )?;
    w.audit(
        EntityKind::Execution,
        run,
        AuditAction::Transition,
        BTreeMap::new(),
    );
    Ok(())
}

/// Rows of the three synced history tables about `run`.
fn synced(store: &Store, run: &str) -> i64 {
    count(
        store,
        &format!(
            "SELECT (SELECT count(*) FROM execution_events WHERE execution_id = '{run}')
                  + (SELECT count(*) FROM execution_snapshots WHERE workflow_run_id = '{run}')
                  + (SELECT count(*) FROM audit_log WHERE entity_id = '{run}')"
        ),
    )
}

fn staged_rows(store: &Store) -> i64 {
    store.read(staged::count).unwrap()
}

/// What the readers of each history table see of `run`: events, next event number,
/// snapshots, audit rows.
fn read(store: &Store, run: &str) -> (usize, i64, usize, usize) {
    store
        .read(|c| {
            Ok((
                executions::events(c, run, 0, 10)?.len(),
                executions::next_event_seq(c, run)?,
                runs_sql::snapshots(c, run)?.len(),
                audit_log::list(c, Some(run), 10)?.len(),
            ))
        })
        .unwrap()
}

#[test]
fn staged_history_is_read_at_once_and_the_next_write_moves_it_where_sync_finds_it() {
    let (_dir, store) = temp_store();
    store.write(|w| history_in(w, "run-1")).unwrap();
    assert_eq!(
        staged_rows(&store),
        3,
        "the event, the snapshot and the audit row wait"
    );
    assert_eq!(synced(&store, "run-1"), 0);
    let (_other_dir, other) = temp_store();
    ship(&store, &other);
    assert_eq!(synced(&other, "run-1"), 0, "sync sends nothing staged");
    assert_eq!(
        read(&store, "run-1"),
        (1, 2, 1, 1),
        "every reader sees the staged rows"
    );

    // Any write of the store moves them first, in its own transaction.
    store.write(|_| Ok(())).unwrap();
    assert_eq!(staged_rows(&store), 0);
    assert_eq!(synced(&store, "run-1"), 3);
    assert_eq!(read(&store, "run-1"), (1, 2, 1, 1), "read once, not twice");
    ship(&store, &other);
    assert_eq!(synced(&other, "run-1"), 3, "once moved, sync carries them");
}

#[test]
fn a_write_that_moves_what_it_staged_leaves_nothing_staged() {
    let (_dir, store) = temp_store();
    store
        .write(|w| {
            history_in(w, "run-2")?;
            w.flush_staged()
        })
        .unwrap();
    assert_eq!(staged_rows(&store), 0);
    assert_eq!(synced(&store, "run-2"), 3);
    assert_eq!(read(&store, "run-2"), (1, 2, 1, 1));
}

#[test]
fn history_staged_before_the_process_ended_is_read_after_it_and_moved_by_the_next_write() {
    let (_dir, store) = temp_store();
    store.write(|w| history_in(w, "run-3")).unwrap();
    let path = store.path().to_path_buf();
    // The process ends with nothing more written: nothing was moved.
    drop(store);
    let store = Store::open(&path).unwrap();
    assert_eq!(staged_rows(&store), 3);
    assert_eq!(read(&store, "run-3"), (1, 2, 1, 1));
    store.write(|_| Ok(())).unwrap();
    assert_eq!(staged_rows(&store), 0);
    assert_eq!(synced(&store, "run-3"), 3);
}

#[test]
fn another_process_moves_what_waits_before_it_exports() {
    let (_dir, runner) = temp_store();
    let exporter = Store::open(runner.path()).unwrap();
    exporter.write(|_| Ok(())).unwrap(); // its own writes have nothing of theirs to move
    runner.write(|w| history_in(w, "run-4")).unwrap();
    assert_eq!(staged_rows(&exporter), 3);
    let mut archive = Vec::new();
    flightdeck_core::export::export(&exporter, &Default::default(), &mut archive, &mut |_| {})
        .unwrap();
    assert_eq!(
        staged_rows(&exporter),
        0,
        "export moved the staged rows first"
    );
    assert_eq!(synced(&exporter, "run-4"), 3);
}
