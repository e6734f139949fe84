//! A server that lost what it had acknowledged: its database was restored from an older
//! backup (its heads start over below this device's cursor) or replaced. The device notices
//! from the server epoch in every response (or a pull refused as `cursor_ahead`), and then
//! re-synchronises in one go: it keeps every local change, pushes all of its own again (the
//! server keeps what it already has, by the merge rule), re-reads the whole workspace from
//! sequence 0 (merging what it already has changes nothing), and leaves a notice that
//! `sync status` and the app show.
//!
//! Cells of other devices that the server lost come back when those devices sync: a device
//! pushes only its own site id (the server refuses others).

use super::client::{push_and_pull, SyncClient, SyncReport};
use super::{PULL_CURSOR, PUSH_CURSOR};
use crate::error::{CoreError, Result};
use crate::store::Store;

/// The epoch of the server this device last synced with.
pub const SERVER_EPOCH: &str = "server.epoch";
/// The notice left by the last recovery (shown by `sync status` and the app).
pub const SERVER_LOSS_NOTICE: &str = "server.loss_notice";

/// Why this device must re-synchronise with its server, if it must. The first epoch seen is
/// stored (a device that synced before epochs existed trusts its server until it changes).
pub fn detect(store: &Store, client: &SyncClient, outcome: &Result<()>) -> Result<Option<String>> {
    if let Err(CoreError::Sync { code, .. }) = outcome {
        if code == "cursor_ahead" {
            return Ok(Some(
                "its newest change is older than what this device had already pulled".into(),
            ));
        }
    }
    let Some(seen) = client.last_epoch() else {
        return Ok(None);
    };
    match store.sync_state(SERVER_EPOCH)? {
        Some(stored) if stored == seen => Ok(None),
        Some(_) => Ok(Some("its database is another one than before".into())),
        None => {
            store.set_sync_state(&[(SERVER_EPOCH, &seen)])?;
            Ok(None)
        }
    }
}

/// Re-synchronises with the server (see the module docs) and records the notice.
pub async fn recover(
    store: &Store,
    client: &SyncClient,
    reason: &str,
    report: &mut SyncReport,
) -> Result<()> {
    tracing::warn!(
        reason,
        "the sync server lost changes it had acknowledged; re-synchronising"
    );
    store.set_sync_state(&[(PUSH_CURSOR, "0"), (PULL_CURSOR, "0")])?;
    *report = SyncReport::default();
    push_and_pull(store, client, report).await?;
    // Stored only now: a recovery cut short is started again by the next round.
    let epoch = client.last_epoch().unwrap_or_default();
    let notice = format!(
        "The sync server was restored from an older backup or replaced ({reason}); this \
         device noticed at {} UTC, sent its {} changes again and re-read the workspace. \
         Other devices send theirs when they next sync.",
        chrono::Utc::now().format("%Y-%m-%d %H:%M"),
        report.pushed_cells,
    );
    store.set_sync_state(&[(SERVER_EPOCH, &epoch), (SERVER_LOSS_NOTICE, &notice)])?;
    Ok(())
}
