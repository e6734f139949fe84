//! The SQL behind device trust (crate::trust): who last wrote a cell, from cr-sqlite's clock
//! tables, and the local, never-synced list of trusted devices.

use rusqlite::{params, Connection, OptionalExtension};

use crate::error::Result;

/// This database's site id (raw bytes).
pub fn own_site(conn: &Connection) -> Result<Vec<u8>> {
    Ok(conn.query_row("SELECT crsql_site_id()", [], |r| r.get(0))?)
}

/// The workflow and version a workflow run pins, if it exists.
pub fn pinned_workflow(conn: &Connection, workflow_run: &str) -> Result<Option<(String, i64)>> {
    Ok(conn
        .query_row(
            "SELECT workflow_id, workflow_version FROM workflow_runs WHERE id = ?1",
            [workflow_run],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?)
}

/// `(table.column, site id)` of each of `columns` of the row whose primary key columns have
/// the values `key`, for each that has a clock entry. A clock entry's site is an ordinal into
/// `crsql_site_id`, where 0 is this device.
pub fn writers(
    conn: &Connection,
    table: &str,
    key: &[(&str, &dyn rusqlite::ToSql)],
    columns: &[&str],
) -> Result<Vec<(String, Vec<u8>)>> {
    let on_key = key
        .iter()
        .enumerate()
        .map(|(i, (column, _))| format!("p.\"{column}\" = ?{}", i + 1))
        .collect::<Vec<_>>()
        .join(" AND ");
    let placeholders = (0..columns.len())
        .map(|i| format!("?{}", i + 1 + key.len()))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "SELECT c.col_name,
                CASE WHEN c.site_id = 0 THEN crsql_site_id() ELSE site.site_id END
         FROM \"{table}__crsql_clock\" AS c
         JOIN \"{table}__crsql_pks\" AS p ON p.__crsql_key = c.key
         LEFT JOIN crsql_site_id AS site ON site.ordinal = c.site_id
         WHERE {on_key} AND c.col_name IN ({placeholders})
         ORDER BY c.col_name"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut values: Vec<&dyn rusqlite::ToSql> = key.iter().map(|(_, value)| *value).collect();
    values.extend(columns.iter().map(|c| c as &dyn rusqlite::ToSql));
    let rows = stmt.query_map(values.as_slice(), |r| {
        Ok((
            format!("{table}.{}", r.get::<_, String>(0)?),
            // A site the database cannot name is treated as a stranger.
            r.get::<_, Option<Vec<u8>>>(1)?.unwrap_or_default(),
        ))
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub fn is_trusted(conn: &Connection, site: &[u8]) -> Result<bool> {
    Ok(conn
        .query_row(
            "SELECT 1 FROM trusted_devices WHERE site_id = ?1",
            [site],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}

pub fn device_name(conn: &Connection, site: &[u8]) -> Result<Option<String>> {
    Ok(conn
        .query_row(
            "SELECT name FROM known_devices WHERE site_id = ?1",
            [site],
            |r| r.get(0),
        )
        .optional()?)
}

/// A device as recorded here: its site id, its name when the server listed it, and whether
/// this device trusts it.
pub struct KnownDevice {
    pub site_id: Vec<u8>,
    pub name: Option<String>,
    pub trusted: bool,
}

/// Every device the sync server listed (as last recorded here) and every trusted one.
pub fn devices(conn: &Connection) -> Result<Vec<KnownDevice>> {
    let mut stmt = conn.prepare(
        "SELECT site_id, max(name), max(trusted) FROM (
             SELECT site_id, name, 0 AS trusted FROM known_devices
             UNION ALL SELECT site_id, NULL, 1 FROM trusted_devices)
         GROUP BY site_id",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(KnownDevice {
            site_id: r.get(0)?,
            name: r.get(1)?,
            trusted: r.get(2)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub fn add_trusted(conn: &Connection, site: &[u8], at_ms: i64) -> Result<()> {
    conn.execute(
        "INSERT INTO trusted_devices (site_id, trusted_at) VALUES (?1, ?2)
         ON CONFLICT (site_id) DO NOTHING",
        params![site, at_ms],
    )?;
    Ok(())
}

pub fn remove_trusted(conn: &Connection, site: &[u8]) -> Result<()> {
    conn.execute("DELETE FROM trusted_devices WHERE site_id = ?1", [site])?;
    Ok(())
}
