//! The cell store: applying a push under the merge rule, and paging changes out by sequence.

use std::collections::{BTreeSet, HashMap};

use flightdeck_types::sync::{PullResponse, PushResponse, WireChange, MAX_ANNOUNCED_CELLS};
use tokio_postgres::Row;
use uuid::Uuid;

use super::DbError;
use crate::merge::{merge, Cell, Decision, RowState, Value, SENTINEL_CID};
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
    /// The cids stored before this push (to know which ones a delete or resurrect dropped).
    stored_cids: BTreeSet<String>,
    /// The cids this push wrote.
    written_cids: BTreeSet<String>,
    changed: bool,
}

type RowKey = (String, Vec<u8>);

/// What a push did: the answer for the device, and the cells it wrote when they are few
/// enough to ride in the push's announcement.
pub struct Applied {
    pub response: PushResponse,
    /// The cells stamped with `response.seq`, as a pull of that sequence would return them
    /// (in pull order), when there are at most [`MAX_ANNOUNCED_CELLS`]; `None` otherwise and
    /// when the push changed nothing.
    pub announced: Option<Vec<WireChange>>,
}

/// Applies one push in one transaction. Pushes to a workspace serialize on its row lock; a
/// push that changes anything gets the next sequence number, stamped on every cell it changed,
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
                written.push((tbl, pk, cid, cell, row.state.cl));
            }
        }
    }
    written.sort_by(|a, b| {
        (a.3.db_version, a.3.crsql_seq, a.0, a.1, a.2).cmp(&(
            b.3.db_version,
            b.3.crsql_seq,
            b.0,
            b.1,
            b.2,
        ))
    });
    let changes = written
        .into_iter()
        .map(|(tbl, pk, cid, cell, cl)| WireChange {
            table: tbl.clone(),
            pk: hex::encode(pk),
            cid: cid.clone(),
            val: value_to_wire(&cell.value),
            col_version: cell.col_version,
            db_version: cell.db_version,
            site_id: hex::encode(&cell.site_id),
            cl,
            seq: cell.crsql_seq,
        })
        .collect();
    Some(changes)
}

/// Takes the workspace's lock and loads the stored state of every row the push touches: the
/// head, then the rows and their cells, in one round trip.
///
/// The loads must reach Postgres after the lock statement: under READ COMMITTED each statement
/// reads the snapshot taken when it starts, so a load that starts before the lock is held can
/// read a state that the push holding the lock is about to replace, and this push's merge then
/// writes a lower version back over an acknowledged one. A connection runs statements in the
/// order they were sent, and tokio-postgres sends a query when its future is first polled; so
/// every statement is prepared first (a cold statement cache would otherwise put a Parse round
/// trip before the lock's query but not necessarily before the loads), and `biased` polls the
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
    let (lock_stmt, row_stmt, cell_stmt) = tokio::try_join!(
        tx.prepare_cached("SELECT head FROM workspaces WHERE id = $1 FOR UPDATE"),
        tx.prepare_cached(
            "SELECT r.tbl, r.pk, r.cl FROM rows r
             JOIN unnest($2::text[], $3::bytea[]) AS k(tbl, pk) ON r.tbl = k.tbl AND r.pk = k.pk
             WHERE r.workspace_id = $1",
        ),
        tx.prepare_cached(
            "SELECT c.tbl, c.pk, c.cid, c.val_type, c.val_int, c.val_real, c.val_bytes,
                    c.col_version, c.db_version, c.site_id, c.crsql_seq
             FROM cells c
             JOIN unnest($2::text[], $3::bytea[]) AS k(tbl, pk) ON c.tbl = k.tbl AND c.pk = k.pk
             WHERE c.workspace_id = $1",
        ),
    )?;
    let lock_params: [&(dyn tokio_postgres::types::ToSql + Sync); 1] = [&workspace_id];
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 3] = [&workspace_id, &tbls, &pks];
    let (head, stored_rows, stored_cells) = tokio::try_join!(
        biased;
        tx.query_one(&lock_stmt, &lock_params),
        tx.query(&row_stmt, &params),
        tx.query(&cell_stmt, &params),
    )?;
    let head: i64 = head.get(0);
    let mut rows: HashMap<RowKey, TouchedRow> = HashMap::new();
    for row in stored_rows {
        let touched = rows.entry((row.get(0), row.get(1))).or_default();
        touched.state.cl = row.get(2);
    }
    for row in stored_cells {
        let touched = rows.entry((row.get(0), row.get(1))).or_default();
        let cid: String = row.get(2);
        let cell = Cell {
            value: value_from_columns(&row, 3)?,
            col_version: row.get(7),
            db_version: row.get(8),
            site_id: row.get(9),
            crsql_seq: row.get(10),
        };
        touched.stored_cids.insert(cid.clone());
        touched.state.cells.insert(cid, cell);
    }
    Ok((head, rows))
}

