//! Concurrent pushes to shared cells never lose an acknowledged update: many devices push at
//! once through a freshly started server (a new pool, so every connection's statement cache is
//! cold), and afterwards every cell holds what the merge rule makes of everything acknowledged.

use std::collections::BTreeMap;
use std::sync::Arc;

use flightdeck_types::sync::WireChange;

use super::test_support::*;
use crate::app::{router, AppState};
use crate::merge::{compare_values, merge, RowState};
use crate::wire::change_from_wire;

const ROUNDS: i64 = 12;
const DEVICES: u8 = 8;
const PUSHERS: usize = 16;
const PUSHES_EACH: usize = 8;
const SHARED_ROWS: [&str; 4] = ["0a", "0b", "0c", "0d"];

fn seed() -> u64 {
    if let Ok(seed) = std::env::var("FLIGHTDECK_STRESS_SEED") {
        return seed.parse().expect("FLIGHTDECK_STRESS_SEED is a number");
    }
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).expect("random seed");
    u64::from_le_bytes(bytes) | 1
}

/// The pushes of one pusher in one round: each writes every shared row's `title` with a random
/// col_version of this round (so each round has new winners) and a random value (so equal
/// col_versions are decided by the value).
fn pushes(
    random: &mut Random,
    round: i64,
    site_byte: u8,
    db_version: &mut i64,
) -> Vec<Vec<WireChange>> {
    (0..PUSHES_EACH)
        .map(|_| {
            *db_version += 1;
            SHARED_ROWS
                .iter()
                .map(|pk| {
                    let col_version = round * 1000 + random.below(50) as i64;
                    let value = format!("v{}", random.below(1000));
                    change(
                        site_byte,
                        pk,
                        "title",
                        text(&value),
                        col_version,
                        *db_version,
                        1,
                    )
                })
                .collect()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_pushes_through_cold_connections_keep_the_winning_version() {
    let seed = seed();
    let mut random = Random(seed);
    let (server, join_token) = server_with_workspace().await;
    let mut tokens = Vec::new();
    for site_byte in 1..=DEVICES {
        tokens.push(server.join(&join_token, site_byte).await.device_token);
    }
    let mut db_versions = vec![0i64; DEVICES as usize];
    let mut acknowledged: Vec<WireChange> = Vec::new();
    for round in 1..=ROUNDS {
        // A server as just started: its pool has no connection yet, so every push prepares
        // its statements on a fresh one.
        let pool = crate::db::pool(&server.url).unwrap();
        let fresh = Arc::new(TestServer {
            app: router(AppState::new(pool)),
            state: server.state.clone(),
            url: server.url.clone(),
        });
        let mut pushers = Vec::new();
        for pusher in 0..PUSHERS {
            let device = pusher % DEVICES as usize;
            let batches = pushes(
                &mut random,
                round,
                device as u8 + 1,
                &mut db_versions[device],
            );
            let token = tokens[device].clone();
            let fresh = fresh.clone();
            pushers.push(tokio::spawn(async move {
                for batch in &batches {
                    fresh.push(&token, batch).await;
                }
                batches.concat()
            }));
        }
        for pusher in pushers {
            acknowledged.extend(pusher.await.expect("a pusher panicked"));
        }
        let stored = server.bootstrap(&tokens[0]).await;
        assert_matches_merge_rule(&acknowledged, &stored, round, seed);
    }
}

/// Every shared cell's stored value and col_version are those of the acknowledged change the
/// merge rule picks (the rule is order-independent, so any order of merging gives it).
fn assert_matches_merge_rule(
    acknowledged: &[WireChange],
    stored: &[WireChange],
    round: i64,
    seed: u64,
) {
    let mut expected: BTreeMap<String, RowState> = BTreeMap::new();
    for wire in acknowledged {
        merge(
            expected.entry(wire.pk.clone()).or_default(),
            &change_from_wire(wire).unwrap().change,
        );
    }
    for pk in SHARED_ROWS {
        let want = &expected[pk].cells["title"];
        let got = stored
            .iter()
            .find(|c| c.pk == pk && c.cid == "title")
            .unwrap_or_else(|| panic!("row {pk} has no title after round {round} (seed {seed})"));
        let got_value = change_from_wire(got).unwrap().change.value;
        assert!(
            got.col_version == want.col_version && compare_values(&got_value, &want.value).is_eq(),
            "round {round} (seed {seed}): row {pk} holds col_version {} {:?}, but {} {:?} was \
             pushed and acknowledged",
            got.col_version,
            got_value,
            want.col_version,
            want.value,
        );
    }
}
