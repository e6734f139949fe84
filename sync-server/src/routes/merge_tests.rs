//! The set-based merge of a push (db/cells.rs: one load, then plain inserts of new cells,
//! upserts of stored ones and deletes of dropped ones, each over arrays) against the per-cell
//! rule (merge.rs) applied to one change at a time, on random histories of three devices
//! writing, deleting and resurrecting a few rows: the server's cells are exactly the rule's.

use std::collections::{BTreeMap, HashMap};

use flightdeck_types::sync::WireChange;

use super::test_support::*;
use crate::merge::{merge, RowState, Value};
use crate::wire::change_from_wire;

/// (table, pk, cid) -> (value, col_version, db_version, site_id, cl, seq).
type Cells = BTreeMap<(String, Vec<u8>, String), (Value, i64, i64, Vec<u8>, i64, i64)>;

/// One push of 1 to 12 random changes by device `d` (site byte `d + 1`), as one transaction.
fn random_push(rng: &mut Random, d: usize, db_version: i64) -> Vec<WireChange> {
    let words = ["alpha", "bravo", "charlie"];
    (0..1 + rng.below(12))
        .map(|seq| {
            let cid = ["-1", "title", "title", "status", "note"][rng.below(5) as usize];
            let mut change = change(
                d as u8 + 1,
                &format!("{:02x}", rng.below(10)),
                cid,
                text(words[rng.below(3) as usize]),
                1 + rng.below(4) as i64,
                db_version,
                [1, 2, 3, 3, 4, 5, 5][rng.below(7) as usize], // odd: the row lives; even: deleted
            );
            if cid == "-1" {
                change.val = flightdeck_types::sync::WireValue::Null;
            }
            change.seq = seq as i64;
            change
        })
        .collect()
}

#[tokio::test]
async fn pushes_merge_exactly_like_the_per_cell_rule_on_random_histories() {
    let mut compared = 0;
    for seed in 1..=8u64 {
        let (server, join_token) = server_with_workspace().await;
        let mut devices = Vec::new();
        for d in 0..3u8 {
            devices.push(server.join(&join_token, d + 1).await);
        }
        let mut rng = Random(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
        let mut reference: HashMap<(String, Vec<u8>), RowState> = HashMap::new();
        let mut db_versions = [0i64; 3];
        for _ in 0..60 {
            let d = rng.below(3) as usize;
            db_versions[d] += 1;
            let changes = random_push(&mut rng, d, db_versions[d]);
            server.push(&devices[d].device_token, &changes).await;
            for wire in &changes {
                let row = change_from_wire(wire).unwrap();
                merge(reference.entry((row.tbl, row.pk)).or_default(), &row.change);
            }
        }
        let mut expected = Cells::new();
        for ((tbl, pk), row) in &reference {
            for (cid, cell) in &row.cells {
                let key = (tbl.clone(), pk.clone(), cid.clone());
                let value = (
                    cell.value.clone(),
                    cell.col_version,
                    cell.db_version,
                    cell.site_id.clone(),
                    row.cl,
                    cell.crsql_seq,
                );
                expected.insert(key, value);
            }
        }
        let mut stored = Cells::new();
        for wire in server.bootstrap(&devices[0].device_token).await {
            let row = change_from_wire(&wire).unwrap();
            let c = row.change;
            let value = (
                c.value,
                c.col_version,
                c.db_version,
                c.site_id,
                c.cl,
                c.crsql_seq,
            );
            assert!(
                stored.insert((row.tbl, row.pk, c.cid), value).is_none(),
                "seed {seed}: a cell pulled twice"
            );
        }
        assert_eq!(stored, expected, "seed {seed}");
        compared += expected.len();
    }
    assert!(compared > 100, "only {compared} cells compared");
}