/// Writes the changed rows: their causal lengths, the cells they dropped and the cells they
/// took, each stamped with `seq`.
async fn write_rows(
    tx: &deadpool_postgres::Transaction<'_>,
    workspace_id: Uuid,
    seq: i64,
    rows: &HashMap<RowKey, TouchedRow>,
) -> Result<(), DbError> {
    let changed: Vec<(&RowKey, &TouchedRow)> = rows.iter().filter(|(_, r)| r.changed).collect();

    let tbls: Vec<&str> = changed.iter().map(|((tbl, _), _)| tbl.as_str()).collect();
    let pks: Vec<&[u8]> = changed.iter().map(|((_, pk), _)| pk.as_slice()).collect();
    let cls: Vec<i64> = changed.iter().map(|(_, row)| row.state.cl).collect();
    let mut dropped: (Vec<&str>, Vec<&[u8]>, Vec<&str>) = Default::default();
    for ((tbl, pk), row) in &changed {
        for cid in row.stored_cids.iter() {
            if !row.state.cells.contains_key(cid) {
                dropped.0.push(tbl);
                dropped.1.push(pk);
                dropped.2.push(cid);
            }
        }
    }
    // Cells this workspace never had are inserted plainly; the others replace the stored ones.
    // (Pushes to a workspace hold its lock, so no other push adds a cell meanwhile.)
    let (mut new_cells, mut stored_cells) = (CellColumns::default(), CellColumns::default());
    for ((tbl, pk), row) in &changed {
        for cid in &row.written_cids {
            if let Some(cell) = row.state.cells.get(cid) {
                let columns = if row.stored_cids.contains(cid) {
                    &mut stored_cells
                } else {
                    &mut new_cells
                };
                columns.push(tbl, pk, cid, cell, row.state.cl);
            }
        }
    }

    let (upsert_rows, delete_cells, insert_cells, upsert_cells) = tokio::try_join!(
        tx.prepare_cached(
            "INSERT INTO rows (workspace_id, tbl, pk, cl)
             SELECT $1, * FROM unnest($2::text[], $3::bytea[], $4::int8[])
             ON CONFLICT (workspace_id, tbl, pk) DO UPDATE SET cl = EXCLUDED.cl",
        ),
        tx.prepare_cached(
            "DELETE FROM cells c
             USING unnest($2::text[], $3::bytea[], $4::text[]) AS k(tbl, pk, cid)
             WHERE c.workspace_id = $1 AND c.tbl = k.tbl AND c.pk = k.pk AND c.cid = k.cid",
        ),
        tx.prepare_cached(
            "INSERT INTO cells (workspace_id, tbl, pk, cid, val_type, val_int, val_real,
                                val_bytes, col_version, db_version, site_id, cl, crsql_seq, seq)
             SELECT $1, k.*, $14 FROM unnest($2::text[], $3::bytea[], $4::text[], $5::int2[],
                 $6::int8[], $7::float8[], $8::bytea[], $9::int8[], $10::int8[], $11::bytea[],
                 $12::int8[], $13::int8[]) AS k",
        ),
        tx.prepare_cached(
            "INSERT INTO cells (workspace_id, tbl, pk, cid, val_type, val_int, val_real,
                                val_bytes, col_version, db_version, site_id, cl, crsql_seq, seq)
             SELECT $1, k.*, $14 FROM unnest($2::text[], $3::bytea[], $4::text[], $5::int2[],
                 $6::int8[], $7::float8[], $8::bytea[], $9::int8[], $10::int8[], $11::bytea[],
                 $12::int8[], $13::int8[]) AS k
             ON CONFLICT (workspace_id, tbl, pk, cid) DO UPDATE SET
                 val_type = EXCLUDED.val_type, val_int = EXCLUDED.val_int,
                 val_real = EXCLUDED.val_real, val_bytes = EXCLUDED.val_bytes,
                 col_version = EXCLUDED.col_version, db_version = EXCLUDED.db_version,
                 site_id = EXCLUDED.site_id, cl = EXCLUDED.cl, crsql_seq = EXCLUDED.crsql_seq,
                 seq = EXCLUDED.seq",
        ),
    )?;
    // The statements touch disjoint data (the dropped cids are not among the written ones,
    // the new cells not among the stored), so they are pipelined on the connection instead of
    // waiting on each other.
    let delete = async {
        if dropped.0.is_empty() {
            return Ok(0);
        }
        tx.execute(
            &delete_cells,
            &[&workspace_id, &dropped.0, &dropped.1, &dropped.2],
        )
        .await
    };
    type Param<'p> = &'p (dyn tokio_postgres::types::ToSql + Sync);
    let row_params: [Param; 4] = [&workspace_id, &tbls, &pks, &cls];
    tokio::try_join!(
        tx.execute(&upsert_rows, &row_params),
        delete,
        write_cells(tx, &insert_cells, workspace_id, seq, &new_cells),
        write_cells(tx, &upsert_cells, workspace_id, seq, &stored_cells),
    )?;
    Ok(())
}

