//! DESIGN.md's sync invariant under random histories: any interleaving of offline writes,
//! deletes, syncs and restarts on three devices ends, once everyone has synced, with every
//! device and a freshly bootstrapped device holding the same rows and the same cells, equal
//! to the server's cell state, and every column of every surviving row holding the value of
//! the edit made last (wall-clock order: the edits are a millisecond or more apart and every
//! clock is right). Real server binary, real Postgres, real stores.

use std::collections::{BTreeSet, HashMap};

use flightdeck_core::sync::account;
use flightdeck_core::{tasks, Store};
use flightdeck_tests::sync_rig::{self, keyring, server_binary, Cell, Device as Joined, Server};
use flightdeck_types::{NewTask, Priority, Task, TaskFilter, TaskPatch, TaskStatus};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

#[path = "sync_random/announced.rs"]
mod announced;

const DEVICES: usize = 3;
/// Few distinct values, so that concurrent edits often write the same value.
const WORDS: [&str; 4] = ["alpha", "bravo", "charlie", "delta"];

#[derive(Debug, Clone)]
enum Op {
    Create {
        dev: usize,
        word: usize,
    },
    Update {
        dev: usize,
        slot: usize,
        field: u8,
        word: usize,
    },
    Delete {
        dev: usize,
        slot: usize,
    },
    Sync {
        dev: usize,
    },
    Restart {
        dev: usize,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let dev = 0..DEVICES;
    prop_oneof![
        3 => (dev.clone(), 0..WORDS.len()).prop_map(|(dev, word)| Op::Create { dev, word }),
        5 => (dev.clone(), 0..3usize, 0..3u8, 0..WORDS.len())
            .prop_map(|(dev, slot, field, word)| Op::Update { dev, slot, field, word }),
        1 => (dev.clone(), 0..8usize).prop_map(|(dev, slot)| Op::Delete { dev, slot }),
        3 => dev.clone().prop_map(|dev| Op::Sync { dev }),
        1 => dev.prop_map(|dev| Op::Restart { dev }),
    ]
}

async fn start_server() -> Server {
    Server::start(server_binary("debug")).await
}

async fn new_workspace(server: &Server, name: &str) -> String {
    server.new_workspace(name).await
}

/// A joined device whose store can be closed and reopened (a restart).
struct Device {
    path: std::path::PathBuf,
    store: Option<Store>,
    _dir: tempfile::TempDir,
}

impl Device {
    async fn join(server: &Server, token: &str) -> Device {
        // Take the file over from the joined device, so that a restart really closes it.
        let (dir, path) = Joined::join(server, token).await.close();
        let store = Store::open(&path).unwrap();
        Device {
            path,
            store: Some(store),
            _dir: dir,
        }
    }

    fn store(&self) -> &Store {
        self.store.as_ref().unwrap()
    }

    async fn sync(&self) {
        account::sync_now(self.store(), &keyring()).await.unwrap();
    }

    fn restart(&mut self) {
        self.store = None; // crsql_finalize and close
        self.store = Some(Store::open(&self.path).unwrap());
    }

