//! Cells for a table or a column this build does not have (pushed by a device on a newer
//! schema): held out of their pulled page in `held_changes`, so that they are neither lost nor
//! stop the rest of the page, and merged through cr-sqlite once a migration adds what they
//! belong to (at [`super::Store::open`]).

use std::collections::{HashMap, HashSet};

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

use super::changes::{crr_tables, insert_through_crsql, table_columns, ChangeRow, SENTINEL};
use crate::error::Result;

/// The CRR tables of this database and their non-key columns.
#[derive(Debug, Default, Clone)]
pub(crate) struct KnownSchema {
    tables: HashMap<String, HashSet<String>>,
}

impl KnownSchema {
    pub(crate) fn read(conn: &Connection) -> Result<Self> {
        let mut tables = HashMap::new();
        for table in crr_tables(conn)? {
            let (_, columns) = table_columns(conn, &table)?;
            tables.insert(table, columns.into_iter().collect());
        }
        Ok(Self { tables })
    }

    /// Whether `table` is a CRR of this schema.
    pub(crate) fn has_table(&self, table: &str) -> bool {
        self.tables.contains_key(table)
    }

    /// Whether this schema has the cell's table and column (the existence cell `-1` needs
    /// the table only).
    pub(crate) fn knows(&self, cell: &ChangeRow) -> bool {
        self.tables
            .get(&cell.table)
            .is_some_and(|columns| cell.cid == SENTINEL || columns.contains(&cell.cid))
    }
}

