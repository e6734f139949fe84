//! SQL for the local `locks` table: who holds which process lock, for display. The OS file
//! lock is the real guard; these rows only say who has it.

use rusqlite::{params, Connection, OptionalExtension};

use crate::error::Result;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockRow {
    pub name: String,
    pub holder: String,
    pub pid: i64,
    pub acquired_at: i64,
    pub heartbeat_at: i64,
}

pub fn upsert(conn: &Connection, name: &str, holder: &str, pid: i64, at: i64) -> Result<()> {
    conn.execute(
        "INSERT INTO locks (name, holder, pid, acquired_at, heartbeat_at)
         VALUES (?1, ?2, ?3, ?4, ?4)
         ON CONFLICT (name) DO UPDATE SET holder = ?2, pid = ?3, acquired_at = ?4,
             heartbeat_at = ?4",
        params![name, holder, pid, at],
    )?;
    Ok(())
}

pub fn release(conn: &Connection, name: &str, pid: i64) -> Result<()> {
    conn.execute(
        "DELETE FROM locks WHERE name = ?1 AND pid = ?2",
        params![name, pid],
    )?;
    Ok(())
}

pub fn find(conn: &Connection, name: &str) -> Result<Option<LockRow>> {
    Ok(conn
        .query_row(
            "SELECT name, holder, pid, acquired_at, heartbeat_at FROM locks WHERE name = ?1",
            [name],
            |r| {
                Ok(LockRow {
                    name: r.get(0)?,
                    holder: r.get(1)?,
                    pid: r.get(2)?,
                    acquired_at: r.get(3)?,
                    heartbeat_at: r.get(4)?,
                })
            },
        )
        .optional()?)
}
