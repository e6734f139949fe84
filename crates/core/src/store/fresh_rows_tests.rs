use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rusqlite::types::Value;

use super::super::changes::Origin;
use super::super::test_histories::{random_write, store};
use super::super::Store;
use super::*;

/// Everything that the merge writes, in a form two databases with different site ids can be
/// compared by: base rows, keys, clocks (site ordinal 0 is each database's own), other sites'
/// ordinals, and the database version.
fn state(s: &Store) -> Vec<String> {
    let queries = [
        "SELECT * FROM tasks ORDER BY id",
        "SELECT * FROM execution_events ORDER BY execution_id, seq",
        "SELECT * FROM tasks__crsql_pks ORDER BY __crsql_key",
        "SELECT * FROM execution_events__crsql_pks ORDER BY __crsql_key",
        "SELECT * FROM tasks__crsql_clock ORDER BY key, col_name",
        "SELECT * FROM execution_events__crsql_clock ORDER BY key, col_name",
        "SELECT ordinal, hex(site_id) FROM crsql_site_id WHERE ordinal > 0 ORDER BY ordinal",
        "SELECT crsql_db_version()",
    ];
    s.read(|c| {
        let mut out = Vec::new();
        for sql in queries {
            let mut stmt = c.prepare(sql)?;
            let width = stmt.column_count();
            let rows = stmt.query_map([], |r| {
                (0..width)
                    .map(|i| r.get::<_, Value>(i))
                    .collect::<rusqlite::Result<Vec<_>>>()
            })?;
            for row in rows {
                out.push(format!("{sql}: {:?}", row?));
            }
        }
        Ok(out)
    })
    .unwrap()
}

fn merge_counted(s: &Store, changes: &[ChangeRow]) -> usize {
    let mut conn = s.lock();
    let tx = conn.transaction().unwrap();
    let direct = merge(&tx, changes).unwrap();
    tx.commit().unwrap();
    direct
}

/// The fast path against cr-sqlite's own merge: three devices write, delete and resurrect at
/// random and partly sync among themselves; two empty databases are fed the same pages of
/// their histories, in several rounds (so later pages meet rows already known), one through
/// `merge`, one through `crsql_changes` only. Every table cr-sqlite keeps must come out
/// identical, and so must the next local write's clock.
#[test]
fn fresh_rows_merge_like_crsql() {
    let mut direct_total = 0;
    for seed in 0..12u64 {
        let mut rng = StdRng::seed_from_u64(seed);
        let dir = tempfile::tempdir().unwrap();
        let sources: Vec<Store> = (0..3).map(|i| store(&dir, &format!("s{i}"))).collect();
        let fast = store(&dir, "fast");
        let reference = store(&dir, "reference");
        for _round in 0..3 {
            for _ in 0..rng.random_range(5..40) {
                let s = &sources[rng.random_range(0..sources.len())];
                random_write(s, &mut rng);
                if rng.random_bool(0.1) {
                    let to = &sources[rng.random_range(0..sources.len())];
                    let changes = s.changes_since(0, Origin::Any).unwrap();
                    to.apply_changes_through_crsql(&changes).unwrap();
                }
            }
            for s in &sources {
                let changes = s.changes_since(0, Origin::Any).unwrap();
                let mut at = 0;
                while at < changes.len() {
                    let end = (at + rng.random_range(1..25)).min(changes.len());
                    let mut page = changes[at..end].to_vec();
                    // Any order is valid input, and the merge must follow it as cr-sqlite
                    // does (an existence cell after a column's, a delete before a create).
                    if rng.random_bool(0.3) {
                        page.shuffle(&mut rng);
                    }
                    direct_total += merge_counted(&fast, &page);
                    reference.apply_changes_through_crsql(&page).unwrap();
                    at = end;
                }
            }
            assert_eq!(state(&fast), state(&reference), "seed {seed}");
        }
        for s in [&fast, &reference] {
            // What this compares is cr-sqlite's own counting from the state each merge left;
            // a stamp would put each store's own time in the versions.
            s.set_clock_stamps_for_bench(false);
            random_write(s, &mut StdRng::seed_from_u64(seed));
        }
        assert_eq!(state(&fast), state(&reference), "seed {seed}, local write");
        let fast_changes = fast.changes_since(0, Origin::Any).unwrap();
        assert!(!fast_changes.is_empty());
    }
    // Not vacuous: the fast path wrote a good part of those cells itself.
    assert!(
        direct_total > 500,
        "only {direct_total} cells took the fast path"
    );
}

