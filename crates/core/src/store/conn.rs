//! `CrConn`: a SQLite connection with cr-sqlite and sqlite-vec loaded and our pragmas set,
//! which calls `crsql_finalize()` before it closes, as cr-sqlite requires.

use std::ops::{Deref, DerefMut};
use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use super::extensions::{find_crsqlite, load_crsqlite, register_sqlite_vec};
use crate::error::{CoreError, Result};

/// The connection, what notes the tables each write touched (only where the loaded cr-sqlite
/// lacks Flightdeck's local clock: see `hlc`), and whether it has it.
pub struct CrConn(Connection, super::hlc::Touched, bool);

impl CrConn {
    /// Opens (creating if needed) the database at `path` with both extensions loaded.
    pub fn open(path: &Path) -> Result<Self> {
        let crsqlite = find_crsqlite()?;
        register_sqlite_vec();
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX
                | OpenFlags::SQLITE_OPEN_URI,
        )
        .map_err(|e| CoreError::Extension(format!("cannot open {}: {e}", path.display())))?;
        // Several processes (app, daemon, CLI) share one file: wait for a writer rather than
        // failing at once, and use WAL so that readers never block it.
        conn.busy_timeout(Duration::from_secs(10))?;
        let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") && !path.as_os_str().is_empty() {
            tracing::warn!(%mode, "SQLite refused WAL mode");
        }
        // temp_store: cr-sqlite's triggers make statements keep a statement journal, which
        // SQLite otherwise writes to a temp file: that was half the time of a 1,000-schedule
        // fire (see BENCHMARKS.md). mmap_size: reads map the file instead of copying each
        // page through pread; memory search's rescoring and BM25 read many scattered pages.
        conn.execute_batch(
            "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = OFF; PRAGMA temp_store = MEMORY;
             PRAGMA mmap_size = 1073741824;",
        )?;
        // The query planner stability guarantee: a plan never depends on a bound value. Without
        // it SQLite marks a statement whose `LIMIT ?` (or LIKE pattern) it read at planning as
        // expired whenever that parameter is bound again, so a cached statement was parsed and
        // planned anew on every call (the runner's claim query, at every workflow step).
        conn.set_db_config(
            rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
            true,
        )?;
        load_crsqlite(&conn, &crsqlite)?;
        // A sync merge prepares a few statements per table it touches (`fresh_rows`): room
        // for those of every synced table beside the rest, instead of rusqlite's 16.
        conn.set_prepared_statement_cache_capacity(64);
        // cr-sqlite built with Flightdeck's patch gives a local write's cells the write's
        // clock itself (`hlc`); another build needs the tables each write touched noted, for
        // the write path to stamp them.
        let mut conn = CrConn(conn, super::hlc::Touched::default(), false);
        if !conn.use_local_clock(true) {
            static WARNED: std::sync::Once = std::sync::Once::new();
            WARNED.call_once(|| {
                tracing::warn!(
                    "this cr-sqlite build lacks Flightdeck's local clock (scripts/setup.sh \
                     builds it); writes are stamped after the fact"
                )
            });
        }
        conn.check_extensions()?;
        Ok(conn)
    }

    fn check_extensions(&self) -> Result<()> {
        let vec: String = self
            .query_row("SELECT vec_version()", [], |r| r.get(0))
            .map_err(|e| CoreError::Extension(format!("sqlite-vec is not working: {e}")))?;
        tracing::debug!(sqlite_vec = %vec, "extensions loaded");
        Ok(())
    }

    /// This database's cr-sqlite site id, as lower-case hex: the device id.
    pub fn site_id(&self) -> Result<String> {
        let bytes: Vec<u8> = self.query_row("SELECT crsql_site_id()", [], |r| r.get(0))?;
        Ok(hex::encode(bytes))
    }

    /// What notes the tables each statement writes (see `hlc`).
    pub(crate) fn touched(&self) -> super::hlc::Touched {
        std::sync::Arc::clone(&self.1)
    }

    /// Whether the loaded cr-sqlite takes a write's clock as its cells' column versions
    /// (`crsql_set_local_clock`, Flightdeck's patch).
    pub(crate) fn local_clock(&self) -> bool {
        self.2
    }

    /// Uses the local clock (`on`, where cr-sqlite has it) or notes the tables each write
    /// touches for its stamp. Returns whether the local clock is in use.
    pub(crate) fn use_local_clock(&mut self, on: bool) -> bool {
        let local = on && super::hlc::has_local_clock(&self.0);
        if local {
            self.0
                .update_hook(None::<fn(rusqlite::hooks::Action, &str, &str, i64)>);
        } else {
            super::hlc::watch(&self.0, &self.1);
        }
        self.2 = local;
        local
    }

    /// The current cr-sqlite database version (the logical clock of local changes).
    pub fn db_version(&self) -> Result<i64> {
        Ok(self.query_row("SELECT crsql_db_version()", [], |r| r.get(0))?)
    }
}

impl Deref for CrConn {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        &self.0
    }
}

impl DerefMut for CrConn {
    fn deref_mut(&mut self) -> &mut Connection {
        &mut self.0
    }
}

impl Drop for CrConn {
    fn drop(&mut self) {
        // cr-sqlite keeps prepared statements and caches that must be released before close.
        if let Err(e) = self.0.query_row("SELECT crsql_finalize()", [], |_| Ok(())) {
            tracing::warn!(error = %e, "crsql_finalize failed");
        }
    }
}
