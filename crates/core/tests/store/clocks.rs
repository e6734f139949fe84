//! The clock a write's cells are stamped with (store/hlc.rs): with Flightdeck's cr-sqlite
//! (its local clock) each write's cells carry its clock as they are written; with a stock
//! build a write shares the note of the store's last write in the same millisecond, and every
//! cell still gets the clock of its own write, rising with each write, whichever store on the
//! file wrote it.

use std::collections::HashMap;

use flightdeck_core::clock::now_millis;
use flightdeck_core::store::Origin;
use flightdeck_core::{tasks, Store};
use flightdeck_types::NewTask;

use super::common::{count, temp_store};

/// Bits of a clock value below its milliseconds.
const LOGICAL_BITS: u32 = flightdeck_types::sync::CLOCK_LOGICAL_BITS;

/// A task created by `store`, with the wall-clock milliseconds read just before and after.
fn create_timed(store: &Store, title: &str) -> (String, i64, i64) {
    let before = now_millis();
    let task = tasks::create(
        store,
        NewTask {
            title: title.into(),
            ..Default::default()
        },
    )
    .unwrap();
    (task.id, before, now_millis())
}

/// Each task's title cell: (column version, db_version), read after a stamp.
fn title_clocks(store: &Store) -> HashMap<String, (i64, i64)> {
    store.changes_since(0, Origin::Local).unwrap();
    store
        .read(|c| {
            let mut stmt = c.prepare(
                "SELECT t.id, c.col_version, c.db_version FROM tasks__crsql_clock AS c
                 JOIN tasks__crsql_pks AS k ON k.__crsql_key = c.key
                 JOIN tasks AS t ON t.id = k.id
                 WHERE c.col_name = 'title'",
            )?;
            let rows = stmt
                .query_map([], |r| Ok((r.get(0)?, (r.get(1)?, r.get(2)?))))?
                .collect::<rusqlite::Result<_>>()?;
            Ok(rows)
        })
        .unwrap()
}

/// Every write's cells carry a clock read within the write, and (`rising`) later writes carry
/// higher clocks.
fn assert_clocks_of_their_writes(
    writes: &[(String, i64, i64)],
    clocks: &HashMap<String, (i64, i64)>,
    rising: bool,
) {
    let mut previous = 0;
    for (id, before, after) in writes {
        let (clock, _) = clocks[id];
        let millis = clock >> LOGICAL_BITS;
        assert!(
            (*before..=*after).contains(&millis),
            "the write between {before} and {after} ms is stamped {millis} ms ({clock})"
        );
        assert!(
            !rising || clock > previous,
            "clocks rise with the writes: {clock} after {previous}"
        );
        previous = clock;
    }
}

fn notes(store: &Store) -> i64 {
    count(store, "SELECT count(*) FROM hlc_pending")
}

/// Each task's title cell's column version as it is, without stamping first.
fn raw_title_clocks(store: &Store) -> HashMap<String, i64> {
    store
        .read(|c| {
            let mut stmt = c.prepare(
                "SELECT t.id, c.col_version FROM tasks__crsql_clock AS c
                 JOIN tasks__crsql_pks AS k ON k.__crsql_key = c.key
                 JOIN tasks AS t ON t.id = k.id
                 WHERE c.col_name = 'title'",
            )?;
            let rows = stmt
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<_>>()?;
            Ok(rows)
        })
        .unwrap()
}

/// A task inserted by one small write (one row), with the wall clock around it.
fn insert_timed(store: &Store, n: usize) -> (String, i64, i64) {
    let id = format!("0190a000-0000-7000-8000-{n:012}");
    let before = now_millis();
    store
        .write(|w| {
            w.execute(
                "INSERT INTO tasks (id, title) VALUES (?1, ?2)",
                [id.as_str(), &format!("task {n}")],
            )?;
            Ok(())
        })
        .unwrap();
    (id, before, now_millis())
}

/// A column version at or above this is a clock; below, a count cr-sqlite kept.
const CLOCK_FLOOR: i64 = 1 << 40;

