//! A faster merge for rows this database has never seen, as in a new device's bootstrap.
//!
//! cr-sqlite merges one cell per `INSERT INTO crsql_changes`: about six statements per cell,
//! and a 9-column row is written nine times over. For a row with no local state at all (no
//! key in `<table>__crsql_pks`) every incoming cell wins, so the result of that merge is known
//! in advance: this module writes it directly, one base-table insert per row and one clock
//! row per cell, with the same statements cr-sqlite would run at the end (the same key order,
//! `crsql_next_db_version(db_version)` for each cell's clock in the same order, the same site
//! ordinals, triggers held off by the sync bit). Every other cell goes through
//! `crsql_changes` as before, in the order given. Test `fresh_rows_merge_like_crsql` compares
//! the two paths on random histories, down to each clock's db_version and seq.

use std::collections::{HashMap, HashSet};

use rusqlite::types::Value;
use rusqlite::{params, params_from_iter, CachedStatement, Connection, OptionalExtension};

use super::changes::{insert_through_crsql, quoted, ChangeRow, SENTINEL};
use crate::error::Result;

#[cfg(test)]
#[path = "fresh_rows_tests.rs"]
mod tests;

/// Merges `changes` on `conn` (inside the caller's transaction) with the same outcome as
/// feeding each, in order, to `crsql_changes`. Returns how many cells it wrote directly.
pub(crate) fn merge(conn: &Connection, changes: &[ChangeRow]) -> Result<usize> {
    super::run_steps::merged();
    let fresh = fresh_groups(conn, changes)?;
    let mut sites: HashMap<&[u8], i64> = HashMap::new();
    let mut keys: HashMap<usize, i64> = HashMap::new();
    // Statements held for the whole call, by table (and column set for rows): a bootstrap
    // page runs them thousands of times, and the cache lookup hashes the SQL each time.
    let mut key_stmts: HashMap<&str, CachedStatement> = HashMap::new();
    let mut clock_stmts: HashMap<&str, CachedStatement> = HashMap::new();
    let mut row_stmts: HashMap<Vec<&str>, CachedStatement> = HashMap::new();
    let mut run: Option<FastRun> = None;
    let mut slow_from = None;
    let mut direct = 0;
    for (i, change) in changes.iter().enumerate() {
        let Some((group, first)) = fresh.cell_group(i) else {
            if let Some(run) = run.take() {
                run.finish()?;
            }
            slow_from.get_or_insert(i);
            continue;
        };
        if let Some(from) = slow_from.take() {
            insert_through_crsql(conn, &changes[from..i])?;
        }
        let run = match &mut run {
            Some(run) => run,
            None => run.insert(FastRun::start(conn, change.db_version)?),
        };
        let info = &fresh.tables[change.table.as_str()];
        if first {
            let (pk, cells) = &fresh.groups[group];
            let columns: Vec<&ChangeRow> = cells
                .iter()
                .map(|&c| &changes[c])
                .filter(|c| c.cid != SENTINEL)
                .collect();
            let names: Vec<&str> = std::iter::once(change.table.as_str())
                .chain(columns.iter().map(|c| c.cid.as_str()))
                .collect();
            let key: i64 = held(&mut key_stmts, change.table.as_str(), || {
                conn.prepare_cached(&info.key_sql)
            })?
            .query_row(params_from_iter(pk), |r| r.get(0))?;
            let values = pk.iter().chain(columns.iter().map(|c| &c.val));
            held(&mut row_stmts, names, || {
                conn.prepare_cached(&info.insert_row_sql(&change.table, &columns))
            })?
            .execute(params_from_iter(values))
            .map_err(|e| super::changes::cell_error(change, &e))?;
            keys.insert(group, key);
        }
        let site = match sites.get(change.site_id.as_slice()) {
            Some(ordinal) => *ordinal,
            None => {
                let ordinal = site_ordinal(conn, &change.site_id)?;
                sites.insert(&change.site_id, ordinal);
                ordinal
            }
        };
        // cr-sqlite gives each merged cell `crsql_next_db_version(its db_version)`: the
        // largest of the next local version and every merged version so far.
        run.version = run.version.max(change.db_version);
        held(&mut clock_stmts, change.table.as_str(), || {
            conn.prepare_cached(&info.clock_sql)
        })?
        .execute(params![
            keys[&group],
            change.cid,
            change.col_version,
            run.version,
            change.seq,
            site
        ])?;
        direct += 1;
    }
    if let Some(run) = run {
        run.finish()?;
    }
    if let Some(from) = slow_from {
        insert_through_crsql(conn, &changes[from..])?;
    }
    Ok(direct)
}

