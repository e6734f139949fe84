//! Random local histories over a few tasks and execution events, for tests that compare
//! our SQL with cr-sqlite's own.

use rand::rngs::StdRng;
use rand::Rng;
use rusqlite::params;
use rusqlite::types::Value;

use super::Store;

pub(crate) fn store(dir: &tempfile::TempDir, name: &str) -> Store {
    Store::open(&dir.path().join(format!("{name}.db"))).unwrap()
}

/// One random local write on `s`: tasks (one text key) and execution events (a text and an
/// integer key), created, edited, deleted and created again, over few enough keys that the
/// devices collide.
pub(crate) fn random_write(s: &Store, rng: &mut StdRng) {
    let task = format!("task-{}", rng.random_range(0..12));
    let event = (
        format!("exec-{}", rng.random_range(0..3)),
        rng.random_range(-2..4i64),
    );
    let n: i64 = rng.random_range(-300..300);
    let op = rng.random_range(0..7);
    s.write(|w| {
        match op {
            0 | 1 => w.execute(
                "INSERT OR IGNORE INTO tasks (id, title, status, priority, created_at)
                 VALUES (?1, ?2, 'todo', ?3, ?4)",
                params![task, format!("title {n}"), n % 4, n * 1_000_000_007],
            )?,
            2 => w.execute(
                "UPDATE tasks SET title = ?2 WHERE id = ?1",
                params![task, format!("edited {n}")],
            )?,
            3 => w.execute(
                "UPDATE tasks SET priority = ?2, environment_id = ?3 WHERE id = ?1",
                params![
                    task,
                    n,
                    if n > 0 {
                        Value::Null
                    } else {
                        Value::Real(n as f64 / 7.0)
                    }
                ],
            )?,
            4 => w.execute("DELETE FROM tasks WHERE id = ?1", [task])?,
            5 => w.execute(
                "INSERT OR REPLACE INTO execution_events (execution_id, seq, at, kind, data)
                 VALUES (?1, ?2, ?3, 'stdout', ?4)",
                params![event.0, event.1, n, format!("line {n}")],
            )?,
            _ => w.execute(
                "DELETE FROM execution_events WHERE execution_id = ?1 AND seq = ?2",
                params![event.0, event.1],
            )?,
        };
        Ok(())
    })
    .unwrap();
}