    fn tasks(&self) -> Vec<Task> {
        let filter = TaskFilter {
            include_archived: true,
            ..Default::default()
        };
        let mut list = tasks::list(self.store(), &filter).unwrap();
        list.sort_by(|a, b| a.id.cmp(&b.id));
        list
    }
}

fn device_cells(device: &Device) -> BTreeSet<Cell> {
    sync_rig::device_cells(device.store()).into_iter().collect()
}

async fn server_cells(device: &Device) -> BTreeSet<Cell> {
    sync_rig::server_cells(device.store())
        .await
        .into_iter()
        .collect()
}

/// The value each (task, field) was given last, in the order the edits were made.
type Latest = HashMap<(String, u8), String>;

/// The three fields the histories edit: title, status, priority.
fn field_value(task: &Task, field: u8) -> String {
    match field {
        0 => task.title.clone(),
        1 => format!("{:?}", task.status),
        _ => format!("{:?}", task.priority),
    }
}

async fn apply(devices: &mut [Device], op: &Op, latest: &mut Latest) {
    match *op {
        Op::Create { dev, word } => {
            let input = NewTask {
                title: WORDS[word].into(),
                ..Default::default()
            };
            let task = tasks::create(devices[dev].store(), input).unwrap();
            for field in 0..3 {
                latest.insert((task.id.clone(), field), field_value(&task, field));
            }
        }
        Op::Update {
            dev,
            slot,
            field,
            word,
        } => {
            let list = devices[dev].tasks();
            if list.is_empty() {
                return;
            }
            let before = &list[slot % list.len()];
            let id = &before.id;
            let patch = match field {
                0 => TaskPatch {
                    title: Some(WORDS[word].into()),
                    ..Default::default()
                },
                1 => TaskPatch {
                    status: Some(TaskStatus::ALL[word % TaskStatus::ALL.len()]),
                    ..Default::default()
                },
                _ => TaskPatch {
                    priority: Some(Priority::ALL[word % Priority::ALL.len()]),
                    ..Default::default()
                },
            };
            let after = tasks::update(devices[dev].store(), id, patch).unwrap();
            // Setting a field to the value it has writes nothing: no edit.
            if field_value(&after, field) != field_value(before, field) {
                latest.insert((id.clone(), field), field_value(&after, field));
            }
        }
        Op::Delete { dev, slot } => {
            let list = devices[dev].tasks();
            if !list.is_empty() {
                tasks::delete(devices[dev].store(), &list[slot % list.len()].id).unwrap();
            }
        }
        Op::Sync { dev } => devices[dev].sync().await,
        Op::Restart { dev } => devices[dev].restart(),
    }
}

/// Joins `DEVICES` devices, plays `ops` on them (each in a later millisecond than the one
/// before), then lets everyone sync twice round-robin: the first round delivers every push to
/// the server, the second every change to every device. Also returns the last value each
/// field was given.
async fn play(server: &Server, token: &str, ops: &[Op]) -> (Vec<Device>, Latest) {
    let mut devices = Vec::new();
    for _ in 0..DEVICES {
        devices.push(Device::join(server, token).await);
    }
    let mut latest = Latest::new();
    for op in ops {
        flightdeck_core::clock::next_millisecond();
        apply(&mut devices, op, &mut latest).await;
    }
    for _ in 0..2 {
        for device in &devices {
            device.sync().await;
        }
    }
    (devices, latest)
}

/// Every field of every row in `rows` holds the value it was given last.
fn check_latest(rows: &[Task], latest: &Latest) -> Result<(), TestCaseError> {
    for task in rows {
        for field in 0..3 {
            prop_assert_eq!(
                Some(&field_value(task, field)),
                latest.get(&(task.id.clone(), field)),
                "task {} field {}: the last edit made wins",
                task.id,
                field
            );
        }
    }
    Ok(())
}

#[test]
fn random_histories_converge_everywhere() {
    let runtime = flightdeck_tests::runtime();
    let server = runtime.block_on(start_server());
    let case = std::sync::atomic::AtomicUsize::new(0);
    let config = Config {
        cases: 16,
        failure_persistence: None,
        ..Config::default()
    };
    // Deterministic by default so that CI is repeatable; FLIGHTDECK_RANDOM_EXPLORE=1 draws new
    // histories each run (what found the regression case below).
    let mut runner = if std::env::var_os("FLIGHTDECK_RANDOM_EXPLORE").is_some() {
        TestRunner::new(config)
    } else {
        let rng = proptest::test_runner::TestRng::deterministic_rng(config.rng_algorithm);
        TestRunner::new_with_rng(config, rng)
    };
    runner
        .run(&proptest::collection::vec(op(), 5..40), |ops| {
            let case = case.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
            runtime.block_on(async {
                let token = new_workspace(&server, &format!("case-{case}")).await;
                let (devices, latest) = play(&server, &token, &ops).await;
                check_converged(&server, &token, &devices, &latest).await
            })
        })
        .unwrap();
}

/// The rows of every device and of a freshly bootstrapped one are the same, every field
/// holds the value of the edit made last, and the server holds exactly the devices' cells.
async fn check_converged(
    server: &Server,
    token: &str,
    devices: &[Device],
    latest: &Latest,
) -> Result<(), TestCaseError> {
    let fresh = Device::join(server, token).await;
    fresh.sync().await;

    let rows = devices[0].tasks();
    check_latest(&rows, latest)?;
    let cells = device_cells(&devices[0]);
    for (i, device) in devices.iter().chain(std::iter::once(&fresh)).enumerate() {
        prop_assert_eq!(&device.tasks(), &rows);
        let theirs = device_cells(device);
        let only_first: Vec<_> = cells.difference(&theirs).collect();
        let only_theirs: Vec<_> = theirs.difference(&cells).collect();
        prop_assert!(
            only_first.is_empty() && only_theirs.is_empty(),
            "device {i} differs from device 0: only on 0 {only_first:?}, only on {i} {only_theirs:?}"
        );
    }
    prop_assert_eq!(
        &server_cells(&fresh).await,
        &cells,
        "server state = devices"
    );
    Ok(())
}

/// A history the random test once found (two devices stamped the same `updated_at` in the
/// same millisecond); kept as a fixed case.
#[test]
fn regression_delete_against_concurrent_updates() {
    use Op::*;
    let ops = vec![
        Create { dev: 2, word: 0 },
        Create { dev: 2, word: 1 },
        Sync { dev: 2 },
        Update {
            dev: 0,
            slot: 6,
            field: 2,
            word: 1,
        },
        Sync { dev: 1 },
        Update {
            dev: 0,
            slot: 5,
            field: 1,
            word: 0,
        },
        Update {
            dev: 2,
            slot: 7,
            field: 2,
            word: 2,
        },
        Update {
            dev: 1,
            slot: 1,
            field: 0,
            word: 2,
        },
        Create { dev: 0, word: 3 },
        Update {
            dev: 1,
            slot: 4,
            field: 2,
            word: 2,
        },
        Delete { dev: 0, slot: 1 },
        Update {
            dev: 2,
            slot: 2,
            field: 1,
            word: 2,
        },
        Update {
            dev: 0,
            slot: 2,
            field: 1,
            word: 1,
        },
        Create { dev: 1, word: 0 },
        Update {
            dev: 1,
            slot: 4,
            field: 0,
            word: 3,
        },
        Update {
            dev: 1,
            slot: 4,
            field: 1,
            word: 1,
        },
        Create { dev: 1, word: 3 },
        Sync { dev: 1 },
        Update {
            dev: 1,
            slot: 5,
            field: 0,
            word: 0,
        },
        Sync { dev: 0 },
        Create { dev: 0, word: 1 },
        Update {
            dev: 1,
            slot: 7,
            field: 0,
            word: 3,
        },
        Create { dev: 2, word: 0 },
        Restart { dev: 2 },
        Update {
            dev: 0,
            slot: 7,
            field: 1,
            word: 1,
        },
    ];
    play_fixed("regression", &ops);
}

/// Plays a fixed history on a fresh workspace and checks that every device holds the same
/// cells and every field the value of the edit made last.
fn play_fixed(name: &str, ops: &[Op]) {
    let runtime = flightdeck_tests::runtime();
    runtime.block_on(async {
        let server = start_server().await;
        let token = new_workspace(&server, name).await;
        let (devices, latest) = play(&server, &token, ops).await;
        check_latest(&devices[0].tasks(), &latest).unwrap();
        let cells = device_cells(&devices[0]);
        for (i, device) in devices.iter().enumerate() {
            let theirs = device_cells(device);
            let a: Vec<_> = cells.difference(&theirs).collect();
            let b: Vec<_> = theirs.difference(&cells).collect();
            assert!(
                a.is_empty() && b.is_empty(),
                "device {i}: only on 0 {a:?}; only on {i} {b:?}"
            );
        }
    });
}

/// Found by exploring with clocks off: two devices each set a task's status once while
/// apart; with equal edit counts the larger value used to win, not the later edit.
#[test]
fn regression_the_later_of_two_single_edits_wins() {
    use Op::*;
    let ops = [
        Create { dev: 0, word: 0 },
        Sync { dev: 0 },
        Sync { dev: 1 },
        Update {
            dev: 1,
            slot: 0,
            field: 1,
            word: 1,
        },
        Update {
            dev: 0,
            slot: 0,
            field: 1,
            word: 2,
        },
    ];
    play_fixed("later-single", &ops);
}

/// The partition: one device sets a title three times while apart, another once,
/// later; the device that edited more often used to win.
#[test]
fn regression_the_later_edit_beats_more_edits() {
    use Op::*;
    let update = |dev, word| Update {
        dev,
        slot: 0,
        field: 0,
        word,
    };
    let ops = [
        Create { dev: 0, word: 0 },
        Sync { dev: 0 },
        Sync { dev: 1 },
        update(0, 1),
        update(0, 2),
        update(0, 3),
        update(1, 2),
    ];
    play_fixed("later-beats-more", &ops);
}
