use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::super::changes::{change_from_row, CHANGE_COLUMNS};
use super::super::test_histories::{random_write, store};
use super::super::Store;
use super::*;

/// What `crsql_changes` gives for this device's changes after `db_version`.
fn through_crsql(s: &Store, db_version: i64) -> Vec<ChangeRow> {
    s.read(|c| {
        let mut stmt = c.prepare(&format!(
            "SELECT {CHANGE_COLUMNS} FROM crsql_changes
             WHERE db_version > ?1 AND site_id = crsql_site_id() ORDER BY db_version, seq"
        ))?;
        let rows = stmt.query_map([db_version], change_from_row)?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    })
    .unwrap()
}

fn ours(s: &Store, db_version: i64, max_cells: usize) -> Vec<ChangeRow> {
    s.read(|c| after(c, db_version, max_cells)).unwrap()
}

/// Two devices write, delete and re-create at random and merge each other's changes (so the
/// clock tables hold other sites' cells too, which must not be read); at every step our read
/// must equal `crsql_changes`'s for this device, after every earlier version, and a cut at
/// `max_cells` must end on a transaction boundary.
#[test]
fn local_changes_read_like_crsql_changes() {
    let (mut compared, mut by_rows) = (0, 0);
    for seed in 0..8u64 {
        let mut rng = StdRng::seed_from_u64(seed);
        let dir = tempfile::tempdir().unwrap();
        let devices = [store(&dir, "a"), store(&dir, "b")];
        for step in 0..60 {
            let s = &devices[rng.random_range(0..2)];
            random_write(s, &mut rng);
            if rng.random_bool(0.2) {
                let (from, to) = (&devices[step % 2], &devices[(step + 1) % 2]);
                let changes = from.changes_since(0, super::super::Origin::Any).unwrap();
                to.apply_changes(&changes).unwrap();
            }
            let s = &devices[rng.random_range(0..2)];
            let version = s
                .read(|c| Ok(c.query_row("SELECT crsql_db_version()", [], |r| r.get::<_, i64>(0))?))
                .unwrap();
            let after_version = rng.random_range(0..=version);
            let expected = through_crsql(s, after_version);
            assert_eq!(
                ours(s, after_version, usize::MAX),
                expected,
                "seed {seed} step {step}"
            );
            compared += expected.len();
            // The same cells, looked up by row: about half the rows, and one that is not there.
            let rows: std::collections::BTreeSet<(&str, &[u8])> = expected
                .iter()
                .filter(|c| c.pk.len() % 2 == step % 2 || rng.random_bool(0.5))
                .map(|c| (c.table.as_str(), c.pk.as_slice()))
                .chain([
                    ("tasks", &[1u8, 0x0b, 42][..]),
                    ("no_such_table", &[1u8][..]),
                ])
                .collect();
            let mut by_row = s
                .read(|c| after_among(c, after_version, rows.iter().copied()))
                .unwrap();
            by_row.sort_by_key(|c| (c.db_version, c.seq));
            let wanted: Vec<_> = expected
                .iter()
                .filter(|c| rows.contains(&(c.table.as_str(), c.pk.as_slice())))
                .cloned()
                .collect();
            assert_eq!(by_row, wanted, "seed {seed} step {step}: by row");
            by_rows += wanted.len();
            let cut = ours(s, after_version, 3);
            assert!(expected.starts_with(&cut), "seed {seed} step {step}");
            if let Some(last) = cut.last() {
                let next = expected.get(cut.len());
                assert!(next.is_none_or(|n| n.db_version != last.db_version));
            }
        }
    }
    assert!(compared > 1_000, "only {compared} cells compared");
    assert!(by_rows > 300, "only {by_rows} cells compared by row");
}