/// The statement under `key`, prepared on first use.
fn held<'m, 'c, K: std::hash::Hash + Eq>(
    statements: &'m mut HashMap<K, CachedStatement<'c>>,
    key: K,
    prepare: impl FnOnce() -> rusqlite::Result<CachedStatement<'c>>,
) -> Result<&'m mut CachedStatement<'c>> {
    Ok(match statements.entry(key) {
        std::collections::hash_map::Entry::Occupied(held) => held.into_mut(),
        std::collections::hash_map::Entry::Vacant(slot) => slot.insert(prepare()?),
    })
}

/// Consecutive cells written directly: cr-sqlite's sync bit is set for their whole span (its
/// triggers then record no local change) and its pending database version is brought up to
/// theirs at the end, as its own merge leaves it.
struct FastRun<'c> {
    conn: &'c Connection,
    version: i64,
    _quiet: SyncBit<'c>,
}

impl<'c> FastRun<'c> {
    fn start(conn: &'c Connection, db_version: i64) -> Result<Self> {
        let quiet = SyncBit::set(conn)?;
        Ok(FastRun {
            conn,
            version: next_db_version(conn, db_version)?,
            _quiet: quiet,
        })
    }

    fn finish(self) -> Result<()> {
        next_db_version(self.conn, self.version)?;
        Ok(())
    }
}

fn next_db_version(conn: &Connection, merging: i64) -> Result<i64> {
    Ok(conn
        .prepare_cached("SELECT crsql_next_db_version(?1)")?
        .query_row([merging], |r| r.get(0))?)
}

/// What the fast path needs to know of a CRR table, and its statements.
struct TableInfo {
    /// Primary-key columns, quoted, in key order (the order cr-sqlite packs them in).
    pks: Vec<String>,
    /// The other columns.
    columns: HashSet<String>,
    /// Whether cr-sqlite has a key for a row (then it has, or had, local state).
    known_sql: String,
    /// Creates a row's key (cr-sqlite's own statement).
    key_sql: String,
    /// Records one merged cell's clock.
    clock_sql: String,
}

impl TableInfo {
    fn new(table: &str, pks: Vec<String>, columns: HashSet<String>) -> Self {
        let key_table = quoted(&format!("{table}__crsql_pks"));
        let clock_table = quoted(&format!("{table}__crsql_clock"));
        let pk_list = pks.join(", ");
        let where_pks = pks
            .iter()
            .enumerate()
            .map(|(n, pk)| format!("{pk} = ?{}", n + 1))
            .collect::<Vec<_>>()
            .join(" AND ");
        TableInfo {
            known_sql: format!("SELECT 1 FROM {key_table} WHERE {where_pks}"),
            key_sql: format!(
                "INSERT INTO {key_table} ({pk_list}) VALUES ({})
                 RETURNING __crsql_key",
                placeholders(pks.len())
            ),
            clock_sql: format!(
                "INSERT INTO {clock_table}
                     (key, col_name, col_version, db_version, seq, site_id)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
            ),
            pks,
            columns,
        }
    }

