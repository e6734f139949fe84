//! Health: the store's size, its WAL, free disk, the memory index's freshness, sync lag, the
//! worker and backups, each against a threshold, with a one-line recommendation once crossed.

use flightdeck_types::{Health, HealthCheck};
use serde_json::{json, Value};

use crate::error::Result;
use crate::store::Store;

const GIB: u64 = 1 << 30;
const MIB: u64 = 1 << 20;
const HOUR_MS: i64 = 3_600_000;

/// A database larger than this: old runs' logs are worth pruning.
pub const DATABASE_WARN: u64 = 2 * GIB;
/// A WAL larger than this: something keeps it from being checkpointed.
pub const WAL_WARN: u64 = 256 * MIB;
/// Less free disk than this in the data dir.
pub const DISK_WARN: u64 = GIB;
/// More local changes than this not yet pushed.
pub const SYNC_PENDING_WARN: usize = 10_000;
/// No sync for longer than this (a joined workspace).
pub const SYNC_AGE_WARN_MS: i64 = HOUR_MS;
/// The newest backup older than this.
pub const BACKUP_AGE_WARN_MS: i64 = 48 * HOUR_MS;

fn check(name: &str, warn: Option<String>, summary: String, figures: Value) -> HealthCheck {
    HealthCheck {
        name: name.into(),
        status: if warn.is_some() { "warn" } else { "ok" }.into(),
        summary,
        recommendation: warn,
        figures,
    }
}

