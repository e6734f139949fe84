//! The cell store: applying a push under the merge rule, and paging changes out by sequence.

use std::collections::{BTreeSet, HashMap};

use flightdeck_types::sync::{PullResponse, PushResponse, WireChange, MAX_ANNOUNCED_CELLS};
use uuid::Uuid;

use super::{cell_blob, DbError};
use crate::merge::{merge, Cell, Decision, RowState, SENTINEL_CID};
use crate::wire::{value_to_wire, RowChange};

/// The Postgres channel that carries `<workspace_id>:<head>` for each new sequence number (and
/// revocations, see [`REVOKED_PREFIX`]).
pub const NOTIFY_CHANNEL: &str = "flightdeck_ws";
/// A `NOTIFY_CHANNEL` payload of this prefix and a device id: that device was revoked. Every
/// other payload is `<workspace_id>:<head>`.
pub const REVOKED_PREFIX: &str = "revoked:";

/// One row touched by a push: its state as loaded and as merged.
#[derive(Default)]
struct TouchedRow {
    state: RowState,
    /// Whether the server held the row before this push.
    stored: bool,
    /// The cids this push wrote (what its announcement carries).
    written_cids: BTreeSet<String>,
    changed: bool,
}

type RowKey = (String, Vec<u8>);

/// What a push did: the answer for the device, and the cells it wrote when they are few
/// enough to ride in the push's announcement.
pub struct Applied {
    pub response: PushResponse,
    /// The cells this push wrote, in pull order (a pull of `response.seq` returns them with
    /// the rest of their rows' cells), when there are at most [`MAX_ANNOUNCED_CELLS`]; `None`
    /// otherwise and when the push changed nothing.
    pub announced: Option<Vec<WireChange>>,
}

/// Applies one push in one transaction. Pushes to a workspace serialize on its row lock; a
/// push that changes anything gets the next sequence number, stamped on every row it changed,
/// and is announced with NOTIFY when the transaction commits.
///
/// `before_commit` is told the push's sequence number just before it commits, if it changed
/// anything.
pub async fn apply_push(
    client: &mut deadpool_postgres::Object,
    workspace_id: Uuid,
    device_id: Uuid,
    changes: &[RowChange],
    before_commit: impl FnOnce(i64),
) -> Result<Applied, DbError> {
    let tx = client.transaction().await?;
    let (head, mut rows) = lock_and_load(&tx, workspace_id, changes).await?;
    for row_change in changes {
        let key = (row_change.tbl.clone(), row_change.pk.clone());
        let row = rows.entry(key).or_default();
        let change = &row_change.change;
        match merge(&mut row.state, change) {
            Decision::Ignore => continue,
            Decision::Delete => {
                row.written_cids.insert(SENTINEL_CID.into());
            }
            Decision::Resurrect { .. } => {
                row.written_cids.insert(SENTINEL_CID.into());
                row.written_cids.insert(change.cid.clone());
            }
            Decision::Write => {
                row.written_cids.insert(change.cid.clone());
            }
        }
        row.changed = true;
    }

    let pushed_db_version = changes.iter().map(|c| c.change.db_version).max();
    let seq = rows.values().any(|row| row.changed).then_some(head + 1);
    // The writes, the head's bump and the device's acknowledgement touch different rows: one
    // pipelined batch instead of three waits on Postgres.
    let write = async {
        let Some(seq) = seq else { return Ok(()) };
        let bump = async {
            // Delivered on commit, and only then: listeners never hear of a rolled-back push.
            let stmt = tx
                .prepare_cached(
                    "WITH bumped AS (UPDATE workspaces SET head = $2 WHERE id = $1)
                     SELECT pg_notify($3, $4)",
                )
                .await?;
            let payload = format!("{workspace_id}:{seq}");
            tx.execute(&stmt, &[&workspace_id, &seq, &NOTIFY_CHANNEL, &payload])
                .await?;
            Ok::<(), DbError>(())
        };
        tokio::try_join!(write_rows(&tx, workspace_id, seq, &rows), bump).map(|_| ())
    };
    let acknowledge = async {
        let stmt = tx
            .prepare_cached(
                "UPDATE devices
                 SET pushed_db_version = GREATEST(pushed_db_version, COALESCE($2::int8, 0)),
                     last_seen_at = now()
                 WHERE id = $1
                 RETURNING pushed_db_version",
            )
            .await?;
        let row = tx
            .query_one(&stmt, &[&device_id, &pushed_db_version])
            .await?;
        Ok::<i64, DbError>(row.get(0))
    };
    let ((), acknowledged) = tokio::try_join!(write, acknowledge)?;
    if let Some(seq) = seq {
        before_commit(seq);
    }
    tx.commit().await?;
    Ok(Applied {
        announced: seq.and_then(|_| written_changes(&rows)),
        response: PushResponse {
            acknowledged_db_version: pushed_db_version.unwrap_or(acknowledged),
            seq,
            head: seq.unwrap_or(head),
        },
    })
}