    /// Inserts a row's key columns and `columns`, in that order.
    fn insert_row_sql(&self, table: &str, columns: &[&ChangeRow]) -> String {
        let names = self
            .pks
            .iter()
            .cloned()
            .chain(columns.iter().map(|c| quoted(&c.cid)))
            .collect::<Vec<_>>();
        format!(
            "INSERT INTO {} ({}) VALUES ({})",
            quoted(table),
            names.join(", "),
            placeholders(names.len())
        )
    }
}

/// The rows of one call that take the fast path.
struct FreshGroups<'a> {
    tables: HashMap<&'a str, TableInfo>,
    /// Per fresh row: its primary-key values and the indexes of its cells, in order.
    groups: Vec<(Vec<Value>, Vec<usize>)>,
    /// Per cell: its fresh row, if it has one.
    cell_group: Vec<Option<usize>>,
}

impl FreshGroups<'_> {
    /// The cell's fresh row and whether the cell is that row's first.
    fn cell_group(&self, cell: usize) -> Option<(usize, bool)> {
        let group = self.cell_group[cell]?;
        Some((group, self.groups[group].1[0] == cell))
    }
}

fn fresh_groups<'a>(conn: &Connection, changes: &'a [ChangeRow]) -> Result<FreshGroups<'a>> {
    let mut by_row: HashMap<(&str, &[u8]), Vec<usize>> = HashMap::new();
    let mut order = Vec::new();
    for (i, c) in changes.iter().enumerate() {
        by_row
            .entry((c.table.as_str(), c.pk.as_slice()))
            .or_insert_with(|| {
                order.push((c.table.as_str(), c.pk.as_slice()));
                Vec::new()
            })
            .push(i);
    }
    let mut tables: HashMap<&str, Option<TableInfo>> = HashMap::new();
    let mut out = FreshGroups {
        tables: HashMap::new(),
        groups: Vec::new(),
        cell_group: vec![None; changes.len()],
    };
    for row in order {
        let cells = by_row.remove(&row).unwrap_or_default();
        let (table, pk) = row;
        if !tables.contains_key(table) {
            tables.insert(table, table_info(conn, table)?);
        }
        let Some(info) = tables[table].as_ref() else {
            continue;
        };
        let Some(pk_values) = unpack(pk).filter(|v| v.len() == info.pks.len()) else {
            continue;
        };
        if !cells_are_fresh(changes, &cells, info) || row_known(conn, info, &pk_values)? {
            continue;
        }
        for &i in &cells {
            out.cell_group[i] = Some(out.groups.len());
        }
        out.groups.push((pk_values, cells));
    }
    out.tables = tables
        .into_iter()
        .filter_map(|(name, info)| info.map(|info| (name, info)))
        .collect();
    Ok(out)
}

/// Whether a row's cells are ones whose merge into an empty row is a plain write: all of the
/// row's first life (causal length 1), each column once, known columns only, a site id, and
/// the existence cell (if any) first, since one after a column is skipped by cr-sqlite.
fn cells_are_fresh(changes: &[ChangeRow], cells: &[usize], info: &TableInfo) -> bool {
    let mut seen = HashSet::new();
    cells.iter().enumerate().all(|(n, &i)| {
        let c = &changes[i];
        c.cl == 1
            && !c.site_id.is_empty()
            && seen.insert(c.cid.as_str())
            && if c.cid == SENTINEL {
                n == 0
            } else {
                info.columns.contains(&c.cid)
            }
    })
}

/// The table's key and columns, or `None` if it is not a CRR here (cr-sqlite then decides).
fn table_info(conn: &Connection, table: &str) -> Result<Option<TableInfo>> {
    let is_crr: Option<i64> = conn
        .query_row(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1 || '__crsql_pks'",
            [table],
            |r| r.get(0),
        )
        .optional()?;
    if is_crr.is_none() {
        return Ok(None);
    }
    let (pks, columns) = super::changes::table_columns(conn, table)?;
    let pks = pks.iter().map(|name| quoted(name)).collect();
    let columns = columns.into_iter().collect();
    Ok(Some(TableInfo::new(table, pks, columns)))
}

