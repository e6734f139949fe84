//! Where a write's clock goes on the clock tables cr-sqlite keeps: the tables a write touched
//! (for a stock cr-sqlite build, which cannot take the clock in its own statement), its
//! cells stamped in the write, its clock noted for later, the noted cells stamped, and cells
//! stamped ahead of the server's clock given a new version. Why each is safe: the parent
//! module's comment.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, OptionalExtension};

use super::TAG_BITS;
use crate::error::Result;
use crate::store::changes::{quoted, SENTINEL};
/// The tables a transaction wrote rows of, as SQLite's update hook reports them (base tables
/// and, where they have rowids, cr-sqlite's own tables).
pub(crate) type Touched = Arc<Mutex<HashSet<String>>>;

/// Has `conn` note every table a statement writes into `touched`.
pub(crate) fn watch(conn: &Connection, touched: &Touched) {
    let touched = Arc::clone(touched);
    conn.update_hook(Some(
        move |_: rusqlite::hooks::Action, _: &str, table: &str, _: i64| {
            let mut set = touched.lock().unwrap_or_else(|p| p.into_inner());
            if !set.contains(table) {
                set.insert(table.to_string());
            }
        },
    ));
}

/// Takes what `touched` has noted so far, leaving it empty.
pub(crate) fn take(touched: &Touched) -> HashSet<String> {
    std::mem::take(&mut *touched.lock().unwrap_or_else(|p| p.into_inner()))
}

/// How many write transactions of one store pass between stamps made by the write path
/// itself (a device that syncs stamps at each push and merge anyway).
pub(crate) const STAMP_EVERY_WRITES: u64 = 4096;

/// Notes the clock of the write transaction in progress on `conn`: its cells get it when they
/// are next stamped ([`stamp_pending`]).
pub(crate) fn note_pending(conn: &Connection, version: i64) -> Result<()> {
    conn.prepare_cached(
        "INSERT OR REPLACE INTO hlc_pending (db_version, hlc) VALUES (crsql_next_db_version(), ?1)",
    )?
    .execute([version])?;
    Ok(())
}

/// Rows a write transaction may have changed (SQLite's count: its own rows and the clock
/// rows cr-sqlite wrote for them) for it to stamp its cells itself, in the write, rather than
/// note its clock: its clock rows are pages its commit writes anyway, where a note is one
/// more. One task created with its audit row is about 20.
pub(crate) const STAMP_IN_WRITE_CHANGES: u64 = 32;

/// Stamps the cells of `tables` (CRRs) that the write transaction in progress on `conn`
/// wrote with its clock, `clock` (`max(old + 1, clock)`, as [`stamp_pending`] would).
pub(crate) fn stamp_write(conn: &Connection, tables: &[&str], clock: i64) -> Result<()> {
    for table in tables {
        // `crsql_next_db_version()` is this transaction's db_version once it wrote a CRR
        // (SQLite seeks it once in the clock table's db_version index).
        conn.prepare_cached(&format!(
            "UPDATE {} SET col_version = ?1
             WHERE db_version = crsql_next_db_version() AND site_id = 0
               AND col_name <> '{SENTINEL}' AND col_version < ?1",
            quoted(&format!("{table}__crsql_clock"))
        ))?
        .execute([clock])?;
    }
    Ok(())
}

/// Whether the cr-sqlite loaded on `conn` has Flightdeck's local clock
/// (`scripts/patches/crsqlite-0.16.3-local-clock.patch`).
pub(crate) fn has_local_clock(conn: &Connection) -> bool {
    conn.query_row("SELECT crsql_local_clock()", [], |_| Ok(()))
        .is_ok()
}

/// Stamps every local cell of the CRRs written since the last stamp with the clock of its
/// write: the newest note in `hlc_pending` at or below the cell's db_version, plus one counter
/// step per db_version above that note (writes in the same millisecond as a note share it:
/// [`super::Hlc::shares_note`]), and never below the version cr-sqlite counted (`max(old + 1,
/// clock)`). Keeps the newest note, for the writes still to come in its millisecond, and
/// records how far it stamped. Runs inside the caller's transaction, before anything that
/// compares or sends column versions: a merge, a push, a read of changes.
///
/// Stamping twice changes nothing: a cell's clock depends only on its db_version and the notes
/// at or below it, and a note is always written at a db_version above every committed one.
pub(crate) fn stamp_pending(conn: &Connection) -> Result<()> {
    // A schema before migration 0029 (a store opened with an older build's migrations) has
    // no clocks to stamp.
    if !has_clock_notes(conn)? {
        return Ok(());
    }
    // Cells at or below `through` are stamped already; none: nothing was written since.
    let through: Option<i64> = conn
        .prepare_cached(
            "SELECT through FROM (
                 SELECT coalesce(max(stamped_through), min(db_version) - 1) AS through
                 FROM hlc_pending)
             WHERE crsql_db_version() > through",
        )?
        .query_row([], |r| r.get(0))
        .optional()?;
    let Some(through) = through else {
        return Ok(());
    };
    let clock = format!(
        "(SELECT p.hlc + ((c.db_version - p.db_version) << {TAG_BITS}) FROM hlc_pending AS p
          WHERE p.db_version <= c.db_version ORDER BY p.db_version DESC LIMIT 1)"
    );
    for table in crate::store::changes::crr_tables(conn)? {
        // Walks the clock table's db_version index from `through` up; a cell no note is at or
        // below (none, or only an older build's counted writes) compares with NULL and stays.
        conn.prepare_cached(&format!(
            "UPDATE {} AS c SET col_version = {clock}
             WHERE c.db_version > ?1 AND c.site_id = 0 AND c.col_name <> '{SENTINEL}'
               AND c.col_version < {clock}",
            quoted(&format!("{table}__crsql_clock"))
        ))?
        .execute([through])?;
    }
    conn.prepare_cached(
        "DELETE FROM hlc_pending WHERE db_version < (SELECT max(db_version) FROM hlc_pending)",
    )?
    .execute([])?;
    conn.prepare_cached("UPDATE hlc_pending SET stamped_through = crsql_db_version()")?
        .execute([])?;
    Ok(())
}

/// Whether the schema has the clock notes this build writes (migrations 0028 and 0029).
pub(crate) fn has_clock_notes(conn: &Connection) -> Result<bool> {
    Ok(conn
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM pragma_table_info('hlc_pending')
                            WHERE name = 'stamped_through')",
        )?
        .query_row([], |r| r.get(0))?)
}

/// Gives every cell of `tables` this device wrote after `after_db_version` (not yet pushed)
/// whose version is above `limit` the version `version` instead: cells stamped while this
/// device's clock ran ahead, before it knew. Nobody else has them yet, so nothing diverges.
/// Returns how many cells it changed.
pub(crate) fn restamp_ahead(
    conn: &Connection,
    tables: &[String],
    after_db_version: i64,
    limit: i64,
    version: i64,
) -> Result<usize> {
    let mut changed = 0;
    for table in tables {
        changed += conn
            .prepare_cached(&format!(
                "UPDATE {} SET col_version = ?1
                 WHERE db_version > ?2 AND site_id = 0 AND col_name <> '{SENTINEL}'
                   AND col_version > ?3",
                quoted(&format!("{table}__crsql_clock"))
            ))?
            .execute(rusqlite::params![version, after_db_version, limit])?;
    }
    Ok(changed)
}