/// The cells a push wrote, in pull order, or `None` when there are more than
/// [`MAX_ANNOUNCED_CELLS`].
fn written_changes(rows: &HashMap<RowKey, TouchedRow>) -> Option<Vec<WireChange>> {
    let mut written = Vec::new();
    for ((tbl, pk), row) in rows.iter().filter(|(_, row)| row.changed) {
        for cid in &row.written_cids {
            if let Some(cell) = row.state.cells.get(cid) {
                if written.len() == MAX_ANNOUNCED_CELLS {
                    return None;
                }
                written.push((
                    0,
                    tbl.as_str(),
                    pk.as_slice(),
                    cid.as_str(),
                    cell,
                    row.state.cl,
                ));
            }
        }
    }
    Some(in_pull_order(written))
}

/// A cell on its way out: its row's sequence number, table, pk, cid, the cell, its row's cl.
type Outgoing<'a> = (i64, &'a str, &'a [u8], &'a str, &'a Cell, i64);

/// The cells as a pull sends them: ordered by their row's sequence number, then
/// (db_version, crsql_seq, table, pk, cid), the order the devices wrote them in.
fn in_pull_order(mut cells: Vec<Outgoing<'_>>) -> Vec<WireChange> {
    fn key<'a>(c: &Outgoing<'a>) -> (i64, i64, i64, &'a str, &'a [u8], &'a str) {
        (c.0, c.4.db_version, c.4.crsql_seq, c.1, c.2, c.3)
    }
    cells.sort_unstable_by(|a, b| key(a).cmp(&key(b)));
    cells
        .into_iter()
        .map(|(_, tbl, pk, cid, cell, cl)| WireChange {
            table: tbl.to_string(),
            pk: hex::encode(pk),
            cid: cid.to_string(),
            val: value_to_wire(&cell.value),
            col_version: cell.col_version,
            db_version: cell.db_version,
            site_id: hex::encode(&cell.site_id),
            cl,
            seq: cell.crsql_seq,
        })
        .collect()
}