fn row_known(conn: &Connection, info: &TableInfo, pk: &[Value]) -> Result<bool> {
    Ok(conn
        .prepare_cached(&info.known_sql)?
        .query_row(params_from_iter(pk), |_| Ok(()))
        .optional()?
        .is_some())
}

/// cr-sqlite's ordinal for a site id, created on first sight (its own statements).
fn site_ordinal(conn: &Connection, site_id: &[u8]) -> Result<i64> {
    let known: Option<i64> = conn
        .prepare_cached("SELECT ordinal FROM crsql_site_id WHERE site_id = ?1")?
        .query_row([site_id], |r| r.get(0))
        .optional()?;
    match known {
        Some(ordinal) => Ok(ordinal),
        None => Ok(conn
            .prepare_cached("INSERT INTO crsql_site_id (site_id) VALUES (?1) RETURNING ordinal")?
            .query_row([site_id], |r| r.get(0))?),
    }
}

/// cr-sqlite's sync bit, set while it lives: its triggers then record no local change. It
/// is per connection, not per transaction, so it is cleared on every exit.
struct SyncBit<'c>(&'c Connection);

impl<'c> SyncBit<'c> {
    fn set(conn: &'c Connection) -> Result<Self> {
        conn.prepare_cached("SELECT crsql_internal_sync_bit(1)")?
            .query_row([], |_| Ok(()))?;
        Ok(SyncBit(conn))
    }
}

impl Drop for SyncBit<'_> {
    fn drop(&mut self) {
        let cleared = self
            .0
            .prepare_cached("SELECT crsql_internal_sync_bit(0)")
            .and_then(|mut s| s.query_row([], |_| Ok(())));
        if let Err(e) = cleared {
            tracing::error!(error = %e, "could not clear cr-sqlite's sync bit");
        }
    }
}

fn placeholders(n: usize) -> String {
    (1..=n)
        .map(|i| format!("?{i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// cr-sqlite's packed primary key (`crsql_pack_columns`): a column count, then per value a
/// byte with the type in its low 3 bits and the byte length of the following big-endian
/// integer (the value, or the text/blob length) above them. `None` if malformed.
pub(crate) fn unpack(packed: &[u8]) -> Option<Vec<Value>> {
    let (&count, rest) = packed.split_first()?;
    let mut bytes = Packed(rest);
    let mut out = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let tag = bytes.take(1)?[0];
        let width = (tag >> 3) as usize;
        out.push(match tag & 0x07 {
            1 => Value::Integer(bytes.int(width)?),
            2 => Value::Real(f64::from_be_bytes(bytes.take(8)?.try_into().ok()?)),
            3 => {
                let len = usize::try_from(bytes.int(width)?).ok()?;
                Value::Text(String::from_utf8(bytes.take(len)?.to_vec()).ok()?)
            }
            4 => {
                let len = usize::try_from(bytes.int(width)?).ok()?;
                Value::Blob(bytes.take(len)?.to_vec())
            }
            5 => Value::Null,
            _ => return None,
        });
    }
    bytes.0.is_empty().then_some(out)
}

/// The unread part of a packed key.
struct Packed<'a>(&'a [u8]);

impl<'a> Packed<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Some(head)
    }

    /// A big-endian integer of `width` bytes (0 to 8), not sign-extended: cr-sqlite packs
    /// any negative number in all 8 bytes and reads shorter ones as unsigned (bytes 1.5's
    /// `get_int`), so 255 is one byte `ff`.
    fn int(&mut self, width: usize) -> Option<i64> {
        if width > 8 {
            return None;
        }
        let bytes = self.take(width)?;
        Some(bytes.iter().fold(0, |v, &b| (v << 8) | b as i64))
    }
}
