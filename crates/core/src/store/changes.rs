//! Reading and applying cr-sqlite change sets (`crsql_changes`): what sync ships between
//! devices. Applying remote changes is not a local change, so it bypasses the audited write
//! path, but it is one transaction all the same.

use rusqlite::types::Value;
use rusqlite::{params, TransactionBehavior};

use super::Store;
use crate::error::{CoreError, Result};

/// One row of `crsql_changes`: one column of one row at one version.
#[derive(Debug, Clone, PartialEq)]
pub struct ChangeRow {
    pub table: String,
    /// The row's primary key, packed by cr-sqlite.
    pub pk: Vec<u8>,
    /// The column, or `-1` for the row's existence (create/delete).
    pub cid: String,
    pub val: Value,
    pub col_version: i64,
    pub db_version: i64,
    pub site_id: Vec<u8>,
    /// Causal length: odd while the row exists, even once deleted.
    pub cl: i64,
    pub seq: i64,
}

/// The columns of `crsql_changes`, in the order [`change_from_row`] reads them.
pub(crate) const CHANGE_COLUMNS: &str =
    r#""table", pk, cid, val, col_version, db_version, site_id, cl, seq"#;

pub(crate) fn change_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ChangeRow> {
    Ok(ChangeRow {
        table: r.get(0)?,
        pk: r.get(1)?,
        cid: r.get(2)?,
        val: r.get(3)?,
        col_version: r.get(4)?,
        db_version: r.get(5)?,
        site_id: r.get(6)?,
        cl: r.get(7)?,
        seq: r.get(8)?,
    })
}

/// Which changes to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Only changes made on this device (what a device pushes).
    Local,
    /// Changes from every device this database has seen.
    Any,
}

impl Store {
    /// Changes with `db_version > after`, in db_version then seq order, so that a caller can
    /// cut the list at transaction boundaries.
    pub fn changes_since(&self, after: i64, origin: Origin) -> Result<Vec<ChangeRow>> {
        self.read_stamped(|conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {CHANGE_COLUMNS} FROM crsql_changes
                 WHERE db_version > ?1 AND (?2 = 0 OR site_id = crsql_site_id())
                 ORDER BY db_version, seq"
            ))?;
            let rows = stmt.query_map(params![after, origin == Origin::Local], change_from_row)?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    /// Merges changes from other devices, all in one transaction. cr-sqlite decides each
    /// column by its rule (causal length, then column version, then value); rows this
    /// database has never seen are written directly with the same outcome (`fresh_rows`).
    pub fn apply_changes(&self, changes: &[ChangeRow]) -> Result<()> {
        self.apply_with(changes, insert_changes)
    }

    /// [`Store::apply_changes`] with every cell through cr-sqlite's own merge
    /// (`INSERT INTO crsql_changes`): the reference the fast path is tested and measured
    /// against.
    pub fn apply_changes_through_crsql(&self, changes: &[ChangeRow]) -> Result<()> {
        self.apply_with(changes, insert_through_crsql)
    }

    fn apply_with(
        &self,
        changes: &[ChangeRow],
        merge: fn(&rusqlite::Connection, &[ChangeRow]) -> Result<()>,
    ) -> Result<()> {
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        super::hlc::stamp_pending(&tx)?;
        merge(&tx, changes)?;
        tx.commit()?;
        self.hlc.observe(changes);
        Ok(())
    }
}

/// Pages at least this long take the fast path for new rows (`fresh_rows`). Shorter ones,
/// such as a single write propagating, go through `crsql_changes`: with the fast path on
/// every page, propagation p99 measured 49 to 56 ms against 32 to 39 ms without, in four
/// interleaved runs each (p50 unchanged; see BENCHMARKS.md), for a reason not found yet.
const FAST_PATH_MIN_CELLS: usize = 1_000;

/// Merges `changes` on `conn`, which the caller has inside a transaction.
pub(crate) fn insert_changes(conn: &rusqlite::Connection, changes: &[ChangeRow]) -> Result<()> {
    if changes.len() < FAST_PATH_MIN_CELLS {
        return insert_through_crsql(conn, changes);
    }
    super::fresh_rows::merge(conn, changes).map(|_| ())
}

