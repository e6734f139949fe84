//! The CRR write path against its peers, in one process on the same data:
//!
//! - `plain`: the same schema and SQL on SQLite without cr-sqlite;
//! - `raw cr-sqlite`: the same SQL on a connection with cr-sqlite loaded, in hand-made
//!   transactions (no write path);
//! - `write path`: the same SQL through `Store::write`;
//! - `unstamped`: the write path with its clock stamp turned off (issue 19: what the hybrid
//!   logical clock costs a write, against the write path before it);
//! - `after the fact`: the write path as it runs on a stock cr-sqlite build (no local clock:
//!   the write stamps its cells itself with an `UPDATE`, or notes its clock for later).
//!
//! Also the full task API (`tasks::create`, which adds validation and an audit row), run
//! events appended in batches, and the in-process work of one CLI `task add`.
//!
//! Run: `cargo bench -p flightdeck-core --bench write_path` (add `-- --quick` for a smoke run;
//! `FLIGHTDECK_BENCH_ONLY=TEXT` runs only the workloads whose names contain TEXT).
//! Each figure is the median over rounds; the variants run interleaved in each round, and
//! "stamped / unstamped" is the median of each round's ratio of the two (which alternate
//! going first).

use std::path::Path;
use std::time::{Duration, Instant};

use flightdeck_core::store::{local_migrations, migrate::migrate, CrConn};
use flightdeck_core::{tasks, Store};
use flightdeck_types::NewTask;
use rusqlite::{params, Connection};

const INSERT: &str = "INSERT INTO tasks (id, title, description, status, priority, environment_id,
                      archived, created_at, updated_at) VALUES (?1, ?2, ?3, 'todo', 1, NULL, 0, ?4, ?4)";
const UPDATE: &str = "UPDATE tasks SET title = ?2, updated_at = ?3 WHERE id = ?1";
const EVENT: &str = "INSERT INTO execution_events (execution_id, seq, at, kind, data)
                     VALUES (?1, ?2, ?3, 'stdout', ?4)";

#[derive(Clone, Copy, PartialEq)]
enum Variant {
    Plain,
    RawCrr,
    WritePath,
    Unstamped,
    AfterTheFact,
}

const VARIANTS: [Variant; 5] = [
    Variant::Plain,
    Variant::RawCrr,
    Variant::WritePath,
    Variant::Unstamped,
    Variant::AfterTheFact,
];

impl Variant {
    fn name(self) -> &'static str {
        match self {
            Variant::Plain => "plain SQLite",
            Variant::RawCrr => "raw cr-sqlite",
            Variant::WritePath => "write path",
            Variant::Unstamped => "write path, no clock stamp",
            Variant::AfterTheFact => "write path, stamped after the fact",
        }
    }
}

/// One database of one variant, able to run a batch of statements in one transaction.
enum Db {
    Plain(Connection),
    Raw(CrConn),
    Store(Box<Store>),
}

impl Db {
    fn open(variant: Variant, path: &Path) -> Db {
        match variant {
            Variant::Plain => {
                let conn = Connection::open(path).unwrap();
                conn.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))
                    .unwrap();
                conn.execute_batch(
                    "PRAGMA synchronous = NORMAL; PRAGMA temp_store = MEMORY;
                     PRAGMA mmap_size = 1073741824;",
                )
                .unwrap();
                for m in local_migrations() {
                    conn.execute_batch(&strip_crr(m.sql)).unwrap();
                }
                Db::Plain(conn)
            }
            Variant::RawCrr => {
                let mut conn = CrConn::open(path).unwrap();
                migrate(&mut conn, local_migrations()).unwrap();
                Db::Raw(conn)
            }
            Variant::WritePath => Db::Store(Box::new(Store::open(path).unwrap())),
            Variant::Unstamped => {
                let store = Store::open(path).unwrap();
                store.set_clock_stamps_for_bench(false);
                Db::Store(Box::new(store))
            }
            Variant::AfterTheFact => {
                let store = Store::open(path).unwrap();
                store.set_local_clock_for_bench(false);
                Db::Store(Box::new(store))
            }
        }
    }

    /// Runs `f` in one transaction, the way each variant does it.
    fn tx(&mut self, f: impl FnOnce(&Connection)) {
        match self {
            Db::Plain(conn) => raw_tx(conn, f),
            Db::Raw(conn) => raw_tx(conn, f),
            Db::Store(store) => store
                .write(|w| {
                    f(w);
                    Ok(())
                })
                .unwrap(),
        }
    }
}

fn raw_tx(conn: &mut Connection, f: impl FnOnce(&Connection)) {
    let tx = conn
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .unwrap();
    f(&tx);
    tx.commit().unwrap();
}