#[test]
fn with_the_local_clock_each_write_carries_its_clock_as_written_and_notes_nothing() {
    let (_dir, store) = temp_store();
    assert!(
        store.set_local_clock_for_bench(true),
        "the cr-sqlite under test lacks the local clock: run scripts/setup.sh"
    );
    let mut writes = Vec::new();
    for burst in 0..20 {
        flightdeck_core::clock::next_millisecond();
        for _ in 0..burst {
            writes.push(insert_timed(&store, writes.len()));
        }
    }
    // Read raw, with no stamp before: the versions cr-sqlite wrote are the writes' clocks.
    let raw: HashMap<String, (i64, i64)> = raw_title_clocks(&store)
        .into_iter()
        .map(|(id, clock)| (id, (clock, 0)))
        .collect();
    assert_clocks_of_their_writes(&writes, &raw, true);
    assert_eq!(notes(&store), 0, "no write noted its clock");
    // A stamp changes nothing.
    let stamped = title_clocks(&store);
    for (id, (clock, _)) in &raw {
        assert_eq!(stamped[id].0, *clock, "{id}");
    }

    // An edit of a cell: its version is its write's clock, above the one before.
    let (id, _, _) = writes[0].clone();
    let before = now_millis();
    tasks::update(&store, &id, title("edited")).unwrap();
    let after = now_millis();
    let clock = raw_title_clocks(&store)[&id];
    assert!(clock > raw[&id].0);
    assert!((before..=after).contains(&(clock >> LOGICAL_BITS)));

    // The clock belongs to its transaction: cleared at commit and at rollback, so a
    // transaction that sets none (here: stamps off) writes counted versions, not a stale clock.
    let local_clock = |store: &Store| -> i64 {
        store
            .write(|w| Ok(w.query_row("SELECT crsql_local_clock()", [], |r| r.get(0))?))
            .unwrap()
    };
    assert!(local_clock(&store) > clock, "a write sets its clock");
    let failed = store.write(|w| {
        w.execute("UPDATE tasks SET title = 'lost' WHERE id = ?1", [&id])?;
        Err::<(), _>(flightdeck_core::CoreError::NotFound {
            kind: "test",
            key: "rolled back".into(),
        })
    });
    assert!(failed.is_err());
    store.set_clock_stamps_for_bench(false);
    assert_eq!(local_clock(&store), 0, "cleared at rollback");
    tasks::update(&store, &id, title("counted")).unwrap();
    assert_eq!(
        raw_title_clocks(&store)[&id],
        clock + 1,
        "counted, as cr-sqlite counts"
    );
    store.set_clock_stamps_for_bench(true);
    tasks::update(&store, &id, title("clocked")).unwrap();
    store.set_clock_stamps_for_bench(false);
    assert_eq!(local_clock(&store), 0, "cleared at commit");
}

#[test]
fn each_write_gets_the_clock_of_its_own_write_alone_noted_or_sharing_a_note() {
    let (_dir, store) = temp_store();
    // A stock cr-sqlite build: the write path stamps cells itself or notes their clock.
    assert!(!store.set_local_clock_for_bench(false));
    // Bursts of small writes until every path was taken: a write alone in its millisecond
    // stamps its cells in the write; the second of a millisecond notes its clock; the ones
    // after it share that note (their cells stay counted until the next stamp).
    let mut writes = Vec::new();
    let (mut alone, mut shared) = (0, 0);
    while alone == 0 || shared == 0 {
        assert!(writes.len() < 5_000, "no write shared a note: {writes:?}");
        flightdeck_core::clock::next_millisecond();
        flightdeck_core::clock::next_millisecond();
        for _ in 0..30 {
            writes.push(insert_timed(&store, writes.len()));
        }
        let raw = raw_title_clocks(&store);
        alone = raw.values().filter(|v| **v >= CLOCK_FLOOR).count();
        let counted = raw.values().filter(|v| **v < CLOCK_FLOOR).count() as i64;
        shared = counted - notes(&store);
        eprintln!(
            "burst: alone {alone} counted {counted} notes {}",
            notes(&store)
        );
    }
    // The first write of each burst was alone, and its cells carry its clock already.
    let raw = raw_title_clocks(&store);
    for (id, before, after) in writes.iter().step_by(30) {
        let millis = raw[id] >> LOGICAL_BITS;
        assert!(
            (*before..=*after).contains(&millis),
            "{id}: {millis} not in {before}..={after}"
        );
    }

    let clocks = title_clocks(&store);
    assert_clocks_of_their_writes(&writes, &clocks, true);
    // The newest note stays for the writes still to come in its millisecond.
    assert_eq!(notes(&store), 1);
    // Stamping again changes nothing.
    assert_eq!(title_clocks(&store), clocks);

    // Writes after the stamp, in the millisecond of the kept note or a later one.
    for _ in 0..10 {
        writes.push(insert_timed(&store, writes.len()));
    }
    let clocks = title_clocks(&store);
    assert_clocks_of_their_writes(&writes, &clocks, true);
}

