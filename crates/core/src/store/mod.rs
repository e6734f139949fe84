//! The local store: one SQLite file per workspace with cr-sqlite and sqlite-vec loaded, the
//! schema migrated at open, and one write path that every local change goes through.

pub mod audit_log;
mod changes;
mod conn;
pub mod copies;
pub mod environments;
pub mod error_records;
pub mod executions;
pub mod export;
pub mod extensions;
mod fresh_rows;
pub mod heartbeats;
mod held;
mod hlc;
pub mod import;
pub mod insights;
mod local_changes;
pub mod locks;
pub mod memories;
pub mod memory_index;
pub mod migrate;
mod run_steps;
pub mod schedules;
pub mod staged;
pub(crate) mod sync_state;
pub mod tasks;
#[cfg(test)]
mod test_histories;
pub mod trust;
pub mod workflows;
mod write;
mod writeback;

use std::path::{Path, PathBuf};
use std::sync::{mpsc, Mutex, MutexGuard};

pub use changes::{ChangeRow, Origin};
pub use conn::CrConn;
pub use held::HeldFrom;
pub use migrate::{local_migrations, Migration};
pub use rusqlite::types::Value as SqlValue;
pub use sync_state::ConflictRow;
pub use write::{Change, Writer};

use crate::error::{CoreError, Result};

/// A subscriber: which changes it asked for, and where they go.
struct Listener {
    wanted: Box<dyn Fn(&Change) -> bool + Send>,
    tx: mpsc::Sender<Change>,
}

pub struct Store {
    conn: Mutex<CrConn>,
    path: PathBuf,
    device_id: String,
    /// The newest local migration applied: what sync tells the server this build knows.
    schema_version: u32,
    /// The CRR tables and columns, to hold pulled cells this schema lacks (`held`).
    known_schema: Mutex<held::KnownSchema>,
    listeners: Mutex<Vec<Listener>>,
    /// The in-memory copy of the memory vectors that vector search scans.
    vector_cache: crate::memory::VectorCacheSlot,
    /// Write transactions committed through this store (see [`Store::write_count`]).
    writes: std::sync::atomic::AtomicU64,
    /// The clock that stamps this store's writes (`hlc`).
    hlc: hlc::Hlc,
    /// Whether this database has the staging tables for history (`staged`), and whether
    /// rows may wait there: true at open (a crash may have left some), then whether the
    /// last write left any. The next write moves them.
    can_stage: bool,
    staged: std::sync::atomic::AtomicBool,
    /// Starts the WAL's writeback every few commits (`writeback`).
    writeback: writeback::Writeback,
}