/// Takes the workspace's lock and loads the stored state of every row the push touches: the
/// head, then the rows with their cells, in one round trip.
///
/// The load must reach Postgres after the lock statement: under READ COMMITTED each statement
/// reads the snapshot taken when it starts, so a load that starts before the lock is held can
/// read a state that the push holding the lock is about to replace, and this push's merge then
/// writes a lower version back over an acknowledged one. A connection runs statements in the
/// order they were sent, and tokio-postgres sends a query when its future is first polled; so
/// every statement is prepared first (a cold statement cache would otherwise put a Parse round
/// trip before the lock's query but not necessarily before the load), and `biased` polls the
/// queries in the order written. The stress test in routes/concurrency_tests.rs lost an update
/// within 3 rounds in 3 of 3 runs when the lock and the loads were prepared side by side.
async fn lock_and_load(
    tx: &deadpool_postgres::Transaction<'_>,
    workspace_id: Uuid,
    changes: &[RowChange],
) -> Result<(i64, HashMap<RowKey, TouchedRow>), DbError> {
    let keys: BTreeSet<(&str, &[u8])> = changes
        .iter()
        .map(|c| (c.tbl.as_str(), c.pk.as_slice()))
        .collect();
    let tbls: Vec<&str> = keys.iter().map(|(tbl, _)| *tbl).collect();
    let pks: Vec<&[u8]> = keys.iter().map(|(_, pk)| *pk).collect();
    let (lock_stmt, row_stmt) = tokio::try_join!(
        tx.prepare_cached("SELECT head FROM workspaces WHERE id = $1 FOR UPDATE"),
        tx.prepare_cached(
            // One lookup in entities_pkey per key: `OFFSET 0` keeps Postgres from folding the
            // subquery into a join, whose plan, made on the connection while the workspace's
            // table was still empty and then kept in its plan cache, walked the workspace's
            // rows instead; a 20,000-task push's load then grew from 1.3 to 11 ms a batch
            // over its 40 batches, and stays at 1.3 ms this way (BENCHMARKS.md).
            "SELECT e.tbl, e.pk, e.cl, e.cells FROM unnest($2::text[], $3::bytea[]) AS k(tbl, pk)
             CROSS JOIN LATERAL (SELECT * FROM entities e
                 WHERE e.workspace_id = $1 AND e.tbl = k.tbl AND e.pk = k.pk OFFSET 0) AS e",
        ),
    )?;
    let lock_params: [&(dyn tokio_postgres::types::ToSql + Sync); 1] = [&workspace_id];
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 3] = [&workspace_id, &tbls, &pks];
    let (head, stored_rows) = tokio::try_join!(
        biased;
        tx.query_one(&lock_stmt, &lock_params),
        tx.query(&row_stmt, &params),
    )?;
    let head: i64 = head.get(0);
    let mut rows: HashMap<RowKey, TouchedRow> = HashMap::with_capacity(keys.len());
    for row in stored_rows {
        let touched = rows.entry((row.get(0), row.get(1))).or_default();
        touched.stored = true;
        touched.state.cl = row.get(2);
        touched.state.cells = cell_blob::decode(row.get(3))
            .map_err(DbError::Schema)?
            .into_iter()
            .collect();
    }
    Ok((head, rows))
}

/// Writes the changed rows, each with all its cells, stamped with `seq`: rows this workspace
/// never had are inserted plainly, the others replace the stored ones. (Pushes to a workspace
/// hold its lock, so no other push adds a row meanwhile.)
async fn write_rows(
    tx: &deadpool_postgres::Transaction<'_>,
    workspace_id: Uuid,
    seq: i64,
    rows: &HashMap<RowKey, TouchedRow>,
) -> Result<(), DbError> {
    let (mut new_rows, mut stored_rows) = (EntityColumns::default(), EntityColumns::default());
    for ((tbl, pk), row) in rows.iter().filter(|(_, row)| row.changed) {
        let columns = if row.stored {
            &mut stored_rows
        } else {
            &mut new_rows
        };
        columns.tbl.push(tbl);
        columns.pk.push(pk);
        columns.cl.push(row.state.cl);
        columns.ncells.push(row.state.cells.len() as i32);
        columns.cells.push(cell_blob::encode(&row.state.cells));
    }
    let (insert, upsert) = tokio::try_join!(
        tx.prepare_cached(
            "INSERT INTO entities (workspace_id, tbl, pk, cl, ncells, cells, seq)
             SELECT $1, k.*, $7 FROM unnest($2::text[], $3::bytea[], $4::int8[], $5::int4[],
                 $6::bytea[]) AS k",
        ),
        tx.prepare_cached(
            "INSERT INTO entities (workspace_id, tbl, pk, cl, ncells, cells, seq)
             SELECT $1, k.*, $7 FROM unnest($2::text[], $3::bytea[], $4::int8[], $5::int4[],
                 $6::bytea[]) AS k
             ON CONFLICT (workspace_id, tbl, pk) DO UPDATE SET
                 cl = EXCLUDED.cl, ncells = EXCLUDED.ncells, cells = EXCLUDED.cells,
                 seq = EXCLUDED.seq",
        ),
    )?;
    // The two statements touch disjoint rows, so they are pipelined on the connection
    // instead of waiting on each other.
    tokio::try_join!(
        write_entities(tx, &insert, workspace_id, seq, &new_rows),
        write_entities(tx, &upsert, workspace_id, seq, &stored_rows),
    )?;
    Ok(())
}

