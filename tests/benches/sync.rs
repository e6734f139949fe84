//! Sync figures end to end, through the real server binary over a throwaway Postgres:
//!
//! - propagation: a task written on device A, until the end of the round of device B's daemon
//!   that made it visible there, both running the sync daemon (pushes on local writes, pulls
//!   on, or applies, the server's WebSocket announcement); once
//!   straight to one server, once through nginx (docs/deploy/nginx.conf) over three server
//!   processes on the same database, round-robin (skipped when nginx is not installed);
//! - server ingest: A pushes N freshly created tasks, cells per second (and 10 devices push
//!   N/10 tasks each, at once); beside it, Postgres
//!   itself: a `COPY` of the server's cells into a table without indexes, on the same database;
//! - bootstrap: a new device joins and pulls everything, against the same cells applied
//!   straight into a store without a server, through cr-sqlite's own merge (the raw rate)
//!   and through the store's (its fast path for new rows); and the pull alone, applying
//!   nothing.
//!
//! Build the release server first, then run:
//!   cargo build --release -p flightdeck-sync-server
//!   scripts/with-keyring.sh cargo bench -p flightdeck-tests --bench sync
//! `FLIGHTDECK_BENCH_TASKS` sets N (default 100000), `FLIGHTDECK_BENCH_SAMPLES` the number of
//! propagation samples (default 200).

use std::time::{Duration, Instant};

use flightdeck_core::store::{ChangeRow, Origin};
use flightdeck_core::sync::{account, daemon};
use flightdeck_core::{tasks, Store};
use flightdeck_tests::balancer::{self, Balancer};
use flightdeck_tests::sync_rig::{keyring, server_binary, Device, Server};
use flightdeck_types::sync::{WireChange, WireValue};
use flightdeck_types::NewTask;

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

async fn start_server() -> Server {
    Server::start(server_binary("release")).await
}

