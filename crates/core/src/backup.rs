//! Local backups (time travel, issue 33): a `VACUUM INTO` copy of the workspace database, in
//! `backups/` beside it, each checked with `PRAGMA integrity_check` once written. Made before
//! every migration, once a day by a running worker (the last 7 daily ones kept), and on
//! demand. Restoring one is for a damaged database: it refuses while a worker holds the
//! workspace, keeps the damaged file aside, and puts the copy in its place.

use std::path::{Path, PathBuf};

use rusqlite::Connection;
use serde::Serialize;

use crate::error::{CoreError, Result};
use crate::store::Store;

/// Daily backups kept; older ones are removed when a new one is made.
pub const KEEP_DAILY: usize = 7;
/// A daily backup is due once the newest is this old.
pub const DAILY_MS: i64 = 24 * 3600 * 1000;

/// One backup file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Backup {
    pub file: PathBuf,
    /// `manual`, `daily` or `pre-migration`.
    pub kind: String,
    pub created_at: flightdeck_types::Timestamp,
    pub bytes: u64,
}

/// The backups directory of the database at `db`.
pub fn dir_of(db: &Path) -> PathBuf {
    db.with_file_name("backups")
}

fn io(what: String) -> impl FnOnce(std::io::Error) -> CoreError {
    move |e| CoreError::io(what, e)
}

/// Copies the database `conn` has open into `backups/` as a `kind` backup, checks the copy,
/// and returns it. The copy is written under a temporary name and renamed when whole.
pub fn write(conn: &Connection, db: &Path, kind: &str) -> Result<Backup> {
    let dir = dir_of(db);
    std::fs::create_dir_all(&dir).map_err(io(format!("cannot create {}", dir.display())))?;
    let now = crate::clock::now();
    let stamp = chrono::DateTime::from_timestamp_millis(now.as_millis())
        .expect("now is a time")
        .format("%Y%m%dT%H%M%S%.3fZ");
    let file = dir.join(format!("flightdeck-{stamp}-{kind}.db"));
    let partial = file.with_extension("db.partial");
    let _ = std::fs::remove_file(&partial);
    crate::store::copies::vacuum_into(conn, &partial)?;
    check(&partial)?;
    std::fs::rename(&partial, &file).map_err(io(format!("cannot rename {}", partial.display())))?;
    let bytes = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
    Ok(Backup {
        file,
        kind: kind.to_string(),
        created_at: now,
        bytes,
    })
}

/// `PRAGMA integrity_check` of the database file at `file`: an error naming what is wrong.
pub fn check(file: &Path) -> Result<()> {
    let verdict = crate::store::copies::integrity_check(file)?;
    if verdict == "ok" {
        Ok(())
    } else {
        Err(CoreError::Corrupt(format!(
            "{} does not pass integrity_check: {verdict}",
            file.display()
        )))
    }
}

/// A backup now, on demand.
pub fn now(store: &Store, kind: &str) -> Result<Backup> {
    let made = store.read(|c| write(c, store.path(), kind))?;
    if kind == "daily" {
        prune(store.path())?;
    }
    Ok(made)
}

/// The workspace's backups, newest first.
pub fn list(db: &Path) -> Result<Vec<Backup>> {
    let dir = dir_of(db);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Ok(Vec::new());
    };
    let mut found = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()).map(String::from) else {
            continue;
        };
        let Some(rest) = name
            .strip_prefix("flightdeck-")
            .and_then(|r| r.strip_suffix(".db"))
        else {
            continue;
        };
        let Some((stamp, kind)) = rest.split_once('-') else {
            continue;
        };
        let Ok(at) = chrono::NaiveDateTime::parse_from_str(stamp, "%Y%m%dT%H%M%S%.3fZ") else {
            continue;
        };
        found.push(Backup {
            bytes: entry.metadata().map(|m| m.len()).unwrap_or(0),
            file: path,
            kind: kind.to_string(),
            created_at: flightdeck_types::Timestamp(at.and_utc().timestamp_millis()),
        });
    }
    found.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.file.cmp(&a.file)));
    Ok(found)
}

/// Removes daily backups past the newest [`KEEP_DAILY`].
fn prune(db: &Path) -> Result<()> {
    for old in list(db)?
        .into_iter()
        .filter(|b| b.kind == "daily")
        .skip(KEEP_DAILY)
    {
        std::fs::remove_file(&old.file)
            .map_err(io(format!("cannot remove {}", old.file.display())))?;
    }
    Ok(())
}

/// A daily backup when the newest one is a day old (or there is none).
pub fn daily_if_due(store: &Store) -> Result<Option<Backup>> {
    let newest = list(store.path())?
        .into_iter()
        .find(|b| b.kind == "daily")
        .map(|b| b.created_at.as_millis());
    let due = newest.is_none_or(|t| crate::clock::now_millis() - t >= DAILY_MS);
    if !due {
        return Ok(None);
    }
    now(store, "daily").map(Some)
}

/// What [`restore`] did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Restored {
    pub from: PathBuf,
    /// Where the database that was in place now is.
    pub kept_aside: PathBuf,
}

/// Puts backup `file` in place of the database at `db`, which no process may have open (the
/// caller checked the worker lock and closed its own store): checked first, then the current
/// file (and its `-wal`, `-shm`) kept aside as `<db>.damaged-<time>`.
pub fn restore(db: &Path, file: &Path) -> Result<Restored> {
    if !file.is_file() {
        return Err(CoreError::invalid(
            "file",
            format!(
                "{} is not a file (`flightdeck backup list` shows the backups)",
                file.display()
            ),
        ));
    }
    check(file)?;
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
    let aside = PathBuf::from(format!("{}.damaged-{stamp}", db.display()));
    if db.exists() {
        std::fs::rename(db, &aside).map_err(io(format!("cannot move {} aside", db.display())))?;
    }
    for suffix in ["-wal", "-shm"] {
        let side = PathBuf::from(format!("{}{suffix}", db.display()));
        if side.exists() {
            let to = PathBuf::from(format!("{}{suffix}", aside.display()));
            std::fs::rename(&side, &to)
                .map_err(io(format!("cannot move {} aside", side.display())))?;
        }
    }
    std::fs::copy(file, db).map_err(io(format!("cannot copy {}", file.display())))?;
    Ok(Restored {
        from: file.to_path_buf(),
        kept_aside: aside,
    })
}