/// Runs `statement` (an insert of cells from `unnest`) over `cells`, if there are any.
async fn write_cells(
    tx: &deadpool_postgres::Transaction<'_>,
    statement: &tokio_postgres::Statement,
    workspace_id: Uuid,
    seq: i64,
    cells: &CellColumns<'_>,
) -> Result<u64, tokio_postgres::Error> {
    if cells.tbl.is_empty() {
        return Ok(0);
    }
    type Param<'p> = &'p (dyn tokio_postgres::types::ToSql + Sync);
    let params: [Param; 14] = [
        &workspace_id,
        &cells.tbl,
        &cells.pk,
        &cells.cid,
        &cells.val_type,
        &cells.val_int,
        &cells.val_real,
        &cells.val_bytes,
        &cells.col_version,
        &cells.db_version,
        &cells.site_id,
        &cells.cl,
        &cells.crsql_seq,
        &seq,
    ];
    tx.execute(statement, &params).await
}

/// Cells laid out as columns, for one `unnest` insert.
#[derive(Default)]
struct CellColumns<'a> {
    tbl: Vec<&'a str>,
    pk: Vec<&'a [u8]>,
    cid: Vec<&'a str>,
    val_type: Vec<i16>,
    val_int: Vec<Option<i64>>,
    val_real: Vec<Option<f64>>,
    val_bytes: Vec<Option<&'a [u8]>>,
    col_version: Vec<i64>,
    db_version: Vec<i64>,
    site_id: Vec<&'a [u8]>,
    cl: Vec<i64>,
    crsql_seq: Vec<i64>,
}

impl<'a> CellColumns<'a> {
    fn push(&mut self, tbl: &'a str, pk: &'a [u8], cid: &'a str, cell: &'a Cell, cl: i64) {
        let (val_type, val_int, val_real, val_bytes) = match &cell.value {
            Value::Null => (0, None, None, None),
            Value::Integer(int) => (1, Some(*int), None, None),
            Value::Real(real) => (2, None, Some(*real), None),
            Value::Text(text) => (3, None, None, Some(text.as_bytes())),
            Value::Blob(bytes) => (4, None, None, Some(bytes.as_slice())),
        };
        self.tbl.push(tbl);
        self.pk.push(pk);
        self.cid.push(cid);
        self.val_type.push(val_type);
        self.val_int.push(val_int);
        self.val_real.push(val_real);
        self.val_bytes.push(val_bytes);
        self.col_version.push(cell.col_version);
        self.db_version.push(cell.db_version);
        self.site_id.push(&cell.site_id);
        self.cl.push(cl);
        self.crsql_seq.push(cell.crsql_seq);
    }
}