async fn join(server: &Server) -> Device {
    Device::join(server, &server.join_token).await
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// `route` names the path in the figure's line: "server" or "nginx -> 3 servers".
async fn propagation(url: &str, join_token: &str, route: &str, samples: usize) {
    let (a, b) = (
        Device::join_at(url, join_token).await,
        Device::join_at(url, join_token).await,
    );
    let (stop, _) = tokio::sync::broadcast::channel::<()>(1);
    // When each of B's rounds ended: a sample's time is that of the first round after which B
    // holds the task (polling B's store instead would add the poll's period, and tokio's timer
    // cannot wait less than a millisecond).
    let (b_rounds, mut b_round_ends) = tokio::sync::mpsc::unbounded_channel::<Instant>();
    let mut daemons = Vec::new();
    for (device, rounds) in [(&a, None), (&b, Some(b_rounds))] {
        let store = device.store.clone();
        let mut stop = stop.subscribe();
        daemons.push(tokio::spawn(async move {
            let keyring = keyring();
            let shutdown = async move {
                let _ = stop.recv().await;
            };
            daemon::run(
                &store,
                &keyring,
                daemon::DaemonOptions::default(),
                shutdown,
                |r| {
                    if let Some(rounds) = &rounds {
                        let _ = rounds.send(Instant::now());
                    }
                    match r {
                        Err(e) => eprintln!("sync round failed: {e}"),
                        Ok(r) if std::env::var_os("BENCH_DEBUG").is_some() => {
                            eprintln!("round {r:?}")
                        }
                        Ok(_) => {}
                    }
                },
            )
            .await
        }));
    }
    let mut latencies = Vec::with_capacity(samples);
    for i in 0..samples + 10 {
        let start = Instant::now();
        let task = tasks::create(
            &a.store,
            NewTask {
                title: format!("p{i}"),
                ..Default::default()
            },
        )
        .unwrap();
        let arrived = loop {
            let ended = tokio::time::timeout(Duration::from_secs(30), b_round_ends.recv())
                .await
                .unwrap_or_else(|_| panic!("sample {i} never arrived"))
                .expect("B's daemon runs");
            if ended > start && tasks::get(&b.store, &task.id).is_ok() {
                break ended;
            }
        };
        if std::env::var_os("BENCH_DEBUG").is_some() {
            eprintln!("sample {i}: {:?}", arrived - start);
        }
        if i >= 10 {
            latencies.push(arrived - start); // the first 10 warm connections and caches
        }
    }
    stop.send(()).unwrap();
    for d in daemons {
        d.await.unwrap().unwrap();
    }
    latencies.sort();
    println!(
        "| propagation A -> {route} -> B ({samples} samples) | p50 {:.1} ms | p99 {:.1} ms | max {:.1} ms |",
        ms(percentile(&latencies, 0.5)),
        ms(percentile(&latencies, 0.99)),
        ms(*latencies.last().unwrap())
    );
}

/// N tasks written in large local transactions (set-up, not measured).
fn fill(store: &Store, n: usize) {
    fill_range(store, 0..n);
}

/// The tasks numbered `range` (their ids follow the number), as [`fill`] writes them.
fn fill_range(store: &Store, range: std::ops::Range<usize>) {
    let (mut done, n) = (range.start, range.end);
    while done < n {
        // 500 tasks (4,000 cells) per transaction: a transaction is never split across pushes,
        // so one must fit in the server's 8 MiB request limit.
        let batch = (n - done).min(500);
        store
            .write(|w| {
                let mut insert = w.prepare_cached(
                    "INSERT INTO tasks (id, title, description, status, priority, created_at, updated_at)
                     VALUES (?1, ?2, 'bootstrap benchmark', 'todo', 1, ?3, ?3)",
                )?;
                for i in done..done + batch {
                    insert.execute(rusqlite_params(i))?;
                }
                Ok(())
            })
            .unwrap();
        done += batch;
    }
}

fn rusqlite_params(i: usize) -> (String, String, i64) {
    (
        format!("0190b000-0000-7000-8000-{i:012}"),
        format!("Bootstrap task {i}"),
        1_700_000_000_000 + i as i64,
    )
}

async fn ingest_and_bootstrap(server: &Server, n: usize) {
    let a = join(server).await;
    fill(&a.store, n);
    let keyring = keyring();

    let start = Instant::now();
    let pushed = account::sync_now(&a.store, &keyring).await.unwrap();
    let push_time = start.elapsed();
    let ingest_rate = pushed.pushed_cells as f64 / push_time.as_secs_f64();
    println!(
        "| server ingest ({n} tasks) | {} cells in {:.2} s | {ingest_rate:.0} cells/s | |",
        pushed.pushed_cells,
        push_time.as_secs_f64(),
    );
    let (copied, copy_time) = copy_peer(&server.database_url, &a.store).await;
    let copy_rate = copied as f64 / copy_time.as_secs_f64();
    println!(
        "| peer: Postgres `COPY` of the server's cells into an unindexed table | {copied} cells in {:.2} s | {copy_rate:.0} cells/s | ingest / COPY = {:.3} |",
        copy_time.as_secs_f64(),
        ingest_rate / copy_rate,
    );

    let late = join(server).await;
    let start = Instant::now();
    let pulled = account::sync_now(&late.store, &keyring).await.unwrap();
    let boot_time = start.elapsed();
    let boot_rate = pulled.pulled_cells as f64 / boot_time.as_secs_f64();

    // The peers: the same cells applied straight into a fresh store, in pages of the same
    // size, without a server: through cr-sqlite's own merge (the raw rate), and through the
    // store's merge (its fast path for rows never seen), which the bootstrap uses.
    let changes = a.store.changes_since(0, Origin::Any).unwrap();
    let dir = tempfile::TempDir::new().unwrap();
    let apply_all = |name: &str, apply: &dyn Fn(&Store, &[ChangeRow])| {
        let store = Store::open(&dir.path().join(name)).unwrap();
        let start = Instant::now();
        for page in changes.chunks(flightdeck_core::sync::client::PULL_PAGE_CELLS) {
            apply(&store, page);
        }
        start.elapsed()
    };
    let raw_time = apply_all("raw.db", &|s, page| {
        s.apply_changes_through_crsql(page).unwrap()
    });
    let local_time = apply_all("local.db", &|s, page| s.apply_changes(page).unwrap());
    let raw_rate = changes.len() as f64 / raw_time.as_secs_f64();
    // What the pull alone costs (server, transfer, decoding), applying nothing.
    let client = account::connect(&late.store, &keyring).unwrap();
    let start = Instant::now();
    let mut after = 0;
    loop {
        let page = client
            .pull(after, flightdeck_core::sync::client::PULL_PAGE_CELLS)
            .await
            .unwrap();
        for change in page.changes {
            flightdeck_core::sync::wire::from_wire(change).unwrap();
        }
        after = page.next;
        if page.next >= page.head {
            break;
        }
    }
    let pull_time = start.elapsed();
    println!(
        "| bootstrap of a new device ({n} tasks) | {} cells in {:.2} s | {:.0} cells/s | raw cr-sqlite apply {:.0} cells/s ({:.2} s); ratio {:.2}; the store's apply alone {:.2} s; the pull alone {:.2} s |",
        pulled.pulled_cells,
        boot_time.as_secs_f64(),
        boot_rate,
        raw_rate,
        raw_time.as_secs_f64(),
        boot_rate / raw_rate,
        local_time.as_secs_f64(),
        pull_time.as_secs_f64(),
    );
}

/// The floor for the server's ingest: every cell the server holds (the pushed cells and the
/// propagation samples), pulled through the API, copied with `COPY ... FROM STDIN (FORMAT
/// binary)` into a table of one row a cell (the server's layout before migration 0009) with no
/// index, key or trigger, on the same database. Only the copy in is timed; the cells are
/// pulled and encoded first.
async fn copy_peer(database_url: &str, store: &Store) -> (u64, Duration) {
    use futures_util::SinkExt;
    let (client, connection) = tokio_postgres::connect(database_url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client
        .batch_execute(
            "DROP TABLE IF EXISTS copy_peer;
             CREATE TABLE copy_peer (workspace_id uuid, tbl text, pk bytea, cid text,
                 val_type smallint, val_int bigint, val_real double precision, val_bytes bytea,
                 col_version bigint, db_version bigint, site_id bytea, cl bigint,
                 crsql_seq bigint, seq bigint)",
        )
        .await
        .unwrap();
    let api = account::connect(store, &keyring()).unwrap();
    // Binary COPY: a signature, flags and extension length, then the rows ([`copy_row`]);
    // -1 ends the data.
    let mut chunks = vec![b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0".to_vec()];
    let mut after = 0;
    loop {
        let page = api.pull(after, 10_000).await.unwrap();
        for change in &page.changes {
            if chunks.last().unwrap().len() > 1 << 20 {
                chunks.push(Vec::new());
            }
            copy_row(chunks.last_mut().unwrap(), change, page.next);
        }
        if page.next >= page.head {
            break;
        }
        after = page.next;
    }
    chunks
        .last_mut()
        .unwrap()
        .extend_from_slice(&(-1i16).to_be_bytes());
    let start = Instant::now();
    let sink = client
        .copy_in("COPY copy_peer FROM STDIN (FORMAT binary)")
        .await
        .unwrap();
    futures_util::pin_mut!(sink);
    for chunk in chunks {
        sink.send(std::io::Cursor::new(chunk)).await.unwrap();
    }
    let copied = sink.finish().await.unwrap();
    let elapsed = start.elapsed();
    client.batch_execute("DROP TABLE copy_peer").await.unwrap();
    (copied, elapsed)
}

/// One cell as a row of `copy_peer` in binary COPY: its field count, then each field as a
/// big-endian length and its bytes (-1 for null). The workspace id is a constant.
fn copy_row(out: &mut Vec<u8>, change: &WireChange, seq: i64) {
    fn field(out: &mut Vec<u8>, bytes: Option<&[u8]>) {
        match bytes {
            Some(bytes) => {
                out.extend_from_slice(&(bytes.len() as i32).to_be_bytes());
                out.extend_from_slice(bytes);
            }
            None => out.extend_from_slice(&(-1i32).to_be_bytes()),
        }
    }
    let (val_type, int, real, bytes): (i16, _, _, Option<Vec<u8>>) = match &change.val {
        WireValue::Null => (0, None, None, None),
        WireValue::Integer(i) => (1, Some(*i), None, None),
        WireValue::Real(r) => (2, None, Some(*r), None),
        WireValue::Text(t) => (3, None, None, Some(t.as_bytes().to_vec())),
        WireValue::Blob(b) => (4, None, None, Some(hex::decode(b).unwrap())),
    };
    out.extend_from_slice(&14i16.to_be_bytes());
    field(out, Some(&1u128.to_be_bytes()));
    field(out, Some(change.table.as_bytes()));
    field(out, Some(&hex::decode(&change.pk).unwrap()));
    field(out, Some(change.cid.as_bytes()));
    field(out, Some(&val_type.to_be_bytes()));
    field(out, int.map(i64::to_be_bytes).as_ref().map(|b| &b[..]));
    field(out, real.map(f64::to_be_bytes).as_ref().map(|b| &b[..]));
    field(out, bytes.as_deref());
    field(out, Some(&change.col_version.to_be_bytes()));
    field(out, Some(&change.db_version.to_be_bytes()));
    field(out, Some(&hex::decode(&change.site_id).unwrap()));
    field(out, Some(&change.cl.to_be_bytes()));
    field(out, Some(&change.seq.to_be_bytes()));
    field(out, Some(&seq.to_be_bytes()));
}

/// `devices` devices, each with `per_device` new tasks of its own, push at once: the
/// workspace's pushes serialize on its lock, so this is the server's ingest under contention.
async fn concurrent_ingest(server: &Server, devices: usize, per_device: usize) {
    let mut joined = Vec::new();
    for d in 0..devices {
        let device = join(server).await;
        // Numbered after the single device's tasks, so that every task is new.
        let first = (d + 1) * 1_000_000_000;
        fill_range(&device.store, first..first + per_device);
        joined.push(device);
    }
    let start = Instant::now();
    let pushes: Vec<_> = joined
        .iter()
        .map(|device| {
            let store = device.store.clone();
            tokio::spawn(async move { account::sync_now(&store, &keyring()).await.unwrap() })
        })
        .collect();
    let mut cells = 0;
    for push in pushes {
        cells += push.await.unwrap().pushed_cells;
    }
    let elapsed = start.elapsed();
    println!(
        "| server ingest, {devices} devices at once ({per_device} tasks each) | {cells} cells in {:.2} s | {:.0} cells/s | |",
        elapsed.as_secs_f64(),
        cells as f64 / elapsed.as_secs_f64()
    );
}

fn main() {
    let tasks_n = env_number("FLIGHTDECK_BENCH_TASKS", 100_000);
    let samples = env_number("FLIGHTDECK_BENCH_SAMPLES", 200);
    let runtime = flightdeck_tests::runtime();
    runtime.block_on(async {
        let server = start_server().await;
        println!("| figure | result | | |\n|---|---|---|---|");
        propagation(&server.url, &server.join_token, "server", samples).await;
        match balancer::nginx_binary() {
            Some(nginx) => {
                let (second, third) =
                    (server.spawn_instance().await, server.spawn_instance().await);
                let first = server.url.trim_start_matches("http://");
                let balancer = Balancer::start(&nginx, &[first, &second.addr, &third.addr]);
                let route = "nginx -> 3 servers";
                propagation(&balancer.url, &server.join_token, route, samples).await;
            }
            None => eprintln!(
                "no nginx (Debian package `{}`): no balancer figure",
                balancer::PACKAGE
            ),
        }
        ingest_and_bootstrap(&server, tasks_n).await;
        concurrent_ingest(&server, 10, tasks_n / 10).await;
    });
}