/// A table's primary-key columns in key order (the order cr-sqlite packs them in), and its
/// other columns in table order. Both empty if there is no such table.
pub(crate) fn table_columns(
    conn: &rusqlite::Connection,
    table: &str,
) -> Result<(Vec<String>, Vec<String>)> {
    let mut stmt = conn.prepare_cached("SELECT name, pk FROM pragma_table_info(?1)")?;
    let mut pks = Vec::new();
    let mut others = Vec::new();
    for row in stmt.query_map([table], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
    })? {
        let (name, pk) = row?;
        if pk > 0 {
            pks.push((pk, name));
        } else {
            others.push(name);
        }
    }
    pks.sort();
    Ok((pks.into_iter().map(|(_, name)| name).collect(), others))
}

/// Feeds `changes` to cr-sqlite's own merge, one `INSERT INTO crsql_changes` per cell, on
/// `conn`, which the caller has inside a transaction.
/// A cell's values in [`CHANGE_COLUMNS`] order, for an insert's parameters.
pub(crate) fn change_values(c: &ChangeRow) -> [&dyn rusqlite::ToSql; 9] {
    [
        &c.table,
        &c.pk,
        &c.cid,
        &c.val,
        &c.col_version,
        &c.db_version,
        &c.site_id,
        &c.cl,
        &c.seq,
    ]
}

pub(crate) fn insert_through_crsql(
    conn: &rusqlite::Connection,
    changes: &[ChangeRow],
) -> Result<()> {
    super::run_steps::merged();
    let mut insert = conn.prepare_cached(&format!(
        "INSERT INTO crsql_changes ({CHANGE_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
    ))?;
    for c in changes {
        insert
            .execute(rusqlite::params_from_iter(change_values(c)))
            .map_err(|e| {
                // cr-sqlite leaves its sync bit set when a merge fails part-way; on, it would
                // keep every later local write of this connection out of the change set.
                if let Err(clear) =
                    conn.query_row("SELECT crsql_internal_sync_bit(0)", [], |_| Ok(()))
                {
                    tracing::error!(error = %clear, "could not clear cr-sqlite's sync bit");
                }
                cell_error(c, &e)
            })?;
    }
    Ok(())
}

/// A pulled cell this database refused, named by table, column and row, with the device it
/// came from (SQLite's own message, for cr-sqlite's virtual table often a bare "SQL logic
/// error", names none of them).
pub(crate) fn cell_error(c: &ChangeRow, e: &rusqlite::Error) -> CoreError {
    let column = if c.cid == SENTINEL {
        "(row existence)"
    } else {
        c.cid.as_str()
    };
    let row = match super::fresh_rows::unpack(&c.pk) {
        Some(values) => values
            .iter()
            .map(|v| match v {
                Value::Text(t) => format!("'{t}'"),
                Value::Integer(i) => i.to_string(),
                Value::Real(f) => f.to_string(),
                Value::Blob(b) => format!("x'{}'", hex::encode(b)),
                Value::Null => "NULL".into(),
            })
            .collect::<Vec<_>>()
            .join(", "),
        None => "(malformed key)".into(),
    };
    CoreError::RemoteChange(format!(
        "table `{}`, column `{column}`, row ({row}) [pk {}], from device {}: {e}",
        c.table,
        hex::encode(&c.pk),
        hex::encode(&c.site_id)
    ))
}

/// cr-sqlite's column name for a row's existence (its create or delete).
pub(crate) const SENTINEL: &str = "-1";

/// The CRR tables here (those cr-sqlite keeps a `<table>__crsql_clock` for), by name.
pub(crate) fn crr_tables(conn: &rusqlite::Connection) -> Result<Vec<String>> {
    let mut tables = conn.prepare_cached(
        r"SELECT substr(name, 1, length(name) - length('__crsql_clock')) FROM sqlite_master
          WHERE type = 'table' AND name LIKE '%\_\_crsql\_clock' ESCAPE '\' ORDER BY name",
    )?;
    let names = tables.query_map([], |r| r.get::<_, String>(0))?;
    Ok(names.collect::<rusqlite::Result<Vec<_>>>()?)
}

/// `name` as a quoted SQL identifier.
pub(crate) fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}
