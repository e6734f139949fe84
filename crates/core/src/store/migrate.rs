//! Append-only schema migrations from `migrations/local`, embedded at build time. Each runs
//! once, in its own transaction, and is recorded with a checksum so that an edited migration
//! (which would leave devices with different schemas) is caught instead of ignored.

use rusqlite::{params, Connection, OptionalExtension};

use crate::error::{CoreError, Result};

#[derive(Debug, Clone, Copy)]
pub struct Migration {
    pub version: u32,
    pub name: &'static str,
    pub sql: &'static str,
}

include!(concat!(env!("OUT_DIR"), "/local_migrations.rs"));

/// The migrations this build knows, oldest first.
pub fn local_migrations() -> &'static [Migration] {
    LOCAL_MIGRATIONS
}

/// FNV-1a, 64 bit: enough to tell an edited migration from the one that was applied.
pub(crate) fn checksum(sql: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in sql.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{hash:016x}")
}

/// Whether the database has migrations applied already and some of `migrations` still to
/// apply (an existing database about to change schema).
pub fn pending(conn: &Connection, migrations: &[Migration]) -> Result<bool> {
    let table: Option<String> = conn
        .query_row(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'",
            [],
            |r| r.get(0),
        )
        .optional()?;
    if table.is_none() {
        return Ok(false);
    }
    let newest: Option<u32> =
        conn.query_row("SELECT max(version) FROM schema_migrations", [], |r| {
            r.get(0)
        })?;
    let known = migrations.iter().map(|m| m.version).max().unwrap_or(0);
    Ok(newest.is_some_and(|v| v < known))
}

/// Applies every migration of `migrations` the database has not seen. Returns the versions
/// applied now (empty when the schema was already current).
pub fn migrate(conn: &mut Connection, migrations: &[Migration]) -> Result<Vec<u32>> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
            version INTEGER PRIMARY KEY NOT NULL,
            name TEXT NOT NULL,
            checksum TEXT NOT NULL,
            applied_at INTEGER NOT NULL
        )",
    )?;

    let newest_known = migrations.iter().map(|m| m.version).max().unwrap_or(0);
    let newest_applied: Option<u32> = conn
        .query_row("SELECT max(version) FROM schema_migrations", [], |r| {
            r.get(0)
        })
        .optional()?
        .flatten();
    if let Some(applied) = newest_applied.filter(|v| *v > newest_known) {
        return Err(CoreError::Migration(format!(
            "this database has schema version {applied}, newer than this build of \
             Flightdeck knows ({newest_known}); upgrade Flightdeck to open it"
        )));
    }

    let mut applied_now = Vec::new();
    for migration in migrations {
        let recorded: Option<String> = conn
            .query_row(
                "SELECT checksum FROM schema_migrations WHERE version = ?1",
                [migration.version],
                |r| r.get(0),
            )
            .optional()?;
        let sum = checksum(migration.sql);
        match recorded {
            Some(existing) if existing == sum => continue,
            Some(_) => {
                return Err(CoreError::Migration(format!(
                    "migration {} was changed after it was applied; migrations are \
                     append-only, so add a new one instead",
                    migration.name
                )))
            }
            None => {}
        }
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        tx.execute_batch(migration.sql).map_err(|e| {
            CoreError::Migration(format!("migration {} failed: {e}", migration.name))
        })?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name, checksum, applied_at)
             VALUES (?1, ?2, ?3, ?4)",
            params![
                migration.version,
                migration.name,
                sum,
                crate::clock::now_millis()
            ],
        )?;
        tx.commit()?;
        tracing::info!(migration = migration.name, "applied migration");
        applied_now.push(migration.version);
    }
    Ok(applied_now)
}