/// The schema without `SELECT crsql_as_crr(...)`: what plain SQLite runs.
fn strip_crr(sql: &str) -> String {
    sql.lines()
        .filter(|l| !l.trim_start().starts_with("SELECT crsql_"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn id(i: usize) -> String {
    format!("0190a000-0000-7000-8000-{i:012}")
}

fn insert_rows(conn: &Connection, from: usize, n: usize) {
    let mut stmt = conn.prepare_cached(INSERT).unwrap();
    for i in from..from + n {
        stmt.execute(params![
            id(i),
            format!("Task number {i}"),
            "A description of moderate length",
            1_700_000_000_000i64 + i as i64
        ])
        .unwrap();
    }
}

fn update_rows(conn: &Connection, from: usize, n: usize, round: usize) {
    let mut stmt = conn.prepare_cached(UPDATE).unwrap();
    for i in from..from + n {
        stmt.execute(params![
            id(i),
            format!("Renamed {i} in round {round}"),
            1_800_000_000_000i64 + i as i64
        ])
        .unwrap();
    }
}

struct Scenario {
    name: &'static str,
    /// Operations per measurement.
    ops: usize,
    /// Rows each operation's transaction writes.
    per_tx: usize,
    kind: Kind,
    /// Each transaction starts in a millisecond of its own (the wait is not timed): a write
    /// that cannot share its store's clock note of the millisecond before (issue 19).
    spaced: bool,
}

#[derive(Clone, Copy)]
enum Kind {
    Insert,
    Update,
    Events,
}

/// Measures one scenario for one variant on a fresh database; returns time per row.
fn measure(variant: Variant, s: &Scenario, round: usize) -> Duration {
    let dir = tempfile::tempdir().unwrap();
    let mut db = Db::open(variant, &dir.path().join("bench.db"));
    let rows = s.ops;
    if let Kind::Update = s.kind {
        db.tx(|c| insert_rows(c, 0, rows));
    }
    let mut took = Duration::ZERO;
    let mut done = 0;
    while done < rows {
        let n = s.per_tx.min(rows - done);
        if s.spaced {
            flightdeck_core::clock::next_millisecond();
        }
        let start = Instant::now();
        match s.kind {
            Kind::Insert => db.tx(|c| insert_rows(c, done, n)),
            Kind::Update => db.tx(|c| update_rows(c, done, n, round)),
            Kind::Events => db.tx(|c| {
                let mut stmt = c.prepare_cached(EVENT).unwrap();
                for seq in done..done + n {
                    stmt.execute(params![
                        "0190a000-0000-7000-8000-000000000001",
                        seq as i64,
                        1_700_000_000_000i64 + seq as i64,
                        "compiling flightdeck-core v0.1.0"
                    ])
                    .unwrap();
                }
            }),
        }
        took += start.elapsed();
        done += n;
    }
    took / rows as u32
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// Restore to a point in time (issue 33): a workspace of `tasks` tasks, `edits` of them
/// updated one write each after the instant, then `restore --all` to that instant; returns
/// (the edits' time, the dry run's, the restore's, the number of tasks it changed).
fn restore_figures(tasks_n: usize, edits: usize) -> (Duration, Duration, Duration, usize) {
    use flightdeck_core::restore::{restore, Scope};
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("flightdeck.db")).unwrap();
    let mut ids = Vec::with_capacity(tasks_n);
    for i in 0..tasks_n {
        let t = tasks::create(
            &store,
            NewTask {
                title: format!("task {i}"),
                ..Default::default()
            },
        )
        .unwrap();
        ids.push(t.id);
    }
    let last = flightdeck_core::clock::now();
    let then = loop {
        let now = flightdeck_core::clock::now();
        if now > last {
            break now;
        }
    };
    while flightdeck_core::clock::now() <= then {}
    let started = Instant::now();
    for (i, id) in ids.iter().step_by(tasks_n / edits).take(edits).enumerate() {
        let patch = flightdeck_types::TaskPatch {
            title: Some(format!("edited {i}")),
            ..Default::default()
        };
        tasks::update(&store, id, patch).unwrap();
    }
    let edited = started.elapsed();
    let started = Instant::now();
    let dry = restore(&store, Scope::Workspace, then, true).unwrap();
    let dry_took = started.elapsed();
    let started = Instant::now();
    let done = restore(&store, Scope::Workspace, then, false).unwrap();
    let took = started.elapsed();
    assert_eq!(dry.changes.len(), done.changes.len());
    (edited, dry_took, took, done.changes.len())
}

fn main() {
    if std::env::var("FLIGHTDECK_BENCH_RESTORE_ONLY").is_ok() {
        let (edited, dry, took, n) = restore_figures(10_000, 1_000);
        let rate = |d: Duration| n as f64 / d.as_secs_f64();
        println!("restore of a 10,000-task workspace to before 1,000 edits ({n} tasks changed):");
        println!("| figure | time | tasks/s |");
        println!("|---|---|---|");
        println!(
            "| the 1,000 edits, one write each (the write path's update rate) | {:.0} ms | {:.0} |",
            edited.as_secs_f64() * 1000.0,
            rate(edited)
        );
        println!(
            "| `restore --all --dry-run` | {:.0} ms | {:.0} |",
            dry.as_secs_f64() * 1000.0,
            rate(dry)
        );
        println!(
            "| `restore --all` (one write) | {:.0} ms | {:.0} |",
            took.as_secs_f64() * 1000.0,
            rate(took)
        );
        return;
    }
    // `cargo bench` passes `--bench`; `cargo test --benches` would pass nothing. Accept both.
    let quick = std::env::args().any(|a| a == "--quick");
    let scale = if quick { 10 } else { 1 };
    let rounds = if quick { 1 } else { 7 };
    let scenarios = [
        Scenario {
            name: "task insert, 1 per tx",
            ops: 2_000 / scale,
            per_tx: 1,
            kind: Kind::Insert,
            spaced: false,
        },
        Scenario {
            name: "task insert, 100 per tx",
            ops: 10_000 / scale,
            per_tx: 100,
            kind: Kind::Insert,
            spaced: false,
        },
        Scenario {
            name: "task update, 1 per tx",
            ops: 2_000 / scale,
            per_tx: 1,
            kind: Kind::Update,
            spaced: false,
        },
        Scenario {
            name: "task update, 100 per tx",
            ops: 10_000 / scale,
            per_tx: 100,
            kind: Kind::Update,
            spaced: false,
        },
        Scenario {
            name: "run event append, 500 per tx",
            ops: 50_000 / scale,
            per_tx: 500,
            kind: Kind::Events,
            spaced: false,
        },
        Scenario {
            name: "task update, 1 per tx, each in a new millisecond",
            ops: 2_000 / scale,
            per_tx: 1,
            kind: Kind::Update,
            spaced: true,
        },
    ];

    // `FLIGHTDECK_BENCH_ONLY=TEXT`: only the workloads whose names contain TEXT.
    let only = std::env::var("FLIGHTDECK_BENCH_ONLY").unwrap_or_default();
    println!("| workload | plain SQLite | raw cr-sqlite | write path | no clock stamp | stamped after the fact | cr-sqlite / plain | write path / raw cr-sqlite | stamped / unstamped | after the fact / unstamped |");
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for s in scenarios.iter().filter(|s| s.name.contains(&only)) {
        let mut times: [Vec<Duration>; 5] = Default::default();
        for round in 0..rounds {
            // The write path's three variants take turns going first: a drift of the machine
            // within a round then falls on each as often.
            let mut order = [0, 1, 2, 3, 4];
            order[2..].rotate_left(round % 3);
            for i in order {
                times[i].push(measure(VARIANTS[i], s, round));
            }
        }
        // Each ratio to the unstamped twin is the median of each round's pair, not of the two
        // medians.
        let paired = |ours: &[Duration]| {
            let mut pairs: Vec<f64> = ours
                .iter()
                .zip(&times[3])
                .map(|(ours, unstamped)| ours.as_secs_f64() / unstamped.as_secs_f64())
                .collect();
            pairs.sort_by(f64::total_cmp);
            pairs[pairs.len() / 2]
        };
        let (stamped_ratio, after_ratio) = (paired(&times[2]), paired(&times[4]));
        let [plain, raw, ours, unstamped, after] = times.map(median);
        println!(
            "| {} | {:.1} us | {:.1} us | {:.1} us | {:.1} us | {:.1} us | {:.2}x | {:.3}x | {:.3}x | {:.3}x |",
            s.name,
            us(plain),
            us(raw),
            us(ours),
            us(unstamped),
            us(after),
            raw.as_secs_f64() / plain.as_secs_f64(),
            ours.as_secs_f64() / raw.as_secs_f64(),
            stamped_ratio,
            after_ratio,
        );
        if let Kind::Events = s.kind {
            println!(
                "|  | {:.0}/s | {:.0}/s | {:.0}/s | {:.0}/s | {:.0}/s | | | | |",
                1.0 / plain.as_secs_f64(),
                1.0 / raw.as_secs_f64(),
                1.0 / ours.as_secs_f64(),
                1.0 / unstamped.as_secs_f64(),
                1.0 / after.as_secs_f64()
            );
        }
    }
    let _ = VARIANTS.map(Variant::name);

    // The full task API: validation, the insert and an audit row, one transaction each.
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("api.db")).unwrap();
    let n = 2_000 / scale;
    let mut samples = Vec::new();
    for _ in 0..rounds {
        let start = Instant::now();
        for i in 0..n {
            tasks::create(
                &store,
                NewTask {
                    title: format!("API task {i}"),
                    ..Default::default()
                },
            )
            .unwrap();
        }
        samples.push(start.elapsed() / n as u32);
    }
    println!(
        "\ntasks::create (validation + insert + audit row, 1 per tx): {:.1} us",
        us(median(samples))
    );

    // What one `flightdeck task add` does after process start-up: open the workspace store
    // (extensions, migration check), create the task, close (crsql_finalize).
    let data = tempfile::tempdir().unwrap();
    drop(Store::open_workspace(Some(data.path()), "default").unwrap());
    let mut samples = Vec::new();
    for i in 0..(50 / scale.min(5)) {
        let start = Instant::now();
        let store = Store::open_workspace(Some(data.path()), "default").unwrap();
        tasks::create(
            &store,
            NewTask {
                title: format!("CLI task {i}"),
                ..Default::default()
            },
        )
        .unwrap();
        drop(store);
        samples.push(start.elapsed());
    }
    println!(
        "CLI task add, in-process work (open + create + close): {:.2} ms",
        us(median(samples)) / 1000.0
    );
}