/// A cell of a row already known (or one that is not the row's first life) is left to
/// cr-sqlite, and the sync bit is off again afterwards: a local write still records its clock.
#[test]
fn known_rows_go_through_crsql_and_local_writes_still_count() {
    let dir = tempfile::tempdir().unwrap();
    let a = store(&dir, "a");
    let b = store(&dir, "b");
    let mut rng = StdRng::seed_from_u64(7);
    random_write(&a, &mut rng);
    a.write(|w| {
        w.execute(
            "INSERT INTO tasks (id, title) VALUES ('t1', 'one'), ('t2', 'two')",
            [],
        )?;
        Ok(())
    })
    .unwrap();
    let changes = a.changes_since(0, Origin::Any).unwrap();
    assert!(merge_counted(&b, &changes) > 0);
    assert_eq!(merge_counted(&b, &changes), 0, "every row is known now");
    let before: i64 = b
        .read(|c| Ok(c.query_row("SELECT crsql_db_version()", [], |r| r.get(0))?))
        .unwrap();
    b.write(|w| {
        w.execute("UPDATE tasks SET title = 'local' WHERE id = 't1'", [])?;
        Ok(())
    })
    .unwrap();
    assert!(b.has_local_changes_after(before).unwrap());
}

#[test]
fn unpack_reads_what_crsqlite_packs() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(&dir, "pack");
    let cases: Vec<Vec<Value>> = vec![
        vec![Value::Text("0190b000-0000-7000-8000-000000000001".into())],
        vec![Value::Text(String::new())],
        vec![Value::Text("é".repeat(300))],
        vec![
            Value::Integer(0),
            Value::Integer(-1),
            Value::Integer(255),
            Value::Integer(256),
        ],
        vec![
            Value::Integer(128),
            Value::Integer(65_535),
            Value::Integer(1 << 40),
        ],
        vec![
            Value::Integer(i64::MIN),
            Value::Integer(i64::MAX),
            Value::Integer(-129),
        ],
        vec![
            Value::Real(-1.5),
            Value::Null,
            Value::Blob(vec![0, 1, 2, 255]),
        ],
        vec![Value::Blob(vec![7; 70_000]), Value::Text("x".into())],
    ];
    for values in cases {
        let sql = format!("SELECT crsql_pack_columns({})", placeholders(values.len()));
        let packed: Vec<u8> = s
            .read(|c| Ok(c.query_row(&sql, params_from_iter(&values), |r| r.get(0))?))
            .unwrap();
        let theirs: Vec<Value> = s
            .read(|c| {
                let mut stmt = c.prepare("SELECT cell FROM crsql_unpack_columns(?1)")?;
                let cells = stmt.query_map([&packed], |r| r.get(0))?;
                Ok(cells.collect::<rusqlite::Result<_>>()?)
            })
            .unwrap();
        assert_eq!(theirs, values, "cr-sqlite's own unpack");
        assert_eq!(unpack(&packed), Some(values));
    }
    assert_eq!(unpack(&[]), None);
    assert_eq!(unpack(&[1, 0x0b]), None, "an integer cut short");
    assert_eq!(unpack(&[1, 0x05, 0]), None, "bytes after the last value");
}

/// cr-sqlite writes an existence cell for a first-life row only in tables with no other
/// columns, but a page may carry one anyway, before or after the row's columns: cr-sqlite
/// then keeps it only if it came first, and so must the fast path.
#[test]
fn an_existence_cell_before_or_after_the_columns_merges_as_crsql_does() {
    let dir = tempfile::tempdir().unwrap();
    let a = store(&dir, "a");
    a.write(|w| {
        w.execute("INSERT INTO tasks (id, title) VALUES ('t1', 'one')", [])?;
        Ok(())
    })
    .unwrap();
    let columns = a.changes_since(0, Origin::Any).unwrap();
    let existence = ChangeRow {
        cid: SENTINEL.into(),
        val: Value::Null,
        col_version: 1,
        seq: 99,
        ..columns[0].clone()
    };
    let late = [columns.clone(), vec![existence.clone()]].concat();
    let early = [vec![existence], columns].concat();
    for (name, page) in [("late", late), ("early", early)] {
        let fast = store(&dir, &format!("{name}-fast"));
        let reference = store(&dir, &format!("{name}-reference"));
        merge_counted(&fast, &page);
        reference.apply_changes_through_crsql(&page).unwrap();
        assert_eq!(state(&fast), state(&reference), "existence cell {name}");
    }
}
