//! Announcements to 1,000 connected sockets: 1,000 devices join one workspace on the real
//! server binary (over a throwaway Postgres) and each holds the `/v1/ws` socket open through
//! the client's own watcher (`sync::announcements::watch_server`). Device A writes a task and
//! pushes it; the latency of a socket is from the push request to that socket hearing the new
//! head. 20 rounds, so 20,000 samples.
//!
//!   cargo build --release -p flightdeck-sync-server
//!   scripts/with-keyring.sh cargo bench -p flightdeck-tests --bench sockets
//! `FLIGHTDECK_BENCH_SOCKETS` (default 1000) and `FLIGHTDECK_BENCH_ROUNDS` (default 20).
//!
//! The 1,000 watchers run in this process on two tokio threads, beside the server and
//! Postgres on the same two cores: the figure includes the client side's own scheduling.

use std::time::{Duration, Instant};

use flightdeck_core::sync::account;
use flightdeck_core::sync::announcements::{watch_server, Heard};
use flightdeck_core::tasks;
use flightdeck_tests::sync_rig::{keyring, server_binary, Device, Server};
use flightdeck_types::sync::{PROTOCOL_HEADER, PROTOCOL_VERSION};
use flightdeck_types::NewTask;
use tokio::sync::watch;

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A device token for a new device named `name` (the join API, as a client sends it).
fn join_device(url: &str, join_token: &str, i: usize) -> String {
    let answer: serde_json::Value = ureq::post(&format!("{url}/v1/join"))
        .set(PROTOCOL_HEADER, &PROTOCOL_VERSION.to_string())
        .send_json(serde_json::json!({
            "join_token": join_token,
            "device_name": format!("listener {i}"),
            "site_id": format!("{:032x}", 0xf1d0_0000_u64 + i as u64),
        }))
        .expect("the server accepts the join")
        .into_json()
        .expect("a JSON join answer");
    answer["device_token"]
        .as_str()
        .expect("a device token")
        .to_string()
}

/// Waits until every listener has heard a head >= `head`; returns when each did.
async fn all_hear(listeners: &mut [watch::Receiver<Heard>], head: i64) -> Vec<Instant> {
    let waits = listeners.iter().cloned().map(|mut rx| {
        tokio::spawn(async move {
            let deadline = Instant::now() + Duration::from_secs(30);
            loop {
                if rx.borrow_and_update().head.is_some_and(|h| h >= head) {
                    return Instant::now();
                }
                let left = deadline.saturating_duration_since(Instant::now());
                tokio::time::timeout(left, rx.changed())
                    .await
                    .expect("every socket hears the head within 30 s")
                    .expect("the watcher runs");
            }
        })
    });
    let mut heard = Vec::with_capacity(listeners.len());
    for w in waits.collect::<Vec<_>>() {
        heard.push(w.await.unwrap());
    }
    heard
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() {
    let sockets = env_number("FLIGHTDECK_BENCH_SOCKETS", 1000);
    let rounds = env_number("FLIGHTDECK_BENCH_ROUNDS", 20);
    let runtime = flightdeck_tests::runtime();
    runtime.block_on(async {
        let server = Server::start(server_binary("release")).await;
        let writer = Device::join(&server, &server.join_token).await;
        let keyring = keyring();

        let joined = Instant::now();
        let tokens: Vec<String> = {
            let (url, join) = (server.url.clone(), server.join_token.clone());
            tokio::task::spawn_blocking(move || {
                (0..sockets).map(|i| join_device(&url, &join, i)).collect()
            })
            .await
            .unwrap()
        };
        let join_time = joined.elapsed();

        let connecting = Instant::now();
        let mut listeners = Vec::with_capacity(sockets);
        let mut senders = Vec::with_capacity(sockets);
        for token in tokens {
            let (tx, rx) = watch::channel(Heard::default());
            tokio::spawn(watch_server(
                server.url.clone(),
                token,
                Duration::from_secs(1),
                tx.clone(),
                Default::default(),
            ));
            senders.push(tx); // dropped at the end, which ends the watchers
            listeners.push(rx);
        }
        all_hear(&mut listeners, 0).await;
        let connect_time = connecting.elapsed();
        assert!(listeners.iter().all(|l| l.borrow().connected));

        let mut latencies = Vec::with_capacity(sockets * rounds);
        for round in 0..rounds {
            tasks::create(
                &writer.store,
                NewTask {
                    title: format!("announce {round}"),
                    ..Default::default()
                },
            )
            .unwrap();
            let start = Instant::now();
            account::sync_now(&writer.store, &keyring).await.unwrap();
            let head = account::status(&writer.store).unwrap().server_head;
            let heard = all_hear(&mut listeners, head).await;
            latencies.extend(heard.into_iter().map(|t| t - start));
        }
        latencies.sort();
        println!(
            "sockets: {sockets} devices joined in {:.2} s, all connected and told the head in \
             {:.2} s",
            join_time.as_secs_f64(),
            connect_time.as_secs_f64()
        );
        println!(
            "| announcement to {sockets} sockets ({rounds} pushes, {} samples) | p50 {:.1} ms | \
             p99 {:.1} ms | max {:.1} ms | budget p99 <= 100 ms |",
            latencies.len(),
            ms(percentile(&latencies, 0.5)),
            ms(percentile(&latencies, 0.99)),
            ms(*latencies.last().unwrap())
        );
        drop(senders);
    });
}