/// Stores `cells` in `held_changes`, on `conn` inside the caller's transaction.
pub(crate) fn hold(conn: &Connection, cells: &[&ChangeRow], now: i64) -> Result<()> {
    let mut insert = conn.prepare_cached(
        "INSERT INTO held_changes (table_name, pk, cid, val, col_version, db_version, site_id,
             cl, seq, received_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?;
    for c in cells {
        let mut values = super::changes::change_values(c).to_vec();
        values.push(&now);
        insert.execute(rusqlite::params_from_iter(values))?;
    }
    Ok(())
}

fn has_held_table(conn: &Connection) -> Result<bool> {
    Ok(conn
        .query_row(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'held_changes'",
            [],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}

/// Merges, in the order they arrived and in one transaction, the held cells this schema now
/// knows, and deletes them; the others stay. Returns how many it merged.
pub(crate) fn merge_now_known(conn: &mut Connection) -> Result<usize> {
    if !has_held_table(conn)? {
        return Ok(0);
    }
    let any: bool = conn.query_row("SELECT EXISTS (SELECT 1 FROM held_changes)", [], |r| {
        r.get(0)
    })?;
    if !any {
        return Ok(0);
    }
    let schema = KnownSchema::read(conn)?;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    super::hlc::stamp_pending(&tx)?;
    let held: Vec<(i64, ChangeRow)> = tx
        .prepare(
            "SELECT id, table_name, pk, cid, val, col_version, db_version, site_id, cl, seq
             FROM held_changes ORDER BY id",
        )?
        .query_map([], |r| {
            Ok((
                r.get(0)?,
                ChangeRow {
                    table: r.get(1)?,
                    pk: r.get(2)?,
                    cid: r.get(3)?,
                    val: r.get(4)?,
                    col_version: r.get(5)?,
                    db_version: r.get(6)?,
                    site_id: r.get(7)?,
                    cl: r.get(8)?,
                    seq: r.get(9)?,
                },
            ))
        })?
        .collect::<rusqlite::Result<_>>()?;
    let (ready, _still_unknown): (Vec<_>, Vec<_>) =
        held.into_iter().partition(|(_, c)| schema.knows(c));
    if ready.is_empty() {
        return Ok(0);
    }
    let cells: Vec<ChangeRow> = ready.iter().map(|(_, c)| c.clone()).collect();
    insert_through_crsql(&tx, &cells)?;
    let mut delete = tx.prepare("DELETE FROM held_changes WHERE id = ?1")?;
    for (id, _) in &ready {
        delete.execute([id])?;
    }
    drop(delete);
    tx.commit()?;
    tracing::info!(
        cells = ready.len(),
        "merged held cells this schema now knows"
    );
    Ok(ready.len())
}

/// Held cells by the device that made them.
pub(crate) fn held_by_site(conn: &Connection) -> Result<Vec<HeldFrom>> {
    if !has_held_table(conn)? {
        return Ok(Vec::new());
    }
    let mut stmt = conn.prepare_cached(
        "SELECT h.site_id, k.name, count(*) FROM held_changes h
         LEFT JOIN known_devices k ON k.site_id = h.site_id
         GROUP BY h.site_id ORDER BY h.site_id",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(HeldFrom {
            site_id: hex::encode(r.get::<_, Vec<u8>>(0)?),
            device_name: r.get(1)?,
            cells: r.get::<_, i64>(2)? as usize,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// A device as the server listed it: site id, name, schema version, clock offset (ms).
type ListedDevice = (Vec<u8>, String, Option<i64>, Option<i64>);

/// Records the workspace's devices as the server listed them.
pub(crate) fn record_devices(conn: &mut Connection, devices: &[ListedDevice]) -> Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    {
        let mut upsert = tx.prepare(
            "INSERT INTO known_devices (site_id, name, schema_version, clock_offset_ms)
             VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (site_id) DO UPDATE SET name = excluded.name,
                 schema_version = excluded.schema_version,
                 clock_offset_ms = excluded.clock_offset_ms",
        )?;
        for (site, name, schema, clock) in devices {
            upsert.execute(params![site, name, schema, clock])?;
        }
    }
    tx.commit()?;
    Ok(())
}

/// Held cells from one device.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct HeldFrom {
    /// The device's site id, hex.
    pub site_id: String,
    /// Its name as the server listed it, when known.
    pub device_name: Option<String>,
    pub cells: usize,
}

impl super::Store {
    /// Held cells (for tables or columns a newer build has), by the device that made them.
    pub fn held_changes(&self) -> Result<Vec<HeldFrom>> {
        self.read(held_by_site)
    }

    /// Remembers the workspace's devices: (site id, name, schema version).
    /// Records the names (and schema versions) of the devices the sync server listed, so
    /// that `sync status`, `devices` and refusals name them, offline too. A device whose site
    /// id is not hex is skipped.
    pub fn record_known_devices(
        &self,
        devices: &[flightdeck_types::sync::DeviceInfo],
    ) -> Result<()> {
        let devices: Vec<ListedDevice> = devices
            .iter()
            .filter_map(|d| {
                Some((
                    hex::decode(&d.site_id).ok()?,
                    d.name.clone(),
                    d.schema_version,
                    d.clock_offset_ms,
                ))
            })
            .collect();
        record_devices(&mut self.lock(), &devices)
    }

    /// The other devices whose clocks were more than `bound_ms` off the sync server's when
    /// the device list was last read: (name, site id hex, offset in milliseconds).
    pub fn devices_with_clocks_off(&self, bound_ms: i64) -> Result<Vec<(String, String, i64)>> {
        self.read(|conn| {
            let mut stmt = conn.prepare(
                "SELECT name, hex(site_id), clock_offset_ms FROM known_devices
                 WHERE abs(clock_offset_ms) > ?1 AND site_id <> crsql_site_id()
                 ORDER BY name, site_id",
            )?;
            let rows = stmt.query_map([bound_ms], |r| {
                Ok((r.get(0)?, r.get::<_, String>(1)?.to_lowercase(), r.get(2)?))
            })?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    /// Whether `cell` is of a table and column this database has; re-reads the schema once
    /// on a miss (a table made since open, as tests do).
    pub(crate) fn knows_cells(&self, conn: &Connection, cells: &[ChangeRow]) -> Result<bool> {
        let mut known = self
            .known_schema
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if cells.iter().all(|c| known.knows(c)) {
            return Ok(true);
        }
        *known = KnownSchema::read(conn)?;
        Ok(cells.iter().all(|c| known.knows(c)))
    }

    /// The CRRs among `tables` (what a write touched) that the schema read at open knows, and
    /// whether any other among them is a CRR too: a table made since (as tests do), found by
    /// whether cr-sqlite keeps a clock table for it.
    pub(crate) fn crrs_among<'t>(
        &self,
        conn: &Connection,
        tables: &'t std::collections::HashSet<String>,
    ) -> Result<(Vec<&'t str>, bool)> {
        let (known, others): (Vec<&str>, Vec<&str>) = {
            let schema = self
                .known_schema
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            tables
                .iter()
                .map(String::as_str)
                .filter(|t| !t.contains("__crsql_"))
                .partition(|t| schema.has_table(t))
        };
        let mut clock_table =
            conn.prepare_cached("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1")?;
        let mut unknown_crr = false;
        for table in others {
            if clock_table.exists([format!("{table}__crsql_clock")])? {
                unknown_crr = true;
                break;
            }
        }
        Ok((known, unknown_crr))
    }

    pub(crate) fn known_schema(&self) -> KnownSchema {
        self.known_schema
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }
}

impl super::Store {
    /// Holds the cells of `changes` this schema lacks (on `conn`, in the caller's
    /// transaction) and returns the others, borrowed when there is nothing to hold.
    pub(crate) fn hold_unknown<'a>(
        &self,
        conn: &Connection,
        changes: &'a [ChangeRow],
        now: i64,
    ) -> Result<std::borrow::Cow<'a, [ChangeRow]>> {
        if self.knows_cells(conn, changes)? {
            return Ok(std::borrow::Cow::Borrowed(changes));
        }
        let schema = self.known_schema();
        let (known, unknown): (Vec<&ChangeRow>, Vec<&ChangeRow>) =
            changes.iter().partition(|c| schema.knows(c));
        hold(conn, &unknown, now)?;
        tracing::info!(
            held = unknown.len(),
            "held pulled cells for tables or columns of a newer schema"
        );
        Ok(std::borrow::Cow::Owned(
            known.into_iter().cloned().collect(),
        ))
    }
}
