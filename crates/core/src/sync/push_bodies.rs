//! Push request bodies that fit under the server's size limit.
//!
//! A push carries whole local transactions. A transaction larger than the limit (a run that
//! recorded hundreds of large memories, say) would be refused with 413 on every round and stop
//! this device's sync for good, so it goes in consecutive requests instead, cut between cells.
//! The push cursor moves only once the last of them is acknowledged: a round cut short sends
//! the whole transaction again, and the server ignores the cells it already has. Other devices
//! may then pull such a transaction in more than one page, as they may already pull any row
//! whose cells the server holds at different sequence numbers.

use flightdeck_types::sync::{WireChange, MAX_REQUEST_BYTES};

use crate::error::{CoreError, Result};

/// `PushRequest` as serde writes it, around the changes.
const OPEN: &[u8] = br#"{"changes":["#;
const CLOSE: &[u8] = b"]}";

/// One request's JSON, its number of cells and the newest `db_version` in it.
#[derive(Debug)]
pub struct PushBody {
    pub json: Vec<u8>,
    pub cells: usize,
    pub last_db_version: i64,
}

/// `changes` (sorted by `db_version`) as request bodies of at most [`MAX_REQUEST_BYTES`]; one
/// body when they fit, which is the usual case.
pub fn push_bodies(changes: &[WireChange]) -> Result<Vec<PushBody>> {
    bodies_under(changes, MAX_REQUEST_BYTES)
}

fn bodies_under(changes: &[WireChange], limit: usize) -> Result<Vec<PushBody>> {
    let mut bodies = Vec::new();
    let mut body = PushBody {
        json: OPEN.to_vec(),
        cells: 0,
        last_db_version: 0,
    };
    for change in changes {
        // Written in place and moved to a new body only when it does not fit: no copy of
        // each cell on the common path.
        let start = body.json.len();
        if body.cells > 0 {
            body.json.push(b',');
        }
        let cell_start = body.json.len();
        serde_json::to_writer(&mut body.json, change).expect("a wire change serializes");
        let cell_len = body.json.len() - cell_start;
        if OPEN.len() + cell_len + CLOSE.len() > limit {
            return Err(CoreError::Sync {
                code: "change_too_large".into(),
                message: format!(
                    "one change (table {}, column {}) takes {cell_len} bytes, more than the \
                     {limit}-byte request limit of the sync server",
                    change.table, change.cid
                ),
            });
        }
        if body.json.len() + CLOSE.len() > limit {
            let cell = body.json.split_off(cell_start);
            body.json.truncate(start);
            body.json.extend_from_slice(CLOSE);
            let mut json = OPEN.to_vec();
            json.extend_from_slice(&cell);
            bodies.push(std::mem::replace(
                &mut body,
                PushBody {
                    json,
                    cells: 0,
                    last_db_version: 0,
                },
            ));
        }
        body.cells += 1;
        body.last_db_version = change.db_version;
    }
    if body.cells > 0 {
        body.json.extend_from_slice(CLOSE);
        bodies.push(body);
    }
    Ok(bodies)
}

#[cfg(test)]
mod tests {
    use flightdeck_types::sync::{PushRequest, WireValue};

    use super::*;

    fn change(db_version: i64, text: &str) -> WireChange {
        WireChange {
            table: "memories".into(),
            pk: "010901".into(),
            cid: "content".into(),
            // Quotes and a control character: escaped, so longer on the wire than in memory.
            val: WireValue::Text(format!("\"{text}\"\u{1}")),
            col_version: 1,
            db_version,
            site_id: "ab".repeat(16),
            cl: 1,
            seq: 0,
        }
    }

    fn decoded(body: &PushBody) -> Vec<WireChange> {
        serde_json::from_slice::<PushRequest>(&body.json)
            .unwrap()
            .changes
    }

    #[test]
    fn changes_that_fit_are_one_body_exactly_as_serde_writes_the_request() {
        let changes: Vec<_> = (1..=3).map(|v| change(v, "x")).collect();
        let bodies = push_bodies(&changes).unwrap();
        assert_eq!(bodies.len(), 1);
        let whole = serde_json::to_vec(&PushRequest {
            changes: changes.clone(),
        })
        .unwrap();
        assert_eq!(bodies[0].json, whole);
        assert_eq!((bodies[0].cells, bodies[0].last_db_version), (3, 3));
        assert!(push_bodies(&[]).unwrap().is_empty());
    }

    #[test]
    fn a_batch_over_the_limit_is_cut_between_cells_and_nothing_is_lost() {
        // One transaction (db_version 7) of 40 cells, then a second one.
        let mut changes: Vec<_> = (0..40).map(|i| change(7, &"y".repeat(50 + i))).collect();
        changes.push(change(8, "last"));
        let one_cell = serde_json::to_vec(&changes[0]).unwrap().len();
        let limit = OPEN.len() + CLOSE.len() + 5 * (one_cell + 10);
        let bodies = bodies_under(&changes, limit).unwrap();
        assert!(bodies.len() > 5, "{} bodies", bodies.len());
        let mut again = Vec::new();
        for body in &bodies {
            assert!(body.json.len() <= limit, "{} > {limit}", body.json.len());
            let cells = decoded(body);
            assert_eq!(cells.len(), body.cells);
            assert_eq!(cells.last().unwrap().db_version, body.last_db_version);
            again.extend(cells);
        }
        assert_eq!(again, changes);
        // Full bodies: the next cell would not have fitted.
        for pair in bodies.windows(2) {
            let next = serde_json::to_vec(&decoded(&pair[1])[0]).unwrap().len();
            assert!(pair[0].json.len() + 1 + next > limit);
        }
    }

    #[test]
    fn a_single_cell_over_the_limit_is_refused_by_name() {
        let big = change(1, &"z".repeat(200));
        let error = bodies_under(&[big], 100).unwrap_err().to_string();
        assert!(error.contains("table memories, column content"), "{error}");
        assert!(error.contains("100-byte request limit"), "{error}");
    }
}
