//! This device's own changes, read from cr-sqlite's clock tables with the query
//! `crsql_changes` runs, but prepared once: the virtual table builds and prepares its union
//! over every clock table on each query (about 1 ms here), which every push paid, and
//! then fetches each value with a statement of its own. Test
//! `local_changes_read_like_crsql_changes` compares the two on random histories.

use std::collections::HashMap;

use rusqlite::types::Value;
use rusqlite::{params_from_iter, Connection};

use super::changes::{change_from_row, crr_tables, quoted, ChangeRow, SENTINEL};
use super::fresh_rows::unpack;
use crate::error::Result;

#[cfg(test)]
#[path = "local_changes_tests.rs"]
mod tests;

/// Changes this device made after `db_version`, in db_version then seq order, stopping at
/// the first transaction boundary at or after `max_cells`.
pub(crate) fn after(
    conn: &Connection,
    db_version: i64,
    max_cells: usize,
) -> Result<Vec<ChangeRow>> {
    let sql = query(conn)?;
    let Some(sql) = sql else {
        return Ok(Vec::new());
    };
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query([db_version])?;
    let mut out: Vec<ChangeRow> = Vec::new();
    while let Some(row) = rows.next()? {
        let change = change_from_row(row)?;
        let new_transaction = out
            .last()
            .is_some_and(|l| l.db_version != change.db_version);
        if new_transaction && out.len() >= max_cells {
            break;
        }
        out.push(change);
    }
    Ok(out)
}

/// This device's changes after `db_version` to the given rows (table, packed key) only, in no
/// particular order: one indexed lookup a row, not a scan of every change after `db_version`.
/// Rows of tables that are not CRRs here, or whose key does not unpack, have none.
pub(crate) fn after_among<'r>(
    conn: &Connection,
    db_version: i64,
    rows: impl IntoIterator<Item = (&'r str, &'r [u8])>,
) -> Result<Vec<ChangeRow>> {
    let mut selects: HashMap<&str, Option<(String, usize)>> = HashMap::new();
    let mut out = Vec::new();
    for (table, pk) in rows {
        if !selects.contains_key(table) {
            let select = if crr_tables(conn)?.iter().any(|t| t == table) {
                table_select(conn, table, true)?
            } else {
                None
            };
            selects.insert(table, select);
        }
        let Some((sql, key_columns)) = &selects[table] else {
            continue;
        };
        let Some(key) = unpack(pk).filter(|key| key.len() == *key_columns) else {
            continue;
        };
        let mut stmt = conn.prepare_cached(sql)?;
        let params = std::iter::once(Value::Integer(db_version)).chain(key);
        let mut found = stmt.query(params_from_iter(params))?;
        while let Some(row) = found.next()? {
            out.push(change_from_row(row)?);
        }
    }
    Ok(out)
}

/// The union over every CRR table, or `None` if there is none. Rebuilt from the schema on
/// each call (a scan of `sqlite_master` and one `pragma_table_info` per table; not timed
/// alone), so that a migration is never missed; the statement cache keys on the text, so it
/// is prepared once per schema.
fn query(conn: &Connection) -> Result<Option<String>> {
    let names = crr_tables(conn)?;
    let mut parts = Vec::with_capacity(names.len());
    for table in &names {
        if let Some((select, _)) = table_select(conn, table, false)? {
            parts.push(select);
        }
    }
    if parts.is_empty() {
        return Ok(None);
    }
    Ok(Some(format!("{} ORDER BY 6, 9", parts.join(" UNION ALL "))))
}

/// One CRR table's local cells after `?1`, as `crsql_changes` columns, and its number of key
/// columns; with `by_key`, only the row whose key columns equal `?2`, `?3`, ... (in key
/// order). `None` for a table without a key.
fn table_select(conn: &Connection, table: &str, by_key: bool) -> Result<Option<(String, usize)>> {
    let (pks, values) = super::changes::table_columns(conn, table)?;
    if pks.is_empty() {
        return Ok(None);
    }
    let pks: Vec<String> = pks.iter().map(|name| quoted(name)).collect();
    let packed = pks
        .iter()
        .map(|pk| format!("p.{pk}"))
        .collect::<Vec<_>>()
        .join(", ");
    let on_base = pks
        .iter()
        .map(|pk| format!("b.{pk} = p.{pk}"))
        .collect::<Vec<_>>()
        .join(" AND ");
    let key_filter = if by_key {
        pks.iter()
            .enumerate()
            .map(|(i, pk)| format!(" AND p.{pk} = ?{}", i + 2))
            .collect::<String>()
    } else {
        String::new()
    };
    // The column's current value; the existence cell has none.
    let value = if values.is_empty() {
        "NULL".to_string()
    } else {
        let arms = values
            .iter()
            .map(|c| format!("WHEN '{}' THEN b.{}", literal(c), quoted(c)))
            .collect::<Vec<_>>()
            .join(" ");
        format!("CASE c.col_name {arms} END")
    };
    let t = quoted(table);
    let t_clock = quoted(&format!("{table}__crsql_clock"));
    let t_pks = quoted(&format!("{table}__crsql_pks"));
    let select = format!(
        "SELECT '{name}', crsql_pack_columns({packed}), c.col_name, {value},
                c.col_version, c.db_version, site.site_id, COALESCE(e.col_version, 1), c.seq
         FROM {t_clock} AS c
         JOIN {t_pks} AS p ON p.__crsql_key = c.key
         LEFT JOIN {t} AS b ON {on_base}
         LEFT JOIN crsql_site_id AS site ON site.ordinal = c.site_id
         LEFT JOIN {t_clock} AS e ON e.key = c.key AND e.col_name = '{SENTINEL}'
         WHERE c.db_version > ?1 AND c.site_id = 0{key_filter}",
        name = literal(table),
    );
    Ok(Some((select, pks.len())))
}

/// `text` for inside a single-quoted SQL string.
fn literal(text: &str) -> String {
    text.replace('\'', "''")
}
