//! Whole-database copies (see [`crate::backup`]).

use std::path::Path;

use rusqlite::Connection;

use crate::error::Result;

/// Writes a copy of the database `conn` has open to `path` (`VACUUM INTO`).
pub fn vacuum_into(conn: &Connection, path: &Path) -> Result<()> {
    conn.execute("VACUUM INTO ?1", [path.to_string_lossy()])?;
    Ok(())
}

/// `PRAGMA integrity_check` of the database file at `file`, opened read-only: `ok`, or what
/// is wrong.
pub fn integrity_check(file: &Path) -> Result<String> {
    let conn = Connection::open_with_flags(file, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    Ok(conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))?)
}