impl Store {
    /// How many write transactions this store has committed: what idle work costs (an idle
    /// workflow run should cost none).
    pub fn write_count(&self) -> u64 {
        self.writes.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// How many times this store has had the kernel start writing its WAL out (see
    /// `store/writeback.rs`; for tests).
    #[doc(hidden)]
    pub fn wal_writebacks(&self) -> u64 {
        self.writeback.started()
    }

    /// Opens the store of `workspace` under `data_dir` (the default data dir when `None`).
    pub fn open_workspace(data_dir: Option<&Path>, workspace: &str) -> Result<Self> {
        let dir = match data_dir {
            Some(dir) => dir.to_path_buf(),
            None => crate::paths::default_data_dir()?,
        };
        Self::open(&crate::paths::workspace_db_path(&dir, workspace)?)
    }

    /// Opens or creates the database at `path` and brings its schema up to date.
    pub fn open(path: &Path) -> Result<Self> {
        Self::open_with_migrations(path, local_migrations())
    }

    /// As [`Store::open`] with an explicit migration list (tests use older or extra sets).
    pub fn open_with_migrations(path: &Path, migrations: &[Migration]) -> Result<Self> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .map_err(|e| CoreError::io(format!("cannot create {}", parent.display()), e))?;
        }
        let mut conn = CrConn::open(path)?;
        if migrate::pending(&conn, migrations)? {
            // A copy of the database as it was, before its schema changes.
            crate::backup::write(&conn, path, "pre-migration")?;
        }
        migrate::migrate(&mut conn, migrations)?;
        // A migration may just have added what held cells belong to.
        held::merge_now_known(&mut conn)?;
        let device_id = conn.site_id()?;
        let schema_version = migrations.iter().map(|m| m.version).max().unwrap_or(0);
        let known_schema = Mutex::new(held::KnownSchema::read(&conn)?);
        let can_stage = staged::present(&conn)?;
        let hlc = hlc::Hlc::default();
        // An older build's schema (tests open stores with older migrations) has nowhere to
        // note clocks: its writes count versions, as that build did.
        hlc.set_stamps(hlc::has_clock_notes(&conn)?);
        hlc.set_site(&hex::decode(&device_id).unwrap_or_default());
        // (An older build's schema may have no sync state at all.)
        if let Ok(Some(offset)) = sync_state::get_state(&conn, hlc::CLOCK_OFFSET_KEY) {
            hlc.set_offset(offset.parse().unwrap_or(0));
        }
        Ok(Self {
            conn: Mutex::new(conn),
            path: path.to_path_buf(),
            device_id,
            schema_version,
            known_schema,
            listeners: Mutex::new(Vec::new()),
            vector_cache: Default::default(),
            writes: Default::default(),
            hlc,
            can_stage,
            staged: can_stage.into(),
            writeback: writeback::Writeback::new(path),
        })
    }

    /// Runs this store's clock `skew_ms` milliseconds off the wall clock: a test's device
    /// whose clock is wrong. Affects only the clock that orders its writes.
    #[doc(hidden)]
    pub fn skew_clock_for_tests(&self, skew_ms: i64) {
        self.hlc.set_skew(skew_ms);
    }

    /// Turns the clock stamp of this store's writes off or on: only for measuring what it
    /// costs (the write-path benchmark). Off, concurrent edits merge by edit count again.
    #[doc(hidden)]
    pub fn set_clock_stamps_for_bench(&self, on: bool) {
        self.hlc.set_stamps(on);
    }

    /// Has this store's writes give their cells the clock through cr-sqlite's own statement
    /// (on, where the loaded cr-sqlite has Flightdeck's local clock) or stamp them after the
    /// fact (off: what a stock cr-sqlite build gets). Only for tests and the write-path
    /// benchmark, which compare the two. Returns whether the local clock is now in use.
    #[doc(hidden)]
    pub fn set_local_clock_for_bench(&self, on: bool) -> bool {
        self.lock().use_local_clock(on)
    }

    /// Moves every staged history row (`staged`, this process's or another's) into the synced
    /// tables now: for readers that read the synced tables whole (export).
    pub fn flush_staged(&self) -> Result<()> {
        if self.can_stage {
            self.staged
                .store(true, std::sync::atomic::Ordering::Release);
            self.write(|_| Ok(()))?;
        }
        Ok(())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// This device's id: the database's cr-sqlite site id in hex.
    pub fn device_id(&self) -> &str {
        &self.device_id
    }

    /// The newest local migration this store has applied (its schema version).
    pub fn schema_version(&self) -> u32 {
        self.schema_version
    }

    /// The cr-sqlite database version: it moves on every committed change, local or merged.
    pub fn db_version(&self) -> Result<i64> {
        self.lock().db_version()
    }

    /// SQLite's `data_version` of this store's connection: it moves when another connection
    /// (another process: the daemon, the CLI) commits, and never for this store's own writes,
    /// which [`Store::subscribe`] reports.
    pub fn data_version(&self) -> Result<i64> {
        Ok(self
            .lock()
            .query_row("PRAGMA data_version", [], |r| r.get(0))?)
    }

    /// Runs `f` against a consistent view of the database. Reads only: writes go through
    /// [`Store::write`].
    pub fn read<T>(&self, f: impl FnOnce(&rusqlite::Connection) -> Result<T>) -> Result<T> {
        let conn = self.lock();
        f(&conn)
    }

    /// Receives every committed change from now on, until the receiver is dropped.
    pub fn subscribe(&self) -> mpsc::Receiver<Change> {
        self.subscribe_to(|_| true)
    }

    /// As [`Store::subscribe`], only the changes `wanted` accepts: the others are not sent,
    /// so they do not wake the subscriber's thread (a workflow step's end makes several
    /// changes, and each woke every subscriber of the process).
    pub fn subscribe_to(
        &self,
        wanted: impl Fn(&Change) -> bool + Send + 'static,
    ) -> mpsc::Receiver<Change> {
        let (tx, rx) = mpsc::channel();
        self.listeners
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(Listener {
                wanted: Box::new(wanted),
                tx,
            });
        rx
    }

    pub(crate) fn vector_cache(&self) -> &crate::memory::VectorCacheSlot {
        &self.vector_cache
    }

    fn lock(&self) -> MutexGuard<'_, CrConn> {
        // A panic in another thread mid-transaction rolled that transaction back when its
        // guard dropped, so the connection itself is still sound.
        self.conn
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn notify(&self, changes: Vec<Change>) {
        if changes.is_empty() {
            return;
        }
        let mut listeners = self
            .listeners
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        listeners.retain(|l| {
            changes
                .iter()
                .filter(|c| (l.wanted)(c))
                .all(|c| l.tx.send(c.clone()).is_ok())
        });
    }
}