/// Reads the typed pair `val_type, val_int, val_real, val_bytes` starting at column `first`.
fn value_from_columns(row: &Row, first: usize) -> Result<Value, DbError> {
    let val_type: i16 = row.get(first);
    Ok(match val_type {
        0 => Value::Null,
        1 => Value::Integer(row.get(first + 1)),
        2 => Value::Real(row.get(first + 2)),
        3 => Value::Text(
            String::from_utf8(row.get(first + 3))
                .map_err(|_| DbError::Schema("a stored text value is not UTF-8".into()))?,
        ),
        4 => Value::Blob(row.get(first + 3)),
        other => return Err(DbError::Schema(format!("unknown stored val_type {other}"))),
    })
}

/// The cells changed after `after`, in whole sequence numbers: sequences are taken until the
/// page holds at least `limit` cells, and always at least one.
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
    // Until ANALYZE has seen a workspace's cells, the planner takes `workspace_id = $1` to
    // match 0.5% of them when one workspace may hold them all, and picks a bitmap scan that
    // reads and sorts every cell after `after` for each page: on 900,000 cells, 430 ms for
    // the page-end lookup and 52 ms for the page, against 6 and 10 ms walking
    // cells_in_pull_order, which stops at the page's end (EXPLAIN ANALYZE, BENCHMARKS.md).
    let no_bitmap = tx.batch_execute("SET LOCAL enable_bitmapscan = off");
    let head_stmt = tx.prepare_cached("SELECT head FROM workspaces WHERE id = $1");
    // The page ends with the whole sequence of its limit-th cell.
    let page_stmt = tx.prepare_cached(
        "SELECT tbl, pk, cid, val_type, val_int, val_real, val_bytes, col_version,
                db_version, site_id, cl, crsql_seq, seq
         FROM cells
         WHERE workspace_id = $1 AND seq > $2 AND seq <= COALESCE(
             (SELECT seq FROM cells WHERE workspace_id = $1 AND seq > $2
              ORDER BY seq OFFSET $3 LIMIT 1),
             9223372036854775807) -- i64::MAX: the rest, when fewer than the limit remain
         ORDER BY seq, db_version, crsql_seq, tbl, pk, cid",
    );
    let ((), head_stmt, page_stmt) = tokio::try_join!(no_bitmap, head_stmt, page_stmt)?;
    // Statements on one connection run in the order sent, so the setting holds for the page
    // query, and both queries go out at once.
    let offset = limit - 1;
    let head_params: [&(dyn tokio_postgres::types::ToSql + Sync); 1] = [&workspace_id];
    let page_params: [&(dyn tokio_postgres::types::ToSql + Sync); 3] =
        [&workspace_id, &after, &offset];
    let (head, rows) = tokio::try_join!(
        tx.query_one(&head_stmt, &head_params),
        tx.query(&page_stmt, &page_params),
    )?;
    let head: i64 = head.get(0);
    tx.commit().await?;
    let mut changes = Vec::with_capacity(rows.len());
    let mut next = after;
    for row in &rows {
        changes.push(WireChange {
            table: row.get(0),
            pk: hex::encode(row.get::<_, &[u8]>(1)),
            cid: row.get(2),
            val: value_to_wire(&value_from_columns(row, 3)?),
            col_version: row.get(7),
            db_version: row.get(8),
            site_id: hex::encode(row.get::<_, &[u8]>(9)),
            cl: row.get(10),
            seq: row.get(11),
        });
        next = row.get(12);
    }
    Ok(PullResponse {
        changes,
        next,
        head,
    })
}