#[test]
fn two_stores_on_one_file_writing_in_turn_each_get_their_own_clocks() {
    let (dir, one) = temp_store();
    // Another process's store on the same file (the daemon beside the CLI), on a stock
    // cr-sqlite build: one store notes clocks, the other writes them as it goes.
    let two = Store::open(&dir.path().join("flightdeck.db")).unwrap();
    assert!(!two.set_local_clock_for_bench(false));
    let (mut by_one, mut by_two) = (Vec::new(), Vec::new());
    for i in 0..60 {
        if i % 3 == 0 {
            by_two.push(create_timed(&two, &format!("task {i}")));
        } else {
            by_one.push(create_timed(&one, &format!("task {i}")));
        }
    }
    // Either store stamps what both wrote. Each write's clock is of its millisecond; their
    // order among different cells within one millisecond is not kept (a write sharing its
    // store's note takes the newest note below it, which may be the other store's): last
    // write wins compares the versions of one cell, and a cell's next version is always
    // above its last.
    let clocks = title_clocks(&two);
    assert_clocks_of_their_writes(&by_one, &clocks, false);
    assert_clocks_of_their_writes(&by_two, &clocks, false);
    assert_eq!(title_clocks(&one), clocks);

    // One cell written by both in turn: each version above the one before.
    let (id, _, _) = by_one[0].clone();
    let mut previous = clocks[&id].0;
    for i in 0..30 {
        let store = if i % 2 == 0 { &one } else { &two };
        let before = now_millis();
        tasks::update(store, &id, title(&format!("edit {i}"))).unwrap();
        let after = now_millis();
        let (clock, _) = title_clocks(store)[&id];
        assert!(clock > previous, "edit {i}: {clock} after {previous}");
        assert!((before..=after).contains(&(clock >> LOGICAL_BITS)));
        previous = clock;
    }
}

fn title(text: &str) -> flightdeck_types::TaskPatch {
    flightdeck_types::TaskPatch {
        title: Some(text.into()),
        ..Default::default()
    }
}

/// An inserted row's clock rows (Flightdeck's cr-sqlite writes them in one statement, not one
/// per column): one per column, in the table's column order, each at the write's version and
/// clock, with the write's other cells (its audit row's) numbered after them, so that no two
/// cells of one write share a `seq` (sync pages by `(db_version, seq)`).
#[test]
fn an_inserted_row_s_cells_follow_its_columns_with_one_seq_each() {
    let (_dir, store) = temp_store();
    let (id, _, _) = create_timed(&store, "numbered");
    let changes = store.changes_since(0, Origin::Local).unwrap();
    let columns: Vec<String> = store
        .read(|c| {
            let mut stmt =
                c.prepare("SELECT name FROM pragma_table_info('tasks') WHERE pk = 0 ORDER BY cid")?;
            let names = stmt
                .query_map([], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            Ok(names)
        })
        .unwrap();
    let key = store
        .read(|c| {
            Ok(c.query_row("SELECT crsql_pack_columns(?1)", [&id], |r| {
                r.get::<_, Vec<u8>>(0)
            })?)
        })
        .unwrap();
    let task: Vec<_> = changes
        .iter()
        .filter(|c| c.table == "tasks" && c.pk == key)
        .collect();
    assert_eq!(
        task.iter().map(|c| c.cid.clone()).collect::<Vec<_>>(),
        columns,
        "one cell per column, in column order (by seq)"
    );
    let version = task[0].db_version;
    let first = task[0].seq;
    for (i, cell) in task.iter().enumerate() {
        assert_eq!(
            cell.db_version, version,
            "{}: one write, one version",
            cell.cid
        );
        assert_eq!(cell.seq, first + i as i64, "{}: the next seq", cell.cid);
        assert_eq!(
            cell.col_version, task[0].col_version,
            "{}: the write's clock",
            cell.cid
        );
    }
    let mut seqs: Vec<i64> = changes
        .iter()
        .filter(|c| c.db_version == version)
        .map(|c| c.seq)
        .collect();
    let cells = seqs.len();
    seqs.sort_unstable();
    seqs.dedup();
    assert_eq!(
        seqs.len(),
        cells,
        "no two cells of the write share a seq: {seqs:?}"
    );
    assert!(
        changes
            .iter()
            .any(|c| c.table == "audit_log" && c.db_version == version),
        "the audit row's cells are in the same write"
    );
}