/// Runs `statement` (an insert of rows from `unnest`) over `rows`, if there are any.
async fn write_entities(
    tx: &deadpool_postgres::Transaction<'_>,
    statement: &tokio_postgres::Statement,
    workspace_id: Uuid,
    seq: i64,
    rows: &EntityColumns<'_>,
) -> Result<u64, tokio_postgres::Error> {
    if rows.tbl.is_empty() {
        return Ok(0);
    }
    type Param<'p> = &'p (dyn tokio_postgres::types::ToSql + Sync);
    let params: [Param; 7] = [
        &workspace_id,
        &rows.tbl,
        &rows.pk,
        &rows.cl,
        &rows.ncells,
        &rows.cells,
        &seq,
    ];
    tx.execute(statement, &params).await
}

/// Rows laid out as columns, for one `unnest` insert.
#[derive(Default)]
struct EntityColumns<'a> {
    tbl: Vec<&'a str>,
    pk: Vec<&'a [u8]>,
    cl: Vec<i64>,
    ncells: Vec<i32>,
    cells: Vec<Vec<u8>>,
}

/// The cells of the rows changed after `after` (every cell of such a row, also those an
/// earlier push wrote: the server keeps a row's cells together, see migration 0009), in whole
/// sequence numbers: sequences are taken until the page holds at least `limit` cells, and
/// always at least one.
pub async fn pull(
    client: &mut deadpool_postgres::Object,
    workspace_id: Uuid,
    after: i64,
    limit: i64,
) -> Result<PullResponse, DbError> {
    // One snapshot, so that the page and the head agree.
    let tx = client
        .build_transaction()
        .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await?;
    // Until ANALYZE has seen a workspace's rows, the planner takes `workspace_id = $1` to
    // match 0.5% of them when one workspace may hold them all, and may pick a bitmap scan that
    // reads and sorts every row after `after` for each page, where a walk down
    // entities_in_pull_order stops at the page's end (EXPLAIN ANALYZE, BENCHMARKS.md).
    let no_bitmap = tx.batch_execute("SET LOCAL enable_bitmapscan = off");
    let head_stmt = tx.prepare_cached("SELECT head FROM workspaces WHERE id = $1");
    // The page ends with the whole sequence of its limit-th cell: the running count of cells
    // along the index, read until it reaches the limit.
    let page_stmt = tx.prepare_cached(
        "SELECT tbl, pk, cl, seq, cells
         FROM entities
         WHERE workspace_id = $1 AND seq > $2 AND seq <= COALESCE(
             (SELECT seq FROM (
                 SELECT seq, sum(ncells) OVER (ORDER BY seq ROWS UNBOUNDED PRECEDING) AS upto
                 FROM entities WHERE workspace_id = $1 AND seq > $2
              ) AS counted WHERE upto >= $3 LIMIT 1),
             9223372036854775807) -- i64::MAX: the rest, when fewer than the limit remain
         ORDER BY seq",
    );
    let ((), head_stmt, page_stmt) = tokio::try_join!(no_bitmap, head_stmt, page_stmt)?;
    // Statements on one connection run in the order sent, so the setting holds for the page
    // query, and both queries go out at once.
    let head_params: [&(dyn tokio_postgres::types::ToSql + Sync); 1] = [&workspace_id];
    let page_params: [&(dyn tokio_postgres::types::ToSql + Sync); 3] =
        [&workspace_id, &after, &limit];
    let (head, rows) = tokio::try_join!(
        tx.query_one(&head_stmt, &head_params),
        tx.query(&page_stmt, &page_params),
    )?;
    let head: i64 = head.get(0);
    tx.commit().await?;
    let mut decoded = Vec::with_capacity(rows.len());
    let mut next = after;
    for row in &rows {
        let seq: i64 = row.get(3);
        let cells = cell_blob::decode(row.get(4)).map_err(DbError::Schema)?;
        decoded.push((
            seq,
            row.get::<_, &str>(0),
            row.get::<_, &[u8]>(1),
            cells,
            row.get(2),
        ));
        next = seq;
    }
    let mut page = Vec::with_capacity(rows.len() * 8);
    for (seq, tbl, pk, cells, cl) in &decoded {
        for (cid, cell) in cells {
            page.push((*seq, *tbl, *pk, cid.as_str(), cell, *cl));
        }
    }
    let changes = in_pull_order(page);
    Ok(PullResponse {
        changes,
        next,
        head,
    })
}