fn size(path: &std::path::Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

/// Every check, now.
pub fn health(store: &Store) -> Result<Health> {
    let db = store.path();
    let mut wal_path = db.as_os_str().to_owned();
    wal_path.push("-wal");
    let (db_bytes, wal_bytes) = (size(db), size(std::path::Path::new(&wal_path)));
    let now = crate::clock::now();
    let mut checks = vec![
        check(
            "database",
            (db_bytes > DATABASE_WARN).then(|| {
                "the database is over 2 GiB: runs keep their logs in it; keep less history \
                 with `flightdeck runs settings --keep-history 30`"
                    .to_string()
            }),
            format!("{} at {}", human_bytes(db_bytes), db.display()),
            json!({ "bytes": db_bytes, "path": db }),
        ),
        check(
            "wal",
            (wal_bytes > WAL_WARN).then(|| {
                "the write-ahead log is over 256 MiB: a long-lived reader keeps it from being \
                 folded back; close other programs reading the database, then restart the \
                 app or the daemon"
                    .to_string()
            }),
            human_bytes(wal_bytes),
            json!({ "bytes": wal_bytes }),
        ),
    ];

    let dir = db.parent().unwrap_or(db);
    // The field types differ between platforms (u32 on some).
    #[allow(clippy::unnecessary_cast)]
    let free = nix::sys::statvfs::statvfs(dir)
        .ok()
        .map(|s| s.blocks_available() as u64 * s.fragment_size() as u64);
    checks.push(check(
        "disk",
        free.filter(|f| *f < DISK_WARN).map(|_| {
            "under 1 GiB free where the workspace lives: runs keep their logs in the database; \
             free some space, or keep less history with `flightdeck runs settings \
             --keep-history 30`"
                .to_string()
        }),
        match free {
            Some(f) => format!("{} free in {}", human_bytes(f), dir.display()),
            None => format!("free space in {} unknown", dir.display()),
        },
        json!({ "free_bytes": free }),
    ));

    let stale = store.read(|c| crate::store::memories::stale_count(c, false))?;
    let total = store.read(crate::store::memories::count_memories)?;
    checks.push(check(
        "memory_index",
        (stale > 0).then(|| {
            format!(
                "{stale} memories are not in the search index yet: the app or the daemon \
                 indexes them as they come; or run `flightdeck memory reindex`"
            )
        }),
        format!(
            "{} of {total} memories indexed",
            total.saturating_sub(stale)
        ),
        json!({ "memories": total, "not_indexed": stale }),
    ));

    let sync = crate::sync::account::status(store)?;
    let age = sync.last_sync_at.map(|t| now.as_millis() - t.as_millis());
    let behind = (sync.server_head - sync.local_cursor).max(0);
    let sync_warn = match sync.joined {
        false => None,
        true if sync.pending_cells > SYNC_PENDING_WARN => Some(format!(
            "{} local changes are not on the server yet: start `flightdeck daemon` (or the \
             app), or run `flightdeck sync now`",
            sync.pending_cells
        )),
        true if age.is_none_or(|a| a > SYNC_AGE_WARN_MS) => Some(
            "no sync in the last hour: start `flightdeck daemon` (or the app), or run \
             `flightdeck sync now`; `flightdeck sync status` says why a sync fails"
                .to_string(),
        ),
        true => None,
    };
    checks.push(check(
        "sync",
        sync_warn,
        match sync.joined {
            false => "not joined to a sync server".to_string(),
            true => format!(
                "{} changes to push, {behind} behind the server, last sync {}",
                sync.pending_cells,
                age.map_or("never".to_string(), |a| format!("{} ago", ago(a)))
            ),
        },
        json!({
            "joined": sync.joined,
            "pending_cells": sync.pending_cells,
            "server_head": sync.server_head,
            "local_cursor": sync.local_cursor,
            "behind": behind,
            "last_sync_at": sync.last_sync_at,
        }),
    ));

    let holder = crate::runs::lock::worker_holder(store);
    let beat = store.read(|c| crate::store::heartbeats::get(c, store.device_id()))?;
    let queued = store.read(|c| crate::store::executions::queued_on(c, store.device_id()))?;
    checks.push(check(
        "worker",
        (holder.is_none() && queued > 0).then(|| {
            format!(
                "{queued} runs are queued on this device and nothing runs them: start \
                 `flightdeck daemon` (or the app)"
            )
        }),
        match &holder {
            Some(who) => format!(
                "running: {who}{}",
                beat.as_ref().map_or(String::new(), |b| format!(
                    ", last seen {} ago",
                    ago(now.as_millis() - b.seen_at.as_millis())
                ))
            ),
            None => "no worker running on this workspace".to_string(),
        },
        json!({
            "holder": holder,
            "last_seen_at": beat.map(|b| b.seen_at),
            "queued_here": queued,
        }),
    ));

    let newest = crate::backup::list(db)?.into_iter().next();
    let backup_age = newest
        .as_ref()
        .map(|b| now.as_millis() - b.created_at.as_millis());
    checks.push(check(
        "backup",
        match backup_age {
            None => Some("no backup yet: make one with `flightdeck backup now`".to_string()),
            Some(a) if a > BACKUP_AGE_WARN_MS => Some(
                "the newest backup is over 2 days old: the app and the daemon make one a day \
                 while they run; or run `flightdeck backup now`"
                    .to_string(),
            ),
            _ => None,
        },
        match &newest {
            Some(b) => format!(
                "newest {} ago ({}, {})",
                ago(backup_age.unwrap_or_default()),
                b.kind,
                human_bytes(b.bytes)
            ),
            None => "none".to_string(),
        },
        json!({
            "newest_at": newest.as_ref().map(|b| b.created_at),
            "newest_file": newest.as_ref().map(|b| b.file.clone()),
        }),
    ));
    Ok(Health {
        ok: checks.iter().all(|c| c.status == "ok"),
        checks,
    })
}

/// A size as people read it: `512 B`, `3.4 KiB`, `12.0 MiB`, `1.2 GiB` (also the CLI's).
pub fn human_bytes(bytes: u64) -> String {
    match bytes {
        b if b >= GIB => format!("{:.1} GiB", b as f64 / GIB as f64),
        b if b >= MIB => format!("{:.1} MiB", b as f64 / MIB as f64),
        b if b >= 1024 => format!("{:.1} KiB", b as f64 / 1024.0),
        b => format!("{b} B"),
    }
}

fn ago(ms: i64) -> String {
    match ms.max(0) {
        ms if ms < 120_000 => format!("{} s", ms / 1000),
        ms if ms < 2 * HOUR_MS => format!("{} min", ms / 60_000),
        ms if ms < 48 * HOUR_MS => format!("{} h", ms / HOUR_MS),
        ms => format!("{} d", ms / (24 * HOUR_MS)),
    }
}
