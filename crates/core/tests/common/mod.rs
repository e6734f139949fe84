#![allow(dead_code)] // each test binary uses its own part of these helpers

use flightdeck_core::store::Origin;
use flightdeck_core::Store;
use tempfile::TempDir;

/// A store in a fresh temporary directory, with the real extensions loaded.
pub fn temp_store() -> (TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("flightdeck.db")).unwrap();
    (dir, store)
}

/// Ships every change `from` has (its own and those it merged) to `to`.
pub fn ship(from: &Store, to: &Store) {
    let changes = from.changes_since(0, Origin::Any).unwrap();
    to.apply_changes(&changes).unwrap();
}

/// Both directions, as a sync round would.
pub fn exchange(a: &Store, b: &Store) {
    ship(a, b);
    ship(b, a);
}

pub fn count(store: &Store, sql: &str) -> i64 {
    store
        .read(|c| Ok(c.query_row(sql, [], |r| r.get(0))?))
        .unwrap()
}
