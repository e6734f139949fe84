#![allow(dead_code)] // each test binary uses its own part of these helpers

use flightdeck_core::store::Origin;
use flightdeck_core::Store;
use flightdeck_types::{ExecutionSpec, NewSchedule, ScheduleKind, ShellSpec, Timestamp};
use tempfile::TempDir;

/// A task titled `title`, created through the engine.
pub fn task(store: &Store, title: &str) -> flightdeck_types::Task {
    flightdeck_core::tasks::create(
        store,
        flightdeck_types::NewTask {
            title: title.into(),
            ..Default::default()
        },
    )
    .unwrap()
}

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

pub fn at(rfc3339: &str) -> Timestamp {
    Timestamp::parse_rfc3339(rfc3339).unwrap()
}

/// A schedule of `kind` that runs `true`, every policy and the timing left unset: each test
/// fills in the timing it is about.
pub fn true_schedule(name: &str, kind: ScheduleKind) -> NewSchedule {
    NewSchedule {
        name: name.into(),
        task_id: None,
        kind,
        cron_expr: None,
        timezone: None,
        interval_secs: None,
        run_at: None,
        spec: ExecutionSpec::Shell(ShellSpec {
            line: Some("true".into()),
            ..Default::default()
        }),
        misfire_policy: None,
        misfire_cap: None,
        overlap_policy: None,
        retry_policy: None,
        runner_device_id: None,
        expected_secs: None,
    }
}
